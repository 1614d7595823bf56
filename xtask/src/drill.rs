//! `cargo xtask drill <restore|failover|region-loss|deployment-loss|all> [--record]`:
//! the disaster recovery plan as commands. Each starts from a fresh stack, injects a real fault,
//! measures, prints its figures against the targets, leaves a fresh stack behind, and
//! fails when a target is missed. `--record` writes the figures into
//! docs/DISASTER_RECOVERY.md.

use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::backup::{self, RestoreTarget};
use crate::load::{Load, Sample, agent};
use crate::paths::Paths;
use crate::stack::Stack;
use crate::topology::{self, Node, Replication};
use crate::{build, gateway, ui};

/// One measured figure and the target it is held to (`None`: reported only).
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub value: String,
    pub target: Option<String>,
    pub met: bool,
}

impl Figure {
    pub fn held(name: &str, value: String, target: &str, met: bool) -> Figure {
        Figure {
            name: name.into(),
            value,
            target: Some(target.into()),
            met,
        }
    }

    pub fn reported(name: &str, value: String) -> Figure {
        Figure {
            name: name.into(),
            value,
            target: None,
            met: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub drill: String,
    pub figures: Vec<Figure>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.figures.iter().all(|f| f.met)
    }

    pub fn print(&self) {
        ui::header(&format!(
            "drill {}: {}",
            self.drill,
            if self.passed() { "PASS" } else { "FAIL" }
        ));
        for f in &self.figures {
            let verdict = match (&f.target, f.met) {
                (None, _) => String::new(),
                (Some(t), true) => format!("  (target {t}: met)"),
                (Some(t), false) => format!("  (target {t}: MISSED)"),
            };
            ui::detail(&format!("{:<34} {}{verdict}", f.name, f.value));
        }
    }

    /// The figures as a Markdown table, for the runbook.
    pub fn markdown(&self) -> String {
        let mut text = "| measured | value | target |\n|---|---|---|\n".to_owned();
        for f in &self.figures {
            let target = match (&f.target, f.met) {
                (None, _) => "-".to_owned(),
                (Some(t), true) => format!("{t}: met"),
                (Some(t), false) => format!("{t}: **missed**"),
            };
            text.push_str(&format!("| {} | {} | {target} |\n", f.name, f.value));
        }
        text
    }
}

/// The `p` percentile (0 to 100) of `values`, nearest rank.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A write through the gateway from `edge`: an analytics event carrying its sequence
/// number, acknowledged when the gateway answers 201.
fn write_through_gateway(
    agent: &ureq::Agent,
    edge: &str,
    run: &str,
    seq: u64,
) -> (bool, Option<u64>) {
    let key = topology::service_role_key();
    let result = agent
        .post(&format!(
            "{}/rest/v1/analytics_events",
            topology::gateway_url()
        ))
        .set("x-payhuk-edge-region", edge)
        .set("apikey", &key)
        .set("content-type", "application/json")
        .send_string(&format!(
            r#"{{"name": "drill_write", "session_id": "{run}", "props": {{"seq": {seq}}}}}"#
        ));
    match result {
        Ok(r) if r.status() == 201 => (true, Some(seq)),
        _ => (false, None),
    }
}

fn read_through_gateway(agent: &ureq::Agent, edge: &str) -> (bool, Option<u64>) {
    let key = topology::anon_key();
    let result = agent
        .get(&format!(
            "{}/rest/v1/products?select=id,name&limit=5",
            topology::gateway_url()
        ))
        .set("x-payhuk-edge-region", edge)
        .set("apikey", &key)
        .call();
    (matches!(result, Ok(r) if r.status() == 200), None)
}

/// The writes `samples` acknowledged, and how many of them `node` does not have.
fn acknowledged_and_lost(
    stack: &Stack,
    node: &Node,
    run: &str,
    samples: &[Sample],
) -> anyhow::Result<(Vec<u64>, usize)> {
    let present: std::collections::HashSet<u64> = stack
        .sql(
            node.region,
            &format!(
                "select coalesce(string_agg(props ->> 'seq', ','), '') \
                 from public.analytics_events where session_id = '{run}'"
            ),
        )?
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let acked: Vec<u64> = samples.iter().filter_map(|s| s.acked_seq).collect();
    let lost = acked.iter().filter(|seq| !present.contains(seq)).count();
    Ok((acked, lost))
}

/// Time from `fault` until requests succeed again: zero if none failed after it,
/// `None` if they never succeeded again.
fn recovery_time(samples: &[Sample], fault: Instant) -> Option<Duration> {
    let after: Vec<&Sample> = samples.iter().filter(|s| s.started >= fault).collect();
    let last_failure = after.iter().rposition(|s| !s.ok);
    match last_failure {
        None => Some(Duration::ZERO),
        Some(i) => after[i + 1..]
            .first()
            .map(|s| (s.started + s.took).saturating_duration_since(fault)),
    }
}

fn fresh_stack() -> anyhow::Result<Stack> {
    let stack = Stack::open()?;
    stack.down(true)?;
    let mut stack = Stack::open()?;
    stack.up()?;
    Ok(stack)
}

fn rebuild() -> anyhow::Result<()> {
    ui::header("rebuilding a fresh stack after the drill");
    Stack::open()?.down(true)?;
    Stack::open()?.up().map(|_| ())
}

/// Which drills `name` means.
pub fn drills(name: &str) -> anyhow::Result<Vec<&'static str>> {
    Ok(match name {
        "restore" => vec!["restore"],
        "failover" => vec!["failover"],
        "region-loss" => vec!["region-loss"],
        "deployment-loss" => vec!["deployment-loss"],
        "key-rotation" => vec!["key-rotation"],
        "all" => vec!["restore", "failover", "region-loss", "deployment-loss"],
        other => bail!(
            "no drill `{other}` (restore, failover, region-loss, deployment-loss, all; key-rotation)"
        ),
    })
}

