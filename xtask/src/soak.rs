//! `cargo xtask soak --minutes M [--record]`: mixed reads and writes through the gateway
//! while real faults are injected on the replicas (PostgREST restarts, replay paused,
//! a standby restarted). At the end every acknowledged write must be on the primary
//! (ledger comparison), no read may have had a 5xx or no answer, and a read carrying
//! its write's consistency token must see that write. `--record` writes the figures
//! into docs/SECURITY.md.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::drill::{Figure, Report, percentile};
use crate::load::{Load, agent};
use crate::paths::Paths;
use crate::stack::Stack;
use crate::topology::{
    self, DEMO_CUSTOMER_EMAIL as CUSTOMER_EMAIL, DEMO_PASSWORD, DEMO_PRODUCT as PRODUCT, NODES,
};
use crate::ui;

const DOC: &str = "docs/SECURITY.md";
const THREADS: usize = 4;
/// One request in this many is a write (then read back with its token).
const WRITE_EVERY: u64 = 5;
/// A write that got no usable answer is sent again with the same idempotency key.
const WRITE_ATTEMPTS: u32 = 6;
const EDGES: [&str; 3] = ["iad1", "sfo1", "fra1"];

/// What one answer was.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Status(u16),
    /// Refused, reset or timed out: no HTTP answer at all.
    None(String),
}

impl Answer {
    /// `(answer, "upstream and body excerpt")` for a report line.
    fn described(result: Result<ureq::Response, ureq::Error>) -> (Answer, String) {
        let (answer, response) = Answer::of(result);
        let detail = response.map_or_else(String::new, |r| {
            let upstream = r.header("x-payhuk-upstream").unwrap_or("-").to_owned();
            let body = r.into_string().unwrap_or_default();
            format!(
                "upstream {upstream}: {}",
                body.chars().take(200).collect::<String>()
            )
        });
        (answer, detail)
    }

    fn of(result: Result<ureq::Response, ureq::Error>) -> (Answer, Option<ureq::Response>) {
        match result {
            Ok(r) => (Answer::Status(r.status()), Some(r)),
            Err(ureq::Error::Status(code, r)) => (Answer::Status(code), Some(r)),
            Err(e) => (Answer::None(e.to_string()), None),
        }
    }

    fn is_server_failure(&self) -> bool {
        match self {
            Answer::Status(code) => *code >= 500,
            Answer::None(_) => true,
        }
    }
}

/// Everything the load threads saw, shared between them.
#[derive(Debug, Default)]
struct Tally {
    reads: u64,
    read_ms: Vec<f64>,
    read_4xx: u64,
    read_failures: Vec<String>,
    writes: u64,
    write_retries: u64,
    write_refusals: Vec<String>,
    writes_unanswered: u64,
    acknowledged: Vec<String>,
    own_write_reads: u64,
    own_write_missed: Vec<String>,
}

impl Tally {
    fn read(&mut self, what: &str, answer: &Answer, detail: &str, took: Duration) {
        self.reads += 1;
        self.read_ms.push(took.as_secs_f64() * 1000.0);
        match answer {
            a if a.is_server_failure() => self
                .read_failures
                .push(format!("{} {what}: {a:?} {detail}", clock())),
            Answer::Status(code) if *code >= 400 => self.read_4xx += 1,
            _ => {}
        }
    }
}

/// The wall-clock time, to line failures up with faults and logs.
fn clock() -> String {
    chrono::Utc::now().format("%H:%M:%S%.3f").to_string()
}

/// One injected fault: what it was and when it began, relative to the start.
#[derive(Debug, Clone)]
struct Fault {
    what: String,
    at: Duration,
}

