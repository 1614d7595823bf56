use std::process::Command;

use payhuk_stack_tests::{gateway, stack};
use serde_json::Value;
use xtask::gateway as gateway_service;
use xtask::stack::UpOutcome;
use xtask::topology;

#[test]
fn up_again_reports_the_stack_already_up() {
    let mut stack = stack();
    assert_eq!(stack.up().unwrap(), UpOutcome::AlreadyUp);
    assert!(stack.is_up());
}

/// `cargo xtask status --json`: its exit status and the parts it printed.
fn status_json() -> (bool, Vec<Value>) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["xtask", "status", "--json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo xtask status --json");
    let parts: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), parts.as_array().unwrap().clone())
}

fn part<'a>(parts: &'a [Value], kind: &str, region: Option<&str>) -> &'a Value {
    parts
        .iter()
        .find(|p| p["kind"] == kind && p["region"].as_str() == region)
        .unwrap_or_else(|| panic!("no {kind} {region:?} in {parts:#?}"))
}

#[test]
fn status_names_every_part_and_whether_it_answers() {
    let _stack = stack();
    let (ok, parts) = status_json();
    assert!(ok, "every part answers: {parts:#?}");
    assert_eq!(
        parts.len(),
        9,
        "3 PostgreSQL, 3 PostgREST, gateway, storefront, payment sandbox"
    );
    for region in ["iad1", "sfo1", "fra1"] {
        for kind in ["postgresql", "postgrest"] {
            let p = part(&parts, kind, Some(region));
            assert_eq!(p["answering"], true, "{p}");
            assert!(p["pid"].as_i64().is_some_and(|pid| pid > 0), "{p}");
            assert!(p["port"].as_u64().is_some(), "{p}");
        }
    }
    let gw = part(&parts, "gateway", None);
    assert_eq!(gw["url"], "http://127.0.0.1:8787/health");
    assert_eq!(gw["port"], 8787);
    assert_eq!(part(&parts, "storefront", None)["answering"], true);
    let sandbox = part(&parts, "sandbox", None);
    assert_eq!(sandbox["answering"], true, "{sandbox}");
    assert_eq!(sandbox["url"], topology::sandbox_url());
}

#[test]
fn a_dead_gateway_runtime_is_reported_down_and_up_restarts_only_it() {
    let mut stack = stack();
    let pids_before = |parts: &[Value]| -> Vec<Value> {
        parts
            .iter()
            .filter(|p| p["kind"] != "gateway")
            .map(|p| p["pid"].clone())
            .collect()
    };
    let (_, before) = status_json();
    let wrangler = gateway_service::service(&stack.dirs).running_pid();

    let runtime = stack.kill_gateway_runtime().unwrap();
    assert_ne!(
        Some(runtime),
        wrangler,
        "the process serving :8787 is wrangler's runtime, not wrangler"
    );
    let (ok, parts) = status_json();
    assert!(!ok, "status exits non-zero with the gateway down");
    let gw = part(&parts, "gateway", None);
    assert_eq!(gw["answering"], false, "{gw}");
    assert!(
        parts
            .iter()
            .filter(|p| p["kind"] != "gateway")
            .all(|p| p["answering"] == true),
        "only the gateway is down: {parts:#?}"
    );

    assert_eq!(stack.up().unwrap(), UpOutcome::Started);
    let health = gateway("GET", "/health", &[]);
    assert_eq!(health.status, 200, "{}", health.body);
    let (ok, after) = status_json();
    assert!(ok, "everything answers again: {after:#?}");
    assert_eq!(
        pids_before(&after),
        pids_before(&before),
        "up restarted only what was down"
    );
}
