//! Helpers for the stack tests: HTTP to the gateway and PostgREST, SQL on the nodes,
//! and real faults with guards that undo them.

use std::time::{Duration, Instant};

use serde_json::Value;
use xtask::stack::Stack;
use xtask::topology;

/// The running local stack; fails the test with the fix when it is not up.
pub fn stack() -> Stack {
    let stack = Stack::open().expect("opening the local stack");
    assert!(
        stack.is_running(),
        "the local stack is not running: these tests run under `cargo xtask test` \
         (or start the stack with `cargo xtask up` first)"
    );
    stack
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// Sends a request and returns the reply whatever its status.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    // Redirects are answers under test (downloads), never followed.
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let mut req = agent.request(method, url).timeout(Duration::from_secs(15));
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let result = match body {
        Some(body) => req.send_string(body),
        None => req.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = response.header(&n).unwrap_or_default().to_owned();
            (n, v)
        })
        .collect();
    Reply {
        status: response.status(),
        headers,
        body: response.into_string().unwrap_or_default(),
    }
}

pub fn gateway(method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(
        method,
        &format!("{}{path}", topology::gateway_url()),
        headers,
        None,
    )
}

/// `Authorization` with the local stack's `STATUS_TOKEN`: `/health`'s details.
pub fn operator() -> (&'static str, String) {
    (
        "authorization",
        format!("Bearer {}", topology::STATUS_TOKEN),
    )
}

/// `/health` with its details, as seen from `edge` (through the local override header),
/// from a probe round taken after this call began: the gateway serves `/health` from
/// its snapshot, so the first answer may predate what the test just changed.
pub fn health_from(edge: Option<&str>) -> Value {
    let asked = chrono::Utc::now() - chrono::Duration::milliseconds(1);
    let (name, token) = operator();
    let mut headers: Vec<(&str, &str)> = vec![(name, token.as_str())];
    headers.extend(edge.map(|e| ("x-payhuk-edge-region", e)));
    eventually(
        "a /health taken after the question",
        Duration::from_secs(10),
        || {
            let reply = gateway("GET", "/health", &headers);
            assert_eq!(reply.status, 200, "{}", reply.body);
            let report = reply.json();
            let checked = report["checked_at"]
                .as_str()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .unwrap_or_else(|| panic!("no checked_at in {report}"));
            (checked >= asked).then_some(report)
        },
    )
}

/// The entry for `region` in a health report.
pub fn region<'a>(report: &'a Value, region: &str) -> &'a Value {
    report["regions"]
        .as_array()
        .expect("regions is a list")
        .iter()
        .find(|r| r["region"] == region)
        .unwrap_or_else(|| panic!("{region} missing from {report}"))
}

/// Polls `check` until it returns Some or `timeout` passes.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A region's PostgREST, stopped for real; restarted when dropped, even if the test fails.
pub struct PostgrestStopped<'a> {
    stack: &'a Stack,
    region: &'static str,
}

impl<'a> PostgrestStopped<'a> {
    pub fn new(stack: &'a Stack, region: &'static str) -> Self {
        stack.stop_postgrest(region).expect("stopping PostgREST");
        PostgrestStopped { stack, region }
    }

    pub fn restart(self) {
        // Drop does the work.
    }
}

impl Drop for PostgrestStopped<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.stack.start_postgrest(self.region) {
            eprintln!("could not restart PostgREST {}: {e:#}", self.region);
        }
    }
}

/// A region's PostgREST, frozen for real (SIGSTOP: connections accepted, never
/// answered); thawed when dropped, even if the test fails.
pub struct PostgrestFrozen<'a> {
    stack: &'a Stack,
    region: &'static str,
}

impl<'a> PostgrestFrozen<'a> {
    pub fn new(stack: &'a Stack, region: &'static str) -> Self {
        stack
            .freeze_postgrest(region, true)
            .expect("freezing PostgREST");
        PostgrestFrozen { stack, region }
    }
}

impl Drop for PostgrestFrozen<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.stack.freeze_postgrest(self.region, false) {
            eprintln!("could not thaw PostgREST {}: {e:#}", self.region);
        }
    }
}

/// A JWT for a signed-in user, as the auth service will issue them.
pub fn user_token(sub: &str) -> String {
    let mut claims =
        payhuk_edge::auth::jwt::Claims::new("authenticated", "payhuk-test", 0, 4_000_000_000);
    claims.sub = Some(sub.to_owned());
    payhuk_edge::auth::jwt::sign_hs256(&claims, topology::JWT_SECRET.as_bytes())
}

/// POSTs `body` to an RPC of a region's PostgREST with a bearer token.
pub fn postgrest_rpc(region: &str, function: &str, bearer: &str, body: &str) -> Reply {
    let node = topology::node(region).expect("region of the local stack");
    let auth = format!("Bearer {bearer}");
    request(
        "POST",
        &format!("{}/rpc/{function}", topology::postgrest_url(node)),
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        Some(body),
    )
}

/// Runs `call` on `n` threads at once and returns the results in order.
pub fn concurrently<T: Send + 'static>(
    n: usize,
    call: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let call = std::sync::Arc::new(call);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let call = call.clone();
            std::thread::spawn(move || call(i))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("thread panicked"))
        .collect()
}

