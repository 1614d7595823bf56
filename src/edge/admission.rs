//! The isolate's admission limits ([`Admission`]) as permits a request holds while its
//! call to a node is in flight. A waiting request polls on its own timer, as the
//! health cache's waiters do: never woken from another request's context.

use std::cell::RefCell;
use std::time::Duration;

use worker::Delay;

use super::now_ms;
use crate::config::Config;
use crate::error::AppError;
use crate::region::RegionCode;
use crate::routing::Target;
use crate::routing::admission::{Admission, Admit, Outcome};

/// How often a queued request looks for a free slot: a share of the wait it was told to
/// expect, within bounds. Each look is a timer in the isolate, so a thousand waiters
/// polling every few milliseconds would take the CPU the requests need.
const QUEUE_POLL_MIN_MS: f64 = 5.0;
const QUEUE_POLL_MAX_MS: f64 = 20.0;
const QUEUE_POLL_SHARE: f64 = 0.25;
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
        with_admission(self.config, |a| a.node(&self.region).release(outcome));
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.released {
            with_admission(self.config, |a| {
                a.node(&self.region).release(Outcome::Abandoned)
            });
        }
    }
}

/// A place in a node's queue, given back however the wait ends unless it became a slot.
struct Queued<'a> {
    config: &'a Config,
    region: &'a RegionCode,
    admitted: bool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            with_admission(self.config, |a| a.node(self.region).give_up());
        }
    }
}

/// A slot at `target`'s node, waiting for one until `until_ms` at most; past that, or
/// when the queue ahead would not be through by then, the request is shed (503 with
/// `Retry-After`).
pub async fn admit<'a>(
    config: &'a Config,
    target: &Target,
    until_ms: u64,
) -> Result<Permit<'a>, AppError> {
    let region = target.region().clone();
    let permit = |region| Permit {
        config,
        region,
        released: false,
    };
    let shed = || AppError::Overloaded {
        upstream: target.to_string(),
        retry_after_secs: RETRY_AFTER_SECS,
    };
    let may_wait_ms = until_ms.saturating_sub(now_ms()) as f64;
    let (admit, expected_wait_ms) = with_admission(config, |a| {
        let node = a.node(&region);
        (node.arrive(may_wait_ms), node.expected_wait_ms())
    });
    match admit {
        Admit::Now => Ok(permit(region)),
        Admit::Refused => Err(shed()),
        Admit::Wait => {
            let mut queued = Queued {
                config,
                region: &region,
                admitted: false,
            };
            let poll_ms = (expected_wait_ms * QUEUE_POLL_SHARE)
                .clamp(QUEUE_POLL_MIN_MS, QUEUE_POLL_MAX_MS) as u64;
            while !queued.admitted && now_ms() < until_ms {
                Delay::from(Duration::from_millis(poll_ms)).await;
                queued.admitted = with_admission(config, |a| a.node(&region).retry());
            }
            let admitted = queued.admitted;
            drop(queued);
            if admitted {
                Ok(permit(region))
            } else {
                Err(shed())
            }
        }
    }
}