/// Runs the drills named, prints (and with `record`, writes) their figures; fails
/// when any target is missed.
pub fn run(paths: &Paths, name: &str, record: bool) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for drill in drills(name)? {
        let outcome = match drill {
            "restore" => restore_drill(),
            "failover" => failover_drill(paths, true).and_then(|mut sync| {
                sync.extend(failover_drill(paths, false)?);
                Ok(sync)
            }),
            "region-loss" => region_loss_drill(),
            "key-rotation" => crate::key_rotation::drill(paths),
            _ => deployment_loss_drill(paths),
        };
        // A drill changes the topology: whatever happened, leave a fresh stack (unless
        // asked to keep the wreck for a look). Key rotation puts its keys back itself.
        let rebuilt = if drill == "key-rotation" || std::env::var_os("PAYHUK_DRILL_KEEP").is_some()
        {
            Ok(())
        } else {
            rebuild()
        };
        reports.extend(outcome?);
        rebuilt?;
    }
    for report in &reports {
        report.print();
    }
    if record {
        record_reports(paths, &reports)?;
    }
    let missed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.drill.as_str())
        .collect();
    if !missed.is_empty() {
        bail!("drill targets missed: {}", missed.join(", "));
    }
    Ok(())
}

fn checksum_sql(table: &str, key: &str) -> String {
    format!(
        "select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by {key})), '-') from public.{table} t"
    )
}

const CRITICAL_TABLES: [(&str, &str); 4] = [
    ("orders", "id, created_at"),
    ("order_items", "id"),
    ("payments", "id"),
    ("transaction_logs", "id, created_at"),
];

