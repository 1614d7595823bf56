//! The last hour as this isolate saw it, for `/status`: each region's probe results
//! (role, replay lag, probe latency), the moments a region changed role or stopped or
//! resumed answering, and the requests it served per minute and per upstream region
//! (count, errors, p50/p99) and per route. Bounded: one probe sample per region per
//! 10 s slot and one bucket per minute, an hour of each.
//!
//! Kept in the isolate because that is where the figures are: a history that needs a
//! database write per request would cost the request path what it measures. Fleet-wide
//! figures go to Workers Analytics Engine (`edge::observe`).

use std::collections::VecDeque;

use serde::Serialize;

use crate::services::health::model::{RegionHealth, Role};

pub const WINDOW_MS: u64 = 3_600_000;
pub const PROBE_SLOT_MS: u64 = 10_000;
pub const BUCKET_MS: u64 = 60_000;
/// What requests answered without any upstream call count under (cache, edge errors).
pub const EDGE: &str = "edge";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeSample {
    pub at_ms: u64,
    pub reachable: bool,
    pub role: Option<Role>,
    pub latency_ms: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub lag_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The node answers with another role than before: a promotion or a demotion.
    Role,
    Unreachable,
    Reachable,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub at_ms: u64,
    pub region: String,
    pub kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Role>,
}

/// Requests counted together, with their latencies in a log-scale histogram (exact to
/// the millisecond below 10 ms, then within 10%).
#[derive(Debug, Clone, Default)]
struct Stat {
    count: u64,
    errors: u64,
    /// `(bucket, requests)`, by bucket.
    latency: Vec<(u16, u32)>,
}

/// The entry for `key` in a small list kept in key order, made if missing. The lists
/// here hold a few regions or a few dozen routes: a sorted `Vec` does what a map would,
/// for a fraction of the bundle a map's code costs per type.
fn entry<'a, K: Ord + Clone, V: Default>(list: &'a mut Vec<(K, V)>, key: &K) -> &'a mut V {
    let at = match list.binary_search_by(|(k, _)| k.cmp(key)) {
        Ok(at) => at,
        Err(at) => {
            list.insert(at, (key.clone(), V::default()));
            at
        }
    };
    &mut list[at].1
}

fn get<'a, K: Ord, V>(list: &'a [(K, V)], key: &K) -> Option<&'a V> {
    list.binary_search_by(|(k, _)| k.cmp(key))
        .ok()
        .map(|at| &list[at].1)
}

impl Stat {
    fn add(&mut self, status: u16, ms: u64) {
        self.count += 1;
        if status >= 500 {
            self.errors += 1;
        }
        *entry(&mut self.latency, &latency_bucket(ms)) += 1;
    }

    fn merge(&mut self, other: &Stat) {
        self.count += other.count;
        self.errors += other.errors;
        for (bucket, n) in &other.latency {
            *entry(&mut self.latency, bucket) += n;
        }
    }

    /// The latency at quantile `q`: the upper bound of the bucket it falls in.
    fn quantile(&self, q: f64) -> u64 {
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (bucket, n) in &self.latency {
            seen += u64::from(*n);
            if seen >= rank {
                return bucket_upper_ms(*bucket);
            }
        }
        0
    }

    fn minute(&self, at_ms: u64) -> MinutePoint {
        MinutePoint {
            at_ms,
            count: self.count,
            errors: self.errors,
            p50_ms: self.quantile(0.50),
            p99_ms: self.quantile(0.99),
        }
    }

    fn route(&self, route: String) -> RouteSummary {
        RouteSummary {
            route,
            count: self.count,
            errors: self.errors,
            p50_ms: self.quantile(0.50),
            p99_ms: self.quantile(0.99),
        }
    }
}

/// Below 10 ms each millisecond is a bucket; above, each bucket's bound is 1.1 times
/// the last (by multiplication: `ln` would bring libm into the bundle).
fn latency_bucket(ms: u64) -> u16 {
    if ms < 10 {
        return ms as u16;
    }
    let mut bucket = 10;
    let mut upper = 11.0;
    while (ms as f64) >= upper && bucket < u16::MAX {
        bucket += 1;
        upper *= 1.1;
    }
    bucket
}

