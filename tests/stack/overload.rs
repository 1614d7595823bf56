//! The gateway under many concurrent connections, on the real stack. No timing is
//! asserted: only what each request was answered.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use payhuk_stack_tests::stack;
use xtask::{topology, workerd};

/// Concurrent connections, each sending its first request at the same instant.
const CONNECTIONS: usize = 1000;
const REQUESTS_EACH: usize = 3;

/// Stops the plain workerd a test started, however the test ends.
struct ColdGateway(xtask::process::Service);

impl Drop for ColdGateway {
    fn drop(&mut self) {
        let _ = self.0.stop(Duration::from_secs(5));
    }
}

#[test]
fn a_cold_gateway_under_a_thousand_connections_never_says_no_region_can_serve() {
    let stack = stack();
    // The built bundle, just started: its isolate has no health snapshot yet.
    let _gateway = ColdGateway(workerd::start(&stack.paths, &stack.dirs, None).unwrap());
    let url = format!(
        "http://127.0.0.1:{}/rest/v1/products?select=id&limit=1",
        workerd::PORT
    );
    let key = topology::anon_key();
    let start = Arc::new(Barrier::new(CONNECTIONS));
    let handles: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (url, key, start) = (url.clone(), key.clone(), start.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    // One keep-alive connection per thread, as a browser tab would hold.
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(30))
                        .max_idle_connections_per_host(1)
                        .build();
                    start.wait();
                    (0..REQUESTS_EACH)
                        .map(|_| match agent.get(&url).set("apikey", &key).call() {
                            Ok(r) => (r.status(), String::new()),
                            Err(ureq::Error::Status(status, r)) => {
                                (status, r.into_string().unwrap_or_default())
                            }
                            Err(e) => (0, e.to_string()),
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap()
        })
        .collect();
    let answers: Vec<(u16, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &answers {
        *by_status.entry(*status).or_default() += 1;
    }
    eprintln!("{} answers by status: {by_status:?}", answers.len());
    let no_region: Vec<&String> = answers
        .iter()
        .filter(|(status, body)| *status == 503 && body.contains("no region can serve"))
        .map(|(_, body)| body)
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

    // After the load, the next request is served normally.
    let after = ureq::get(&url)
        .set("apikey", &key)
        .timeout(Duration::from_secs(10))
        .call()
        .expect("a request after the load");
    assert_eq!(after.status(), 200);
}