/// Database loss: known data, a backup, more writes, the primary's data gone, a
/// restore to the latest point in its place.
fn restore_drill() -> anyhow::Result<Vec<Report>> {
    let stack = fresh_stack()?;
    let primary = topology::primary();
    ui::header("drill restore: write, back up, write more, lose the primary, restore");
    stack.sql(primary.region, "create table public.drill_ledger (seq integer primary key, at timestamptz not null default clock_timestamp())")?;
    stack.sql(
        primary.region,
        "insert into public.drill_ledger (seq) select generate_series(1, 200)",
    )?;
    let before: Vec<String> = CRITICAL_TABLES
        .iter()
        .map(|(t, k)| stack.sql(primary.region, &checksum_sql(t, k)))
        .collect::<anyhow::Result<_>>()?;
    let schedule = backup::schedule("daily")?;
    backup::backup(&stack.pg, schedule, "full")?;

    // Writes after the backup, each acknowledged (committed) before the next.
    let mut acked: Vec<(i64, String)> = Vec::new();
    for seq in 201..=300 {
        let at = stack.sql(
            primary.region,
            &format!("insert into public.drill_ledger (seq) values ({seq}) returning to_char(at, 'YYYY-MM-DD HH24:MI:SS.US')"),
        )?;
        acked.push((seq, at));
        sleep(Duration::from_millis(20));
    }

    // The loss: the primary crashes and its data is gone.
    let lost_at = Instant::now();
    stack.pg.crash(primary)?;
    let data = stack.pg.data_dir(primary);
    let lost = data.with_file_name("lost-primary");
    fs::rename(&data, &lost).with_context(|| format!("moving {} away", data.display()))?;

    backup::restore(
        &stack.pg,
        schedule,
        &RestoreTarget::Latest,
        &data,
        primary.pg_port,
    )?;
    let rto = lost_at.elapsed();

    let present: Vec<i64> = stack
        .sql(
            primary.region,
            "select coalesce(string_agg(seq::text, ',' order by seq), '') from public.drill_ledger",
        )?
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let missing: Vec<&(i64, String)> = acked
        .iter()
        .filter(|(seq, _)| !present.contains(seq))
        .collect();
    let window = match (missing.first(), acked.last()) {
        (Some(first_missing), Some(last)) => stack
            .sql(
                primary.region,
                &format!(
                    "select extract(epoch from '{}'::timestamptz - '{}'::timestamptz)",
                    last.1, first_missing.1
                ),
            )?
            .parse::<f64>()
            .unwrap_or(0.0),
        _ => 0.0,
    };
    let after: Vec<String> = CRITICAL_TABLES
        .iter()
        .map(|(t, k)| stack.sql(primary.region, &checksum_sql(t, k)))
        .collect::<anyhow::Result<_>>()?;
    let base_rows = present.iter().filter(|s| **s <= 200).count();
    let _ = fs::remove_dir_all(&lost);

    Ok(vec![Report {
        drill: "restore (database loss)".into(),
        figures: vec![
            Figure::held(
                "RTO (loss to restored database answering)",
                secs(rto),
                "15 min (seed); 1 h max",
                rto < Duration::from_secs(15 * 60),
            ),
            Figure::reported(
                "RPO: acknowledged writes missing",
                format!(
                    "{} of {} written after the backup",
                    missing.len(),
                    acked.len()
                ),
            ),
            Figure::held(
                "RPO: time window lost",
                format!("{window:.2} s"),
                "1 h (seed); 24 h max",
                window <= 3600.0,
            ),
            Figure::reported(
                "RPO bound: a WAL segment archived at least every",
                format!("{} s (archive_timeout)", backup::ARCHIVE_TIMEOUT_SECONDS),
            ),
            Figure::held(
                "rows from before the backup",
                format!("{base_rows} of 200"),
                "all",
                base_rows == 200,
            ),
            Figure::held(
                "critical tables (orders, order_items, payments, transaction_logs)",
                if before == after {
                    "row counts and checksums equal".into()
                } else {
                    format!("differ: {before:?} vs {after:?}")
                },
                "equal",
                before == after,
            ),
        ],
    }])
}