pub fn run(paths: &Paths, minutes: f64, record: bool) -> anyhow::Result<()> {
    if !(minutes > 0.0 && minutes <= 24.0 * 60.0) {
        bail!("--minutes must be more than 0 and at most a day, not {minutes}");
    }
    let mut stack = Stack::open()?;
    stack.up()?;
    let length = Duration::from_secs_f64(minutes * 60.0);
    ui::header(&format!(
        "soak: {minutes} min of mixed load through the gateway ({THREADS} threads) with faults on the replicas"
    ));
    let token = sign_in()?;
    let run = format!("soak-{}", chrono::Utc::now().timestamp_millis());

    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let load = {
        let (tally, run, token, agent) = (tally.clone(), run.clone(), token.clone(), agent());
        Load::start(THREADS, move |n| {
            let edge = EDGES[(n % 3) as usize];
            if n % WRITE_EVERY == 0 {
                write_and_read_back(&agent, &tally, &token, edge, &format!("{run}-{n}"));
            } else {
                read(&agent, &tally, &token, edge, n);
            }
            (true, None)
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let faults = {
        let stop = stop.clone();
        thread::spawn(move || inject_faults(&stop, started))
    };
    let progress = Duration::from_secs(30);
    while started.elapsed() < length {
        sleep(progress.min(length.saturating_sub(started.elapsed())));
        let t = tally.lock().expect("tally");
        ui::detail(&format!(
            "{:>5.0} s: {} reads ({} failed), {} writes acknowledged",
            started.elapsed().as_secs_f64(),
            t.reads,
            t.read_failures.len(),
            t.acknowledged.len()
        ));
    }
    stop.store(true, Ordering::SeqCst);
    let injected = faults
        .join()
        .map_err(|_| anyhow::anyhow!("the fault thread panicked"))??;
    load.finish();
    let elapsed = started.elapsed();

    ui::step("replicas catching up", || {
        stack.pg.wait_caught_up(
            topology::primary(),
            &NODES
                .iter()
                .filter(|n| !n.starts_as_primary)
                .collect::<Vec<_>>(),
        )
    })?;
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("a load thread still holds the tally"))?
        .into_inner()
        .expect("tally");
    let mut missing = Vec::new();
    for node in &NODES {
        missing.push((
            node.region,
            missing_orders(&stack, node.region, &tally.acknowledged)?,
        ));
    }
    let report = report(&tally, &injected, elapsed, &missing);
    report.print();
    for failure in tally.read_failures.iter().take(10) {
        ui::detail(&format!("read failure: {failure}"));
    }
    for refusal in tally.write_refusals.iter().take(10) {
        ui::detail(&format!("write refused: {refusal}"));
    }
    for missed in tally.own_write_missed.iter().take(10) {
        ui::detail(&format!("own write not seen: {missed}"));
    }
    if record {
        crate::record::between_markers(
            paths,
            DOC,
            "soak",
            &format!("cargo xtask soak --minutes {minutes} --record"),
            &report.markdown(),
        )?;
    }
    if !report.passed() {
        bail!("the soak missed a target (above)");
    }
    Ok(())
}

/// A real session for the demo customer, through the gateway.
fn sign_in() -> anyhow::Result<String> {
    let body = serde_json::json!({"email": CUSTOMER_EMAIL, "password": DEMO_PASSWORD});
    let session: Value = agent()
        .post(&format!("{}/api/v1/auth/login", topology::gateway_url()))
        .send_json(body)
        .context("signing in the soak's customer")?
        .into_json()?;
    session["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the login answer has no access_token")
}

/// Places an order (the same idempotency key on every attempt, so a retried write
/// is never a second order), then reads it back from the edge with its token.
fn write_and_read_back(
    agent: &ureq::Agent,
    tally: &Mutex<Tally>,
    token: &str,
    edge: &str,
    key: &str,
) {
    let bearer = format!("Bearer {token}");
    let body = serde_json::json!({"items": [{"product_id": PRODUCT, "quantity": 1}]});
    let mut acked = None;
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            tally.lock().expect("tally").write_retries += 1;
            sleep(Duration::from_millis(500));
        }
        let (answer, response) = Answer::of(
            agent
                .post(&format!("{}/api/v1/orders", topology::gateway_url()))
                .set("authorization", &bearer)
                .set("idempotency-key", key)
                .set("x-payhuk-edge-region", edge)
                .send_json(body.clone()),
        );
        match (&answer, response) {
            (Answer::Status(200 | 201), Some(r)) => {
                let consistency = r.header("x-payhuk-consistency").map(str::to_owned);
                let id = r
                    .into_json::<Value>()
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned));
                acked = id.map(|id| (id, consistency));
                break;
            }
            (a, _) if a.is_server_failure() => continue,
            (a, r) => {
                let body = r.and_then(|r| r.into_string().ok()).unwrap_or_default();
                tally
                    .lock()
                    .expect("tally")
                    .write_refusals
                    .push(format!("{key}: {a:?} {body}"));
                return;
            }
        }
    }
    let mut t = tally.lock().expect("tally");
    t.writes += 1;
    let Some((id, consistency)) = acked else {
        t.writes_unanswered += 1;
        return;
    };
    t.acknowledged.push(id.clone());
    drop(t);

    let started = Instant::now();
    let mut request = agent
        .get(&format!("{}/api/v1/orders/{id}", topology::gateway_url()))
        .set("authorization", &bearer)
        .set("x-payhuk-edge-region", edge);
    if let Some(consistency) = &consistency {
        request = request.set("x-payhuk-consistency", consistency);
    }
    let (answer, detail) = Answer::described(request.call());
    let mut t = tally.lock().expect("tally");
    t.read("own order", &answer, &detail, started.elapsed());
    t.own_write_reads += 1;
    if answer == Answer::Status(404) || consistency.is_none() {
        t.own_write_missed.push(format!(
            "{} {id} from edge {edge}: {answer:?} {detail}, token sent: {}",
            clock(),
            consistency.is_some()
        ));
    }
}

