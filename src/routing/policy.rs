//! The region policy, pure: given where the edge is and what every node reported,
//! the ordered read targets and the one write target.

use std::fmt;

use crate::config::MaxLag;
use crate::region::{GeoPoint, RegionCode};
use crate::services::health::model::Role;

/// What the gateway currently believes about one region's node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub region: RegionCode,
    pub location: GeoPoint,
    /// The role the node reported; `None` when it could not be asked.
    pub role: Option<Role>,
    /// Reachable at the last probe and not ejected since (see `routing::outlier`).
    pub usable: bool,
    /// Timed out since the last probe: reads try it after every other node.
    pub suspect: bool,
    pub lag_seconds: f64,
    pub lag_bytes: u64,
    /// This isolate's moving average of its probes' round trips to the node; `None`
    /// routes by distance alone. Probes, not requests: every node is probed every
    /// round, so a node passed over after one slow answer is measured again and wins
    /// back its reads.
    pub measured_rtt_ms: Option<f64>,
}

/// A round trip's prior from great-circle distance: light in fibre covers about 200 km
/// a millisecond each way, real paths run about 1.5 times the great circle, and the
/// server takes a few milliseconds.
pub fn prior_rtt_ms(distance_km: f64) -> f64 {
    5.0 + distance_km * 2.0 * 1.5 / 200.0
}

/// What a request from `edge` to `node` is expected to take: measured when the isolate
/// has measured it, else the distance prior.
pub fn expected_rtt_ms(edge: &GeoPoint, node: &NodeView) -> f64 {
    node.measured_rtt_ms
        .unwrap_or_else(|| prior_rtt_ms(edge.distance_km(&node.location)))
}

/// How long a replica may wait for a client's last write before refusing the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaWait {
    /// About what sending the read on would cost: the next target's expected round
    /// trip. Waiting then never costs more than twice the better choice made knowing
    /// when replay will come (the ski-rental bound), and wins whenever replay is
    /// nearer than the next node.
    Auto,
    /// This many milliseconds; 0 refuses at once and the read moves on.
    Fixed(u32),
}

/// The most a replica waits, whatever the setting: a waiting read holds one of
/// PostgREST's pooled connections.
pub const MAX_REPLICA_WAIT_MS: u32 = 1000;

