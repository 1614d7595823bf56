//! `cargo xtask test`: every test layer against a fresh local stack, what CI runs.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::bail;

use crate::paths::Paths;
use crate::stack::Stack;
use crate::topology::{self, DATABASE, SUPERUSER};
use crate::{build, cmd, setup, ui};

struct Layer {
    name: String,
    outcome: anyhow::Result<()>,
    took: String,
}

/// The soak inside `cargo xtask test`; `cargo xtask soak` runs 10 minutes by default.
const SOAK_MINUTES: f64 = 2.0;

/// Where calendars break, on the databases' clock: a month's first minutes (the seed's
/// "two days ago" is last month, after a 28-day February), the last seconds of a year
/// (the tests run into the next one), a leap day.
pub const PINNED_INSTANTS: [&str; 3] = [
    "2027-03-01T00:05:00Z",
    "2026-12-31T23:59:30Z",
    "2028-02-29T12:00:00Z",
];

/// The stack tests that depend on the date: partitions, their maintenance, the schema's
/// partitions on every node, the migration that partitions existing orders.
const CALENDAR_STACK_TESTS: [&str; 3] = ["partitions::", "schema::", "migrations::"];

/// Returns Ok(()) when every layer passed.
pub fn run(paths: &Paths) -> anyhow::Result<()> {
    let started = Instant::now();
    // Ctrl-C reaches the test programs (same process group) and ends them; xtask itself
    // carries on so that it still takes the stack down.
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;

    setup::run(paths)?;
    build::run(paths)?;

    let mut stack = Stack::open()?;
    stack.down(true)?;
    let mut layers = Vec::new();
    let up = timed("stack up", || stack.up().map(|_| ()));
    let stack_ok = up.outcome.is_ok();
    layers.push(up);

    if !interrupted.load(Ordering::SeqCst) {
        layers.push(timed("lint (fmt, clippy)", || lint(paths)));
    }
    if !interrupted.load(Ordering::SeqCst) {
        layers.push(timed("unit (cargo test)", || unit(paths)));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        layers.push(timed("sql (pgTAP)", || sql(paths, &stack)));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        layers.push(timed("integration (stack)", || integration(paths)));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        // The OpenAPI document against the handlers, as a customer and as a merchant.
        layers.push(timed("contract (schemathesis)", || {
            crate::contract::check(paths, crate::contract::SEED, crate::contract::MAX_EXAMPLES)
        }));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        // Faults on the replicas under load: nothing acknowledged lost, no read failed.
        layers.push(timed("soak (2 min)", || {
            crate::soak::run(paths, SOAK_MINUTES, false)
        }));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        // Keeps the benchmark runnable; its figures are not measurements and not kept.
        // Setup and the build ran above; only the load generator may be missing.
        layers.push(timed("bench --quick (smoke)", || {
            setup::bench_tools(paths).and_then(|()| crate::bench::measure(paths, true))
        }));
    }
    if !interrupted.load(Ordering::SeqCst) {
        // The scale bench end to end at 20 k and 60 k orders on its own cluster: load,
        // queries, backup, restore, and the disk left as found.
        layers.push(timed("bench --scale --quick (smoke)", || {
            crate::bench::scale::run(paths, true, &[])
        }));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        // docs/KEYS.md's rotation runbook: 0 valid tokens refused, 0 retired accepted.
        layers.push(timed("drill (key rotation)", || {
            crate::drill::run(paths, "key-rotation", false)
        }));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        // The same stack with regions and cities apart; the drill after starts afresh.
        layers.push(timed("wan (relays, city edges)", || wan(paths, &mut stack)));
    }
    if stack_ok && !interrupted.load(Ordering::SeqCst) {
        // Synchronous and asynchronous; each on its own fresh stack, rebuilt after.
        layers.push(timed("drill (failover)", || {
            crate::drill::run(paths, "failover", false)
        }));
    }
    for instant in PINNED_INSTANTS {
        if stack_ok && !interrupted.load(Ordering::SeqCst) {
            layers.push(timed(format!("clock {instant}"), || {
                pinned_clock(paths, &mut stack, instant)
            }));
        }
    }
    let down = stack.down(false);

    ui::header(&format!("test summary ({})", ui::elapsed(started)));
    let mut failed = 0;
    for layer in &layers {
        match &layer.outcome {
            Ok(()) => ui::detail(&format!("PASS  {:<28} {}", layer.name, layer.took)),
            Err(err) => {
                failed += 1;
                ui::detail(&format!("FAIL  {:<28} {}  {err:#}", layer.name, layer.took));
            }
        }
    }
    if interrupted.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    down?;
    if failed > 0 {
        bail!("{failed} test layer(s) failed");
    }
    Ok(())
}

