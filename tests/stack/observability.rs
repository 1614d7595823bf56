//! One request id end to end (issue 22): the response names it, the gateway's JSON log
//! line and the PostgREST access log line of the same request carry it, an error body
//! quotes it, and no log line of it holds a password, a token or a key.

use std::fs;
use std::time::Duration;

use payhuk_stack_tests::{eventually, gateway, operator, request, stack, user_token};
use serde_json::{Value, json};
use xtask::topology;

const PASSWORD: &str = "payhuk-demo-password";
const AMINATA: &str = "aminata@payhuk.test";

/// The gateway's JSON line of request `id`, once wrangler has written it.
fn gateway_line(id: &str) -> Value {
    let log = stack().dirs.logs().join("gateway.log");
    eventually(
        &format!("the gateway's log line of request {id}"),
        Duration::from_secs(10),
        || {
            let text = fs::read_to_string(&log).ok()?;
            text.lines()
                .filter_map(|line| line.find('{').map(|at| &line[at..]))
                .filter_map(|json| serde_json::from_str::<Value>(json).ok())
                .find(|value| value["request_id"] == id)
        },
    )
}

/// Every line of `file` under the stack's logs naming request `id`, once there is one.
fn lines_naming(file: &str, id: &str) -> Vec<String> {
    let log = stack().dirs.logs().join(file);
    let token = format!("request-id={id}\"");
    eventually(
        &format!("a line of request {id} in {file}"),
        Duration::from_secs(10),
        || {
            let text = fs::read_to_string(&log).ok()?;
            let found: Vec<String> = text
                .lines()
                .filter(|line| line.contains(&token))
                .map(str::to_owned)
                .collect();
            (!found.is_empty()).then_some(found)
        },
    )
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

#[test]
fn one_request_id_in_the_response_the_gateway_log_and_the_postgrest_log() {
    let id = unique("obs-login");
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let anon = topology::anon_key();
    let body = json!({"email": AMINATA, "password": PASSWORD}).to_string();
    let reply = request(
        "POST",
        &format!("{}/api/v1/auth/login", topology::gateway_url()),
        &[
            ("x-request-id", id.as_str()),
            ("traceparent", traceparent.as_str()),
            ("apikey", anon.as_str()),
            ("content-type", "application/json"),
        ],
        Some(&body),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some(id.as_str()));
    let timing = reply.header("server-timing").unwrap_or_default();
    for phase in [
        "auth;dur=",
        "route;dur=",
        "upstream;desc=\"primary:iad1\";dur=",
        "total;dur=",
    ] {
        assert!(timing.contains(phase), "{phase} in {timing}");
    }
    let session = reply.json();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();

    let line = gateway_line(&id);
    assert_eq!(line["message"], "request");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/api/v1/auth/login");
    assert_eq!(line["status"], 200);
    assert_eq!(
        line["trace_id"], trace_id,
        "the caller's trace is continued"
    );
    assert_eq!(line["edge"]["region"], "iad1");
    let upstreams = line["upstreams"].as_array().unwrap();
    assert_eq!(upstreams.len(), 1, "{line}");
    assert_eq!(upstreams[0]["node"], "primary:iad1");
    assert_eq!(upstreams[0]["status"], 200);
    assert!(line["duration_ms"].as_u64().is_some() && line["bytes"].as_u64() > Some(0));

    let postgrest = lines_naming("postgrest-iad1.log", &id);
    assert_eq!(postgrest.len(), 1, "one upstream call: {postgrest:?}");
    assert!(
        postgrest[0].contains("\"POST /rpc/auth_login HTTP/1.1\" 200"),
        "{}",
        postgrest[0]
    );

    // Nothing a log must not hold, in any line of this request.
    let mut said = vec![line.to_string()];
    said.extend(postgrest);
    for secret in [PASSWORD, &access, &refresh, &anon, topology::STATUS_TOKEN] {
        for text in &said {
            assert!(!text.contains(secret), "a secret in a log line: {text}");
        }
    }
}

#[test]
fn a_request_without_an_id_gets_one_and_an_error_body_quotes_it() {
    let missing = "01900000-0000-7000-8000-000000000000";
    let reply = gateway(
        "GET",
        &format!(
            "/api/v1/downloads/{}",
            "not-a-real-download-token-0123456789"
        ),
        &[("x-request-id", "has spaces so it is replaced")],
    );
    assert!((400..500).contains(&reply.status), "{}", reply.body);
    let id = reply.header("x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 32, "a generated id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        reply.json()["request_id"],
        id,
        "the body names it: {}",
        reply.body
    );
    // The download token is in the path; the log names the route's pattern only.
    let line = gateway_line(&id);
    assert_eq!(line["route"], "/api/v1/downloads/{token}");
    assert!(!line.to_string().contains("not-a-real-download-token"));

    let reply = gateway("GET", &format!("/api/v1/products/{missing}"), &[]);
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(
        reply.json()["request_id"].as_str(),
        reply.header("x-request-id")
    );
}

#[test]
fn the_status_history_is_for_operators_and_counts_requests_per_region() {
    let refused = gateway("GET", "/status/history", &[]);
    assert_eq!(refused.status, 401, "{}", refused.body);
    let id = unique("obs-history");
    let read = gateway(
        "GET",
        "/api/v1/products?limit=1",
        &[("x-request-id", id.as_str()), ("cache-control", "no-cache")],
    );
    assert_eq!(read.status, 200);
    let (name, value) = operator();
    let history = eventually(
        "a probe round in the history",
        Duration::from_secs(10),
        || {
            let reply = gateway("GET", "/status/history", &[(name, value.as_str())]);
            assert_eq!(reply.status, 200, "{}", reply.body);
            let history = reply.json();
            let probed = history["regions"]
                .as_array()?
                .iter()
                .filter(|r| r["probes"].as_array().is_some_and(|p| !p.is_empty()))
                .count();
            (probed == 3).then_some(history)
        },
    );
    let requests: u64 = history["regions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["requests"].as_array().cloned().unwrap_or_default())
        .map(|m| m["count"].as_u64().unwrap())
        .sum();
    assert!(requests >= 1, "{history}");
    let iad1 = history["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "iad1")
        .unwrap();
    assert_eq!(
        iad1["probes"].as_array().unwrap().last().unwrap()["role"],
        "primary"
    );
    assert!(
        history["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["route"] == "GET /api/v1/products"),
        "{}",
        history["routes"]
    );
}

/// What `cargo xtask logs --request` finds: a request PostgreSQL refuses has a line in
/// each of the three logs, gateway first.
#[test]
fn cargo_xtask_logs_finds_a_request_in_the_gateway_postgrest_and_postgresql_logs() {
    let stack = stack();
    let id = unique("obs-refused");
    let token = user_token("11111111-1111-4111-8111-000000000001");
    let bearer = format!("Bearer {token}");
    let anon = topology::anon_key();
    // place_order without an idempotency key: the function raises, PostgreSQL logs it.
    let reply = request(
        "POST",
        &format!("{}/rest/v1/rpc/place_order", topology::gateway_url()),
        &[
            ("x-request-id", id.as_str()),
            ("authorization", bearer.as_str()),
            ("apikey", anon.as_str()),
            ("content-type", "application/json"),
        ],
        Some(r#"{"idempotency_key": "", "request_hash": "0", "items": []}"#),
    );
    assert!(
        (400..500).contains(&reply.status),
        "{}: {}",
        reply.status,
        reply.body
    );
    assert_eq!(reply.json()["request_id"], id, "{}", reply.body);

    let sources = xtask::logs::sources(&stack.dirs);
    let entries = eventually(
        "the request's lines in all three logs",
        Duration::from_secs(10),
        || {
            let (entries, _) = xtask::logs::collect(&sources, &id);
            let has = |prefix: &str| entries.iter().any(|e| e.source.starts_with(prefix));
            (has("gateway") && has("postgrest iad1") && has("postgres iad1")).then_some(entries)
        },
    );
    let postgres: Vec<&str> = entries
        .iter()
        .filter(|e| e.source.starts_with("postgres "))
        .map(|e| e.line.as_str())
        .collect();
    assert!(
        postgres.iter().any(|l| l.contains("ERROR:")),
        "PostgreSQL's error line names the request: {postgres:?}"
    );
    let times: Vec<_> = entries.iter().map(|e| e.ts).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    assert!(
        entries.iter().all(|e| e.line.contains(&id)),
        "only this request's lines: {entries:?}"
    );
}
