//! What requests' outcomes say about each node, between health probes: failure
//! detection that tells a dead node from a slow one, in the spirit of Envoy's outlier
//! detection. A refused connection or a PostgREST that says it cannot serve (502, 503)
//! is a failing node's evidence; [`EJECT_AFTER_CONSECUTIVE`] of them in a row, with no
//! answer between, eject it (Envoy's `consecutive_gateway_failure`), so one odd
//! answer under load never takes a node away. A timeout, or PostgREST's 504 (its pool
//! was busy), is only a slow node's: it is tried after every other node. Any answer
//! clears the streak. Either way the next probe round (started after the evidence)
//! decides: a node that answers it is readmitted.

use crate::error::AppError;
use crate::region::RegionCode;

/// Failures in a row that eject a node. Envoy's default is 5; fewer here because the
/// first failure already asks for a probe round, which confirms a dead node at once, and
/// meanwhile the node is tried last.
pub const EJECT_AFTER_CONSECUTIVE: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Refused, reset, or answered 502/503: the node cannot serve.
    Dead,
    /// No answer within the budget, or a busy pool: the probe will tell.
    Slow,
}

/// What an answer's status says of the node that gave it: 502 and 503 (PostgREST cannot
/// reach its database) a failing node; 504 (PostgREST's pool stayed busy past its
/// acquisition timeout) a slow one; anything else, that it answered.
pub fn evidence_of_status(status: u16) -> Option<Evidence> {
    match status {
        502 | 503 => Some(Evidence::Dead),
        504 => Some(Evidence::Slow),
        _ => None,
    }
}

