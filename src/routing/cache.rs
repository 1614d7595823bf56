//! The per-isolate view of every region's health, with a short time-to-live, and the
//! marks a failed request leaves on a node until the next probes.

use crate::config::RegionConfig;
use crate::error::AppError;
use crate::region::RegionCode;
use crate::services::health::lag::LagTracker;
use crate::services::health::model::{HealthSnapshot, HealthWarning, RegionHealth, Role};
use crate::services::health::service::{Probe, ProbeFailure, partition_warnings, region_healths};

use super::outlier::{Evidence, Outliers, Standing};
use super::policy::NodeView;
use super::replay::ReplayWaits;

/// How long past the probe deadline a round may take (scheduling, parsing) before its
/// claim counts as lost and another request may start one.
const ROUND_MARGIN_MS: u64 = 250;

/// Weight of the newest probe in a node's moving round trip: about the last ten
/// rounds count, so one slow answer (a new connection's handshake, a busy moment)
/// does not reorder reads, and a lasting change does within seconds.
const ROUND_TRIP_WEIGHT: f64 = 0.2;

/// A snapshot this many TTLs old is probed again inline by the one request that claims
/// the round (an isolate waking from idle), not trusted for routing first.
const OLD_SNAPSHOT_TTLS: u64 = 5;

/// What a request does about the health snapshot before it routes. One probe round at a
/// time per isolate: a cold isolate under a thousand requests sends one round, not a
/// thousand, and a stale snapshot is used however old rather than probed inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPlan {
    /// Younger than the TTL: route from it.
    Use,
    /// Past the TTL: route from it, and this request starts the background round.
    UseAndRefresh,
    /// Nothing probed yet and no round under way: this request runs the round inline.
    ProbeNow,
    /// Nothing probed yet and a round is under way: wait for its snapshot until then.
    AwaitRound { until_ms: u64 },
}

#[derive(Debug, Clone)]
pub struct HealthCache {
    ttl_ms: u64,
    probe_timeout_ms: u64,
    snapshot: Option<(u64, Vec<RegionHealth>)>,
    /// What the last round's primary said is wrong with its partitions.
    warnings: Vec<HealthWarning>,
    /// What requests found since the probes.
    outliers: Outliers,
    /// When the probe round under way started, so only one runs (and a lost one expires).
    refreshing_since: Option<u64>,
    /// The primary's WAL position over time, for replica lag in seconds.
    lag: LagTracker,
    /// Regions whose last probe timed out with nothing known of them before (a cold
    /// isolate under load): the last resort for reads.
    slow_unknown: Vec<RegionCode>,
    /// Each node's moving average of answered probes' round trips, in ms.
    round_trips: Vec<(RegionCode, f64)>,
    /// Whether waiting at each replica for a client's write has been paying off.
    replay_waits: ReplayWaits,
}

impl HealthCache {
    pub fn new(ttl_ms: u64, probe_timeout_ms: u64) -> Self {
        HealthCache {
            ttl_ms,
            probe_timeout_ms,
            snapshot: None,
            warnings: Vec::new(),
            outliers: Outliers::default(),
            refreshing_since: None,
            lag: LagTracker::default(),
            slow_unknown: Vec::new(),
            round_trips: Vec::new(),
            replay_waits: ReplayWaits::default(),
        }
    }

