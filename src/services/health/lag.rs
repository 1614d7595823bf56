//! Replica lag in seconds, measured the way PostgreSQL's walsender measures it: by when
//! the primary wrote the WAL a replica has not replayed yet. Each health probe samples
//! the primary's WAL position; a replica that replayed up to `R` is behind by the time
//! since the first sample beyond `R`.
//!
//! (A standby alone can only say how old its last replayed transaction is, which after
//! a quiet spell on the primary reads minutes behind one second after falling behind.)

use std::collections::VecDeque;

use crate::region::Lsn;

/// Samples kept: at the default 2 s TTL, about four minutes of history.
const SAMPLES: usize = 128;

#[derive(Debug, Clone, Default)]
pub struct LagTracker {
    /// (when, the primary's WAL position then), oldest first, positions non-decreasing.
    samples: VecDeque<(u64, Lsn)>,
}

impl LagTracker {
    pub fn record(&mut self, now_ms: u64, primary_lsn: Lsn) {
        match self.samples.back() {
            // A position going backwards means another primary (failover): start over.
            Some(&(_, last)) if primary_lsn < last => self.samples.clear(),
            // Same position: the first time it was seen is what matters.
            Some(&(_, last)) if primary_lsn == last => return,
            _ => {}
        }
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((now_ms, primary_lsn));
    }

    /// Seconds `replayed` is behind the primary; `None` without a sample to compare to.
    pub fn seconds_behind(&self, now_ms: u64, replayed: Lsn) -> Option<f64> {
        let &(_, latest) = self.samples.back()?;
        if replayed >= latest {
            return Some(0.0);
        }
        // The first sample beyond what is replayed: since then, the replica is behind.
        // If even the oldest is, it is behind at least that long.
        let since = self
            .samples
            .iter()
            .find(|(_, lsn)| *lsn > replayed)
            .map(|(at, _)| *at)
            .expect("the latest sample is beyond `replayed`");
        Some(now_ms.saturating_sub(since) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_replica_falling_behind_after_a_quiet_spell_is_seconds_behind_not_minutes() {
        let mut lag = LagTracker::default();
        lag.record(0, Lsn(100)); // quiet for ten minutes at 100
        lag.record(600_000, Lsn(100));
        lag.record(602_000, Lsn(180)); // a write; the replica stays at 100
        assert_eq!(lag.seconds_behind(602_000, Lsn(100)), Some(0.0 + 0.0));
        assert_eq!(lag.seconds_behind(605_000, Lsn(100)), Some(3.0));
        assert_eq!(lag.seconds_behind(605_000, Lsn(180)), Some(0.0));
    }

    #[test]
    fn behind_older_than_the_history_is_at_least_its_span() {
        let mut lag = LagTracker::default();
        for i in 0..(SAMPLES as u64 + 10) {
            lag.record(i * 1000, Lsn(1000 + i));
        }
        let oldest_kept = 10 * 1000;
        let now = (SAMPLES as u64 + 10) * 1000;
        assert_eq!(
            lag.seconds_behind(now, Lsn(0)),
            Some((now - oldest_kept) as f64 / 1000.0)
        );
    }

    #[test]
    fn no_samples_no_answer_and_failover_resets() {
        let mut lag = LagTracker::default();
        assert_eq!(lag.seconds_behind(1000, Lsn(5)), None);
        lag.record(0, Lsn(500));
        lag.record(1000, Lsn(50)); // a promoted standby's lower position
        assert_eq!(lag.samples.len(), 1);
        assert_eq!(lag.seconds_behind(1500, Lsn(40)), Some(0.5));
    }

    proptest! {
        /// Lag never decreases while the replica stands still, is zero once it has
        /// replayed the latest position, and never exceeds the time since the first sample.
        #[test]
        fn lag_is_monotone_and_bounded(steps in proptest::collection::vec((1u64..5000, 0u64..1000), 1..60), replayed in 0u64..20_000) {
            let mut lag = LagTracker::default();
            let (mut now, mut lsn) = (0u64, 0u64);
            let mut previous = 0.0;
            for (dt, dlsn) in steps {
                now += dt;
                lsn += dlsn;
                lag.record(now, Lsn(lsn));
                let behind = lag.seconds_behind(now, Lsn(replayed)).unwrap();
                prop_assert!(behind >= previous || replayed >= lsn);
                prop_assert!(behind * 1000.0 <= now as f64);
                if replayed >= lsn { prop_assert_eq!(behind, 0.0); }
                previous = behind;
            }
        }
    }
}
