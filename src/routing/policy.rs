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

/// Reads, in the order to try them: usable replicas within `max_lag`, nearest first
/// (ties by region code); then the primary; then usable replicas beyond `max_lag`,
/// nearest first, because stale is better than unavailable for a read that did not
/// ask to see its own writes (one that did is refused by a lagging replica and moves on).
/// Suspects (timed out since the last probe) keep that order among themselves, after
/// every other node: a slow node is asked last, not dropped.
pub fn read_targets(edge: &GeoPoint, nodes: &[NodeView], max_lag: &MaxLag) -> Vec<Target> {
    let suspect = |target: &Target| {
        nodes
            .iter()
            .any(|n| n.suspect && &n.region == target.region())
    };
    let (mut trusted, suspects): (Vec<Target>, Vec<Target>) =
        ordered_read_targets(edge, nodes, max_lag)
            .into_iter()
            .partition(|t| !suspect(t));
    trusted.extend(suspects);
    trusted
}

fn ordered_read_targets(edge: &GeoPoint, nodes: &[NodeView], max_lag: &MaxLag) -> Vec<Target> {
    let mut replicas: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| n.usable && n.role == Some(Role::Replica))
        .collect();
    replicas.sort_by(|a, b| {
        edge.distance_km(&a.location)
            .total_cmp(&edge.distance_km(&b.location))
            .then_with(|| a.region.cmp(&b.region))
    });
    let (fresh, lagging): (Vec<&NodeView>, Vec<&NodeView>) =
        replicas.into_iter().partition(|n| within(max_lag, n));

    let mut targets: Vec<Target> = fresh
        .iter()
        .map(|n| Target::Replica(n.region.clone()))
        .collect();
    if let Ok(primary) = write_target(nodes) {
        targets.push(primary);
    }
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
    fn each_edge_reads_from_its_nearest_replica() {
        let fra = known_location("fra1").unwrap();
        let sfo = known_location("sfo1").unwrap();
        let iad = known_location("iad1").unwrap();
        assert_eq!(
            names(&read_targets(&fra, &healthy(), &LAG)),
            ["replica:fra1", "replica:sfo1", "primary:iad1"]
        );
        assert_eq!(
            names(&read_targets(&sfo, &healthy(), &LAG)),
            ["replica:sfo1", "replica:fra1", "primary:iad1"]
        );
        // From iad1, San Francisco (3,900 km) is nearer than Frankfurt (6,500 km).
        assert_eq!(
            names(&read_targets(&iad, &healthy(), &LAG)),
            ["replica:sfo1", "replica:fra1", "primary:iad1"]
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
            ["replica:fra1", "replica:sfo1", "primary:iad1"],
            "all suspect: the usual order"
        );
        assert_eq!(
            write_target(&nodes),
            Ok(Target::Primary(RegionCode::parse("iad1").unwrap())),
            "a suspect primary still takes writes"
        );
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
        /// For any health state, the first read target is the nearest eligible replica,
        /// or the primary when no replica is eligible.
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
        /// trusted one before every suspect, each group in the usual order.
        #[test]
        fn suspects_only_move_to_the_end(edge in arb_point(), nodes in arb_nodes(), marks in proptest::collection::vec(any::<bool>(), 4)) {
            let usual = read_targets(&edge, &nodes, &LAG);
            let mut marked = nodes.clone();
            for (node, suspect) in marked.iter_mut().zip(&marks) {
                node.suspect = *suspect;
            }
            let targets = read_targets(&edge, &marked, &LAG);
            let is_suspect = |t: &Target| marked.iter().any(|n| n.suspect && &n.region == t.region());
            let expected: Vec<Target> = usual.iter().filter(|t| !is_suspect(t))
                .chain(usual.iter().filter(|t| is_suspect(t)))
                .cloned()
                .collect();
            prop_assert_eq!(targets, expected);
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
