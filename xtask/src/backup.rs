//! Backups with pgBackRest: WAL archiving from the primary, full/differential/
//! incremental backups, point-in-time restores into a new cluster.
//!
//! The seed's policy (7 daily, 4 weekly and 12 monthly restore points) maps onto three
//! pgBackRest repositories, each keeping its own number of full backups
//! (`repo<N>-retention-full`, counted): daily backups go to repo1 (keeps 7), weekly to
//! repo2 (keeps 4), monthly to repo3 (keeps 12). WAL is archived to all three, so each
//! backup can be rolled forward to any later point. [`retained_after`] says which
//! restore points that leaves after N days; its tests are the check.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cmd;
use crate::paths::StackPaths;
use crate::pg::Pg;
use crate::topology::{self, Node};

pub const STANZA: &str = "payhuk";
/// The primary switches WAL segments (and so archives them) at least this often: the
/// most a lost primary can take with it when only the backups survive.
pub const ARCHIVE_TIMEOUT_SECONDS: u32 = 60;
const PGBACKREST: &str = "/usr/bin/pgbackrest";

/// One cadence of the retention policy and the repository that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub name: &'static str,
    pub repo: u8,
    /// A backup every this many days.
    pub every_days: u32,
    /// Full backups this repository keeps.
    pub keep: u32,
}

pub const SCHEDULES: [Schedule; 3] = [
    Schedule {
        name: "daily",
        repo: 1,
        every_days: 1,
        keep: 7,
    },
    Schedule {
        name: "weekly",
        repo: 2,
        every_days: 7,
        keep: 4,
    },
    Schedule {
        name: "monthly",
        repo: 3,
        every_days: 30,
        keep: 12,
    },
];

pub fn schedule(name: &str) -> anyhow::Result<Schedule> {
    SCHEDULES
        .iter()
        .copied()
        .find(|s| s.name == name)
        .ok_or_else(|| anyhow::anyhow!("no schedule `{name}` (daily, weekly, monthly)"))
}

/// The restore points left after `days` days of backups on schedule (day 0 included):
/// for each schedule, the days of the full backups its repository still keeps.
pub fn retained_after(days: u32) -> Vec<(&'static str, Vec<u32>)> {
    SCHEDULES
        .iter()
        .map(|s| {
            let taken: Vec<u32> = (0..days).filter(|d| d % s.every_days == 0).collect();
            let kept = taken[taken.len().saturating_sub(s.keep as usize)..].to_vec();
            (s.name, kept)
        })
        .collect()
}

/// The repositories, logs and locks.
pub fn root(stack: &StackPaths) -> PathBuf {
    stack.pg().join("pgbackrest")
}

pub fn config_path(stack: &StackPaths) -> PathBuf {
    stack.conf().join("pgbackrest.conf")
}

/// What the primary runs to archive a WAL segment.
pub fn archive_command(stack: &StackPaths) -> String {
    format!(
        "{PGBACKREST} --config={} --stanza={STANZA} archive-push %p",
        config_path(stack).display()
    )
}

pub fn config_text(stack: &StackPaths, primary: &Node) -> String {
    let root = root(stack);
    let mut text = format!(
        "# Written by `cargo xtask up` for the local stack.\n\
         [global]\n\
         log-path={log}\n\
         lock-path={lock}\n\
         log-level-console=warn\n\
         log-level-file=info\n\
         start-fast=y\n\
         compress-type=gz\n\
         compress-level=1\n\
         process-max=2\n",
        log = root.join("log").display(),
        lock = root.join("lock").display(),
    );
    for s in &SCHEDULES {
        text.push_str(&format!(
            "# {name}: keeps {keep} full backups\n\
             repo{n}-path={path}\n\
             repo{n}-retention-full-type=count\n\
             repo{n}-retention-full={keep}\n",
            name = s.name,
            n = s.repo,
            path = root.join(s.name).display(),
            keep = s.keep,
        ));
    }
    text.push_str(&format!(
        "\n[{STANZA}]\n\
         pg1-path={data}\n\
         pg1-port={port}\n\
         pg1-socket-path={sockets}\n\
         pg1-user={user}\n",
        data = stack.pg_data(primary.region).display(),
        port = primary.pg_port,
        sockets = stack.pg_sockets().display(),
        user = topology::SUPERUSER,
    ));
    text
}

fn pgbackrest(pg: &Pg) -> Command {
    let mut command = pg.as_owner(Path::new(PGBACKREST));
    command
        .arg(format!("--config={}", config_path(&pg.paths).display()))
        .arg(format!("--stanza={STANZA}"));
    command
}

/// Writes the configuration and its folders; safe to repeat.
pub fn configure(pg: &Pg, primary: &Node) -> anyhow::Result<()> {
    if !Path::new(PGBACKREST).exists() {
        bail!("pgBackRest is not installed ({PGBACKREST}); run `cargo xtask setup`");
    }
    let root = root(&pg.paths);
    for dir in ["log", "lock"]
        .iter()
        .chain(SCHEDULES.iter().map(|s| &s.name))
        .map(|d| root.join(d))
        .chain([root.clone()])
    {
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        pg.give_to_owner(&dir)?;
    }
    let conf = config_path(&pg.paths);
    fs::write(&conf, config_text(&pg.paths, primary))
        .with_context(|| format!("writing {}", conf.display()))?;
    Ok(())
}

/// Creates the stanza on the running primary (a no-op when it exists).
pub fn ensure_stanza(pg: &Pg, primary: &Node) -> anyhow::Result<()> {
    configure(pg, primary)?;
    cmd::output(pgbackrest(pg).arg("stanza-create")).context("pgbackrest stanza-create")?;
    Ok(())
}

