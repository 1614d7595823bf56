//! Calls to a region's PostgREST, as a trait so services stay testable natively, and the
//! one deadline a request's upstream calls share. The Workers implementation is
//! `edge::upstream`.

use crate::config::RegionConfig;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamReply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Wall time of the call, for `latency_ms` and `Server-Timing`.
    pub elapsed_ms: u64,
}

#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Upstream {
    /// POSTs `args` to `/rpc/<function>` on `region`'s PostgREST as `bearer`.
    /// Errors are already classified: unreachable (502) or timed out (504).
    async fn call_rpc(
        &self,
        region: &RegionConfig,
        function: &str,
        args: &serde_json::Value,
        bearer: &str,
    ) -> Result<UpstreamReply, AppError>;
}

/// When a request's upstream work must be over: connect, headers and body of every
/// call it makes, fallbacks included, and any wait for admission. Set once when the
/// request arrives, so a fallback or a second call gets what is left, not a new budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at_ms: u64,
    budget_ms: u64,
}

impl Deadline {
    pub fn starting(now_ms: u64, budget_ms: u64) -> Self {
        Deadline {
            at_ms: now_ms.saturating_add(budget_ms),
            budget_ms,
        }
    }

    pub fn at_ms(&self) -> u64 {
        self.at_ms
    }

    /// The whole budget, for the error that says it ran out.
    pub fn budget_ms(&self) -> u64 {
        self.budget_ms
    }

    pub fn remaining_ms(&self, now_ms: u64) -> u64 {
        self.at_ms.saturating_sub(now_ms)
    }

    /// A try that leaves half of what is left for the next, as a read falling back
    /// from a slow replica needs.
    pub fn first_half(&self, now_ms: u64) -> Deadline {
        Deadline::starting(now_ms, self.remaining_ms(now_ms) / 2)
    }

    /// Until when a request may wait for an admission slot: `queue_ms` at most, and never
    /// more than half of what is left, so an admitted call still has time to run.
    pub fn queue_until_ms(&self, now_ms: u64, queue_ms: u64) -> u64 {
        now_ms.saturating_add(queue_ms.min(self.remaining_ms(now_ms) / 2))
    }

    /// The 504 of a request whose budget ran out at `upstream`.
    pub fn expired(&self, upstream: &str) -> AppError {
        AppError::UpstreamTimeout {
            upstream: upstream.to_owned(),
            after_ms: self.budget_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_shared_not_renewed() {
        let deadline = Deadline::starting(1000, 3000);
        assert_eq!(deadline.at_ms(), 4000);
        assert_eq!(deadline.remaining_ms(1000), 3000);
        assert_eq!(
            deadline.remaining_ms(3500),
            500,
            "a second call gets what is left"
        );
        assert_eq!(deadline.remaining_ms(9000), 0);
        let first_try = deadline.first_half(2000);
        assert_eq!((first_try.at_ms(), first_try.budget_ms()), (3000, 1000));
        assert_eq!(deadline.queue_until_ms(1000, 500), 1500);
        assert_eq!(
            deadline.queue_until_ms(3000, 5000),
            3500,
            "the queue leaves the call half of what is left"
        );
        assert_eq!(
            deadline.expired("fra1").status(),
            504,
            "a budget that ran out is a gateway timeout"
        );
    }
}