/// The UTC month `offset` months from now: `(first day, first day of the next month,
/// partition suffix like 2026_11)`.
pub fn utc_month(stack: &Stack, offset: i32) -> (String, String, String) {
    let bounds = stack
        .sql(
            "iad1",
            &format!(
                "select to_char(m, 'YYYY-MM-DD') || ' ' || to_char(m + interval '1 month', 'YYYY-MM-DD') \
                 from (select date_trunc('month', now() at time zone 'UTC') + interval '{offset} months' as m) x"
            ),
        )
        .expect("month bounds");
    let (from, to) = bounds.split_once(' ').expect("two dates");
    (from.to_owned(), to.to_owned(), from[..7].replace('-', "_"))
}

/// The partitions a query on `region` scans, from its JSON plan.
pub fn partitions_scanned(stack: &Stack, region: &str, query: &str) -> Vec<String> {
    let plan = stack
        .sql(region, &format!("explain (format json) {query}"))
        .expect("explain");
    let plan: Value = serde_json::from_str(&plan).expect("JSON plan");
    let mut names = Vec::new();
    collect_relations(&plan, &mut names);
    names.sort();
    names.dedup();
    names
}

fn collect_relations(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Relation Name") {
                names.push(name.clone());
            }
            map.values().for_each(|v| collect_relations(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_relations(v, names)),
        _ => {}
    }
}

/// A fresh analytics event written as the service role at `base` (a gateway's URL) with
/// `extra` headers; the reply (201 asserted) and the row's id.
pub fn write_event_at(base: &str, extra: &[(&str, &str)], marker: &str) -> (Reply, i64) {
    let key = topology::service_role_key();
    let mut headers = vec![
        ("apikey", key.as_str()),
        ("content-type", "application/json"),
        ("prefer", "return=representation"),
    ];
    headers.extend_from_slice(extra);
    let reply = request(
        "POST",
        &format!("{base}/rest/v1/analytics_events?select=id"),
        &headers,
        Some(&format!(
            r#"{{"name": "routing_probe", "session_id": "{marker}"}}"#
        )),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()[0]["id"].as_i64().expect("id");
    (reply, id)
}

/// A request through the gateway as seen from `edge` (the local override header).
pub fn via_edge(
    edge: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut all: Vec<(&str, &str)> = vec![("x-payhuk-edge-region", edge)];
    all.extend_from_slice(headers);
    request(
        method,
        &format!("{}{path}", topology::gateway_url()),
        &all,
        body,
    )
}

impl Reply {
    /// `x-payhuk-upstream`: which node served it.
    pub fn upstream(&self) -> &str {
        self.header("x-payhuk-upstream")
            .unwrap_or_else(|| panic!("no x-payhuk-upstream on {} {}", self.status, self.body))
    }
}

/// Waits until `region`'s standby has replayed everything the primary has written.
pub fn caught_up(stack: &Stack, region: &str) {
    let target = stack
        .sql("iad1", "select pg_current_wal_lsn()")
        .expect("primary LSN");
    eventually(
        &format!("{region} to replay up to {target}"),
        Duration::from_secs(20),
        || {
            let replayed = stack
                .sql(
                    region,
                    &format!("select pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"),
                )
                .ok()?;
            (replayed == "t").then_some(())
        },
    );
}

/// A standby's WAL replay, paused for real; resumed when dropped, even if the test fails.
pub struct ReplayPaused<'a> {
    stack: &'a Stack,
    region: &'static str,
}

impl<'a> ReplayPaused<'a> {
    pub fn new(stack: &'a Stack, region: &'static str) -> Self {
        stack
            .sql(region, "select pg_wal_replay_pause()")
            .expect("pausing replay");
        ReplayPaused { stack, region }
    }
}

impl Drop for ReplayPaused<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.stack.sql(self.region, "select pg_wal_replay_resume()") {
            eprintln!("could not resume replay on {}: {e:#}", self.region);
        }
    }
}

/// The bundle under plain workerd on its own port, cold, with some of the local stack's
/// variables set otherwise; stopped however the test ends.
pub struct PlainWorkerd(xtask::process::Service);

impl PlainWorkerd {
    pub fn start(stack: &Stack, overrides: &[(&str, &str)]) -> PlainWorkerd {
        PlainWorkerd(
            xtask::workerd::start_with(&stack.paths, &stack.dirs, None, overrides)
                .expect("plain workerd serving the bundle"),
        )
    }
}

impl Drop for PlainWorkerd {
    fn drop(&mut self) {
        let _ = self.0.stop(Duration::from_secs(5));
    }
}

/// Returns once a backend of `region` is seen sleeping in the read-your-writes hook's
/// wait: a test resumes replay only then, so it assumes no timing.
pub fn seen_waiting_for_replay(stack: &Stack, region: &str) {
    eventually(
        &format!("{region}'s hook waiting for the write"),
        Duration::from_secs(10),
        || {
            stack
                .sql(
                    region,
                    "select count(*) from pg_stat_activity where wait_event = 'PgSleep'",
                )
                .ok()
                .filter(|n| n != "0")
        },
    );
}
