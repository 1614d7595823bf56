//! Region-aware routing through the gateway's /rest/v1, with real faults.

use std::time::{Duration, Instant};

use payhuk_edge::config::MaxLag;
use payhuk_edge::region::known_location;
use payhuk_edge::routing::read_targets;
use payhuk_stack_tests::{
    PlainWorkerd, PostgrestFrozen, PostgrestStopped, ReplayPaused, caught_up, eventually, request,
    seen_waiting_for_replay, stack, via_edge, write_event_at,
};
use xtask::{topology, workerd};

const PRODUCTS: &str = "/rest/v1/products?select=id,name&published=eq.true&order=id&limit=3";

fn anon() -> String {
    topology::anon_key()
}

fn service() -> String {
    topology::service_role_key()
}

/// A fresh analytics event written through the gateway from `edge`; returns its id.
fn write_event(edge: &str, marker: &str) -> (payhuk_stack_tests::Reply, i64) {
    write_event_at(
        &topology::gateway_url(),
        &[("x-payhuk-edge-region", edge)],
        marker,
    )
}

#[test]
fn each_edge_reads_from_the_replica_the_policy_picks_and_writes_to_the_primary() {
    let _stack = stack();
    let key = anon();
    let read = |edge: &str| via_edge(edge, "GET", PRODUCTS, &[("apikey", key.as_str())], None);

    let fra = read("fra1");
    assert_eq!(fra.status, 200, "{}", fra.body);
    assert_eq!(fra.upstream(), "replica:fra1");
    assert_eq!(fra.header("x-payhuk-region"), Some("fra1"));
    assert!(
        fra.header("server-timing")
            .unwrap()
            .contains("upstream;desc=\"replica:fra1\";dur=")
    );
    assert_eq!(read("sfo1").upstream(), "replica:sfo1");

    // From iad1 the policy decides between the two replicas: ask it.
    let healthy = xtask::wan::unmeasured_nodes();
    let unlimited = MaxLag {
        seconds: None,
        bytes: None,
    };
    let expected =
        read_targets(&known_location("iad1").unwrap(), &healthy, &unlimited)[0].to_string();
    assert_eq!(read("iad1").upstream(), expected);
    assert_eq!(
        fra.body,
        read("iad1").body,
        "every replica serves the same rows"
    );

    let service = service();
    for edge in ["fra1", "sfo1", "iad1"] {
        let (created, id) = write_event(edge, &format!("route-{edge}"));
        assert_eq!(created.upstream(), "primary:iad1", "POST from {edge}");
        let patched = via_edge(
            edge,
            "PATCH",
            &format!("/rest/v1/analytics_events?id=eq.{id}"),
            &[
                ("apikey", service.as_str()),
                ("content-type", "application/json"),
            ],
            Some(r#"{"path": "/patched"}"#),
        );
        assert_eq!(
            (patched.status, patched.upstream()),
            (204, "primary:iad1"),
            "PATCH from {edge}"
        );
        let deleted = via_edge(
            edge,
            "DELETE",
            &format!("/rest/v1/analytics_events?id=eq.{id}"),
            &[("apikey", service.as_str())],
            None,
        );
        assert_eq!(
            (deleted.status, deleted.upstream()),
            (204, "primary:iad1"),
            "DELETE from {edge}"
        );
    }
}

#[test]
fn a_stopped_replica_is_passed_over_then_used_again_after_the_ttl() {
    let stack = stack();
    let key = anon();
    let read = || via_edge("fra1", "GET", PRODUCTS, &[("apikey", key.as_str())], None);
    assert_eq!(read().upstream(), "replica:fra1");

    let stopped = PostgrestStopped::new(&stack, "fra1");
    // Until a probe finds fra1 down, a read tries it, is refused, and moves on to the
    // node expected soonest (iad1); from then on the nearest replica left takes them.
    for _ in 0..5 {
        let reply = read();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            ["primary:iad1", "replica:sfo1"].contains(&reply.upstream()),
            "{}",
            reply.upstream()
        );
    }
    eventually(
        "reads from Frankfurt to settle on the nearest replica left",
        Duration::from_secs(10),
        || (read().upstream() == "replica:sfo1").then_some(()),
    );
    stopped.restart();
    eventually("fra1 to serve again", Duration::from_secs(10), || {
        (read().upstream() == "replica:fra1").then_some(())
    });
}

/// The gateway's budget for one upstream call (`UPSTREAM_TIMEOUT_MS` of the local stack).
const BUDGET: Duration = Duration::from_millis(2000);

