//! The failover test, against the real local stack: the primary's PostgreSQL is
//! stopped, sfo1 is promoted with pg_promote() and fra1 re-pointed to it, and the
//! running gateway (not restarted) must refuse writes cleanly, keep serving reads,
//! then send writes to sfo1. It changes the topology, so it is its own test binary,
//! and it leaves a freshly built stack behind (`down --wipe`, `up`), pass or fail.

use std::time::{Duration, Instant};

use payhuk_stack_tests::{Reply, eventually, operator, stack, via_edge};
use xtask::stack::Stack;
use xtask::topology;

/// Puts the stack back as `cargo xtask up` makes it, whatever happened.
struct RebuildAfterwards;

impl Drop for RebuildAfterwards {
    fn drop(&mut self) {
        let rebuilt = Stack::open().and_then(|s| s.down(true)).and_then(|_| {
            let mut s = Stack::open()?;
            s.up().map(|_| ())
        });
        if let Err(e) = rebuilt {
            eprintln!("could not rebuild the stack after the failover test: {e:#}");
        }
    }
}

fn write(edge: &str) -> (Reply, Duration) {
    let key = topology::service_role_key();
    let started = Instant::now();
    let reply = via_edge(
        edge,
        "POST",
        "/rest/v1/analytics_events",
        &[
            ("apikey", key.as_str()),
            ("content-type", "application/json"),
        ],
        Some(r#"{"name": "failover_probe", "session_id": "drill"}"#),
    );
    (reply, started.elapsed())
}

fn read(edge: &str) -> Reply {
    let key = topology::anon_key();
    via_edge(
        edge,
        "GET",
        "/rest/v1/products?select=id&limit=1",
        &[("apikey", key.as_str())],
        None,
    )
}

#[test]
fn writes_follow_a_promoted_standby_without_restarting_the_gateway() {
    let stack = stack();
    let _rebuild = RebuildAfterwards;
    assert_eq!(write("sfo1").0.upstream(), "primary:iad1");

    stack.stop_postgres("iad1").unwrap();
    // Every write is refused cleanly (503, Retry-After) within the time budget, whether
    // the gateway still believes in iad1 or has seen it go.
    let budget = Duration::from_millis(2000); // UPSTREAM_TIMEOUT_MS of the local stack
    for edge in ["iad1", "sfo1", "fra1", "iad1", "fra1"] {
        let (reply, took) = write(edge);
        assert_eq!(reply.status, 503, "from {edge}: {}", reply.body);
        assert_eq!(reply.json()["code"], "PHK503");
        assert!(reply.header("retry-after").is_some(), "{reply:?}");
        // Not a performance figure: the bound says "no hang".
        assert!(took < budget * 3, "a write took {took:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    for edge in ["iad1", "sfo1", "fra1"] {
        let reply = read(edge);
        assert_eq!(
            reply.status, 200,
            "reads still work from {edge}: {}",
            reply.body
        );
        assert!(
            reply.upstream().starts_with("replica:"),
            "{}",
            reply.upstream()
        );
    }

    stack.sql("sfo1", "select pg_promote(true, 60)").unwrap();
    stack.repoint_standby("fra1", "sfo1").unwrap();

    let reply = eventually(
        "writes to go to the promoted sfo1",
        Duration::from_secs(10),
        || {
            let (reply, _) = write("fra1");
            (reply.status == 201).then_some(reply)
        },
    );
    assert_eq!(reply.upstream(), "primary:sfo1");
    assert!(reply.header("x-payhuk-consistency").is_some());

    // fra1 follows the new primary and serves reads again, including that write.
    eventually("fra1 to stream from sfo1", Duration::from_secs(30), || {
        let streaming = stack
            .sql("sfo1", "select count(*) from pg_stat_replication where application_name = 'fra1' and state = 'streaming'")
            .ok()?;
        (streaming == "1").then_some(())
    });
    let seen = eventually(
        "fra1 to serve the write made on sfo1",
        Duration::from_secs(10),
        || {
            let key = topology::service_role_key();
            let reply = via_edge(
                "fra1",
                "GET",
                "/rest/v1/analytics_events?select=id&name=eq.failover_probe",
                &[("apikey", key.as_str())],
                None,
            );
            (reply.upstream() == "replica:fra1" && reply.body != "[]").then_some(reply)
        },
    );
    assert_eq!(seen.status, 200);

    let (name, token) = operator();
    let health = via_edge("fra1", "GET", "/health", &[(name, token.as_str())], None).json();
    let roles: Vec<(String, String)> = health["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap().to_owned(),
                r["role"].to_string(),
            )
        })
        .collect();
    assert!(
        roles.contains(&("sfo1".into(), "\"primary\"".into())),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("fra1".into(), "\"replica\"".into())),
        "{roles:?}"
    );
}
