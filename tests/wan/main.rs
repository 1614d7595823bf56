//! The WAN topology (`cargo xtask up --wan`): each city's edge, located by its colo,
//! reaching the regions through relays as far away as they really are, with real faults
//! on those links. No timing is asserted: what a slow link changes is who serves.

use std::collections::BTreeMap;
use std::time::Duration;

use payhuk_edge::region::colo;
use payhuk_stack_tests::{
    Reply, caught_up, concurrently, eventually, operator, request, write_event_at,
};
use xtask::relay::{Control, Fault, LinkState};
use xtask::stack::Stack;
use xtask::topology;
use xtask::wan::{self, CITIES, City};

const PRODUCTS: &str = "/rest/v1/products?select=id,name&published=eq.true&order=id&limit=3";

fn wan_stack() -> Stack {
    let stack = Stack::open().expect("opening the local stack");
    assert!(
        stack.wan().is_on() && stack.is_up(),
        "the WAN stack is not up: these tests run under `cargo xtask test` \
         (or start it with `cargo xtask up --wan` first)"
    );
    stack
}

fn at(
    city: &City,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    request(
        method,
        &format!("{}{path}", wan::edge_url(city)),
        headers,
        body,
    )
}

fn city(name: &str) -> &'static City {
    City::find(name).unwrap()
}

fn node(region: &str) -> &'static topology::Node {
    topology::node(region).unwrap()
}

/// A link changed for one test; set back however the test ends.
struct LinkChanged {
    control: Control,
    name: String,
    before: LinkState,
}

impl LinkChanged {
    fn new(control: Control, name: String, change: impl FnOnce(&mut LinkState)) -> Self {
        let before = control.state(&name).expect("the link exists");
        let mut after = before;
        change(&mut after);
        control.set(&name, after).expect("changing the link");
        LinkChanged {
            control,
            name,
            before,
        }
    }
}

impl Drop for LinkChanged {
    fn drop(&mut self) {
        if let Err(e) = self.control.set(&self.name, self.before) {
            eprintln!("could not restore relay link {}: {e:#}", self.name);
        }
    }
}

