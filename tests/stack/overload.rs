//! The gateway under many concurrent connections, on the real stack. No timing is
//! asserted: only what each request was answered.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use payhuk_stack_tests::{PlainWorkerd, stack};
use xtask::{topology, workerd};

/// An uncached read through plain workerd: every one reaches a node.
fn read_url() -> String {
    format!(
        "http://127.0.0.1:{}/rest/v1/products?select=id&limit=1",
        workerd::PORT
    )
}

struct Answer {
    status: u16,
    body: String,
    retry_after: Option<String>,
}

/// `connections` keep-alive connections, each sending `requests_each` anon-key reads of
/// `url` one after another, all starting at the same instant. Status 0 is a request
/// that got no HTTP answer (a connection refused or reset).
fn burst(url: &str, connections: usize, requests_each: usize) -> Vec<Answer> {
    let key = topology::anon_key();
    let start = Arc::new(Barrier::new(connections));
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let (url, key, start) = (url.to_owned(), key.clone(), start.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    // One keep-alive connection per thread, as a browser tab would hold.
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(30))
                        .max_idle_connections_per_host(1)
                        .build();
                    start.wait();
                    (0..requests_each)
                        .map(|_| match agent.get(&url).set("apikey", &key).call() {
                            Ok(r) => Answer {
                                status: r.status(),
                                retry_after: r.header("retry-after").map(str::to_owned),
                                body: String::new(),
                            },
                            Err(ureq::Error::Status(status, r)) => Answer {
                                status,
                                retry_after: r.header("retry-after").map(str::to_owned),
                                body: r.into_string().unwrap_or_default(),
                            },
                            Err(e) => Answer {
                                status: 0,
                                retry_after: None,
                                body: e.to_string(),
                            },
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap()
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

/// Counts by status, and by body for what was not a 200, printed for the test log.
fn tally(answers: &[Answer]) -> BTreeMap<u16, usize> {
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut refusals: BTreeMap<&str, usize> = BTreeMap::new();
    for a in answers {
        *by_status.entry(a.status).or_default() += 1;
        if a.status != 200 {
            *refusals.entry(a.body.as_str()).or_default() += 1;
        }
    }
    eprintln!("{} answers by status: {by_status:?}", answers.len());
    eprintln!("refusals: {refusals:#?}");
    by_status
}

fn served_normally_after_the_load(url: &str) {
    let after = ureq::get(url)
        .set("apikey", &topology::anon_key())
        .timeout(Duration::from_secs(10))
        .call()
        .expect("a request after the load");
    assert_eq!(after.status(), 200);
}

#[test]
fn a_cold_gateway_under_a_thousand_connections_never_says_no_region_can_serve() {
    let stack = stack();
    // The built bundle, just started: its isolate has no health snapshot yet.
    let _gateway = PlainWorkerd::start(&stack, &[]);
    let url = read_url();
    let answers = burst(&url, 1000, 3);
    let by_status = tally(&answers);
    let no_region: Vec<&String> = answers
        .iter()
        .filter(|a| a.status == 503 && a.body.contains("no region can serve"))
        .map(|a| &a.body)
        .collect();
    assert!(
        no_region.is_empty(),
        "{} of {} answers said no region can serve while every node was alive \
         (statuses {by_status:?}); first: {}",
        no_region.len(),
        answers.len(),
        no_region[0]
    );
    assert_eq!(
        by_status.get(&0),
        None,
        "no connection failed: {by_status:?}"
    );
    assert!(
        by_status.get(&200).is_some_and(|n| *n > 0),
        "reads were served: {by_status:?}"
    );
    let unexplained: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status != 200 && (a.status != 503 || a.retry_after.is_none()))
        .collect();
    assert!(
        unexplained.is_empty(),
        "what was not served is a 503 with Retry-After: {} were not, first {} {}",
        unexplained.len(),
        unexplained[0].status,
        unexplained[0].body
    );
    served_normally_after_the_load(&url);
}

#[test]
fn past_the_admission_limit_every_refused_request_is_a_fast_503_with_retry_after() {
    let stack = stack();
    // Two requests in flight per node and no queue: most of a burst is over the limit.
    let _gateway = PlainWorkerd::start(
        &stack,
        &[("UPSTREAM_MAX_IN_FLIGHT", "2"), ("ADMISSION_QUEUE_MS", "0")],
    );
    let url = read_url();
    let answers = burst(&url, 200, 2);
    let by_status = tally(&answers);
    assert!(
        by_status.get(&200).is_some_and(|n| *n > 0),
        "reads within the limit were served: {by_status:?}"
    );
    let shed: Vec<&Answer> = answers.iter().filter(|a| a.status != 200).collect();
    assert!(
        !shed.is_empty(),
        "six slots for 200 connections shed some: {by_status:?}"
    );
    for a in &shed {
        assert_eq!(a.status, 503, "{}", a.body);
        assert_eq!(a.retry_after.as_deref(), Some("1"), "{}", a.body);
        let body: serde_json::Value = serde_json::from_str(&a.body).expect("a JSON reason");
        assert_eq!(body["code"], "PHK529", "{}", a.body);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("in flight")),
            "{}",
            a.body
        );
    }
    served_normally_after_the_load(&url);
}
