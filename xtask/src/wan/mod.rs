//! The WAN topology: the local stack with its regions and its customers' cities as far
//! apart as they are. Every inter-region link (replication from the primary to each
//! standby, each city's edge to each region's PostgREST) goes through a relay that adds
//! that pair's round trip; each city has its own edge, the built bundle under plain
//! workerd, located by its Cloudflare colo as production locates it.
//!
//! Round trips are rounded from public city-to-city ping tables (WonderNetwork's,
//! <https://wondernetwork.com/pings>, and cloud inter-region tables for iad1-sfo1 and
//! iad1-fra1); docs/WAN.md says which and how they were taken.

mod parts;

use std::net::SocketAddr;
use std::time::Duration;

pub use parts::{Wan, edge_url, single_region_port, single_region_url};

use payhuk_edge::config::MaxLag;
use payhuk_edge::region::{RegionCode, known_location};
use payhuk_edge::routing::{NodeView, read_targets};
use payhuk_edge::services::health::model::Role;

use crate::relay::{DaemonConfig, LinkSpec, LinkState};
use crate::topology::{NODES, Node};

/// One customer city and its edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct City {
    pub name: &'static str,
    /// The Cloudflare colo that serves it (`request.cf.colo`).
    pub colo: &'static str,
    pub edge_port: u16,
    /// Round trip to each region, in [`NODES`] order (iad1, sfo1, fra1), in ms.
    pub rtt_ms: [u64; 3],
}

/// Payhuk's customers are mostly in West Africa; Paris, New York and San Francisco are
/// the diaspora and the regions' own cities.
pub const CITIES: [City; 6] = [
    City {
        name: "Lagos",
        colo: "LOS",
        edge_port: 8801,
        rtt_ms: [180, 250, 105],
    },
    City {
        name: "Abidjan",
        colo: "ABJ",
        edge_port: 8802,
        rtt_ms: [190, 260, 115],
    },
    City {
        name: "Dakar",
        colo: "DKR",
        edge_port: 8803,
        rtt_ms: [165, 235, 100],
    },
    City {
        name: "Paris",
        colo: "CDG",
        edge_port: 8804,
        rtt_ms: [80, 145, 10],
    },
    City {
        name: "New York",
        colo: "EWR",
        edge_port: 8805,
        rtt_ms: [7, 68, 85],
    },
    City {
        name: "San Francisco",
        colo: "SFO",
        edge_port: 8806,
        rtt_ms: [65, 3, 145],
    },
];

/// Round trip from the primary (iad1) to each standby's region, in [`NODES`] order.
pub const REPLICATION_RTT_MS: [u64; 3] = [0, 62, 88];

/// Where the relay process takes orders (`relay::Control`).
pub const CONTROL_PORT: u16 = 8800;
const EDGE_RELAY_BASE_PORT: u16 = 18000;
const REPLICATION_RELAY_BASE_PORT: u16 = 15400;

impl City {
    pub fn find(name: &str) -> anyhow::Result<&'static City> {
        CITIES
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name) || c.slug() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = CITIES.iter().map(|c| c.name).collect();
                anyhow::anyhow!(
                    "no city `{name}` in the WAN topology ({})",
                    known.join(", ")
                )
            })
    }

    /// `new-york`: for file names and link names.
    pub fn slug(&self) -> String {
        self.name.to_ascii_lowercase().replace(' ', "-")
    }

    pub fn rtt(&self, node: &Node) -> Duration {
        Duration::from_millis(self.rtt_ms[node_index(node)])
    }

    /// Where this city's edge reaches `node`'s PostgREST.
    pub fn relay_port(&self, node: &Node) -> u16 {
        EDGE_RELAY_BASE_PORT + 10 * city_index(self) as u16 + node_index(node) as u16
    }
}

fn node_index(node: &Node) -> usize {
    NODES
        .iter()
        .position(|n| n.region == node.region)
        .expect("a node of the topology")
}

fn city_index(city: &City) -> usize {
    CITIES
        .iter()
        .position(|c| c.name == city.name)
        .expect("a city of the topology")
}

/// The relay link a city's edge reaches a region through.
pub fn edge_link(city: &City, node: &Node) -> String {
    format!("{}>{}", city.slug(), node.region)
}