/// `city`'s reads settled on `expected`, waited for a few seconds at most. A burst of WAL
/// (autovacuum after the bench, a checkpoint's full pages) can put the farther replica past
/// the local 1 MiB lag limit for a moment, and reads then rightly go to the other one; the
/// choice this waits for is the one made once replication is quiet again.
fn reads_settle_on(city: &City, expected: &str) {
    let key = topology::anon_key();
    let mut seen = Vec::new();
    for _ in 0..50 {
        let read = at(city, "GET", PRODUCTS, &[("apikey", key.as_str())], None);
        assert_eq!(read.status, 200, "{}: {}", city.name, read.body);
        if read.upstream() == expected {
            return;
        }
        seen.push(read.upstream().to_owned());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (name, token) = operator();
    let health = at(city, "GET", "/health", &[(name, token.as_str())], None);
    panic!(
        "reads from {} never went to {expected} in 10 s (went to {seen:?}); its health: {}",
        city.name, health.body
    );
}

/// A fresh analytics event written through `city`'s edge: the reply and the row's id.
fn write_event(city: &City, marker: &str) -> (Reply, i64) {
    write_event_at(&wan::edge_url(city), &[], marker)
}

#[test]
fn each_city_edge_names_its_city_and_reads_from_the_replica_the_policy_picks() {
    let _stack = wan_stack();
    for city in &CITIES {
        let health = at(city, "GET", "/health", &[], None);
        assert_eq!(health.status, 200, "{}: {}", city.name, health.body);
        let edge = &health.json()["edge"];
        let found = colo(city.colo).unwrap();
        assert_eq!(edge["source"], "cf_colo", "{}: {edge}", city.name);
        assert_eq!(edge["colo"], city.colo, "{}", city.name);
        assert_eq!(edge["city"], found.city, "{}", city.name);

        // Measured round trips follow distance on this topology: the same first choice.
        reads_settle_on(city, &wan::read_target_by_distance(city));
        let (written, _) = write_event(city, &format!("wan-route-{}", city.slug()));
        assert_eq!(
            written.upstream(),
            "primary:iad1",
            "writes from {}",
            city.name
        );
    }
}

#[test]
fn under_real_replication_lag_every_read_presenting_the_token_sees_the_write() {
    let stack = wan_stack();
    let lagos = city("Lagos");
    caught_up(&stack, "fra1");
    // A congested ocean crossing: fra1 receives the primary's WAL 1.5 s late.
    let _slow = LinkChanged::new(
        stack.wan().control(),
        wan::replication_link(node("fra1")),
        |link| link.down.delay = Duration::from_millis(1500),
    );
    let key = topology::service_role_key();

    // Without the token the nearest replica serves, and misses the write.
    let (_, id) = write_event(lagos, "wan-ryw-geo");
    let path = format!("/rest/v1/analytics_events?select=id&id=eq.{id}");
    let stale = at(lagos, "GET", &path, &[("apikey", key.as_str())], None);
    assert_eq!((stale.status, stale.upstream()), (200, "replica:fra1"));
    assert_eq!(stale.body, "[]", "fra1 has not received the write yet");

    let served: Vec<(bool, String)> = concurrently(5, move |thread| {
        let key = topology::service_role_key();
        (0..20)
            .map(|i| {
                let (written, id) = write_event(lagos, &format!("wan-ryw-{thread}-{i}"));
                let token = written
                    .header("x-payhuk-consistency")
                    .expect("a write returns a token")
                    .to_owned();
                let read = at(
                    lagos,
                    "GET",
                    &format!("/rest/v1/analytics_events?select=id&id=eq.{id}"),
                    &[("apikey", key.as_str()), ("x-payhuk-consistency", &token)],
                    None,
                );
                assert_eq!(read.status, 200, "{}", read.body);
                let rows = read.json().as_array().map_or(0, Vec::len);
                (rows == 1, read.upstream().to_owned())
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let mut by_upstream: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, upstream) in &served {
        *by_upstream.entry(upstream).or_default() += 1;
    }
    eprintln!("reads presenting the token, by who served them: {by_upstream:?}");
    assert_eq!(served.len(), 100);
    // fra1 cannot have replayed any of the writes within its wait, so it refuses every
    // read. Who answers next is whoever this isolate measured soonest: the primary
    // (180 ms from Lagos) on a quiet machine, but probes share the edge's event loop
    // with the test's writes, and on a loaded 2-core runner sfo1 (250 ms) sometimes
    // measured sooner. The order itself is pinned by `routing::policy`'s unit tests.
    assert_eq!(
        by_upstream.get("replica:fra1"),
        None,
        "fra1 refused every read it could not answer ({by_upstream:?})"
    );
    assert_eq!(
        served.iter().filter(|(seen, _)| *seen).count(),
        100,
        "every read with the token sees the write ({by_upstream:?})"
    );
}

#[test]
fn a_link_that_stalls_mid_body_makes_the_read_fall_back_within_its_deadline() {
    let stack = wan_stack();
    let lagos = city("Lagos");
    let key = topology::anon_key();
    let query = "products?select=*&order=id&limit=50";
    let listing = &format!("/rest/v1/{query}");
    let direct = request(
        "GET",
        &format!("{}/{query}", topology::postgrest_url(node("fra1"))),
        &[("apikey", key.as_str())],
        None,
    );
    assert_eq!(direct.status, 200, "{}", direct.body);
    let headers: usize = direct
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 4)
        .sum::<usize>()
        + 19;
    assert!(
        direct.body.len() > 2_000,
        "a listing long enough to stall in"
    );
    reads_settle_on(lagos, "replica:fra1");

    // Every connection to fra1 carries the headers and part of the body, then nothing.
    let stalled = LinkChanged::new(
        stack.wan().control(),
        wan::edge_link(lagos, node("fra1")),
        |link| link.fault = Fault::StallAfter((headers + direct.body.len() / 2) as u64),
    );
    let read = at(lagos, "GET", listing, &[("apikey", key.as_str())], None);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_ne!(read.upstream(), "replica:fra1");
    assert_eq!(read.body, direct.body, "the whole listing, from elsewhere");

    drop(stalled);
    eventually(
        "Lagos to read from fra1 again",
        Duration::from_secs(20),
        || {
            let read = at(lagos, "GET", PRODUCTS, &[("apikey", key.as_str())], None);
            (read.upstream() == "replica:fra1").then_some(())
        },
    );
}

#[test]
fn a_black_holed_replica_link_is_avoided_after_the_deadline() {
    let stack = wan_stack();
    let dakar = city("Dakar");
    let key = topology::anon_key();
    let read = || at(dakar, "GET", PRODUCTS, &[("apikey", key.as_str())], None);
    reads_settle_on(dakar, "replica:fra1");

    let hole = LinkChanged::new(
        stack.wan().control(),
        wan::edge_link(dakar, node("fra1")),
        |link| link.fault = Fault::BlackHole,
    );
    let first = read();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_ne!(first.upstream(), "replica:fra1");
    for _ in 0..5 {
        let next = read();
        assert_eq!(next.status, 200, "{}", next.body);
        assert_ne!(next.upstream(), "replica:fra1", "fra1 is avoided");
    }

    drop(hole);
    eventually(
        "Dakar to read from fra1 again",
        Duration::from_secs(20),
        || (read().upstream() == "replica:fra1").then_some(()),
    );
}

/// `cargo xtask status --json` (the same parts, serialized the same way) lists every
/// city's edge with its city and URL, and a request through a city's edge is found by
/// its id in that edge's log and in the PostgREST log of the node that served it.
#[test]
fn status_lists_each_city_edge_and_a_request_id_crosses_the_wan() {
    let stack = wan_stack();
    let parts = serde_json::to_value(stack.parts()).unwrap();
    let edges: Vec<&serde_json::Value> = parts
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "edge")
        .collect();
    assert_eq!(edges.len(), CITIES.len(), "{parts:#}");
    for city in &CITIES {
        let edge = edges
            .iter()
            .find(|e| e["city"] == city.name)
            .unwrap_or_else(|| panic!("no edge for {} in {parts:#}", city.name));
        assert_eq!(edge["url"], wan::edge_url(city), "{edge}");
        assert_eq!(edge["answering"], true, "{edge}");
    }
    assert!(
        parts
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "relay" && p["answering"] == true),
        "{parts:#}"
    );

    let lagos = city("Lagos");
    let id = format!("wan-{}", std::process::id());
    let reply = at(
        lagos,
        "GET",
        PRODUCTS,
        &[
            ("x-request-id", id.as_str()),
            ("apikey", topology::anon_key().as_str()),
        ],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some(id.as_str()));
    let served_by = reply.upstream().split(':').nth(1).unwrap().to_owned();
    let sources = xtask::logs::sources(&stack.dirs);
    let entries = eventually(
        "the request in the edge's and PostgREST's logs",
        Duration::from_secs(10),
        || {
            let (entries, _) = xtask::logs::collect(&sources, &id);
            let edge = entries.iter().any(|e| e.source == "edge lagos");
            let postgrest = entries
                .iter()
                .any(|e| e.source == format!("postgrest {served_by}"));
            (edge && postgrest).then_some(entries)
        },
    );
    let line = entries.iter().find(|e| e.source == "edge lagos").unwrap();
    let logged: serde_json::Value =
        serde_json::from_str(&line.line[line.line.find('{').unwrap()..]).unwrap();
    assert_eq!(logged["edge"]["city"], "Lagos", "{logged}");
    assert_eq!(logged["route"], "/rest/v1/**", "{logged}");
}