#[test]
fn a_replica_that_stops_answering_costs_one_budget_then_reads_go_elsewhere() {
    let stack = stack();
    let key = anon();
    let read = || via_edge("fra1", "GET", PRODUCTS, &[("apikey", key.as_str())], None);
    assert_eq!(read().upstream(), "replica:fra1");

    let frozen = PostgrestFrozen::new(&stack, "fra1");
    let started = Instant::now();
    let first = read();
    let took = started.elapsed();
    assert_eq!(first.status, 200, "{}", first.body);
    // After fra1, whoever is expected soonest: iad1 (6,500 km from Frankfurt) before
    // sfo1 (9,100 km).
    assert_eq!(first.upstream(), "primary:iad1", "the next soonest node");
    assert_eq!(
        first.header("x-payhuk-upstream-calls"),
        Some("2"),
        "fra1, then iad1"
    );
    assert!(
        took < BUDGET + Duration::from_secs(2),
        "the first read waited {took:?}: the budget is {BUDGET:?}"
    );
    // Marked down: the next reads do not wait for it again.
    let started = Instant::now();
    let next = read();
    assert_eq!((next.status, next.upstream()), (200, "replica:sfo1"));
    assert_eq!(next.header("x-payhuk-upstream-calls"), Some("1"));
    assert!(started.elapsed() < BUDGET, "{:?}", started.elapsed());

    drop(frozen);
    eventually("fra1 to serve again", Duration::from_secs(15), || {
        (read().upstream() == "replica:fra1").then_some(())
    });
}

#[test]
fn a_primary_that_stops_answering_gets_a_timely_error_not_a_hang() {
    let stack = stack();
    let key = service();
    let write = |session: &str| {
        via_edge(
            "sfo1",
            "POST",
            "/rest/v1/analytics_events",
            &[
                ("apikey", key.as_str()),
                ("content-type", "application/json"),
            ],
            Some(&format!(
                r#"{{"name": "routing_probe", "session_id": "{session}"}}"#
            )),
        )
    };
    let frozen = PostgrestFrozen::new(&stack, "iad1");
    let started = Instant::now();
    let reply = write("frozen-primary");
    let took = started.elapsed();
    // 504 when the write went out and no answer came (it may still happen, so it is not
    // retried); 503 if a health check already saw the primary unanswering.
    assert!(
        matches!(reply.status, 503 | 504),
        "{} {}",
        reply.status,
        reply.body
    );
    let body = reply.json();
    assert!(
        body["code"].as_str().is_some_and(|c| c.starts_with("PHK")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("primary")),
        "the reason names the primary: {body}"
    );
    assert!(
        took < BUDGET + Duration::from_secs(2),
        "the write waited {took:?}: the budget is {BUDGET:?}"
    );
    drop(frozen);
    eventually("writes to succeed again", Duration::from_secs(15), || {
        (write("thawed-primary").status == 201).then_some(())
    });
}

#[test]
fn a_replica_lagging_past_the_limit_is_avoided() {
    let stack = stack();
    let key = anon();
    let read = || via_edge("fra1", "GET", PRODUCTS, &[("apikey", key.as_str())], None);
    caught_up(&stack, "fra1");
    assert_eq!(read().upstream(), "replica:fra1");
    {
        let _paused = ReplayPaused::new(&stack, "fra1");
        // Well past the local limit of 1 MiB of WAL.
        stack
            .sql(
                "iad1",
                "insert into public.analytics_events (name, session_id, props) \
                 select 'lag_probe', 'lag', jsonb_build_object('pad', repeat('x', 200)) \
                 from generate_series(1, 20000)",
            )
            .unwrap();
        eventually(
            "reads from fra1 to avoid the lagging fra1",
            Duration::from_secs(10),
            || {
                let reply = read();
                (reply.status == 200 && reply.upstream() == "replica:sfo1").then_some(())
            },
        );
    }
    caught_up(&stack, "fra1");
    eventually(
        "fra1 to serve again once caught up",
        Duration::from_secs(10),
        || (read().upstream() == "replica:fra1").then_some(()),
    );
    stack
        .sql(
            "iad1",
            "delete from public.analytics_events where name = 'lag_probe'",
        )
        .unwrap();
}