    /// A node's moving round trip, once a probe of it has answered.
    pub fn round_trip_ms(&self, region: &RegionCode) -> Option<f64> {
        self.round_trips
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, ms)| *ms)
    }

    fn learn_round_trip(&mut self, region: &RegionCode, sample_ms: f64) {
        match self.round_trips.iter_mut().find(|(r, _)| r == region) {
            Some((_, average)) => *average += (sample_ms - *average) * ROUND_TRIP_WEIGHT,
            None => self.round_trips.push((region.clone(), sample_ms)),
        }
    }

    /// Decides, and claims the round when this request is to run it.
    pub fn plan(&mut self, now_ms: u64) -> RefreshPlan {
        let age = self
            .snapshot
            .as_ref()
            .map(|(taken, _)| now_ms.saturating_sub(*taken));
        // Evidence newer than the snapshot asks for a round now, so that the probe
        // decides soon whether a failing node is dead or only slow.
        let overtaken = match (&self.snapshot, self.outliers.newest_ms()) {
            (Some((taken, _)), Some(evidence)) => evidence >= *taken,
            _ => false,
        };
        match age {
            Some(age) if age < self.ttl_ms && !overtaken => RefreshPlan::Use,
            // An isolate idle for long probes before trusting what it saw then; while
            // that round runs, the others still route from the old snapshot.
            Some(age) if self.begin_refresh(now_ms) => {
                if age < self.ttl_ms * OLD_SNAPSHOT_TTLS {
                    RefreshPlan::UseAndRefresh
                } else {
                    RefreshPlan::ProbeNow
                }
            }
            Some(_) => RefreshPlan::Use,
            None if self.begin_refresh(now_ms) => RefreshPlan::ProbeNow,
            None => RefreshPlan::AwaitRound {
                until_ms: self.refreshing_since.unwrap_or(now_ms) + self.round_limit_ms(),
            },
        }
    }

    pub fn has_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// The last round, as `/health` shows it.
    pub fn snapshot(&self) -> Option<HealthSnapshot> {
        let (taken_ms, regions) = self.snapshot.as_ref()?;
        Some(HealthSnapshot {
            taken_ms: *taken_ms,
            regions: regions.clone(),
            warnings: self.warnings.clone(),
        })
    }

    fn round_limit_ms(&self) -> u64 {
        self.probe_timeout_ms + ROUND_MARGIN_MS
    }

    /// Turns fresh probes into each region's health (lag measured with this isolate's
    /// history of the primary) and keeps it as the current snapshot. Nodes that
    /// answered a round started at `round_started_ms` are readmitted.
    ///
    /// A probe that got no answer in time says the node is slow, not that it is gone:
    /// under load a busy isolate's probes time out while every node serves, and taking
    /// them all away answered "no region can serve" to everyone. Such a node keeps
    /// what the last round knew of it (role, lag), and is tried after the others until
    /// a probe answers; refused or failing probes still take it away.
    pub fn ingest(
        &mut self,
        round_started_ms: u64,
        now_ms: u64,
        probes: Vec<Probe>,
    ) -> Vec<RegionHealth> {
        let timed_out: Vec<RegionCode> = probes
            .iter()
            .filter(|p| {
                matches!(
                    p.outcome,
                    Err(ProbeFailure::Unreachable(AppError::UpstreamTimeout { .. }))
                )
            })
            .map(|p| p.region.code.clone())
            .collect();
        self.warnings = partition_warnings(&probes);
        let mut regions = region_healths(probes, &mut self.lag, now_ms);
        self.slow_unknown.clear();
        for health in &mut regions {
            if health.reachable && health.role.is_some() {
                self.outliers
                    .answered_probe(&health.region, round_started_ms);
                if let Some(ms) = health.latency_ms {
                    self.learn_round_trip(&health.region, ms as f64);
                }
            } else if timed_out.contains(&health.region) {
                match self.last_answer(&health.region) {
                    Some(known) => {
                        let error = health.error.take();
                        *health = RegionHealth { error, ..known };
                        // Dated at the round's start, older than the snapshot it goes
                        // into, so it does not ask for another round at once; the TTL does.
                        self.outliers
                            .record(&health.region, Evidence::Slow, round_started_ms);
                    }
                    None => self.slow_unknown.push(health.region.clone()),
                }
            }
        }
        self.store(now_ms, regions.clone());
        regions
    }

    /// What the snapshot holds for `region` if its probe answered then (or was kept
    /// from an answer before).
    fn last_answer(&self, region: &RegionCode) -> Option<RegionHealth> {
        let (_, regions) = self.snapshot.as_ref()?;
        regions
            .iter()
            .find(|h| &h.region == region && h.reachable && h.role.is_some())
            .cloned()
    }

    pub fn store(&mut self, now_ms: u64, regions: Vec<RegionHealth>) {
        self.snapshot = Some((now_ms, regions));
        self.refreshing_since = None;
    }

    /// Claims the probe round; false when one is already under way.
    fn begin_refresh(&mut self, now_ms: u64) -> bool {
        match self.refreshing_since {
            Some(since) if now_ms.saturating_sub(since) < self.round_limit_ms() => false,
            _ => {
                self.refreshing_since = Some(now_ms);
                true
            }
        }
    }

    /// A request found `region` failing: see [`Outliers`].
    pub fn record_failure(&mut self, region: &RegionCode, evidence: Evidence, now_ms: u64) {
        self.outliers.record(region, evidence, now_ms);
    }

    /// A read allowed to wait at `region` for the client's write was served there
    /// (`caught_up`) or refused: see [`ReplayWaits`].
    pub fn record_replay_wait(&mut self, region: &RegionCode, caught_up: bool, now_ms: u64) {
        self.replay_waits.record(region, caught_up, now_ms);
    }

    pub fn replay_waits_in_vain(&self, region: &RegionCode, now_ms: u64) -> bool {
        self.replay_waits.in_vain(region, now_ms)
    }

    /// A request got an answer from `region`: see [`Outliers::answered`].
    pub fn record_answer(&mut self, region: &RegionCode) {
        self.outliers.answered(region);
    }

    /// Every configured region as the policy sees it now. Regions without a probe
    /// result are unusable. Requests' evidence never takes away the last node that
    /// can serve (a panic threshold, as Envoy's): with every probed node ejected, reads
    /// go to all of them; with the only primary ejected, writes still go to it. A
    /// client then gets that node's own error, not "no region can serve".
    pub fn nodes(&self, regions: &[RegionConfig]) -> Vec<NodeView> {
        let probed: &[RegionHealth] = self.snapshot.as_ref().map_or(&[], |(_, r)| r.as_slice());
        let mut views: Vec<(NodeView, Standing)> = regions
            .iter()
            .map(|config| {
                let health = probed.iter().find(|h| h.region == config.code);
                let (lag_seconds, lag_bytes) = health
                    .and_then(|h| h.replication.as_ref())
                    .map_or((0.0, 0), |r| (r.lag_seconds, r.lag_bytes));
                let standing = self.outliers.standing(&config.code);
                let view = NodeView {
                    region: config.code.clone(),
                    location: config.location,
                    role: health.and_then(|h| h.role),
                    usable: health.is_some_and(|h| h.reachable && h.role.is_some()),
                    suspect: standing == Standing::Suspect,
                    lag_seconds,
                    lag_bytes,
                    measured_rtt_ms: self.round_trip_ms(&config.code),
                };
                (view, standing)
            })
            .collect();
        let serves = |views: &[(NodeView, Standing)], role: Option<Role>| {
            views.iter().any(|(v, standing)| {
                v.usable && *standing != Standing::Ejected && role.is_none_or(|r| v.role == Some(r))
            })
        };
        let panic_all = !serves(&views, None);
        let panic_primary = !serves(&views, Some(Role::Primary));
        for (view, standing) in &mut views {
            let spared = panic_all || (panic_primary && view.role == Some(Role::Primary));
            if *standing == Standing::Ejected && !spared {
                view.usable = false;
            }
            // Nothing known to serve, and this node only too slow to say what it is:
            // reads go to it, after the others, rather than nowhere. A read is right on
            // a primary as on a replica (a consistency token is checked either way);
            // writes wait for a probe to name the primary.
            if panic_all && view.role.is_none() && self.slow_unknown.contains(&view.region) {
                view.role = Some(Role::Replica);
                view.usable = true;
                view.suspect = true;
            }
        }
        views.into_iter().map(|(view, _)| view).collect()
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
    fn one_slow_probe_does_not_reorder_nodes_a_lasting_change_does() {
        let mut cache = HealthCache::new(1000, 500);
        let (iad, sfo) = (
            RegionCode::parse("iad1").unwrap(),
            RegionCode::parse("sfo1").unwrap(),
        );
        assert_eq!(cache.round_trip_ms(&iad), None);
        for _ in 0..5 {
            cache.learn_round_trip(&iad, 180.0);
            cache.learn_round_trip(&sfo, 250.0);
        }
        // A new connection's handshake doubles one sample.
        cache.learn_round_trip(&iad, 400.0);
        assert!(cache.round_trip_ms(&iad) < cache.round_trip_ms(&sfo));
        // The route to iad1 really got slower: it falls behind within ten rounds.
        for _ in 0..10 {
            cache.learn_round_trip(&iad, 400.0);
            cache.learn_round_trip(&sfo, 250.0);
        }
        assert!(cache.round_trip_ms(&iad) > cache.round_trip_ms(&sfo));
    }

    #[test]
    fn a_cold_isolate_runs_one_round_and_the_others_wait_for_it() {
        let mut cache = HealthCache::new(2000, 1000);
        assert_eq!(cache.plan(0), RefreshPlan::ProbeNow);
        for now in [1, 50, 1249] {
            assert_eq!(
                cache.plan(now),
                RefreshPlan::AwaitRound { until_ms: 1250 },
                "at {now} ms the first round is still under way"
            );
        }
        assert_eq!(
            cache.plan(1250),
            RefreshPlan::ProbeNow,
            "a round past its deadline is lost: the next request runs one"
        );
        cache.store(1300, vec![]);
        assert!(cache.has_snapshot());
        assert_eq!(cache.plan(1301), RefreshPlan::Use);
    }

    #[test]
    fn a_stale_snapshot_is_used_however_old_while_one_round_refreshes_it() {
        let mut cache = HealthCache::new(2000, 1000);
        cache.store(0, vec![]);
        assert_eq!(cache.plan(1999), RefreshPlan::Use);
        assert_eq!(cache.plan(2000), RefreshPlan::UseAndRefresh);
        assert_eq!(cache.plan(2001), RefreshPlan::Use, "one round at a time");
        assert_eq!(cache.plan(3249), RefreshPlan::Use);
        assert_eq!(
            cache.plan(3250),
            RefreshPlan::UseAndRefresh,
            "the round of 2000 ms is past its deadline: lost, another starts"
        );
        assert_eq!(
            cache.plan(600_000),
            RefreshPlan::ProbeNow,
            "ten minutes old and the last round lost: the claimant probes first"
        );
        assert_eq!(
            cache.plan(600_001),
            RefreshPlan::Use,
            "everyone else routes from the old snapshot meanwhile"
        );
        cache.store(600_010, vec![]);
        assert_eq!(cache.plan(600_011), RefreshPlan::Use);
    }

    /// A probe round's answers: `iad1` primary, the others streaming replicas.
    fn answers(regions: &[RegionConfig]) -> Vec<Probe> {
        regions
            .iter()
            .map(|region| {
                let body = if region.code.as_str() == "iad1" {
                    r#"{"in_recovery":false,"current_lsn":"0/100","receive_lsn":null,"replay_lsn":null,"wal_receiver":null}"#
                } else {
                    r#"{"in_recovery":true,"current_lsn":null,"receive_lsn":"0/100","replay_lsn":"0/100","wal_receiver":"streaming"}"#
                };
                Probe {
                    region: region.clone(),
                    outcome: Ok((serde_json::from_str(body).unwrap(), 1)),
                }
            })
            .collect()
    }

    fn fra1_unreachable() -> Vec<RegionHealth> {
        vec![
            health("iad1", Some(Role::Primary), 0),
            health("fra1", None, 0),
        ]
    }

    fn usable(cache: &HealthCache, regions: &[RegionConfig]) -> Vec<bool> {
        cache.nodes(regions).iter().map(|n| n.usable).collect()
    }

    #[test]
    fn nodes_reflect_the_last_probes() {
        let mut cache = HealthCache::new(2000, 1000);
        let regions = regions();
        assert_eq!(
            usable(&cache, &regions),
            [false, false],
            "nothing probed yet"
        );

        cache.store(
            0,
            vec![
                health("iad1", Some(Role::Primary), 0),
                health("fra1", Some(Role::Replica), 42),
            ],
        );
        let nodes = cache.nodes(&regions);
        assert!(nodes.iter().all(|n| n.usable && !n.suspect));
        assert_eq!((nodes[1].lag_seconds, nodes[1].lag_bytes), (1.5, 42));

        cache.store(3000, fra1_unreachable());
        assert_eq!(
            usable(&cache, &regions),
            [true, false],
            "unreachable at the last probe"
        );
    }

    /// Enough failures in a row to eject `region`.
    fn eject(cache: &mut HealthCache, region: &RegionCode, now_ms: u64) {
        for _ in 0..crate::routing::outlier::EJECT_AFTER_CONSECUTIVE {
            cache.record_failure(region, Evidence::Dead, now_ms);
        }
    }

    #[test]
    fn a_dead_replica_is_ejected_until_a_later_round_finds_it_answering() {
        let mut cache = HealthCache::new(2000, 1000);
        let regions = regions();
        cache.ingest(0, 5, answers(&regions));
        cache.record_failure(&regions[1].code, Evidence::Dead, 100);
        let fra1 = &cache.nodes(&regions)[1];
        assert!(
            fra1.usable && fra1.suspect,
            "one failure: tried last {fra1:?}"
        );
        eject(&mut cache, &regions[1].code, 100);
        assert_eq!(usable(&cache, &regions), [true, false]);
        assert_eq!(
            cache.plan(101),
            RefreshPlan::UseAndRefresh,
            "evidence asks for a round before the TTL is up"
        );
        cache.ingest(50, 150, answers(&regions));
        assert_eq!(
            usable(&cache, &regions),
            [true, false],
            "a round that started before the failure does not readmit"
        );
        cache.ingest(120, 180, answers(&regions));
        assert_eq!(usable(&cache, &regions), [true, true], "readmitted");
        assert_eq!(cache.plan(181), RefreshPlan::Use);
    }

    #[test]
    fn a_slow_replica_is_tried_last_not_ejected() {
        let mut cache = HealthCache::new(2000, 1000);
        let regions = regions();
        cache.ingest(0, 5, answers(&regions));
        cache.record_failure(&regions[1].code, Evidence::Slow, 100);
        let fra1 = &cache.nodes(&regions)[1];
        assert!(fra1.usable && fra1.suspect, "{fra1:?}");
        cache.ingest(120, 200, answers(&regions));
        assert!(
            !cache.nodes(&regions)[1].suspect,
            "it answered the probe: slow, not dead"
        );
    }

    #[test]
    fn a_probe_that_times_out_keeps_what_was_known_and_a_refused_one_does_not() {
        let mut cache = HealthCache::new(2000, 1000);
        let regions = regions();
        cache.ingest(0, 5, answers(&regions));
        let failing = |kind: fn(String) -> AppError| -> Vec<Probe> {
            regions
                .iter()
                .map(|region| Probe {
                    region: region.clone(),
                    outcome: Err(ProbeFailure::Unreachable(kind(region.code.to_string()))),
                })
                .collect()
        };
        let timeout = |upstream| AppError::UpstreamTimeout {
            upstream,
            after_ms: 1000,
        };
        let refused = |upstream| AppError::UpstreamUnreachable {
            upstream,
            cause: "connection refused".into(),
        };
        // Twice in a row: a kept answer is kept again.
        for round in [100, 200] {
            let kept = cache.ingest(round, round + 1000, failing(timeout));
            assert!(
                kept.iter().all(|h| h.reachable && h.role.is_some()),
                "{kept:?}"
            );
            assert!(
                kept.iter().all(|h| h.error.is_some()),
                "the timeout is reported"
            );
            let nodes = cache.nodes(&regions);
            assert!(nodes.iter().all(|n| n.usable && n.suspect), "{nodes:?}");
            assert_eq!(
                cache.plan(round + 1001),
                RefreshPlan::Use,
                "next round at the TTL"
            );
        }
        cache.ingest(300, 301, failing(refused));
        assert_eq!(usable(&cache, &regions), [false, false]);
        // A cold isolate has nothing to keep: reads try the slow nodes as a last
        // resort, writes have no primary until a probe names one.
        let mut cold = HealthCache::new(2000, 1000);
        cold.ingest(0, 1000, failing(timeout));
        let nodes = cold.nodes(&regions);
        assert!(
            nodes
                .iter()
                .all(|n| n.usable && n.suspect && n.role == Some(Role::Replica)),
            "{nodes:?}"
        );
        assert!(crate::routing::write_target(&nodes).is_err());
        cold.ingest(1100, 1200, failing(refused));
        assert_eq!(
            usable(&cold, &regions),
            [false, false],
            "refused is not slow"
        );
    }

    #[test]
    fn evidence_never_takes_away_the_last_node_that_can_serve() {
        let mut cache = HealthCache::new(2000, 1000);
        let regions = regions();
        cache.ingest(0, 5, answers(&regions));
        eject(&mut cache, &regions[0].code, 100);
        assert_eq!(
            usable(&cache, &regions),
            [true, true],
            "the only primary is spared: writes get its own error"
        );
        eject(&mut cache, &regions[1].code, 100);
        assert_eq!(
            usable(&cache, &regions),
            [true, true],
            "every node ejected: all are tried rather than none"
        );
        cache.store(200, fra1_unreachable());
        assert_eq!(
            usable(&cache, &regions),
            [true, false],
            "the panic threshold spares what the probes found answering, nothing else"
        );
    }
}
