//! `cargo xtask bench --scale`: the queries Payhuk runs, at 1, 10 and 50 million orders
//! (with their items, payments, transaction logs and analytics events), on the
//! monthly-partitioned tables beside an unpartitioned copy of the orders; the size of
//! each on disk; and a pgBackRest full backup and restore at each size, whose rate gives
//! the recovery time of a 100 GB database.
//!
//! It runs on a cluster of its own (port 5449, under the stack's folder), never the
//! three-region stack: a bulk load through the stack's WAL archive and two standbys would
//! write the data three more times. The cluster loads with archiving off and durability
//! relaxed, is restarted with the stack's settings before anything is measured, archives
//! only while a backup is taken, and is removed with its backups at the end.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use plotters::prelude::*;

use super::{DOC, Row, TIMING_SQL, markdown};
use crate::backup::{self, RestoreTarget, SCHEDULES};
use crate::paths::{Paths, StackPaths};
use crate::pg::Pg;
use crate::seed::{self, Extras};
use crate::stack::Stack;
use crate::topology::{DATABASE, Node, SCALE_BENCH_PG_PORT};
use crate::{cmd, migrate, record, ui};

const CHART: &str = "docs/bench-scale.svg";
const SCRIPT: &str = include_str!("../../sql/bench_scale.sql");
/// The sizes the issue names, in orders.
pub const SIZES: [u64; 3] = [1_000_000, 10_000_000, 50_000_000];
/// `--quick`: the same steps at sizes that take seconds.
const QUICK_SIZES: [u64; 2] = [20_000, 60_000];
const BATCH: u64 = 250_000;
/// Batches loaded side by side: one per core of the machines this runs on.
const LOADERS: usize = 2;
/// Disk per order at its peak (the database with everything an order brings, the
/// unpartitioned copy, the compressed backup), as this bench measured at 1 M orders
/// (2.63 GB of database and 0.88 GB of backup), with a margin.
const PEAK_BYTES_PER_ORDER: u64 = 3_800;
/// WAL the load may keep between checkpoints (max_wal_size below), and room to spare;
/// less for small sizes, which never write that much.
const HEADROOM_BYTES: u64 = 10 << 30;
/// The database the seed's recovery objective is stated for, and that objective.
const SEED_DATABASE_BYTES: f64 = 100e9;
const SEED_RTO: Duration = Duration::from_secs(15 * 60);
/// Time within which a query counts as flat from the first size to the last.
const FLAT_RATIO: f64 = 1.3;
const REPORT_TARGET_MS: f64 = 10.0;

const NODE: Node = Node {
    region: "scale",
    pg_port: SCALE_BENCH_PG_PORT,
    postgrest_port: 0,
    starts_as_primary: true,
};

/// While loading, the cluster is scratch that a failure throws away: no fsync, no full
/// page writes, no autovacuum running beside the load. `alter system reset all` (before
/// anything is measured) puts back the stack's settings.
const LOAD_SETTINGS: &str = "\
alter system set fsync = off;
alter system set full_page_writes = off;
alter system set synchronous_commit = off;
alter system set autovacuum = off;
alter system set max_wal_size = '8GB';
alter system set checkpoint_timeout = '30min';
alter system set maintenance_work_mem = '1GB';
";

/// Before loading: every month the generator writes into has its partitions (so that
/// loaders side by side never race to create one), and the unpartitioned copy: the
/// orders as they were before partitioning (migration 20261125090300), keyed by id, with
/// the customer and store indexes.
const PREPARE_SQL: &str = "\
select payhuk_meta.ensure_partitions_covering(now() - interval '366 days', now());
create schema if not exists bench;
create table bench.orders_flat (like public.orders including defaults including constraints);
insert into bench.orders_flat select * from public.orders;
alter table bench.orders_flat add primary key (id);
create index on bench.orders_flat (customer_id, created_at desc);
create index on bench.orders_flat (store_id, created_at desc);
";

/// The queries, as `bench_scale.sql` names them: (name, partitioned, unpartitioned).
const QUERIES: [(&str, &str, &str); 4] = [
    (
        "one month's sales report of a store",
        "report",
        "report_raw_flat",
    ),
    ("one order by id", "by_id_part", "by_id_flat"),
    (
        "a customer's latest orders (a page of 21)",
        "customer_page_part",
        "customer_page_flat",
    ),
    (
        "a store's latest orders (a page of 21)",
        "store_page_part",
        "store_page_flat",
    ),
];