/// The relay link a standby streams from the primary through.
pub fn replication_link(standby: &Node) -> String {
    format!("replication>{}", standby.region)
}

/// Where a standby connects to reach the primary (`primary_conninfo`).
pub fn replication_port(standby: &Node) -> u16 {
    REPLICATION_RELAY_BASE_PORT + node_index(standby) as u16
}

/// A link's state for a round trip: half each way, jitter of 1/40 of the round trip
/// (at least a millisecond on a long link), no bandwidth cap.
pub fn link_state(rtt: Duration) -> LinkState {
    let jitter = if rtt >= Duration::from_millis(40) {
        (rtt / 40).max(Duration::from_millis(1))
    } else {
        Duration::ZERO
    };
    LinkState::round_trip(rtt, jitter)
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Every relay link of the topology and the control port, as the relay process reads them.
pub fn relay_config() -> DaemonConfig {
    let mut links = Vec::new();
    let primary = crate::topology::primary();
    for standby in NODES.iter().filter(|n| !n.starts_as_primary) {
        links.push(LinkSpec {
            name: replication_link(standby),
            listen: local(replication_port(standby)),
            target: local(primary.pg_port),
            state: link_state(Duration::from_millis(
                REPLICATION_RTT_MS[node_index(standby)],
            )),
        });
    }
    for city in &CITIES {
        for node in &NODES {
            links.push(LinkSpec {
                name: edge_link(city, node),
                listen: local(city.relay_port(node)),
                target: local(node.postgrest_port),
                state: link_state(city.rtt(node)),
            });
        }
    }
    DaemonConfig {
        control: local(CONTROL_PORT),
        links,
    }
}

/// Every port `up --wan` listens on beyond the stack's own: the relays, their control
/// port, the city edges and their single-region twins.
pub fn ports() -> Vec<u16> {
    let mut ports: Vec<u16> = relay_config()
        .links
        .iter()
        .map(|l| l.listen.port())
        .collect();
    ports.extend(CITIES.iter().map(|c| c.edge_port));
    ports.extend(CITIES.iter().map(single_region_port));
    ports.push(CONTROL_PORT);
    ports
}

/// A city's edge's variables: the local stack's, with each region reached through the
/// city's relays, the edge located from `request.cf`, reads ordered by the round trips
/// it measures, and a replica behind a client's write waiting for it about as long as
/// the next node would cost.
pub fn edge_env(city: &City) -> String {
    let urls: Vec<(String, String)> = NODES.iter().map(|n| region_url(city, n)).collect();
    let mut overrides: Vec<(&str, &str)> =
        urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    overrides.extend([
        ("USE_CF_LOCATION", "true"),
        ("LATENCY_ROUTING", "true"),
        ("RYW_REPLICA_WAIT_MS", "auto"),
    ]);
    crate::workerd::env_with(&crate::topology::gateway_env(), &overrides)
}

/// A city's single-region baseline edge's variables (`bench --wan`): [`edge_env`] with
/// the primary alone, as a Supabase project without replicas.
pub fn single_region_env(city: &City) -> String {
    let primary = crate::topology::primary();
    let (key, url) = region_url(city, primary);
    let own_region = format!("REGION_{}_", primary.region.to_ascii_uppercase());
    crate::workerd::env_with(
        &edge_env(city),
        &[
            ("REGIONS", primary.region),
            ("DEFAULT_REGION", primary.region),
            (&key, &url),
        ],
    )
    .lines()
    // Only the primary's URL: the others' lines would name unconfigured regions.
    .filter(|l| !l.starts_with("REGION_") || l.starts_with(&own_region))
    .map(|l| format!("{l}\n"))
    .collect()
}

/// `REGION_<CODE>_POSTGREST_URL` and the city's relay to that region.
fn region_url(city: &City, node: &Node) -> (String, String) {
    (
        format!("REGION_{}_POSTGREST_URL", node.region.to_ascii_uppercase()),
        format!("http://127.0.0.1:{}", city.relay_port(node)),
    )
}

/// Every node of the topology healthy, caught up and unmeasured: what the policy sees
/// before any probe has a round trip, so it routes by distance alone.
pub fn unmeasured_nodes() -> Vec<NodeView> {
    NODES
        .iter()
        .map(|n| NodeView {
            region: RegionCode::parse(n.region).expect("the topology's codes are valid"),
            location: known_location(n.region).expect("the topology's regions are known"),
            role: Some(if n.starts_as_primary {
                Role::Primary
            } else {
                Role::Replica
            }),
            usable: true,
            suspect: false,
            lag_seconds: 0.0,
            lag_bytes: 0,
            measured_rtt_ms: None,
        })
        .collect()
}

/// Where a city's reads go by distance alone (no measurement), as `replica:fra1`.
pub fn read_target_by_distance(city: &City) -> String {
    let point = payhuk_edge::region::colo(city.colo)
        .expect("every city's colo is in the table")
        .point;
    let unlimited = MaxLag {
        seconds: None,
        bytes: None,
    };
    read_targets(&point, &unmeasured_nodes(), &unlimited)
        .first()
        .map_or_else(|| "none".into(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_city_has_a_known_colo_and_a_round_trip_to_every_region() {
        for city in &CITIES {
            let colo = payhuk_edge::region::colo(city.colo).expect(city.colo);
            assert_eq!(colo.city, city.name.replace("New York", "Newark"));
            assert!(
                city.rtt_ms.iter().all(|&ms| (1..400).contains(&ms)),
                "{city:?}"
            );
        }
        assert!(City::find("lagos").is_ok() && City::find("new-york").is_ok());
        assert!(City::find("Accra").is_err());
    }

    #[test]
    fn the_relay_ports_and_edge_ports_are_distinct_and_clear_of_the_stack() {
        let config = relay_config();
        let mut ports = super::ports();
        ports.extend(NODES.iter().flat_map(|n| [n.pg_port, n.postgrest_port]));
        ports.extend([
            crate::topology::GATEWAY_PORT,
            crate::topology::GATEWAY_INSPECTOR_PORT,
            crate::topology::STOREFRONT_PORT,
            crate::workerd::PORT,
        ]);
        let n = ports.len();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), n);
        // Two replication links and one per city and region.
        assert_eq!(config.links.len(), 2 + CITIES.len() * NODES.len());
    }

    #[test]
    fn an_edge_reaches_each_region_through_its_own_relay() {
        let lagos = City::find("Lagos").unwrap();
        let fra1 = crate::topology::node("fra1").unwrap();
        let config = relay_config();
        let link = config
            .links
            .iter()
            .find(|l| l.name == edge_link(lagos, fra1))
            .unwrap();
        assert_eq!(link.target.port(), fra1.postgrest_port);
        assert_eq!(link.state.up.delay + link.state.down.delay, lagos.rtt(fra1));
        let env = edge_env(lagos);
        let fra1_url = format!(
            "REGION_FRA1_POSTGREST_URL=http://127.0.0.1:{}",
            link.listen.port()
        );
        assert!(env.lines().any(|l| l == fra1_url), "{env}");
        assert!(env.lines().any(|l| l == "LATENCY_ROUTING=true"), "{env}");

        let single = single_region_env(lagos);
        assert!(single.lines().any(|l| l == "REGIONS=iad1"), "{single}");
        assert!(!single.contains("REGION_FRA1_"), "{single}");
        let vars: std::collections::HashMap<String, String> = single
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let config = payhuk_edge::config::Config::from_source(&vars).expect("a valid config");
        assert_eq!(config.regions.len(), 1);
    }

    #[test]
    fn by_distance_west_africa_reads_from_frankfurt() {
        for name in ["Lagos", "Abidjan", "Dakar", "Paris"] {
            assert_eq!(
                read_target_by_distance(City::find(name).unwrap()),
                "replica:fra1"
            );
        }
        assert_eq!(
            read_target_by_distance(City::find("San Francisco").unwrap()),
            "replica:sfo1"
        );
    }

    #[test]
    fn a_long_link_has_a_little_jitter_and_a_short_one_none() {
        assert_eq!(
            link_state(Duration::from_millis(200)).up.jitter,
            Duration::from_millis(5)
        );
        assert_eq!(
            link_state(Duration::from_millis(7)).up.jitter,
            Duration::ZERO
        );
    }
}
