//! The isolate's admission limits ([`Admission`]) as permits a request holds while its
//! call to a node is in flight. A queued request looks for the slot handed to it on its
//! own timer, never woken from another request's context: resolving a waiter's promise
//! from the request that freed the slot was tried, and under load the woken task ran
//! in the freeing request's context ("Cannot perform I/O on behalf of a different
//! request") or was cancelled with it.

use std::cell::RefCell;
use std::time::Duration;

use worker::Delay;

use super::now_ms;
use crate::config::Config;
use crate::error::AppError;
use crate::region::RegionCode;
use crate::routing::Target;
use crate::routing::admission::{Admission, Admit, Outcome, Ticket};

/// How often a queued request looks for its slot: a share of the wait its place in
/// line implies, within bounds. Each look is a timer in the isolate, so a thousand
/// waiters polling every few milliseconds would take the CPU the requests need; looking
/// too seldom leaves a handed slot idle.
const QUEUE_POLL_MIN_MS: f64 = 2.0;
const QUEUE_POLL_MAX_MS: f64 = 250.0;
const QUEUE_POLL_SHARE: f64 = 0.8;
/// What a shed client is told to wait.
const RETRY_AFTER_SECS: u32 = 1;

thread_local! {
    static ADMISSION: RefCell<Option<Admission>> = const { RefCell::new(None) };
}

fn with_admission<T>(config: &Config, f: impl FnOnce(&mut Admission) -> T) -> T {
    ADMISSION.with(|cell| {
        let mut admission = cell.borrow_mut();
        f(admission.get_or_insert_with(|| Admission::new(config.admission)))
    })
}

/// A slot at one node. Dropped without [`Permit::release`] (the client went away), it
/// frees the slot and teaches the limit nothing.
pub struct Permit<'a> {
    config: &'a Config,
    region: RegionCode,
    released: bool,
}

impl Permit<'_> {
    pub fn release(mut self, outcome: Outcome) {
        self.released = true;
        with_admission(self.config, |a| {
            a.node(&self.region).release(outcome, now_ms())
        });
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.released {
            with_admission(self.config, |a| {
                a.node(&self.region).release(Outcome::Abandoned, now_ms())
            });
        }
    }
}

/// A place in a node's queue, given back however the wait ends unless its slot was
/// claimed.
struct Queued<'a> {
    config: &'a Config,
    region: &'a RegionCode,
    ticket: Ticket,
    claimed: bool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.claimed {
            with_admission(self.config, |a| {
                a.node(self.region).give_up(self.ticket, now_ms())
            });
        }
    }
}

/// A slot at `target`'s node, waiting in line for one until `until_ms` at most; past
/// that the request is shed (503 with `Retry-After`, nothing sent).
pub async fn admit<'a>(
    config: &'a Config,
    target: &Target,
    until_ms: u64,
) -> Result<Permit<'a>, AppError> {
    let region = target.region().clone();
    let shed = || AppError::Overloaded {
        upstream: target.to_string(),
        retry_after_secs: RETRY_AFTER_SECS,
    };
    let now = now_ms();
    let ticket = match with_admission(config, |a| {
        a.arrive(&region, now, until_ms.saturating_sub(now))
    }) {
        Admit::Now => {
            return Ok(Permit {
                config,
                region,
                released: false,
            });
        }
        Admit::Refused => return Err(shed()),
        Admit::Wait(ticket) => ticket,
    };
    let mut queued = Queued {
        config,
        region: &region,
        ticket,
        claimed: false,
    };
    loop {
        let (claimed, expected_wait_ms) = with_admission(config, |a| {
            let node = a.node(&region);
            (node.claim(ticket), node.expected_wait_ms(ticket))
        });
        if claimed {
            queued.claimed = true;
            break;
        }
        let now = now_ms();
        if now >= until_ms {
            return Err(shed());
        }
        let poll_ms = (expected_wait_ms * QUEUE_POLL_SHARE)
            .clamp(QUEUE_POLL_MIN_MS, QUEUE_POLL_MAX_MS) as u64;
        Delay::from(Duration::from_millis(poll_ms.min(until_ms - now))).await;
    }
    drop(queued);
    Ok(Permit {
        config,
        region,
        released: false,
    })
}