/// What one size measured.
#[derive(Debug, Clone)]
pub struct Step {
    pub orders: u64,
    /// `name` -> value, as `bench_scale.sql` prints them.
    pub figures: Vec<(String, f64)>,
    pub load: Duration,
    pub backup: Duration,
    pub backup_bytes: u64,
    pub restore: Duration,
}

impl Step {
    fn get(&self, name: &str) -> f64 {
        self.figures
            .iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, v)| *v)
    }

    fn ms(&self, query: &str) -> f64 {
        self.get(&format!("{query}_ms"))
    }

    fn database_bytes(&self) -> f64 {
        self.get("database_bytes")
    }

    /// The recovery time of a database of `bytes` at this restore's rate.
    fn rto_for(&self, bytes: f64) -> Duration {
        Duration::from_secs_f64(self.restore.as_secs_f64() * bytes / self.database_bytes())
    }
}

/// Reads `name|value` lines.
pub fn parse_figures(out: &str) -> Vec<(String, f64)> {
    out.lines()
        .filter_map(|l| {
            let (name, value) = l.split_once('|')?;
            Some((name.trim().to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Runs the sizes the issue names, or `orders` when given (ascending).
pub fn run(paths: &Paths, quick: bool, orders: &[u64]) -> anyhow::Result<()> {
    let sizes: &[u64] = match (orders, quick) {
        ([], true) => &QUICK_SIZES,
        ([], false) => &SIZES,
        (given, _) => given,
    };
    if sizes.is_empty() || sizes.windows(2).any(|w| w[0] >= w[1]) || sizes[0] < 1000 {
        bail!("--orders must be ascending sizes of at least 1000 orders, e.g. 1000000,10000000");
    }
    let started = Instant::now();
    let mut stack = Stack::open()?;
    let dir = stack.scale_dir()?;
    let largest = *sizes.last().expect("sizes are named");
    check_free_disk(&dir, largest)?;
    let scratch = Scratch::create(paths, dir)?;
    let mut steps = Vec::new();
    for (i, &orders) in sizes.iter().enumerate() {
        // The logs go with the cluster: show their ends before it is removed.
        let step = scratch
            .step(orders, i + 1 == sizes.len())
            .map_err(|e| e.context(scratch.log_tails()))?;
        steps.push(step);
    }
    drop(scratch);

    ui::header(&format!("bench --scale results ({})", ui::elapsed(started)));
    let table = markdown(&rows(&steps));
    print!("{table}");
    if quick {
        ui::detail("--quick: a smoke run at small sizes; figures are not recorded");
        return Ok(());
    }
    let command = if sizes == SIZES {
        "cargo xtask bench --scale".to_owned()
    } else {
        let list: Vec<String> = sizes.iter().map(u64::to_string).collect();
        format!("cargo xtask bench --scale --orders {}", list.join(","))
    };
    record::between_markers(paths, DOC, "scale", &command, &table)?;
    chart(&paths.root.join(CHART), &steps)?;
    ui::detail(&format!("chart: {CHART}"));
    Ok(())
}

/// Refuses before anything is written when the disk cannot hold the largest size.
fn check_free_disk(dir: &Path, orders: u64) -> anyhow::Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    let stat = nix::sys::statvfs::statvfs(parent)
        .with_context(|| format!("reading the free space of {}", parent.display()))?;
    // A leftover of an interrupted run is removed before loading: its space counts.
    let free = stat.blocks_available() as u64 * stat.fragment_size() as u64 + du(dir);
    ui::detail(&format!(
        "disk: {} free on {}, about {} needed for {orders} orders",
        gb(free as f64),
        parent.display(),
        gb(disk_needed(orders) as f64),
    ));
    enough_disk(free, orders).with_context(|| format!("on {}", parent.display()))
}

/// Peak disk for `orders`: the database, the unpartitioned copy, a backup, and WAL.
fn disk_needed(orders: u64) -> u64 {
    let data = orders * PEAK_BYTES_PER_ORDER;
    data + HEADROOM_BYTES.min(data)
}

fn enough_disk(free: u64, orders: u64) -> anyhow::Result<()> {
    let need = disk_needed(orders);
    if free < need {
        bail!(
            "not enough free disk for {orders} orders: about {} is needed (the database with \
             everything its orders bring, an unpartitioned copy of the orders, a compressed \
             backup and WAL) and {} is free. Free some space, or run smaller sizes with \
             `cargo xtask bench --scale --orders 1000000,10000000`",
            gb(need as f64),
            gb(free as f64),
        );
    }
    Ok(())
}

/// The bench's own cluster and backups; removed when dropped, whatever happened.
struct Scratch {
    pg: Pg,
    dir: PathBuf,
}

impl Scratch {
    fn create(paths: &Paths, dir: PathBuf) -> anyhow::Result<Scratch> {
        let scratch = Scratch {
            pg: Pg::new(StackPaths { dir: dir.clone() })?,
            dir,
        };
        if scratch.dir.exists() {
            ui::detail("removing what an interrupted run left");
            scratch.remove()?;
        }
        ui::header(&format!(
            "bench --scale: a cluster of its own on 127.0.0.1:{SCALE_BENCH_PG_PORT}"
        ));
        fs::create_dir_all(&scratch.dir)?;
        scratch.pg.paths.create_dirs()?;
        if !scratch.pg.prepare_dirs()? {
            bail!(
                "the postgres user cannot write {}",
                scratch.pg.paths.pg().display()
            );
        }
        ui::step("initdb", || scratch.pg.initdb(&NODE))?;
        scratch.relax()?;
        ui::step("migrations and the dev seed", || {
            migrate::apply(
                &scratch.pg,
                &NODE,
                DATABASE,
                &paths.migrations(),
                None,
                true,
            )
        })?;
        scratch.pg.run_script(&NODE, DATABASE, PREPARE_SQL, &[])?;
        Ok(scratch)
    }

    fn log_tails(&self) -> String {
        let logs = [
            self.pg.paths.pg_log(NODE.region),
            backup::root(&self.pg.paths).join(format!("log/{}-backup.log", backup::STANZA)),
        ];
        logs.iter()
            .map(|log| format!("last lines of {}:\n{}", log.display(), cmd::tail(log, 15)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn data(&self) -> PathBuf {
        self.pg.data_dir(&NODE)
    }

    fn restart(&self) -> anyhow::Result<()> {
        self.pg.stop(&NODE)?;
        self.pg.start(&NODE)
    }

    /// Loading settings, archiving off.
    fn relax(&self) -> anyhow::Result<()> {
        self.pg
            .write_conf(&self.data(), NODE.pg_port, NODE.region, None)?;
        if self.pg.running_pid(&NODE).is_none() {
            self.pg.start(&NODE)?;
        }
        self.pg.run_script(&NODE, DATABASE, LOAD_SETTINGS, &[])?;
        self.restart()
    }

    /// The stack's settings, with archiving to the bench's own pgBackRest repository
    /// when `archive`.
    fn harden(&self, archive: bool) -> anyhow::Result<()> {
        let command = backup::archive_command(&self.pg.paths);
        self.pg.write_conf(
            &self.data(),
            NODE.pg_port,
            NODE.region,
            archive.then_some(command.as_str()),
        )?;
        self.pg.sql(&NODE, "alter system reset all")?;
        self.restart()
    }

    fn count(&self, table: &str) -> anyhow::Result<u64> {
        self.pg
            .sql(&NODE, &format!("select count(*) from {table}"))?
            .parse()
            .with_context(|| format!("counting {table}"))
    }

    fn step(&self, orders: u64, last: bool) -> anyhow::Result<Step> {
        ui::header(&format!("bench --scale: {orders} orders"));
        let have = self.count("public.orders")?;
        let started = Instant::now();
        if orders > have {
            seed::generate_orders(
                &self.pg,
                &NODE,
                orders - have,
                BATCH.min(orders - have),
                LOADERS,
                true,
                Extras {
                    activity: true,
                    flat_copy: true,
                },
            )?;
        }
        let load = started.elapsed();
        ui::step(
            "restart with the stack's settings, vacuum and analyze",
            || {
                self.harden(false)?;
                // As a table is some time after a load: hint bits set, pages all-visible.
                self.pg.sql(&NODE, "vacuum (analyze)")?;
                self.pg.sql(&NODE, "checkpoint")?;
                Ok(())
            },
        )?;
        let out = ui::step("queries, counts and sizes", || {
            self.pg
                .run_script(&NODE, DATABASE, &format!("{TIMING_SQL}\n{SCRIPT}"), &[])
        })?;
        let figures = parse_figures(&out);
        let (backup, backup_bytes, restore) = self.backup_and_restore()?;
        if !last {
            self.relax()?;
        }
        let step = Step {
            orders,
            figures,
            load,
            backup,
            backup_bytes,
            restore,
        };
        for (measure, part, flat) in QUERIES {
            ui::detail(&format!(
                "{measure}: partitioned {:.2} ms, unpartitioned {:.2} ms",
                step.ms(part),
                step.ms(flat)
            ));
        }
        Ok(step)
    }

    /// A full backup, then the cluster lost and restored from it in its place.
    fn backup_and_restore(&self) -> anyhow::Result<(Duration, u64, Duration)> {
        let orders = self.count("public.orders")?;
        self.harden(true)?;
        backup::ensure_stanza(&self.pg, &NODE)?;
        let taken = ui::step("pgBackRest full backup", || {
            backup::backup(&self.pg, SCHEDULES[0], "full")
        })?;
        let repository = backup::root(&self.pg.paths);
        let bytes = du(&repository);
        ui::detail(&format!("backup repository: {}", gb(bytes as f64)));
        self.pg.stop(&NODE)?;
        fs::remove_dir_all(self.data())?;
        let started = Instant::now();
        ui::step("pgBackRest restore into the lost cluster's place", || {
            backup::restore(
                &self.pg,
                SCHEDULES[0],
                &RestoreTarget::Latest,
                &self.data(),
                NODE.pg_port,
            )
        })?;
        let restored = started.elapsed();
        let back = self.count("public.orders")?;
        if back != orders {
            bail!("the restored cluster has {back} orders, the backed-up one had {orders}");
        }
        // The next size backs up again from nothing: keep one backup's room on disk.
        fs::remove_dir_all(&repository)
            .with_context(|| format!("removing {}", repository.display()))?;
        Ok((taken, bytes, restored))
    }

    fn remove(&self) -> anyhow::Result<()> {
        self.pg.stop(&NODE)?;
        fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self.remove() {
            Ok(()) => ui::detail(&format!(
                "removed the bench cluster and its backups ({})",
                self.dir.display()
            )),
            Err(e) => eprintln!("could not remove the bench cluster: {e:#}"),
        }
    }
}

/// Stops the bench's cluster if an interrupted run left it running (`cargo xtask down`).
pub fn stop_leftover(stack_dir: &Path) -> anyhow::Result<bool> {
    let pg = Pg::new(StackPaths {
        dir: stack_dir.join("scale"),
    })?;
    pg.stop(&NODE)
}

/// Bytes under `path` (0 when it does not exist).
fn du(path: &Path) -> u64 {
    cmd::output(std::process::Command::new("du").args(["-sb"]).arg(path))
        .ok()
        .and_then(|out| out.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn gb(bytes: f64) -> String {
    format!("{:.2} GB", bytes / 1e9)
}

fn millions(orders: u64) -> String {
    if orders >= 1_000_000 {
        format!("{} M", orders / 1_000_000)
    } else {
        format!("{} k", orders / 1_000)
    }
}

/// The report: each query's times by size, partitioned and not, judged flat; the
/// by-id partitions read; sizes; backup and restore.
pub fn rows(steps: &[Step]) -> Vec<Row> {
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Vec::new();
    };
    let by_size = |f: &dyn Fn(&Step) -> String| {
        steps
            .iter()
            .map(|s| format!("{}: {}", millions(s.orders), f(s)))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let span = format!("{} to {}", millions(first.orders), millions(last.orders));
    let mut rows = Vec::new();
    for (measure, part, flat) in QUERIES {
        let growth = |q: &str| last.ms(q) / first.ms(q);
        let mut row = Row::new(
            &format!("{measure}, median ms"),
            by_size(&|s| format!("{:.2}", s.ms(flat))),
            by_size(&|s| format!("{:.2}", s.ms(part))),
            format!(
                "partitioned {:.2}x, unpartitioned {:.2}x ({span})",
                growth(part),
                growth(flat)
            ),
        )
        .held(
            &format!("partitioned within {FLAT_RATIO}x from {span}"),
            growth(part) <= FLAT_RATIO,
        );
        if part == "report" {
            row.baseline = format!(
                "the raw aggregate, unpartitioned:<br>{}<br>partitioned:<br>{}",
                row.baseline,
                by_size(&|s| format!("{:.2}", s.ms("report_raw_part")))
            );
            rows.push(row);
            rows.push(
                Row::new(
                    &format!("{measure} at {}", millions(last.orders)),
                    String::new(),
                    format!("{:.2} ms", last.ms(part)),
                    String::new(),
                )
                .held(
                    &format!("under {REPORT_TARGET_MS} ms"),
                    last.ms(part) < REPORT_TARGET_MS,
                ),
            );
        } else {
            rows.push(row);
        }
    }
    let widest = steps
        .iter()
        .map(|s| s.get("by_id_partitions_read"))
        .fold(0.0, f64::max);
    rows.push(
        Row::new(
            "partitions an order's lookup by id reads (the most over 25 ids, from EXPLAIN)",
            String::new(),
            by_size(&|s| format!("{:.0}", s.get("by_id_partitions_read"))),
            String::new(),
        )
        .held("one at every size", widest == 1.0),
    );
    rows.push(Row::new(
        "rows",
        String::new(),
        by_size(&|s| {
            format!(
                "{:.0} orders ({:.0} in the month reported), {:.0} items, {:.0} payments, \
                 {:.0} transaction logs, {:.0} analytics events",
                s.get("orders_rows"),
                s.get("month_rows"),
                s.get("items_rows"),
                s.get("payments_rows"),
                s.get("transaction_logs_rows"),
                s.get("analytics_events_rows")
            )
        }),
        String::new(),
    ));
    rows.push(Row::new(
        "size on disk",
        by_size(&|s| format!("unpartitioned orders copy {}", gb(s.get("flat_bytes")))),
        by_size(&|s| {
            format!(
                "database {} (orders {})",
                gb(s.database_bytes()),
                gb(s.get("orders_bytes"))
            )
        }),
        String::new(),
    ));
    let mut tables: Vec<(&str, f64)> = last
        .figures
        .iter()
        .filter_map(|(n, v)| Some((n.strip_prefix("table_bytes:")?, *v)))
        .collect();
    tables.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows.push(Row::new(
        &format!(
            "where the {} database's size is (tables with their indexes)",
            millions(last.orders)
        ),
        String::new(),
        tables
            .iter()
            .map(|(t, b)| format!("{t}: {}", gb(*b)))
            .collect::<Vec<_>>()
            .join("<br>"),
        String::new(),
    ));
    rows.push(Row::new(
        "load (the generator, with progress)",
        String::new(),
        by_size(&|s| format!("{:.0} s for the orders added", s.load.as_secs_f64())),
        String::new(),
    ));
    rows.push(Row::new(
        "pgBackRest full backup (gzip level 1, 2 processes)",
        String::new(),
        by_size(&|s| {
            format!(
                "{:.0} s, {} in the repository",
                s.backup.as_secs_f64(),
                gb(s.backup_bytes as f64)
            )
        }),
        String::new(),
    ));
    let rto = last.rto_for(SEED_DATABASE_BYTES);
    rows.push(
        Row::new(
            "restore (pgBackRest restore, start, recovery to consistency)",
            String::new(),
            by_size(&|s| {
                format!(
                    "{:.0} s ({:.0} MB/s of database)",
                    s.restore.as_secs_f64(),
                    s.database_bytes() / s.restore.as_secs_f64() / 1e6
                )
            }),
            format!(
                "100 GB at the {} rate: {:.1} min",
                millions(last.orders),
                rto.as_secs_f64() / 60.0
            ),
        )
        .held("the seed's RTO: 15 min for 100 GB", rto <= SEED_RTO),
    );
    rows
}

/// Query time against the database's size, partitioned (solid) and unpartitioned
/// (dashed), on a log scale.
fn chart(path: &Path, steps: &[Step]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_x = steps
        .iter()
        .map(|s| s.database_bytes() / 1e9)
        .fold(1.0, f64::max)
        * 1.05;
    let times = steps.iter().flat_map(|s| {
        QUERIES
            .iter()
            .flat_map(move |(_, p, f)| [s.ms(p), s.ms(f), s.ms("report_raw_part")])
    });
    let (lo, hi) = times
        .filter(|t| t.is_finite() && *t > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Query time against database size (partitioned: solid, unpartitioned: dashed)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, (lo * 0.5..hi * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("database size (GB)")
        .y_desc("median ms")
        .draw()?;
    let colors = [&BLUE, &RED, &GREEN, &MAGENTA];
    for ((measure, part, flat), color) in QUERIES.iter().zip(colors) {
        let along = |q: &str| -> Vec<(f64, f64)> {
            steps
                .iter()
                .map(|s| (s.database_bytes() / 1e9, s.ms(q)))
                .collect()
        };
        let solid = along(part);
        chart
            .draw_series(LineSeries::new(solid.clone(), color.stroke_width(2)))?
            .label(*measure)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(solid.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        chart.draw_series(DashedLineSeries::new(along(flat), 6, 4, (*color).into()))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(orders: u64, report_ms: f64, restore_secs: u64) -> Step {
        let mut figures: Vec<(String, f64)> = QUERIES
            .iter()
            .flat_map(|(_, p, f)| [(format!("{p}_ms"), 1.0), (format!("{f}_ms"), 2.0)])
            .collect();
        figures.retain(|(n, _)| n != "report_ms");
        figures.push(("report_ms".into(), report_ms));
        figures.push(("report_raw_part_ms".into(), 3.0));
        figures.push(("by_id_partitions_read".into(), 1.0));
        figures.push(("database_bytes".into(), orders as f64 * 1000.0));
        Step {
            orders,
            figures,
            load: Duration::from_secs(1),
            backup: Duration::from_secs(1),
            backup_bytes: 1,
            restore: Duration::from_secs(restore_secs),
        }
    }

    #[test]
    fn figures_are_read_from_name_value_lines() {
        let parsed = parse_figures("NOTICE: x\nreport_ms|0.41\nby_id_partitions_read|1\nnope|x\n");
        assert_eq!(
            parsed,
            vec![
                ("report_ms".to_owned(), 0.41),
                ("by_id_partitions_read".to_owned(), 1.0)
            ]
        );
    }

    #[test]
    fn a_query_that_grows_past_the_ratio_is_not_flat() {
        let table = markdown(&rows(&[
            step(1_000_000, 1.0, 10),
            step(50_000_000, 1.5, 500),
        ]));
        let report = table
            .lines()
            .find(|l| l.starts_with("| one month's sales report of a store, median ms"))
            .unwrap();
        assert!(
            report.contains("partitioned 1.50x") && report.ends_with("NOT met |"),
            "{report}"
        );
        let by_id = table
            .lines()
            .find(|l| l.starts_with("| one order by id"))
            .unwrap();
        assert!(by_id.ends_with("| met |"), "{by_id}");
    }

    #[test]
    fn a_disk_too_small_for_the_largest_size_is_refused_with_what_is_needed() {
        // This machine's 80 GB free: 10 M orders fit, 50 M do not.
        let free = 80_000_000_000;
        assert!(enough_disk(free, 10_000_000).is_ok());
        let refused = enough_disk(free, 50_000_000).unwrap_err().to_string();
        assert!(
            refused.contains("about 200.74 GB is needed") && refused.contains("80.00 GB is free"),
            "{refused}"
        );
        // Small runs need no WAL headroom beyond their size.
        assert_eq!(disk_needed(20_000), 2 * 20_000 * PEAK_BYTES_PER_ORDER);
    }

    #[test]
    fn the_recovery_time_is_scaled_from_the_measured_rate() {
        // 50 GB restored in 500 s: 100 GB in 1000 s, 16.7 min, over the seed's 15.
        let last = step(50_000_000, 1.0, 500);
        assert_eq!(last.rto_for(100e9), Duration::from_secs(1000));
        let table = markdown(&rows(&[step(1_000_000, 1.0, 10), last]));
        assert!(
            table.contains("100 GB at the 50 M rate: 16.7 min"),
            "{table}"
        );
        assert!(table.contains("15 min for 100 GB | NOT met |"), "{table}");
    }
}