/// What a call that got no answer says of the node: nothing in time, slow; refused,
/// reset or cut off, failing; shed before it was sent, nothing at all.
pub fn evidence_of_error(error: &AppError) -> Option<Evidence> {
    match error {
        AppError::Overloaded { .. } => None,
        AppError::UpstreamTimeout { .. } => Some(Evidence::Slow),
        _ => Some(Evidence::Dead),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Healthy,
    /// Failed or timed out since its last answer: tried last.
    Suspect,
    /// Failed [`EJECT_AFTER_CONSECUTIVE`] times in a row: not tried, unless nothing
    /// else is left.
    Ejected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    region: RegionCode,
    /// When the newest evidence came.
    since_ms: u64,
    /// Failures in a row with no answer between.
    failures: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Outliers {
    /// Regions with evidence against them since their last answer.
    marked: Vec<Mark>,
}

impl Outliers {
    pub fn record(&mut self, region: &RegionCode, evidence: Evidence, now_ms: u64) {
        let mark = match self.marked.iter().position(|m| &m.region == region) {
            Some(i) => &mut self.marked[i],
            None => {
                self.marked.push(Mark {
                    region: region.clone(),
                    since_ms: now_ms,
                    failures: 0,
                });
                self.marked.last_mut().expect("just pushed")
            }
        };
        // The newest time keeps older probe rounds from clearing it.
        mark.since_ms = mark.since_ms.max(now_ms);
        if evidence == Evidence::Dead {
            mark.failures += 1;
        }
    }

    /// A request got an answer from `region` that was not a gateway failure: the
    /// streak against it is broken.
    pub fn answered(&mut self, region: &RegionCode) {
        self.marked.retain(|m| &m.region != region);
    }

    /// A probe round that started at `round_started_ms` found `region` answering: the
    /// evidence it started after is outweighed.
    pub fn answered_probe(&mut self, region: &RegionCode, round_started_ms: u64) {
        self.marked
            .retain(|m| !(&m.region == region && m.since_ms <= round_started_ms));
    }

    pub fn standing(&self, region: &RegionCode) -> Standing {
        match self.marked.iter().find(|m| &m.region == region) {
            None => Standing::Healthy,
            Some(m) if m.failures >= EJECT_AFTER_CONSECUTIVE => Standing::Ejected,
            Some(_) => Standing::Suspect,
        }
    }

    /// The newest evidence, so the cache can ask for a probe round after it.
    pub fn newest_ms(&self) -> Option<u64> {
        self.marked.iter().map(|m| m.since_ms).max()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn code(c: &str) -> RegionCode {
        RegionCode::parse(c).unwrap()
    }

    #[test]
    fn failures_in_a_row_eject_a_timeout_only_makes_a_suspect() {
        let mut outliers = Outliers::default();
        outliers.record(&code("fra1"), Evidence::Slow, 10);
        assert_eq!(outliers.standing(&code("fra1")), Standing::Suspect);
        for i in 1..EJECT_AFTER_CONSECUTIVE {
            outliers.record(&code("sfo1"), Evidence::Dead, 10 + u64::from(i));
            assert_eq!(
                outliers.standing(&code("sfo1")),
                Standing::Suspect,
                "{i} failure(s): tried last, not ejected"
            );
        }
        outliers.record(&code("sfo1"), Evidence::Dead, 20);
        assert_eq!(outliers.standing(&code("sfo1")), Standing::Ejected);
        outliers.record(&code("sfo1"), Evidence::Slow, 30);
        assert_eq!(
            outliers.standing(&code("sfo1")),
            Standing::Ejected,
            "a timeout does not break a streak of failures"
        );
        assert_eq!(outliers.standing(&code("iad1")), Standing::Healthy);
        assert_eq!(outliers.newest_ms(), Some(30));
    }

    #[test]
    fn an_answer_breaks_the_streak() {
        let mut outliers = Outliers::default();
        for _ in 1..EJECT_AFTER_CONSECUTIVE {
            outliers.record(&code("fra1"), Evidence::Dead, 10);
        }
        outliers.answered(&code("fra1"));
        assert_eq!(outliers.standing(&code("fra1")), Standing::Healthy);
        outliers.record(&code("fra1"), Evidence::Dead, 20);
        assert_eq!(
            outliers.standing(&code("fra1")),
            Standing::Suspect,
            "the count starts again"
        );
        assert_eq!(outliers.newest_ms(), Some(20));
    }

    #[test]
    fn only_a_probe_round_started_after_the_evidence_readmits() {
        let mut outliers = Outliers::default();
        for _ in 0..EJECT_AFTER_CONSECUTIVE {
            outliers.record(&code("fra1"), Evidence::Dead, 100);
        }
        outliers.answered_probe(&code("fra1"), 99);
        assert_eq!(
            outliers.standing(&code("fra1")),
            Standing::Ejected,
            "that round may have asked before the node died"
        );
        outliers.answered_probe(&code("sfo1"), 200);
        assert_eq!(outliers.standing(&code("fra1")), Standing::Ejected);
        outliers.answered_probe(&code("fra1"), 100);
        assert_eq!(outliers.standing(&code("fra1")), Standing::Healthy);
        assert_eq!(outliers.newest_ms(), None);
    }

    #[test]
    fn statuses_and_errors_as_evidence() {
        assert_eq!(evidence_of_status(503), Some(Evidence::Dead));
        assert_eq!(evidence_of_status(502), Some(Evidence::Dead));
        assert_eq!(evidence_of_status(504), Some(Evidence::Slow), "a busy pool");
        for answered in [200, 201, 404, 409, 425, 500] {
            assert_eq!(evidence_of_status(answered), None, "{answered}");
        }
        let timeout = AppError::UpstreamTimeout {
            upstream: "fra1".into(),
            after_ms: 1000,
        };
        assert_eq!(evidence_of_error(&timeout), Some(Evidence::Slow));
        let refused = AppError::UpstreamUnreachable {
            upstream: "fra1".into(),
            cause: "refused".into(),
        };
        assert_eq!(evidence_of_error(&refused), Some(Evidence::Dead));
        let shed = AppError::Overloaded {
            upstream: "fra1".into(),
            retry_after_secs: 1,
        };
        assert_eq!(evidence_of_error(&shed), None, "nothing was sent");
    }

    proptest! {
        /// A node is ejected exactly when its last EJECT_AFTER_CONSECUTIVE outcomes from
        /// requests include that many failures and no answer (timeouts neither count
        /// nor break the streak).
        #[test]
        fn ejected_exactly_after_enough_failures_with_no_answer_between(
            outcomes in prop::collection::vec(0u8..3, 0..40)
        ) {
            let fra1 = code("fra1");
            let mut outliers = Outliers::default();
            let mut streak = 0;
            for (t, outcome) in outcomes.iter().enumerate() {
                match outcome {
                    0 => {
                        outliers.answered(&fra1);
                        streak = 0;
                    }
                    1 => {
                        outliers.record(&fra1, Evidence::Dead, t as u64);
                        streak += 1;
                    }
                    _ => outliers.record(&fra1, Evidence::Slow, t as u64),
                }
                // Evidence since the last answer marks it.
                let marked = *outcome != 0;
                let expected = if streak >= EJECT_AFTER_CONSECUTIVE {
                    Standing::Ejected
                } else if marked {
                    Standing::Suspect
                } else {
                    Standing::Healthy
                };
                prop_assert_eq!(outliers.standing(&fra1), expected);
            }
        }
    }
}