/// Takes a backup of the primary into `schedule`'s repository. `kind`: full, diff, incr.
pub fn backup(pg: &Pg, schedule: Schedule, kind: &str) -> anyhow::Result<Duration> {
    if !["full", "diff", "incr"].contains(&kind) {
        bail!("--type must be full, diff or incr");
    }
    let started = Instant::now();
    cmd::output(
        pgbackrest(pg)
            .arg(format!("--repo={}", schedule.repo))
            .arg(format!("--type={kind}"))
            .arg("backup"),
    )
    .with_context(|| {
        format!(
            "pgbackrest {kind} backup to repo{} ({})",
            schedule.repo, schedule.name
        )
    })?;
    Ok(started.elapsed())
}

/// `pgbackrest info` as JSON.
pub fn info(pg: &Pg) -> anyhow::Result<serde_json::Value> {
    let out =
        cmd::output(pgbackrest(pg).args(["--output=json", "info"])).context("pgbackrest info")?;
    serde_json::from_str(&out).context("pgbackrest info is not JSON")
}

/// Backup labels per repository, oldest first.
pub fn backups_by_repo(pg: &Pg) -> anyhow::Result<Vec<(u64, Vec<String>)>> {
    let info = info(pg)?;
    let mut by_repo: Vec<(u64, Vec<String>)> = Vec::new();
    for backup in info[0]["backup"].as_array().into_iter().flatten() {
        let repo = backup["database"]["repo-key"].as_u64().unwrap_or(0);
        let label = backup["label"].as_str().unwrap_or("").to_owned();
        match by_repo.iter_mut().find(|(r, _)| *r == repo) {
            Some((_, labels)) => labels.push(label),
            None => by_repo.push((repo, vec![label])),
        }
    }
    Ok(by_repo)
}

/// Waits until the primary's current WAL segment is archived (after a switch).
pub fn flush_archive(pg: &Pg, primary: &Node) -> anyhow::Result<()> {
    let segment = pg.sql(primary, "select pg_walfile_name(pg_current_wal_lsn())")?;
    pg.sql(primary, "select pg_switch_wal()")?;
    crate::process::wait_until(
        "WAL archiving",
        Duration::from_secs(60),
        || true,
        || {
            pg.sql(
                primary,
                "select coalesce(last_archived_wal, '') from pg_stat_archiver",
            )
            .is_ok_and(|archived| archived.as_str() >= segment.as_str())
        },
    )
}

/// Where a restore stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTarget {
    /// All the archived WAL there is.
    Latest,
    /// A time PostgreSQL understands, e.g. `2026-11-24 14:00:00+00`.
    Time(String),
}

/// Restores the newest backup of `schedule`'s repository into `target_dir` (which must
/// not exist), rolled forward to `target`, and starts it on `port` as a primary with
/// archiving off. Returns when it answers.
pub fn restore(
    pg: &Pg,
    schedule: Schedule,
    target: &RestoreTarget,
    target_dir: &Path,
    port: u16,
) -> anyhow::Result<()> {
    if target_dir.exists() {
        bail!("{} exists; restore into a new folder", target_dir.display());
    }
    fs::create_dir_all(target_dir)?;
    pg.give_to_owner(target_dir)?;
    let mut command = pgbackrest(pg);
    command
        .arg(format!("--repo={}", schedule.repo))
        .arg(format!("--pg1-path={}", target_dir.display()));
    if let RestoreTarget::Time(when) = target {
        command
            .arg("--type=time")
            .arg(format!("--target={when}"))
            .arg("--target-action=promote");
    }
    cmd::output(command.arg("restore")).context("pgbackrest restore")?;

    // The restored copy keeps the primary's settings but for where it listens and
    // archiving: it must not push WAL into the stanza it came from.
    pg.write_conf(target_dir, port, "restored", None)?;
    let label = format!("restored :{port}");
    let log = target_dir.with_extension("log");
    pg.start_cluster(target_dir, &log, &label)?;
    crate::process::wait_until(
        "the restored cluster to finish recovery",
        Duration::from_secs(300),
        || crate::pg::cluster_pid(target_dir).is_some(),
        || {
            pg.sql_at(port, "select pg_is_in_recovery()")
                .is_ok_and(|r| r == "f")
        },
    )
    .with_context(|| format!("last lines of {}:\n{}", log.display(), cmd::tail(&log, 15)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_year_and_more_the_policy_keeps_7_daily_4_weekly_12_monthly() {
        let kept = retained_after(400);
        assert_eq!(kept[0], ("daily", (393..400).collect::<Vec<_>>()));
        assert_eq!(kept[1], ("weekly", vec![378, 385, 392, 399]));
        assert_eq!(kept[2].0, "monthly");
        assert_eq!(kept[2].1, (2..14).map(|m| m * 30).collect::<Vec<_>>());
        // The oldest restore point is the oldest monthly: about a year back.
        assert_eq!(400 - kept[2].1[0], 340);
    }

    #[test]
    fn early_on_everything_taken_is_kept() {
        let kept = retained_after(10);
        assert_eq!(kept[0].1, (3..10).collect::<Vec<_>>());
        assert_eq!(kept[1].1, vec![0, 7]);
        assert_eq!(kept[2].1, vec![0]);
    }

    #[test]
    fn the_configuration_states_the_policy() {
        let stack = StackPaths {
            dir: PathBuf::from("/tmp/stack"),
        };
        let text = config_text(&stack, topology::primary());
        for line in [
            "repo1-retention-full=7",
            "repo2-retention-full=4",
            "repo3-retention-full=12",
            "repo1-path=/tmp/stack/pg/pgbackrest/daily",
            "pg1-port=5433",
            "[payhuk]",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(archive_command(&stack).ends_with("--stanza=payhuk archive-push %p"));
    }
}