/// One of the reads a storefront makes, from `edge`: PostgREST's API (uncached, to a
/// replica), the customer's orders, the public catalogue.
fn read(agent: &ureq::Agent, tally: &Mutex<Tally>, token: &str, edge: &str, n: u64) {
    let base = topology::gateway_url();
    let (what, request) = match n % 3 {
        0 => (
            "rest products",
            agent
                .get(&format!(
                    "{base}/rest/v1/products?select=id,name,price_minor&limit=5"
                ))
                .set("apikey", &topology::anon_key()),
        ),
        1 => (
            "my orders",
            agent
                .get(&format!("{base}/api/v1/orders?limit=5"))
                .set("authorization", &format!("Bearer {token}")),
        ),
        _ => (
            "catalogue",
            agent.get(&format!("{base}/api/v1/products?limit=5")),
        ),
    };
    let started = Instant::now();
    let (answer, detail) = Answer::described(request.set("x-payhuk-edge-region", edge).call());
    tally
        .lock()
        .expect("tally")
        .read(what, &answer, &detail, started.elapsed());
}

/// Cycles through the faults until `stop`, leaving every part running at the end.
fn inject_faults(stop: &AtomicBool, started: Instant) -> anyhow::Result<Vec<Fault>> {
    let stack = Stack::open()?;
    let mut injected = Vec::new();
    let hold = |d: Duration| {
        let until = Instant::now() + d;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            sleep(Duration::from_millis(100));
        }
    };
    type Step = fn(&Stack, &dyn Fn(Duration)) -> anyhow::Result<()>;
    let faults: [(&str, Step); 5] = [
        ("PostgREST sfo1 stopped for 3 s, restarted", |s, hold| {
            s.stop_postgrest("sfo1")?;
            hold(Duration::from_secs(3));
            s.start_postgrest("sfo1")
        }),
        ("replay paused on fra1 for 10 s", |s, hold| {
            s.sql("fra1", "select pg_wal_replay_pause()")?;
            hold(Duration::from_secs(10));
            s.sql("fra1", "select pg_wal_replay_resume()").map(drop)
        }),
        (
            "PostgreSQL sfo1 (standby) stopped for 3 s, restarted",
            |s, hold| {
                s.stop_postgres("sfo1")?;
                hold(Duration::from_secs(3));
                s.start_postgres("sfo1")
            },
        ),
        ("PostgREST fra1 stopped for 3 s, restarted", |s, hold| {
            s.stop_postgrest("fra1")?;
            hold(Duration::from_secs(3));
            s.start_postgrest("fra1")
        }),
        ("replay paused on sfo1 for 10 s", |s, hold| {
            s.sql("sfo1", "select pg_wal_replay_pause()")?;
            hold(Duration::from_secs(10));
            s.sql("sfo1", "select pg_wal_replay_resume()").map(drop)
        }),
    ];
    // Let the load settle first, then a fault every few seconds.
    hold(Duration::from_secs(5));
    for (what, step) in faults.iter().cycle() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let at = started.elapsed();
        ui::detail(&format!(
            "{:>5.0} s ({}): fault: {what}",
            at.as_secs_f64(),
            clock()
        ));
        step(&stack, &hold).with_context(|| format!("injecting `{what}`"))?;
        injected.push(Fault {
            what: (*what).to_owned(),
            at,
        });
        hold(Duration::from_secs(5));
    }
    Ok(injected)
}