#[test]
fn a_client_always_reads_its_own_writes_even_from_a_paused_replica() {
    let stack = stack();
    caught_up(&stack, "fra1");
    let paused = ReplayPaused::new(&stack, "fra1");
    let marker = format!("ryw-{}", std::process::id());
    let (written, id) = write_event("fra1", &marker);
    assert_eq!(written.upstream(), "primary:iad1");
    let token = written
        .header("x-payhuk-consistency")
        .expect("a write returns a token")
        .to_owned();
    let cookie = written.header("set-cookie").expect("and sets the cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let key = service();
    let path = format!("/rest/v1/analytics_events?select=id&id=eq.{id}");
    let mut seen = 0;
    for i in 0..100 {
        let by_cookie = format!("payhuk_consistency={token}");
        let presented = if i % 2 == 0 {
            ("x-payhuk-consistency", token.as_str())
        } else {
            ("cookie", by_cookie.as_str())
        };
        let reply = via_edge(
            "fra1",
            "GET",
            &path,
            &[("apikey", key.as_str()), presented],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_ne!(
            reply.upstream(),
            "replica:fra1",
            "fra1 has not replayed the write"
        );
        if reply.json().as_array().unwrap().len() == 1 {
            seen += 1;
        }
    }
    assert_eq!(seen, 100, "every read with the token sees the write");

    // Without the token the nearest replica may serve, and does: it is within the lag
    // limit, and it does not have the row yet.
    let reply = via_edge("fra1", "GET", &path, &[("apikey", key.as_str())], None);
    assert_eq!(reply.upstream(), "replica:fra1");
    assert_eq!(reply.body, "[]");

    // A tampered token is not honoured, and says so.
    let tampered = token.replacen("v1.", "v1.1", 1);
    let reply = via_edge(
        "fra1",
        "GET",
        &path,
        &[
            ("apikey", key.as_str()),
            ("x-payhuk-consistency", tampered.as_str()),
        ],
        None,
    );
    assert_eq!(
        reply.header("x-payhuk-consistency-ignored"),
        Some("signature does not match")
    );
    drop(paused);
}

#[test]
fn a_forged_or_expired_jwt_is_refused_before_any_upstream_call() {
    let stack = stack();
    let forged = payhuk_edge::auth::jwt::sign_hs256(
        &payhuk_edge::auth::jwt::Claims::new("service_role", "forger", 0, 4_000_000_000),
        b"not-the-project-secret-but-long-enough-0000",
    );
    let expired = payhuk_edge::auth::jwt::sign_hs256(
        &payhuk_edge::auth::jwt::Claims::new("anon", "payhuk-local", 0, 1),
        topology::JWT_SECRET.as_bytes(),
    );
    for (name, token) in [("forged", forged), ("expired", expired)] {
        let marker = format!("m{}{}", name, std::process::id());
        let path = format!("/rest/v1/products?select={marker}:id");
        let bearer = format!("Bearer {token}");
        let reply = via_edge(
            "fra1",
            "GET",
            &path,
            &[("authorization", bearer.as_str())],
            None,
        );
        assert_eq!(reply.status, 401, "{name}: {}", reply.body);
        assert_eq!(reply.json()["code"], "PHK401");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .contains("invalid_token")
        );
        for node in &topology::NODES {
            let log =
                std::fs::read_to_string(xtask::postgrest::service(&stack.dirs, node).log_file)
                    .unwrap();
            assert!(
                !log.contains(&marker),
                "{name} token reached PostgREST {}",
                node.region
            );
        }
    }
    // The same request with a valid key does reach PostgREST (so the check can fail).
    let key = anon();
    let marker = format!("mvalid{}", std::process::id());
    let reply = via_edge(
        "fra1",
        "GET",
        &format!("/rest/v1/products?select={marker}:id&limit=1"),
        &[("apikey", key.as_str())],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let log = std::fs::read_to_string(
        xtask::postgrest::service(&stack.dirs, topology::node("fra1").unwrap()).log_file,
    )
    .unwrap();
    assert!(log.contains(&marker));
}

/// With `RYW_REPLICA_WAIT_MS` set, a replica behind the client's write waits for it
/// instead of refusing: the read is served by that replica in one upstream call, and
/// `Server-Timing` says how long it waited. Replay is resumed only once the replica is
/// seen waiting, so no timing is assumed.
#[test]
fn a_replica_allowed_to_wait_serves_the_clients_own_write_once_replayed() {
    let stack = stack();
    let _gateway = PlainWorkerd::start(&stack, &[("RYW_REPLICA_WAIT_MS", "1000")]);
    let base = format!("http://127.0.0.1:{}", workerd::PORT);
    caught_up(&stack, "fra1");
    let paused = ReplayPaused::new(&stack, "fra1");
    let from_fra1 = [("x-payhuk-edge-region", "fra1")];
    let (written, id) = write_event_at(&base, &from_fra1, "ryw-wait");
    let token = written
        .header("x-payhuk-consistency")
        .expect("a write returns a token")
        .to_owned();
    let url = format!("{base}/rest/v1/analytics_events?select=id&id=eq.{id}");
    let reading = std::thread::spawn(move || {
        let key = topology::service_role_key();
        request(
            "GET",
            &url,
            &[
                ("apikey", key.as_str()),
                ("x-payhuk-edge-region", "fra1"),
                ("x-payhuk-consistency", token.as_str()),
            ],
            None,
        )
    });
    seen_waiting_for_replay(&stack, "fra1");
    drop(paused);
    let reply = reading.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()[0]["id"], id, "the client's own write");
    assert_eq!(reply.upstream(), "replica:fra1", "served where it waited");
    assert_eq!(reply.header("x-payhuk-upstream-calls"), Some("1"));
    let timing = reply.header("server-timing").unwrap_or_default();
    assert!(timing.contains("replica-wait;dur="), "{timing}");
}
