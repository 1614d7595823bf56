use std::time::Duration;

use payhuk_stack_tests::{PostgrestStopped, eventually, gateway, health_from, region, stack};
use xtask::topology;

#[test]
fn anyone_sees_each_region_s_status_and_only_operators_see_inside() {
    let _stack = stack();
    let reply = gateway("GET", "/health", &[]);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(reply.header("x-payhuk-region"), Some("iad1"));
    let public = reply.json();
    assert_eq!(public["status"], "ok", "{public}");
    assert_eq!(public["details"], false, "{public}");
    assert_eq!(public["edge"]["region"], "iad1");
    assert_eq!(public["edge"]["source"], "default");
    for name in ["iad1", "sfo1", "fra1"] {
        let entry = region(&public, name);
        assert_eq!(
            entry,
            &serde_json::json!({"region": name, "status": "ok"}),
            "anonymous: status only"
        );
    }
    assert!(public.get("warnings").is_none(), "{public}");

    // The anon key and a signed-in user are not operators either.
    let anon = topology::anon_key();
    let as_anon = gateway("GET", "/health", &[("apikey", anon.as_str())]).json();
    assert_eq!(as_anon["details"], false, "{as_anon}");
    // A wrong operator credential is refused, not quietly shown less.
    let wrong = gateway(
        "GET",
        "/health",
        &[(
            "authorization",
            "Bearer payhuk_not_the_status_token_000000000",
        )],
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);

    // STATUS_TOKEN and the service role key both show the details.
    let service = format!("Bearer {}", topology::service_role_key());
    let as_service = gateway("GET", "/health", &[("authorization", service.as_str())]);
    assert_eq!(as_service.status, 200, "{}", as_service.body);
    assert_eq!(as_service.json()["details"], true);
    let report = health_from(None);
    assert_eq!(report["details"], true);
    assert_eq!(report["status"], "ok", "{report}");
    let iad1 = region(&report, "iad1");
    assert_eq!(iad1["reachable"], true);
    assert_eq!(iad1["role"], "primary");
    assert!(iad1["replication"].is_null());
    assert!(iad1["lsn"].is_string(), "{iad1}");
    for name in ["sfo1", "fra1"] {
        let replica = region(&report, name);
        assert_eq!(replica["reachable"], true, "{replica}");
        assert_eq!(replica["role"], "replica", "{replica}");
        let rep = &replica["replication"];
        assert_eq!(rep["wal_receiver"], "streaming", "{replica}");
        assert_eq!(rep["replay_paused"], false);
        assert!(rep["lag_seconds"].as_f64().unwrap() >= 0.0);
        assert!(rep["lag_bytes"].as_u64().is_some());
    }
}

#[test]
fn health_is_served_from_the_snapshot_not_probed_per_request() {
    let stack = stack();
    // PostgREST logs every request it serves: the probes of iad1 are its node_status calls.
    let log = stack.paths.stack().logs().join("postgrest-iad1.log");
    let probes = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .matches("POST /rpc/node_status")
            .count()
    };
    let before = probes();
    for _ in 0..40 {
        assert_eq!(gateway("GET", "/health", &[]).status, 200);
    }
    let after = probes();
    // One round per TTL (1 s here) at most, whatever the number of asks.
    assert!(
        after - before <= 4,
        "40 asks of /health made {} probes of iad1",
        after - before
    );
}

#[test]
fn the_edge_region_follows_the_local_override() {
    let _stack = stack();
    let reply = gateway("GET", "/health", &[("x-payhuk-edge-region", "fra1")]);
    assert_eq!(reply.header("x-payhuk-region"), Some("fra1"));
    let report = reply.json();
    assert_eq!(report["edge"]["region"], "fra1");
    assert_eq!(report["edge"]["source"], "override");

    let reply = gateway("GET", "/health", &[("x-payhuk-edge-region", "syd1")]);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "PHK400");
}

#[test]
fn paused_replay_shows_as_lag_on_that_replica_only() {
    let stack = stack();
    stack.sql("fra1", "select pg_wal_replay_pause()").unwrap();
    let result = std::panic::catch_unwind(|| {
        stack
            .sql(
                "iad1",
                "create table if not exists public.health_lag_probe (n int); \
                 insert into public.health_lag_probe select generate_series(1, 5000)",
            )
            .unwrap();
        let report = eventually("fra1 to fall behind", Duration::from_secs(10), || {
            let report = health_from(Some("fra1"));
            let lag = region(&report, "fra1")["replication"]["lag_bytes"].as_u64()?;
            (lag > 0).then_some(report)
        });
        assert_eq!(report["status"], "degraded");
        assert_eq!(
            region(&report, "fra1")["replication"]["replay_paused"],
            true
        );
        assert_eq!(
            region(&report, "sfo1")["replication"]["replay_paused"],
            false
        );
    });
    stack.sql("fra1", "select pg_wal_replay_resume()").unwrap();
    stack
        .sql("iad1", "drop table if exists public.health_lag_probe")
        .unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    eventually("fra1 to catch up", Duration::from_secs(10), || {
        let report = health_from(None);
        (region(&report, "fra1")["replication"]["lag_bytes"] == 0).then_some(())
    });
}