/// How long `replica`'s hook may wait for the token's transactions, `next` being the
/// target the read would go to after it (none: nothing to save by refusing, so it waits
/// as long as it may). A replica that would not catch up in time refuses at once: the
/// probes found it further behind than that wait, or waiting there has lately been
/// `in_vain` (see [`crate::routing::replay`]).
pub fn replica_wait_ms(
    setting: ReplicaWait,
    edge: &GeoPoint,
    replica: &NodeView,
    next: Option<&NodeView>,
    in_vain: bool,
) -> u32 {
    match setting {
        ReplicaWait::Fixed(ms) => ms.min(MAX_REPLICA_WAIT_MS),
        ReplicaWait::Auto => {
            let worth = next.map_or(MAX_REPLICA_WAIT_MS, |node| {
                (expected_rtt_ms(edge, node).round() as u32).min(MAX_REPLICA_WAIT_MS)
            });
            if in_vain || replica.lag_seconds * 1000.0 >= f64::from(worth) {
                0
            } else {
                worth
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Primary(RegionCode),
    Replica(RegionCode),
}

impl Target {
    pub fn region(&self) -> &RegionCode {
        match self {
            Target::Primary(r) | Target::Replica(r) => r,
        }
    }

    pub fn is_primary(&self) -> bool {
        matches!(self, Target::Primary(_))
    }
}

/// `primary:iad1`, `replica:fra1`, as in `x-payhuk-upstream`.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Primary(r) => write!(f, "primary:{r}"),
            Target::Replica(r) => write!(f, "replica:{r}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoWriteTarget {
    /// No usable node reports itself primary.
    NoPrimary,
    /// Several do (a promoted standby while the old primary still runs): writing to
    /// either could fork the data, so neither gets writes.
    SplitBrain(Vec<RegionCode>),
}

impl NoWriteTarget {
    pub fn reason(&self) -> String {
        match self {
            NoWriteTarget::NoPrimary => "no primary is reachable".to_owned(),
            NoWriteTarget::SplitBrain(regions) => format!(
                "several nodes report themselves primary ({})",
                regions
                    .iter()
                    .map(RegionCode::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn within(lag: &MaxLag, node: &NodeView) -> bool {
    lag.seconds.is_none_or(|max| node.lag_seconds <= max)
        && lag.bytes.is_none_or(|max| node.lag_bytes <= max)
}

/// Reads, in the order to try them. First the usable replica within `max_lag` expected
/// to answer soonest (replicas take the reads: the primary is the one node that takes
/// writes); after it, whoever is expected to answer soonest, the primary included: a
/// read whose replica has not replayed the client's write, or that failed, goes on to
/// the node that can answer soonest, not to the next replica in line (from Lagos, the
/// primary in Virginia before the replica in California). Then usable replicas beyond
/// `max_lag`, soonest first, because stale is better than unavailable for a read that
/// did not ask to see its own writes (one that did is refused by a lagging replica and
/// moves on). Suspects (timed out since the last probe) come after every other node,
/// in that same order among themselves: a slow node is asked last, not dropped.
pub fn read_targets(edge: &GeoPoint, nodes: &[NodeView], max_lag: &MaxLag) -> Vec<Target> {
    let primary = write_target(nodes).ok();
    let (trusted, suspects): (Vec<&NodeView>, Vec<&NodeView>) =
        nodes.iter().partition(|n| !n.suspect);
    let mut targets = ordered_read_targets(edge, &trusted, primary.as_ref(), max_lag);
    targets.extend(ordered_read_targets(
        edge,
        &suspects,
        primary.as_ref(),
        max_lag,
    ));
    targets
}

fn ordered_read_targets(
    edge: &GeoPoint,
    nodes: &[&NodeView],
    primary: Option<&Target>,
    max_lag: &MaxLag,
) -> Vec<Target> {
    let soonest = |a: &&NodeView, b: &&NodeView| {
        expected_rtt_ms(edge, a)
            .total_cmp(&expected_rtt_ms(edge, b))
            .then_with(|| a.region.cmp(&b.region))
    };
    let mut replicas: Vec<&NodeView> = nodes
        .iter()
        .copied()
        .filter(|n| n.usable && n.role == Some(Role::Replica))
        .collect();
    replicas.sort_by(soonest);
    let (fresh, lagging): (Vec<&NodeView>, Vec<&NodeView>) =
        replicas.into_iter().partition(|n| within(max_lag, n));
    let primary_node =
        primary.and_then(|p| nodes.iter().copied().find(|n| &n.region == p.region()));

    let mut targets = Vec::new();
    let mut after_first: Vec<&NodeView> = Vec::new();
    if let Some((first, others)) = fresh.split_first() {
        targets.push(Target::Replica(first.region.clone()));
        after_first.extend(others);
    }
    after_first.extend(primary_node);
    after_first.sort_by(soonest);
    targets.extend(after_first.into_iter().map(|n| match primary {
        Some(p) if p.region() == &n.region => p.clone(),
        _ => Target::Replica(n.region.clone()),
    }));
    targets.extend(lagging.iter().map(|n| Target::Replica(n.region.clone())));
    targets
}

/// The one usable node that reports itself primary. Never a node in recovery.
pub fn write_target(nodes: &[NodeView]) -> Result<Target, NoWriteTarget> {
    let primaries: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| n.usable && n.role == Some(Role::Primary))
        .collect();
    match primaries.as_slice() {
        [only] => Ok(Target::Primary(only.region.clone())),
        [] => Err(NoWriteTarget::NoPrimary),
        many => Err(NoWriteTarget::SplitBrain(
            many.iter().map(|n| n.region.clone()).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::region::known_location;

    fn node(
        code: &str,
        role: Option<Role>,
        usable: bool,
        lag_seconds: f64,
        lag_bytes: u64,
    ) -> NodeView {
        NodeView {
            region: RegionCode::parse(code).unwrap(),
            location: known_location(code).unwrap(),
            suspect: false,
            role,
            usable,
            lag_seconds,
            lag_bytes,
            measured_rtt_ms: None,
        }
    }

    fn healthy() -> Vec<NodeView> {
        vec![
            node("iad1", Some(Role::Primary), true, 0.0, 0),
            node("sfo1", Some(Role::Replica), true, 0.0, 0),
            node("fra1", Some(Role::Replica), true, 0.0, 0),
        ]
    }

    const LAG: MaxLag = MaxLag {
        seconds: Some(30.0),
        bytes: Some(1 << 20),
    };

    fn names(targets: &[Target]) -> Vec<String> {
        targets.iter().map(Target::to_string).collect()
    }

    #[test]
    fn a_replica_waits_about_what_the_next_target_would_cost() {
        let fra = known_location("fra1").unwrap();
        let nodes = healthy();
        let (mut iad, mut fra1) = (nodes[0].clone(), nodes[2].clone());
        let wait = |iad: &NodeView, fra1: &NodeView| {
            replica_wait_ms(ReplicaWait::Auto, &fra, fra1, Some(iad), false)
        };
        assert_eq!(
            wait(&iad, &fra1),
            prior_rtt_ms(fra.distance_km(&iad.location)).round() as u32,
            "unmeasured: the distance prior"
        );
        iad.measured_rtt_ms = Some(92.4);
        assert_eq!(wait(&iad, &fra1), 92);
        fra1.lag_seconds = 0.05;
        assert_eq!(wait(&iad, &fra1), 92, "50 ms behind: worth waiting");
        assert_eq!(
            replica_wait_ms(ReplicaWait::Auto, &fra, &fra1, Some(&iad), true),
            0,
            "waiting there has lately been in vain"
        );
        fra1.lag_seconds = 1.5;
        assert_eq!(wait(&iad, &fra1), 0, "too far behind to catch up in time");
        fra1.lag_seconds = 0.0;
        iad.measured_rtt_ms = Some(5_000.0);
        assert_eq!(wait(&iad, &fra1), MAX_REPLICA_WAIT_MS);
        assert_eq!(
            replica_wait_ms(ReplicaWait::Auto, &fra, &fra1, None, false),
            MAX_REPLICA_WAIT_MS,
            "the last target: nothing to move on to"
        );
        assert_eq!(
            replica_wait_ms(ReplicaWait::Fixed(0), &fra, &fra1, Some(&iad), false),
            0
        );
        fra1.lag_seconds = 9.0;
        assert_eq!(
            replica_wait_ms(ReplicaWait::Fixed(4_000), &fra, &fra1, None, true),
            MAX_REPLICA_WAIT_MS,
            "a fixed wait is what it says"
        );
    }

    #[test]
    fn each_edge_reads_from_its_nearest_replica_then_from_whoever_is_soonest() {
        let fra = known_location("fra1").unwrap();
        let sfo = known_location("sfo1").unwrap();
        let iad = known_location("iad1").unwrap();
        // After fra1, the primary (6,500 km away) before sfo1 (9,100 km).
        assert_eq!(
            names(&read_targets(&fra, &healthy(), &LAG)),
            ["replica:fra1", "primary:iad1", "replica:sfo1"]
        );
        assert_eq!(
            names(&read_targets(&sfo, &healthy(), &LAG)),
            ["replica:sfo1", "primary:iad1", "replica:fra1"]
        );
        // From iad1, San Francisco (3,900 km) is nearer than Frankfurt (6,500 km), and
        // a replica takes the read even with the primary next door.
        assert_eq!(
            names(&read_targets(&iad, &healthy(), &LAG)),
            ["replica:sfo1", "primary:iad1", "replica:fra1"]
        );
        assert_eq!(
            write_target(&healthy()).unwrap().to_string(),
            "primary:iad1"
        );
    }

    #[test]
    fn down_and_lagging_replicas_are_passed_over() {
        let fra = known_location("fra1").unwrap();
        let mut nodes = healthy();
        nodes[2].usable = false;
        assert_eq!(
            names(&read_targets(&fra, &nodes, &LAG)),
            ["replica:sfo1", "primary:iad1"]
        );

        let mut nodes = healthy();
        nodes[2].lag_bytes = 2 << 20;
        assert_eq!(
            names(&read_targets(&fra, &nodes, &LAG)),
            ["replica:sfo1", "primary:iad1", "replica:fra1"],
            "a lagging replica is a last resort"
        );
        nodes[2].lag_bytes = 0;
        nodes[2].lag_seconds = 31.0;
        assert_eq!(names(&read_targets(&fra, &nodes, &LAG))[0], "replica:sfo1");
    }

    #[test]
    fn suspects_are_asked_last_in_their_own_order() {
        let fra = known_location("fra1").unwrap();
        let mut nodes = healthy();
        nodes[2].suspect = true;
        assert_eq!(
            names(&read_targets(&fra, &nodes, &LAG)),
            ["replica:sfo1", "primary:iad1", "replica:fra1"]
        );
        nodes[0].suspect = true;
        assert_eq!(
            names(&read_targets(&fra, &nodes, &LAG)),
            ["replica:sfo1", "replica:fra1", "primary:iad1"],
            "suspects after the trusted, nearest first among them"
        );
        nodes[1].suspect = true;
        assert_eq!(
            names(&read_targets(&fra, &nodes, &LAG)),
            ["replica:fra1", "primary:iad1", "replica:sfo1"],
            "all suspect: the usual order"
        );
        assert_eq!(
            write_target(&nodes),
            Ok(Target::Primary(RegionCode::parse("iad1").unwrap())),
            "a suspect primary still takes writes"
        );
    }

    #[test]
    fn measured_round_trips_override_the_distance_prior() {
        // Lagos: fra1 is nearest; by distance the primary comes next, then sfo1.
        let lagos = GeoPoint {
            lat: 6.58,
            lon: 3.32,
        };
        let mut nodes = healthy();
        assert_eq!(
            names(&read_targets(&lagos, &nodes, &LAG)),
            ["replica:fra1", "primary:iad1", "replica:sfo1"]
        );
        // A congested route to fra1 measured slower than California: sfo1 first.
        nodes[2].measured_rtt_ms = Some(400.0);
        nodes[1].measured_rtt_ms = Some(250.0);
        assert_eq!(
            names(&read_targets(&lagos, &nodes, &LAG)),
            ["replica:sfo1", "primary:iad1", "replica:fra1"]
        );
        // The primary, however fast, is never the first read target while a fresh
        // replica serves.
        nodes[0].measured_rtt_ms = Some(1.0);
        assert_eq!(
            names(&read_targets(&lagos, &nodes, &LAG))[0],
            "replica:sfo1"
        );
        assert!(prior_rtt_ms(0.0) < prior_rtt_ms(5_000.0));
    }

    #[test]
    fn a_promoted_standby_takes_writes() {
        let mut nodes = healthy();
        nodes[0].usable = false;
        nodes[0].role = None;
        assert_eq!(write_target(&nodes), Err(NoWriteTarget::NoPrimary));
        nodes[1].role = Some(Role::Primary);
        assert_eq!(write_target(&nodes).unwrap().to_string(), "primary:sfo1");
        // The old primary coming back as primary too: nobody gets writes.
        nodes[0].usable = true;
        nodes[0].role = Some(Role::Primary);
        assert!(matches!(
            write_target(&nodes),
            Err(NoWriteTarget::SplitBrain(_))
        ));
    }

    fn arb_node(code: &'static str) -> impl Strategy<Value = NodeView> {
        (
            prop_oneof![
                Just(None),
                Just(Some(Role::Primary)),
                Just(Some(Role::Replica))
            ],
            any::<bool>(),
            0.0f64..120.0,
            0u64..(4 << 20),
        )
            .prop_map(move |(role, usable, s, b)| node(code, role, usable, s, b))
    }

    fn arb_nodes() -> impl Strategy<Value = Vec<NodeView>> {
        (
            arb_node("iad1"),
            arb_node("sfo1"),
            arb_node("fra1"),
            arb_node("cpt1"),
        )
            .prop_map(|(a, b, c, d)| vec![a, b, c, d])
    }

    fn arb_point() -> impl Strategy<Value = GeoPoint> {
        (-90.0f64..=90.0, -180.0f64..=180.0).prop_map(|(lat, lon)| GeoPoint { lat, lon })
    }

    proptest! {
        /// For any health state (no suspects, nothing measured), the first read target
        /// is the nearest eligible replica, or the primary when no replica is eligible.
        #[test]
        fn first_read_target_is_nearest_eligible_replica_or_primary(edge in arb_point(), nodes in arb_nodes()) {
            let targets = read_targets(&edge, &nodes, &LAG);
            let nearest = nodes
                .iter()
                .filter(|n| n.usable && n.role == Some(Role::Replica) && within(&LAG, n))
                .min_by(|a, b| edge.distance_km(&a.location).total_cmp(&edge.distance_km(&b.location))
                    .then_with(|| a.region.cmp(&b.region)));
            match (nearest, write_target(&nodes)) {
                (Some(n), _) => prop_assert_eq!(targets.first(), Some(&Target::Replica(n.region.clone()))),
                (None, Ok(primary)) => prop_assert_eq!(targets.first(), Some(&primary)),
                (None, Err(_)) => prop_assert!(targets.iter().all(|t| !t.is_primary())),
            }
        }

        /// Reads only ever go to usable nodes, each at most once.
        #[test]
        fn read_targets_are_usable_and_distinct(edge in arb_point(), nodes in arb_nodes()) {
            let targets = read_targets(&edge, &nodes, &LAG);
            let mut seen = std::collections::HashSet::new();
            for t in &targets {
                let n = nodes.iter().find(|n| &n.region == t.region()).unwrap();
                prop_assert!(n.usable);
                prop_assert!(seen.insert(t.region().clone()));
            }
        }

        /// Suspicion reorders reads and never drops one: the same targets, every
        /// trusted one before every suspect, and a trusted fresh replica first when
        /// there is one.
        #[test]
        fn suspects_only_move_to_the_end(edge in arb_point(), nodes in arb_nodes(), marks in proptest::collection::vec(any::<bool>(), 4)) {
            let usual = read_targets(&edge, &nodes, &LAG);
            let mut marked = nodes.clone();
            for (node, suspect) in marked.iter_mut().zip(&marks) {
                node.suspect = *suspect;
            }
            let targets = read_targets(&edge, &marked, &LAG);
            let is_suspect = |t: &Target| marked.iter().any(|n| n.suspect && &n.region == t.region());
            let mut same = targets.clone();
            let mut before = usual.clone();
            same.sort_by_key(Target::to_string);
            before.sort_by_key(Target::to_string);
            prop_assert_eq!(same, before);
            let first_suspect = targets.iter().position(is_suspect).unwrap_or(targets.len());
            prop_assert!(targets[first_suspect..].iter().all(is_suspect));
            let trusted_fresh_replica = marked.iter().any(|n| {
                !n.suspect && n.usable && n.role == Some(Role::Replica) && within(&LAG, n)
            });
            if trusted_fresh_replica {
                prop_assert!(matches!(targets.first(), Some(Target::Replica(_))));
            }
        }

        /// A write never goes to a node in recovery, nor to one that is not usable.
        #[test]
        fn writes_never_go_to_a_standby(nodes in arb_nodes()) {
            if let Ok(target) = write_target(&nodes) {
                let n = nodes.iter().find(|n| &n.region == target.region()).unwrap();
                prop_assert_eq!(n.role, Some(Role::Primary));
                prop_assert!(n.usable);
                prop_assert_eq!(nodes.iter().filter(|n| n.usable && n.role == Some(Role::Primary)).count(), 1);
            }
        }
    }
}