/// How many of `ids` the node at `region` does not have. In chunks: a long soak
/// acknowledges more ids than one command line holds.
fn missing_orders(stack: &Stack, region: &str, ids: &[String]) -> anyhow::Result<usize> {
    let mut found = 0;
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(",");
        found += stack
            .sql(
                region,
                &format!("select count(*) from public.orders where id in ({list})"),
            )
            .map_err(|e| {
                anyhow::anyhow!(
                    "counting the acknowledged orders on {region}: {}",
                    first_line(&e)
                )
            })?
            .trim()
            .parse::<usize>()
            .context("counting the acknowledged orders")?;
    }
    Ok(ids.len().saturating_sub(found))
}

/// An error's first line, without the long SQL a failed command repeats.
fn first_line(err: &anyhow::Error) -> String {
    err.to_string().chars().take(300).collect()
}

fn report(tally: &Tally, faults: &[Fault], elapsed: Duration, missing: &[(&str, usize)]) -> Report {
    let ms = |p| percentile(&tally.read_ms, p).map_or("-".into(), |v| format!("{v:.1} ms"));
    let secs = elapsed.as_secs_f64();
    let requests = tally.reads + tally.writes;
    let primary = topology::primary().region;
    let mut figures = vec![
        Figure::reported("duration", format!("{secs:.0} s, {THREADS} threads")),
        Figure::reported(
            "requests",
            format!("{requests} ({:.0}/s)", requests as f64 / secs),
        ),
        Figure::reported(
            "faults injected",
            format!(
                "{}: {}",
                faults.len(),
                faults
                    .iter()
                    .map(|f| format!("{:.0} s {}", f.at.as_secs_f64(), f.what))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Figure::held(
            "reads answered 5xx or not at all",
            format!("{} of {}", tally.read_failures.len(), tally.reads),
            "0",
            tally.read_failures.is_empty() && tally.reads > 0,
        ),
        Figure::reported("reads answered 4xx", tally.read_4xx.to_string()),
        Figure::reported(
            "read latency p50 / p99",
            format!("{} / {}", ms(50.0), ms(99.0)),
        ),
        Figure::held(
            "writes acknowledged",
            format!(
                "{} of {} ({} retries with the same idempotency key)",
                tally.acknowledged.len(),
                tally.writes,
                tally.write_retries
            ),
            "every write, none refused",
            tally.writes > 0
                && tally.acknowledged.len() as u64 == tally.writes
                && tally.write_refusals.is_empty(),
        ),
    ];
    for (region, lost) in missing {
        let name = format!("acknowledged writes missing on {region}");
        let value = format!("{lost} of {}", tally.acknowledged.len());
        figures.push(if *region == primary {
            Figure::held(&name, value, "0", *lost == 0)
        } else {
            Figure::held(&name, value, "0 once caught up", *lost == 0)
        });
    }
    figures.push(Figure::held(
        "own write not seen by its token's read",
        format!(
            "{} of {}",
            tally.own_write_missed.len(),
            tally.own_write_reads
        ),
        "0",
        tally.own_write_missed.is_empty(),
    ));
    Report {
        drill: "soak".into(),
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_failures_are_5xx_and_no_answer() {
        assert!(Answer::Status(502).is_server_failure());
        assert!(Answer::None("connection refused".into()).is_server_failure());
        assert!(!Answer::Status(404).is_server_failure());
        assert!(!Answer::Status(200).is_server_failure());
    }

    #[test]
    fn the_report_fails_on_a_lost_write_or_a_failed_read() {
        let mut tally = Tally {
            reads: 10,
            read_ms: vec![1.0; 10],
            writes: 2,
            acknowledged: vec!["a".into(), "b".into()],
            own_write_reads: 2,
            ..Tally::default()
        };
        let fine = report(
            &tally,
            &[],
            Duration::from_secs(60),
            &[("iad1", 0), ("sfo1", 0)],
        );
        assert!(fine.passed(), "{fine:?}");
        let lost = report(
            &tally,
            &[],
            Duration::from_secs(60),
            &[("iad1", 1), ("sfo1", 0)],
        );
        assert!(!lost.passed());
        tally
            .read_failures
            .push("rest products: Status(503)".into());
        assert!(!report(&tally, &[], Duration::from_secs(60), &[("iad1", 0)]).passed());
    }

    #[test]
    fn an_unacknowledged_write_fails_the_soak() {
        let tally = Tally {
            reads: 1,
            writes: 2,
            writes_unanswered: 1,
            acknowledged: vec!["a".into()],
            ..Tally::default()
        };
        assert!(!report(&tally, &[], Duration::from_secs(1), &[("iad1", 0)]).passed());
    }
}