fn bucket_upper_ms(bucket: u16) -> u64 {
    if bucket < 10 {
        return u64::from(bucket);
    }
    let mut upper = 11.0;
    for _ in 10..bucket {
        upper *= 1.1;
    }
    upper as u64
}

#[derive(Debug, Clone, Default)]
struct Minute {
    start_ms: u64,
    by_region: Vec<(String, Stat)>,
    by_route: Vec<(String, Stat)>,
}

#[derive(Debug, Clone)]
pub struct History {
    started_ms: u64,
    probes: Vec<(String, VecDeque<ProbeSample>)>,
    /// Each region's last reachability and last known role.
    last: Vec<(String, (bool, Option<Role>))>,
    events: VecDeque<Event>,
    minutes: VecDeque<Minute>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinutePoint {
    pub at_ms: u64,
    pub count: u64,
    pub errors: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionHistory {
    pub region: String,
    pub probes: Vec<ProbeSample>,
    pub requests: Vec<MinutePoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteSummary {
    pub route: String,
    pub count: u64,
    pub errors: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
}

/// What `/status/history` serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryReport {
    /// When this isolate began keeping history: nothing before it is known here.
    pub since_ms: u64,
    pub now_ms: u64,
    pub window_ms: u64,
    pub bucket_ms: u64,
    pub regions: Vec<RegionHistory>,
    pub events: Vec<Event>,
    /// Over the window, busiest first.
    pub routes: Vec<RouteSummary>,
}

impl History {
    pub fn new(now_ms: u64) -> History {
        History {
            started_ms: now_ms,
            probes: Vec::new(),
            last: Vec::new(),
            events: VecDeque::new(),
            minutes: VecDeque::new(),
        }
    }

    /// A probe round's results. A region's first answer sets what it is; later rounds
    /// that differ are events.
    pub fn record_round(&mut self, now_ms: u64, regions: &[RegionHealth]) {
        for health in regions {
            let region = health.region.as_str().to_owned();
            let sample = ProbeSample {
                at_ms: now_ms,
                reachable: health.reachable,
                role: health.role,
                latency_ms: health.latency_ms,
                lag_seconds: health.replication.as_ref().map(|r| r.lag_seconds),
                lag_bytes: health.replication.as_ref().map(|r| r.lag_bytes),
            };
            let samples = entry(&mut self.probes, &region);
            match samples.back_mut() {
                Some(last) if last.at_ms / PROBE_SLOT_MS == now_ms / PROBE_SLOT_MS => {
                    *last = sample
                }
                _ => samples.push_back(sample),
            }
            let seen = (health.reachable, health.role);
            match get(&self.last, &region).copied() {
                None => {}
                Some((was_reachable, known_role)) => {
                    if was_reachable != health.reachable {
                        self.events.push_back(Event {
                            at_ms: now_ms,
                            region: region.clone(),
                            kind: if health.reachable {
                                EventKind::Reachable
                            } else {
                                EventKind::Unreachable
                            },
                            from: None,
                            to: None,
                        });
                    }
                    if let (Some(from), Some(to)) = (known_role, health.role)
                        && from != to
                    {
                        self.events.push_back(Event {
                            at_ms: now_ms,
                            region: region.clone(),
                            kind: EventKind::Role,
                            from: Some(from),
                            to: Some(to),
                        });
                    }
                }
            }
            let known = entry(&mut self.last, &region);
            *known = (seen.0, health.role.or(known.1));
        }
        self.forget_before(now_ms.saturating_sub(WINDOW_MS));
    }

    /// A request answered at `now_ms`: `region` is the upstream region that served it
    /// (`None`: answered at the edge), `route` the table's method and pattern.
    pub fn record_request(
        &mut self,
        now_ms: u64,
        route: &str,
        region: Option<&str>,
        status: u16,
        duration_ms: u64,
    ) {
        let start_ms = now_ms - now_ms % BUCKET_MS;
        if self.minutes.back().is_none_or(|m| m.start_ms != start_ms) {
            self.minutes.push_back(Minute {
                start_ms,
                ..Minute::default()
            });
        }
        let minute = self.minutes.back_mut().expect("pushed above");
        entry(&mut minute.by_region, &region.unwrap_or(EDGE).to_owned()).add(status, duration_ms);
        entry(&mut minute.by_route, &route.to_owned()).add(status, duration_ms);
        self.forget_before(now_ms.saturating_sub(WINDOW_MS));
    }

    fn forget_before(&mut self, cutoff_ms: u64) {
        for (_, samples) in &mut self.probes {
            while samples.front().is_some_and(|s| s.at_ms < cutoff_ms) {
                samples.pop_front();
            }
        }
        while self.events.front().is_some_and(|e| e.at_ms < cutoff_ms) {
            self.events.pop_front();
        }
        while self
            .minutes
            .front()
            .is_some_and(|m| m.start_ms + BUCKET_MS <= cutoff_ms)
        {
            self.minutes.pop_front();
        }
    }

    pub fn report(&self, now_ms: u64) -> HistoryReport {
        let cutoff = now_ms.saturating_sub(WINDOW_MS);
        let minutes: Vec<&Minute> = self
            .minutes
            .iter()
            .filter(|m| m.start_ms + BUCKET_MS > cutoff)
            .collect();
        let mut names: Vec<String> = self.probes.iter().map(|(k, _)| k.clone()).collect();
        for minute in &minutes {
            names.extend(minute.by_region.iter().map(|(k, _)| k.clone()));
        }
        names.sort();
        names.dedup();
        let regions = names
            .into_iter()
            .map(|region| RegionHistory {
                probes: get(&self.probes, &region)
                    .map(|s| s.iter().filter(|s| s.at_ms >= cutoff).cloned().collect())
                    .unwrap_or_default(),
                requests: minutes
                    .iter()
                    .filter_map(|m| get(&m.by_region, &region).map(|stat| stat.minute(m.start_ms)))
                    .collect(),
                region,
            })
            .collect();
        let mut by_route: Vec<(String, Stat)> = Vec::new();
        for minute in &minutes {
            for (route, stat) in &minute.by_route {
                entry(&mut by_route, route).merge(stat);
            }
        }
        let mut routes: Vec<RouteSummary> = by_route
            .into_iter()
            .map(|(route, stat)| stat.route(route))
            .collect();
        routes.sort_by_key(|r| std::cmp::Reverse(r.count));
        HistoryReport {
            since_ms: self.started_ms,
            now_ms,
            window_ms: WINDOW_MS,
            bucket_ms: BUCKET_MS,
            regions,
            events: self
                .events
                .iter()
                .filter(|e| e.at_ms >= cutoff)
                .cloned()
                .collect(),
            routes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::RegionCode;
    use crate::services::health::model::ReplicationHealth;

    fn node(region: &str, role: Option<Role>, lag_seconds: f64) -> RegionHealth {
        RegionHealth {
            region: RegionCode::parse(region).unwrap(),
            reachable: role.is_some(),
            role,
            latency_ms: role.map(|_| 4),
            lsn: None,
            replication: (role == Some(Role::Replica)).then(|| ReplicationHealth {
                wal_receiver: Some("streaming".into()),
                replay_paused: false,
                lag_seconds,
                lag_bytes: 128,
            }),
            error: None,
        }
    }

    #[test]
    fn a_failover_is_a_role_change_on_the_timeline() {
        let t0 = 1_000_000;
        let mut history = History::new(t0);
        history.record_round(
            t0,
            &[
                node("iad1", Some(Role::Primary), 0.0),
                node("sfo1", Some(Role::Replica), 0.4),
            ],
        );
        // The primary stops; then sfo1 is promoted.
        history.record_round(
            t0 + 10_000,
            &[
                node("iad1", None, 0.0),
                node("sfo1", Some(Role::Replica), 2.0),
            ],
        );
        history.record_round(
            t0 + 20_000,
            &[
                node("iad1", None, 0.0),
                node("sfo1", Some(Role::Primary), 0.0),
            ],
        );
        let report = history.report(t0 + 20_000);
        assert_eq!(
            report.events,
            vec![
                Event {
                    at_ms: t0 + 10_000,
                    region: "iad1".into(),
                    kind: EventKind::Unreachable,
                    from: None,
                    to: None
                },
                Event {
                    at_ms: t0 + 20_000,
                    region: "sfo1".into(),
                    kind: EventKind::Role,
                    from: Some(Role::Replica),
                    to: Some(Role::Primary)
                },
            ]
        );
        let sfo1 = report.regions.iter().find(|r| r.region == "sfo1").unwrap();
        let lags: Vec<Option<f64>> = sfo1.probes.iter().map(|p| p.lag_seconds).collect();
        assert_eq!(lags, vec![Some(0.4), Some(2.0), None]);
    }

    #[test]
    fn samples_are_one_per_slot_and_an_hour_at_most() {
        let mut history = History::new(0);
        for second in 0..(2 * 3600) {
            history.record_round(
                second * 1_000,
                &[node("fra1", Some(Role::Replica), second as f64)],
            );
        }
        let now = 2 * 3_600_000 - 1_000;
        let report = history.report(now);
        let probes = &report.regions[0].probes;
        assert!((360..=361).contains(&probes.len()), "{}", probes.len());
        assert!(probes.iter().all(|p| p.at_ms >= now - WINDOW_MS));
        // The slot keeps its latest sample.
        assert_eq!(probes.last().unwrap().lag_seconds, Some(7199.0));
    }

    #[test]
    fn requests_per_minute_per_region_with_errors_and_quantiles() {
        let mut history = History::new(0);
        for i in 0..100u64 {
            let status = if i < 3 { 503 } else { 200 };
            history.record_request(
                60_000 + i,
                "GET /api/v1/products",
                Some("fra1"),
                status,
                i + 1,
            );
        }
        history.record_request(130_000, "GET /api/v1/products", None, 200, 0);
        history.record_request(130_000, "POST /api/v1/orders", Some("iad1"), 201, 120);
        let report = history.report(130_000);
        let fra1 = report.regions.iter().find(|r| r.region == "fra1").unwrap();
        assert_eq!(fra1.requests.len(), 1);
        let minute = &fra1.requests[0];
        assert_eq!(
            (minute.at_ms, minute.count, minute.errors),
            (60_000, 100, 3)
        );
        // Latencies 1..=100 ms: p50 is 50 within the bucket's 10%, p99 is 99 within it.
        assert!((50..=55).contains(&minute.p50_ms), "{}", minute.p50_ms);
        assert!((99..=109).contains(&minute.p99_ms), "{}", minute.p99_ms);
        assert!(report.regions.iter().any(|r| r.region == EDGE));
        assert_eq!(report.routes[0].route, "GET /api/v1/products");
        assert_eq!(report.routes[0].count, 101);
        // An hour later the minute is gone.
        history.record_request(120_000 + WINDOW_MS, "GET /health", None, 200, 1);
        let later = history.report(120_000 + WINDOW_MS);
        assert!(later.regions.iter().all(|r| r.region != "fra1"));
    }

    #[test]
    fn latency_buckets_bound_their_values_within_ten_percent() {
        for ms in [0u64, 1, 9, 10, 11, 99, 100, 1_000, 12_345, 60_000] {
            let upper = bucket_upper_ms(latency_bucket(ms));
            assert!(upper >= ms || ms < 10 && upper == ms, "{ms} -> {upper}");
            assert!(
                upper as f64 <= (ms as f64 * 1.1).max(ms as f64 + 1.0),
                "{ms} -> {upper}"
            );
        }
    }
}
