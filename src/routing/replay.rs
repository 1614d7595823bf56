//! Whether waiting at a replica for a client's last write has been paying off, per
//! replica, from the isolate's own reads. The probes' lag cannot tell: they sample
//! before the client's write, so a replica whose WAL arrives seconds late reads as
//! caught up just when the client has written. Two waits in a row that ended refused
//! (the replica did not replay the write in time) stop the waiting there for a while;
//! then one read waits again to see whether replay has come closer.

use crate::region::RegionCode;

/// Waits in a row that ended refused before the replica is not waited for.
const IN_VAIN_AFTER: u32 = 2;
/// How long the replica is not waited for after that, before one read tries again.
const RETRY_AFTER_MS: u64 = 10_000;

#[derive(Debug, Clone, Default)]
pub struct ReplayWaits {
    /// Regions with waits that ended refused: how many in a row, the last one when.
    refused: Vec<(RegionCode, u32, u64)>,
}

impl ReplayWaits {
    /// A read that was allowed to wait at `region` was served there (`caught_up`) or
    /// refused when its time was up.
    pub fn record(&mut self, region: &RegionCode, caught_up: bool, now_ms: u64) {
        let at = self.refused.iter().position(|(r, _, _)| r == region);
        match (caught_up, at) {
            (true, Some(at)) => {
                self.refused.swap_remove(at);
            }
            (true, None) => {}
            (false, Some(at)) => {
                let entry = &mut self.refused[at];
                entry.1 += 1;
                entry.2 = now_ms;
            }
            (false, None) => self.refused.push((region.clone(), 1, now_ms)),
        }
    }

    /// Whether waiting at `region` has been in vain lately: a read should not wait.
    pub fn in_vain(&self, region: &RegionCode, now_ms: u64) -> bool {
        self.refused.iter().any(|(r, in_a_row, last)| {
            r == region
                && *in_a_row >= IN_VAIN_AFTER
                && now_ms.saturating_sub(*last) < RETRY_AFTER_MS
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fra1() -> RegionCode {
        RegionCode::parse("fra1").unwrap()
    }

    #[test]
    fn two_refusals_in_a_row_stop_the_waiting_for_a_while() {
        let mut waits = ReplayWaits::default();
        waits.record(&fra1(), false, 0);
        assert!(!waits.in_vain(&fra1(), 1), "one refusal is not a pattern");
        waits.record(&fra1(), false, 100);
        assert!(waits.in_vain(&fra1(), 200));
        assert!(
            !waits.in_vain(&RegionCode::parse("sfo1").unwrap(), 200),
            "per replica"
        );
        assert!(
            !waits.in_vain(&fra1(), 100 + RETRY_AFTER_MS),
            "after a while one read tries again"
        );
        waits.record(&fra1(), false, 100 + RETRY_AFTER_MS);
        assert!(
            waits.in_vain(&fra1(), 200 + RETRY_AFTER_MS),
            "in vain again"
        );
        waits.record(&fra1(), true, 300 + RETRY_AFTER_MS);
        assert!(!waits.in_vain(&fra1(), 400 + RETRY_AFTER_MS), "it paid off");
        waits.record(&fra1(), false, 500 + RETRY_AFTER_MS);
        assert!(
            !waits.in_vain(&fra1(), 600 + RETRY_AFTER_MS),
            "the count started again"
        );
    }
}