fn timed(name: impl Into<String>, work: impl FnOnce() -> anyhow::Result<()>) -> Layer {
    let name = name.into();
    ui::header(&format!("test layer: {name}"));
    let started = Instant::now();
    let outcome = work();
    Layer {
        name,
        outcome,
        took: ui::elapsed(started),
    }
}

fn cargo(paths: &Paths) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(&paths.root);
    command
}

fn lint(paths: &Paths) -> anyhow::Result<()> {
    cmd::run(cargo(paths).args(["fmt", "--all", "--check"]))?;
    cmd::run(cargo(paths).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

fn unit(paths: &Paths) -> anyhow::Result<()> {
    cmd::run(cargo(paths).args(["test", "--workspace", "--exclude", "payhuk-stack-tests"]))
}

fn sql(paths: &Paths, stack: &Stack) -> anyhow::Result<()> {
    let primary = topology::primary();
    // pgTAP lives on the primary only: its plan() writes temporary tables, which a hot
    // standby refuses, so replica-side checks are in the integration layer.
    stack
        .pg
        .sql(primary, "create extension if not exists pgtap")?;
    let dir = paths.sql_tests();
    let has_tests = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .unwrap_or(false);
    if !has_tests {
        bail!("no pgTAP tests in {}", dir.display());
    }
    cmd::run(
        Command::new("pg_prove")
            .current_dir(&paths.root)
            .arg("--host")
            .arg(stack.dirs.pg_sockets())
            .args(["--port", &primary.pg_port.to_string()])
            .args(["--username", SUPERUSER, "--dbname", DATABASE])
            .args(["--ext", ".sql", "--recurse", "--verbose", "--failures"])
            .arg(&dir),
    )
}

fn integration(paths: &Paths) -> anyhow::Result<()> {
    let stack_tests = ["test", "-p", "payhuk-stack-tests", "--test"];
    cmd::run(
        cargo(paths)
            .args(stack_tests)
            .args(["stack", "--", "--test-threads=1"]),
    )?;
    // The deploy configs, through `wrangler deploy --dry-run` on the built bundle.
    cmd::run(cargo(paths).args(stack_tests).arg("deploy"))?;
    // Last: it promotes a standby, then leaves a rebuilt stack.
    cmd::run(
        cargo(paths)
            .args(stack_tests)
            .args(["failover", "--", "--test-threads=1"]),
    )
}

/// `up --wan` on the running stack, the WAN stack tests, then `bench --wan --quick` so
/// the benchmark keeps working (its figures are not kept); last, `down` must close every
/// relay's and edge's port.
fn wan(paths: &Paths, stack: &mut Stack) -> anyhow::Result<()> {
    stack.up_wan()?;
    cmd::run(cargo(paths).args([
        "test",
        "-p",
        "payhuk-stack-tests",
        "--test",
        "wan",
        "--",
        "--test-threads=1",
    ]))?;
    crate::bench::wan::measure(paths, true)?;
    stack.down(false)?;
    let ports = crate::wan::ports();
    let open: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|&port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        .collect();
    if !open.is_empty() {
        bail!("after `down`, something still listens on WAN port(s) {open:?}");
    }
    ui::detail(&format!(
        "down: all {} relay, edge and control ports closed",
        ports.len()
    ));
    Ok(())
}

/// A new stack made with the databases' clock at `instant`, then the SQL layer and the
/// calendar-bound stack tests (among them: no row in a default partition) with the
/// clock set back to `instant` before each (the stack took a while to start). Leaves no stack behind: a pinned stack must not be
/// mistaken for a real-clock one.
fn pinned_clock(paths: &Paths, stack: &mut Stack, instant: &str) -> anyhow::Result<()> {
    let at = crate::clock::parse_instant(instant)?;
    stack.down(true)?;
    let outcome = (|| {
        stack.up_at(at)?;
        stack.clock.set(at)?;
        sql(paths, stack)?;
        stack.clock.set(at)?;
        cmd::run(
            cargo(paths)
                .args(["test", "-p", "payhuk-stack-tests", "--test", "stack", "--"])
                .args(CALENDAR_STACK_TESTS)
                .arg("--test-threads=1"),
        )
    })();
    let down = stack.down(true);
    outcome.and(down)
}