/// Which standby has received the most WAL.
fn most_advanced_standby(stack: &Stack) -> anyhow::Result<&'static Node> {
    let mut best: Option<(&'static Node, u64)> = None;
    for node in topology::NODES.iter().filter(|n| !n.starts_as_primary) {
        let lsn = stack.sql(
            node.region,
            "select pg_wal_lsn_diff(coalesce(pg_last_wal_receive_lsn(), '0/0'), '0/0')::bigint",
        )?;
        let lsn: u64 = lsn.parse().unwrap_or(0);
        if best.is_none_or(|(_, b)| lsn > b) {
            best = Some((node, lsn));
        }
    }
    best.map(|(n, _)| n).context("no standby")
}

/// Primary loss under write load through the gateway: crash it, promote the most
/// advanced standby, re-point the other; the gateway finds the new primary itself.
fn failover_drill(paths: &Paths, synchronous: bool) -> anyhow::Result<Vec<Report>> {
    let stack = fresh_stack()?;
    let primary = topology::primary();
    let mode = if synchronous {
        "synchronous"
    } else {
        "asynchronous"
    };
    ui::header(&format!(
        "drill failover ({mode} replication): crash the primary under load"
    ));
    stack.set_replication(if synchronous {
        Replication::Synchronous
    } else {
        Replication::Asynchronous
    })?;

    let run = format!("drill-{}", std::process::id());
    let writes = {
        let (agent, run) = (agent(), run.clone());
        Load::start(2, move |seq| {
            write_through_gateway(&agent, "fra1", &run, seq)
        })
    };
    let reads = {
        let agent = agent();
        Load::start(1, move |_| read_through_gateway(&agent, "sfo1"))
    };
    sleep(Duration::from_secs(2));

    let crashed_at = Instant::now();
    stack.pg.crash(primary)?;
    let promoted = most_advanced_standby(&stack)?;
    stack.sql(promoted.region, "select pg_promote(true, 60)")?;
    for other in topology::NODES
        .iter()
        .filter(|n| !n.starts_as_primary && n.region != promoted.region)
    {
        stack.repoint_standby(other.region, promoted.region)?;
    }
    let promoted_after = crashed_at.elapsed();

    // Let the load run until writes flow again (or give up after a minute), then a bit more.
    let deadline = crashed_at + Duration::from_secs(60);
    while Instant::now() < deadline {
        sleep(Duration::from_millis(200));
        let flowing = stack
            .sql(promoted.region, &format!("select count(*) from public.analytics_events where session_id = '{run}' and created_at > now() - interval '1 second'"))
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
        if flowing {
            break;
        }
    }
    sleep(Duration::from_secs(2));
    // While the gateway that saw the failover still runs: its status page.
    let marked = promotion_on_status_timeline(paths, promoted.region);
    let write_samples = writes.finish();
    let read_samples = reads.finish();

    let (acked, lost) = acknowledged_and_lost(&stack, promoted, &run, &write_samples)?;
    let write_rto = recovery_time(&write_samples, crashed_at);
    let read_rto = recovery_time(&read_samples, crashed_at);
    let read_errors = read_samples
        .iter()
        .filter(|s| s.started >= crashed_at && !s.ok)
        .count();

    let mut figures = vec![
        Figure::reported(
            "promoted",
            format!(
                "{} ({} after the crash)",
                promoted.region,
                secs(promoted_after)
            ),
        ),
        Figure::held(
            "RTO for writes (crash to writes succeeding)",
            write_rto.map_or("never within 60 s".into(), secs),
            "under 60 s",
            write_rto.is_some_and(|d| d < Duration::from_secs(60)),
        ),
        Figure::reported("RTO for reads", read_rto.map_or("never".into(), secs)),
        Figure::reported("read errors after the crash", read_errors.to_string()),
        Figure::reported("writes acknowledged", acked.len().to_string()),
        Figure::held(
            "the promotion on /status's timeline (Chromium)",
            match &marked {
                Ok(()) => "marked".into(),
                Err(why) => format!("not marked: {why:#}"),
            },
            "marked",
            marked.is_ok(),
        ),
    ];
    figures.push(if synchronous {
        Figure::held("acknowledged writes lost", lost.to_string(), "0", lost == 0)
    } else {
        Figure::reported("acknowledged writes lost", lost.to_string())
    });
    Ok(vec![Report {
        drill: format!("failover ({mode} replication)"),
        figures,
    }])
}

