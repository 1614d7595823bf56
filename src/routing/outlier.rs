//! What requests' outcomes say about each node, between health probes: failure
//! detection that tells a dead node from a slow one, in the spirit of Envoy's outlier
//! detection. A refused connection or a PostgREST that says it cannot serve (502-504)
//! is a dead node's evidence: it is ejected. A timeout is only a slow node's: it is
//! tried after every other node. Either way the next probe round (started after the
//! evidence) decides: a node that answers it is readmitted.

use crate::region::RegionCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Refused, reset, or answered 502/503/504: the node cannot serve.
    Dead,
    /// No answer within the budget: busy or gone, the probe will tell.
    Slow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Healthy,
    /// Timed out since the last probe: tried last.
    Suspect,
    /// Failed for certain since the last probe: not tried, unless nothing else is left.
    Ejected,
}

#[derive(Debug, Clone, Default)]
pub struct Outliers {
    /// Regions with evidence against them, since when, and how bad.
    marked: Vec<(RegionCode, u64, Evidence)>,
}

impl Outliers {
    pub fn record(&mut self, region: &RegionCode, evidence: Evidence, now_ms: u64) {
        match self.marked.iter_mut().find(|(r, _, _)| r == region) {
            // Dead outranks slow; the newest time keeps older probe rounds from clearing it.
            Some(mark) => {
                mark.1 = now_ms;
                if evidence == Evidence::Dead {
                    mark.2 = Evidence::Dead;
                }
            }
            None => self.marked.push((region.clone(), now_ms, evidence)),
        }
    }

    /// A probe round that started at `round_started_ms` found `region` answering: the
    /// evidence it started after is outweighed.
    pub fn answered_probe(&mut self, region: &RegionCode, round_started_ms: u64) {
        self.marked
            .retain(|(r, since, _)| !(r == region && *since <= round_started_ms));
    }

    pub fn standing(&self, region: &RegionCode) -> Standing {
        match self.marked.iter().find(|(r, _, _)| r == region) {
            None => Standing::Healthy,
            Some((_, _, Evidence::Slow)) => Standing::Suspect,
            Some((_, _, Evidence::Dead)) => Standing::Ejected,
        }
    }

    /// The newest evidence, so the cache can ask for a probe round after it.
    pub fn newest_ms(&self) -> Option<u64> {
        self.marked.iter().map(|(_, since, _)| *since).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> RegionCode {
        RegionCode::parse(c).unwrap()
    }

    #[test]
    fn a_timeout_makes_a_suspect_a_refusal_an_ejection() {
        let mut outliers = Outliers::default();
        outliers.record(&code("fra1"), Evidence::Slow, 10);
        outliers.record(&code("sfo1"), Evidence::Dead, 10);
        assert_eq!(outliers.standing(&code("fra1")), Standing::Suspect);
        assert_eq!(outliers.standing(&code("sfo1")), Standing::Ejected);
        assert_eq!(outliers.standing(&code("iad1")), Standing::Healthy);
        outliers.record(&code("fra1"), Evidence::Dead, 20);
        outliers.record(&code("fra1"), Evidence::Slow, 30);
        assert_eq!(
            outliers.standing(&code("fra1")),
            Standing::Ejected,
            "dead stays dead until a probe says otherwise"
        );
        assert_eq!(outliers.newest_ms(), Some(30));
    }

    #[test]
    fn only_a_probe_round_started_after_the_evidence_readmits() {
        let mut outliers = Outliers::default();
        outliers.record(&code("fra1"), Evidence::Dead, 100);
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
}
