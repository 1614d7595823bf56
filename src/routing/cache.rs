//! The per-isolate view of every region's health, with a short time-to-live, and the
//! marks a failed request leaves on a node until the next probes.

use crate::config::RegionConfig;
use crate::region::RegionCode;
use crate::services::health::lag::LagTracker;
use crate::services::health::model::RegionHealth;
use crate::services::health::service::{Probe, region_healths};

use super::policy::NodeView;

/// A snapshot older than this many TTLs is not used even while a refresh runs.
const STALE_LIMIT_TTLS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than the TTL: use it.
    Fresh,
    /// Past the TTL but usable: use it and refresh in the background.
    Stale,
    /// Absent or too old: probe before deciding.
    Missing,
}

#[derive(Debug, Clone)]
pub struct HealthCache {
    ttl_ms: u64,
    snapshot: Option<(u64, Vec<RegionHealth>)>,
    /// Nodes a request found failing, until when.
    down_until: Vec<(RegionCode, u64)>,
    /// When a background refresh started, so only one runs (and a lost one expires).
    refreshing_since: Option<u64>,
    /// The primary's WAL position over time, for replica lag in seconds.
    lag: LagTracker,
}

impl HealthCache {
    pub fn new(ttl_ms: u64) -> Self {
        HealthCache {
            ttl_ms,
            snapshot: None,
            down_until: Vec::new(),
            refreshing_since: None,
            lag: LagTracker::default(),
        }
    }

    pub fn freshness(&self, now_ms: u64) -> Freshness {
        match &self.snapshot {
            Some((taken, _)) if now_ms.saturating_sub(*taken) < self.ttl_ms => Freshness::Fresh,
            Some((taken, _)) if now_ms.saturating_sub(*taken) < self.ttl_ms * STALE_LIMIT_TTLS => {
                Freshness::Stale
            }
            _ => Freshness::Missing,
        }
    }

    /// Turns fresh probes into each region's health (lag measured with this isolate's
    /// history of the primary) and keeps it as the current snapshot.
    pub fn ingest(&mut self, now_ms: u64, probes: Vec<Probe>) -> Vec<RegionHealth> {
        let regions = region_healths(probes, &mut self.lag, now_ms);
        self.store(now_ms, regions.clone());
        regions
    }

    pub fn store(&mut self, now_ms: u64, regions: Vec<RegionHealth>) {
        self.snapshot = Some((now_ms, regions));
        self.refreshing_since = None;
    }

    /// Claims the background refresh; false when one is already under way.
    pub fn begin_refresh(&mut self, now_ms: u64) -> bool {
        match self.refreshing_since {
            Some(since) if now_ms.saturating_sub(since) < self.ttl_ms * STALE_LIMIT_TTLS => false,
            _ => {
                self.refreshing_since = Some(now_ms);
                true
            }
        }
    }

    /// A request could not use `region`: skip it for one TTL, after which fresh probes
    /// decide again.
    pub fn mark_down(&mut self, region: &RegionCode, now_ms: u64) {
        self.down_until.retain(|(r, _)| r != region);
        self.down_until.push((region.clone(), now_ms + self.ttl_ms));
    }

    fn is_marked_down(&self, region: &RegionCode, now_ms: u64) -> bool {
        self.down_until
            .iter()
            .any(|(r, until)| r == region && now_ms < *until)
    }

    /// Every configured region as the policy sees it now. Regions without a probe
    /// result are unusable.
    pub fn nodes(&self, regions: &[RegionConfig], now_ms: u64) -> Vec<NodeView> {
        let probed: &[RegionHealth] = self.snapshot.as_ref().map_or(&[], |(_, r)| r.as_slice());
        regions
            .iter()
            .map(|config| {
                let health = probed.iter().find(|h| h.region == config.code);
                let (lag_seconds, lag_bytes) = health
                    .and_then(|h| h.replication.as_ref())
                    .map_or((0.0, 0), |r| (r.lag_seconds, r.lag_bytes));
                NodeView {
                    region: config.code.clone(),
                    location: config.location,
                    role: health.and_then(|h| h.role),
                    usable: health.is_some_and(|h| h.reachable && h.role.is_some())
                        && !self.is_marked_down(&config.code, now_ms),
                    lag_seconds,
                    lag_bytes,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::known_location;
    use crate::services::health::model::{ReplicationHealth, Role};

    fn regions() -> Vec<RegionConfig> {
        ["iad1", "fra1"]
            .iter()
            .map(|c| RegionConfig {
                code: RegionCode::parse(c).unwrap(),
                postgrest_url: format!("http://{c}"),
                location: known_location(c).unwrap(),
            })
            .collect()
    }

    fn health(code: &str, role: Option<Role>, lag_bytes: u64) -> RegionHealth {
        RegionHealth {
            region: RegionCode::parse(code).unwrap(),
            reachable: role.is_some(),
            role,
            latency_ms: Some(1),
            lsn: None,
            replication: (role == Some(Role::Replica)).then(|| ReplicationHealth {
                wal_receiver: Some("streaming".into()),
                replay_paused: false,
                lag_seconds: 1.5,
                lag_bytes,
            }),
            error: None,
        }
    }

    #[test]
    fn freshness_follows_the_ttl() {
        let mut cache = HealthCache::new(2000);
        assert_eq!(cache.freshness(0), Freshness::Missing);
        cache.store(1000, vec![]);
        assert_eq!(cache.freshness(2999), Freshness::Fresh);
        assert_eq!(cache.freshness(3000), Freshness::Stale);
        assert_eq!(cache.freshness(10_999), Freshness::Stale);
        assert_eq!(cache.freshness(11_000), Freshness::Missing);
    }

    #[test]
    fn one_refresh_at_a_time_and_a_lost_one_expires() {
        let mut cache = HealthCache::new(2000);
        assert!(cache.begin_refresh(0));
        assert!(!cache.begin_refresh(100));
        assert!(
            cache.begin_refresh(10_000),
            "a refresh that never finished is forgotten"
        );
        cache.store(10_050, vec![]);
        assert!(cache.begin_refresh(10_100));
    }

    #[test]
    fn nodes_reflect_probes_and_marks() {
        let mut cache = HealthCache::new(2000);
        let regions = regions();
        let nodes = cache.nodes(&regions, 0);
        assert!(nodes.iter().all(|n| !n.usable), "nothing probed yet");

        cache.store(
            0,
            vec![
                health("iad1", Some(Role::Primary), 0),
                health("fra1", Some(Role::Replica), 42),
            ],
        );
        let nodes = cache.nodes(&regions, 10);
        assert!(nodes.iter().all(|n| n.usable));
        assert_eq!((nodes[1].lag_seconds, nodes[1].lag_bytes), (1.5, 42));

        cache.mark_down(&regions[1].code, 100);
        assert!(!cache.nodes(&regions, 2099)[1].usable);
        assert!(
            cache.nodes(&regions, 2100)[1].usable,
            "a mark lasts one TTL"
        );

        cache.store(
            3000,
            vec![
                health("iad1", Some(Role::Primary), 0),
                health("fra1", None, 0),
            ],
        );
        assert!(
            !cache.nodes(&regions, 3001)[1].usable,
            "unreachable at the last probe"
        );
    }
}