/// The status page's failover test in Chromium (tests/e2e/status-history.test.mjs): the
/// gateway's timeline marks `promoted` becoming primary; the screenshot goes to
/// `target/e2e-artifacts/`.
fn promotion_on_status_timeline(paths: &Paths, promoted: &str) -> anyhow::Result<()> {
    let artifacts = paths.root.join("target/e2e-artifacts");
    fs::create_dir_all(&artifacts)?;
    let out = std::process::Command::new("node")
        .args([
            "--test",
            "--test-name-pattern",
            "role change",
            "tests/e2e/status-history.test.mjs",
        ])
        .current_dir(&paths.root)
        .env("GATEWAY_URL", topology::browser_gateway_url())
        .env("STATUS_TOKEN", topology::STATUS_TOKEN)
        .env("EXPECT_ROLE_CHANGE", promoted)
        .env("ARTIFACTS_DIR", &artifacts)
        .output()
        .context("running node")?;
    let report = String::from_utf8_lossy(&out.stdout);
    // The file's other test is filtered out by the name pattern (reported skipped).
    if out.status.success() && report.contains("# pass 1") && report.contains("# fail 0") {
        ui::detail(&format!(
            "{promoted} -> primary is on the status page's timeline (screenshot in {})",
            artifacts.display()
        ));
        Ok(())
    } else {
        bail!("{report}\n{}", String::from_utf8_lossy(&out.stderr).trim())
    }
}

/// A whole replica region disappears under read load from its own edge.
fn region_loss_drill() -> anyhow::Result<Vec<Report>> {
    let stack = fresh_stack()?;
    let region = topology::node("fra1")?;
    ui::header("drill region-loss: fra1 (PostgreSQL and PostgREST) disappears under read load");
    let reads = {
        let agent = agent();
        Load::start(2, move |_| read_through_gateway(&agent, "fra1"))
    };
    sleep(Duration::from_secs(3));
    let lost_at = Instant::now();
    stack.pg.crash(region)?;
    stack.stop_postgrest(region.region)?;
    sleep(Duration::from_secs(4));
    let samples = reads.finish();

    let latency = |before: bool| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| (s.started < lost_at) == before && s.ok)
            .map(|s| s.took.as_secs_f64() * 1000.0)
            .collect()
    };
    let (before, after) = (latency(true), latency(false));
    let errors = samples
        .iter()
        .filter(|s| s.started >= lost_at && !s.ok)
        .count();
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1} ms"));
    Ok(vec![Report {
        drill: "region loss (fra1)".into(),
        figures: vec![
            Figure::held(
                "read errors after the loss",
                errors.to_string(),
                "0",
                errors == 0,
            ),
            Figure::reported(
                "reads after the loss",
                samples
                    .iter()
                    .filter(|s| s.started >= lost_at)
                    .count()
                    .to_string(),
            ),
            Figure::reported(
                "p50 latency before / after",
                format!(
                    "{} / {}",
                    ms(percentile(&before, 50.0)),
                    ms(percentile(&after, 50.0))
                ),
            ),
            Figure::reported(
                "p99 latency before / after",
                format!(
                    "{} / {}",
                    ms(percentile(&before, 99.0)),
                    ms(percentile(&after, 99.0))
                ),
            ),
        ],
    }])
}