#[test]
fn a_stopped_postgrest_is_reported_unreachable_then_recovers() {
    let stack = stack();
    let stopped = PostgrestStopped::new(&stack, "fra1");

    let report = health_from(None);
    assert_eq!(report["status"], "degraded");
    let fra1 = region(&report, "fra1");
    assert_eq!(fra1["reachable"], false, "{fra1}");
    assert!(fra1["role"].is_null());
    assert!(
        fra1["error"]
            .as_str()
            .unwrap()
            .contains("fra1 is unreachable"),
        "{fra1}"
    );
    // The other regions are unaffected.
    assert_eq!(region(&report, "iad1")["role"], "primary");
    assert_eq!(region(&report, "sfo1")["reachable"], true);

    stopped.restart();
    let report = eventually(
        "fra1 to be reachable again",
        Duration::from_secs(10),
        || {
            let report = health_from(None);
            (region(&report, "fra1")["reachable"] == true).then_some(report)
        },
    );
    assert_eq!(region(&report, "fra1")["role"], "replica");
    assert_eq!(report["status"], "ok");
}

#[test]
fn unknown_routes_and_methods_get_json_errors() {
    let _stack = stack();
    let reply = gateway("GET", "/no/such/route", &[]);
    assert_eq!(reply.status, 404);
    let body = reply.json();
    assert_eq!(body["code"], "PHK404");
    assert_eq!(body["message"], "no route for /no/such/route");
    for key in ["details", "hint"] {
        assert!(
            body.get(key).is_some(),
            "PostgREST-shaped errors carry {key}"
        );
    }

    let reply = gateway("DELETE", "/health", &[]);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    assert_eq!(reply.json()["code"], "PHK405");

    let reply = gateway("HEAD", "/health", &[]);
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());

    // A method the runtime does not know by name (workers-rs reads any such as GET) is
    // refused, never run as a GET.
    for (method, path, allow) in [
        ("QUERY", "/api/v1/auth/me", "GET"),
        ("QUERY", "/api/v1/downloads/x.y.z", "GET"),
        ("PROPFIND", "/api/v1/products", "GET, POST"),
        ("QUERY", "/health", "GET, HEAD"),
    ] {
        let reply = gateway(method, path, &[]);
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.body);
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(reply.json()["code"], "PHK405");
    }
    let reply = gateway("QUERY", "/rest/v1/products", &[]);
    assert_eq!(reply.status, 405, "{}", reply.body);
}

#[test]
fn partition_trouble_shows_as_warnings_until_it_is_fixed() {
    let stack = stack();
    let report = health_from(None);
    assert_eq!(
        report["warnings"],
        serde_json::json!([]),
        "a fresh stack has no partition trouble"
    );

    // What a cron that stopped running leaves: a month ahead without its partition, and
    // a row that arrived with no partition for its month.
    let (missing, month) = stack
        .sql(
            "iad1",
            "select 'payhuk_partitions.digital_downloads_p' || to_char(m, 'YYYY_MM') || ' ' || to_char(m, 'YYYY-MM') \
             from (select date_trunc('month', now() at time zone 'UTC') + interval '2 months' as m) x",
        )
        .unwrap()
        .split_once(' ')
        .map(|(t, m)| (t.to_owned(), m.to_owned()))
        .unwrap();
    stack.sql("iad1", &format!("drop table {missing}")).unwrap();
    stack
        .sql(
            "iad1",
            "insert into public.analytics_events (name, session_id, created_at) \
             values ('stray', 'health-warnings-test', now() + interval '5 years')",
        )
        .unwrap();

    let report = health_from(None);
    assert_eq!(report["status"], "ok", "warnings do not degrade: {report}");
    let warnings = report["warnings"].as_array().expect("warnings is a list");
    let find = |code: &str| {
        warnings
            .iter()
            .find(|w| w["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {warnings:#?}"))
    };
    let stray = find("rows_in_default_partition");
    assert_eq!(stray["region"], "iad1");
    assert_eq!(stray["table"], "public.analytics_events");
    assert_eq!(stray["rows"], 1);
    let ahead = find("partitions_missing_ahead");
    assert_eq!(ahead["region"], "iad1");
    assert_eq!(ahead["table"], "public.digital_downloads");
    assert!(
        ahead["message"].as_str().unwrap().contains(&month),
        "{ahead}"
    );
    assert_eq!(warnings.len(), 2, "{warnings:#?}");

    stack
        .sql(
            "iad1",
            "delete from public.analytics_events where session_id = 'health-warnings-test'",
        )
        .unwrap();
    stack
        .sql("iad1", "select public.maintain_partitions()")
        .unwrap();
    assert_eq!(health_from(None)["warnings"], serde_json::json!([]));
}