/// The deployment disappears (workerd gone, the built bundle deleted) under write load;
/// it is rebuilt from the checkout and served again.
fn deployment_loss_drill(paths: &Paths) -> anyhow::Result<Vec<Report>> {
    let stack = fresh_stack()?;
    ui::header("drill deployment-loss: the gateway and its bundle disappear, then redeploy");
    let run = format!("drill-deploy-{}", std::process::id());
    let writes = {
        let (agent, run) = (agent(), run.clone());
        Load::start(2, move |seq| {
            write_through_gateway(&agent, "iad1", &run, seq)
        })
    };
    sleep(Duration::from_secs(2));

    let lost_at = Instant::now();
    gateway::service(&stack.dirs).stop(Duration::ZERO)?;
    let bundle = paths.root.join("build");
    let lost = paths.root.join("build.lost");
    let _ = fs::remove_dir_all(&lost);
    fs::rename(&bundle, &lost).with_context(|| format!("moving {} away", bundle.display()))?;

    let redeployed = build::run(paths).and_then(|()| gateway::start(paths, &stack.dirs));
    if redeployed.is_err() && !bundle.join("index.js").exists() {
        // Leave a servable bundle behind for the rebuilt stack.
        let _ = fs::remove_dir_all(&bundle);
        let _ = fs::rename(&lost, &bundle);
    }
    redeployed?;
    let serving_after = lost_at.elapsed();
    let _ = fs::remove_dir_all(&lost);
    sleep(Duration::from_secs(2));
    let samples = writes.finish();

    let (acked, lost_writes) = acknowledged_and_lost(&stack, topology::primary(), &run, &samples)?;
    let rto = recovery_time(&samples, lost_at);
    let refused = samples
        .iter()
        .filter(|s| s.started >= lost_at && !s.ok)
        .count();
    Ok(vec![Report {
        drill: "deployment loss (gateway and bundle)".into(),
        figures: vec![
            Figure::held(
                "RTO (loss to writes succeeding again)",
                rto.map_or("never".into(), secs),
                "15 min (seed); 1 h max",
                rto.is_some_and(|d| d < Duration::from_secs(15 * 60)),
            ),
            Figure::reported(
                "rebuilt from the checkout (warm cargo cache) and serving after",
                secs(serving_after),
            ),
            Figure::reported("writes refused during the outage", refused.to_string()),
            Figure::reported("writes acknowledged", acked.len().to_string()),
            Figure::held(
                "acknowledged writes lost",
                lost_writes.to_string(),
                "0",
                lost_writes == 0,
            ),
        ],
    }])
}

const DOC: &str = "docs/DISASTER_RECOVERY.md";

fn record_reports(paths: &Paths, reports: &[Report]) -> anyhow::Result<()> {
    let figures: String = reports
        .iter()
        .map(|r| format!("### {}\n\n{}\n", r.drill, r.markdown()))
        .collect();
    crate::record::between_markers(
        paths,
        DOC,
        "drills",
        "cargo xtask drill all --record",
        &figures,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    fn sample(at: Instant, ms: u64, ok: bool) -> Sample {
        Sample {
            started: at + Duration::from_millis(ms),
            took: Duration::from_millis(10),
            ok,
            acked_seq: None,
        }
    }

    #[test]
    fn recovery_is_measured_from_the_fault_to_the_first_success_after_the_last_failure() {
        let t = Instant::now();
        let all_ok = [sample(t, 10, true), sample(t, 20, true)];
        assert_eq!(recovery_time(&all_ok, t), Some(Duration::ZERO));
        let outage = [
            sample(t, 0, true),
            sample(t, 100, false),
            sample(t, 500, false),
            sample(t, 900, true),
        ];
        assert_eq!(recovery_time(&outage, t), Some(Duration::from_millis(910)));
        let never = [sample(t, 100, false)];
        assert_eq!(recovery_time(&never, t), None);
    }

    #[test]
    fn reports_fail_on_any_missed_target() {
        let report = Report {
            drill: "x".into(),
            figures: vec![
                Figure::reported("a", "1".into()),
                Figure::held("b", "2".into(), "0", false),
            ],
        };
        assert!(!report.passed());
        assert!(report.markdown().contains("| b | 2 | 0: **missed** |"));
    }
}
