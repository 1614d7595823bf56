//! The three PostgreSQL 15 clusters: creation, configuration, start and stop,
//! streaming replication, and running SQL on them.
//!
//! `initdb` refuses to run as root, so when xtask runs as root the servers run as the
//! `postgres` user, in a folder that user owns.

use std::fs;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid, User};

use crate::clock::DbClock;
use crate::cmd;
use crate::paths::StackPaths;
use crate::process;
use crate::topology::{self, DATABASE, Node, REPLICATOR_PASSWORD, SUPERUSER};

const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The postmaster's pid of the cluster in `data_dir`, when it runs.
pub fn cluster_pid(data_dir: &Path) -> Option<i32> {
    let pid = process::read_pid(&data_dir.join("postmaster.pid"))?;
    process::is_alive(pid).then_some(pid)
}
const LOCAL_PLATFORM_SQL: &str = include_str!("../sql/local_platform.sql");

#[derive(Debug, Clone)]
pub struct Pg {
    pub paths: StackPaths,
    pub bin: PathBuf,
    /// The account the servers run as when xtask runs as root.
    pub run_as: Option<(Uid, Gid)>,
}

impl Pg {
    pub fn new(paths: StackPaths) -> anyhow::Result<Pg> {
        let bin = std::env::var_os("PAYHUK_PG_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN));
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres")?.context(
                "running as root, the clusters must run as the `postgres` user, which does not \
                 exist; install PostgreSQL 15 (`cargo xtask setup`) or run as a normal user",
            )?;
            Some((user.uid, user.gid))
        } else {
            None
        };
        Ok(Pg { paths, bin, run_as })
    }

    pub fn check_installed(&self) -> anyhow::Result<()> {
        let postgres = self.bin.join("postgres");
        if !cmd::prints(&postgres, &["--version"], "(PostgreSQL) 15.") {
            bail!(
                "PostgreSQL 15 server binaries are not at {} (set PAYHUK_PG_BIN to their folder, \
                 or run `cargo xtask setup` as root to install postgresql-15)",
                self.bin.display()
            );
        }
        Ok(())
    }

    /// A command for a PostgreSQL program, run as the cluster owner.
    fn server_command(&self, program: &str) -> Command {
        self.as_owner(&self.bin.join(program))
    }

    /// A command for any program (pgBackRest, say) run as the cluster owner.
    pub fn as_owner(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.paths.pg())
            .env("HOME", self.paths.pg());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid.as_raw()).gid(gid.as_raw());
        }
        command
    }

    /// Creates the cluster folder owned by the cluster owner. Returns false when that
    /// owner cannot reach it (a parent folder it cannot search).
    pub fn prepare_dirs(&self) -> anyhow::Result<bool> {
        let sockets = self.paths.pg_sockets();
        fs::create_dir_all(&sockets).with_context(|| format!("creating {}", sockets.display()))?;
        if let Some((uid, gid)) = self.run_as {
            for dir in [self.paths.pg(), sockets] {
                chown(&dir, Some(uid.as_raw()), Some(gid.as_raw()))
                    .with_context(|| format!("giving {} to postgres", dir.display()))?;
            }
            let reachable = Command::new("test")
                .arg("-w")
                .arg(self.paths.pg())
                .uid(uid.as_raw())
                .gid(gid.as_raw())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            return Ok(reachable);
        }
        Ok(true)
    }

    pub fn data_dir(&self, node: &Node) -> PathBuf {
        self.paths.pg_data(node.region)
    }

    pub fn exists(&self, node: &Node) -> bool {
        self.data_dir(node).join("PG_VERSION").exists()
    }

    pub fn initdb(&self, node: &Node) -> anyhow::Result<()> {
        let out = cmd::capture(
            self.server_command("initdb")
                .arg("-D")
                .arg(self.data_dir(node))
                .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"]),
        )?;
        if !out.status.success() {
            bail!(
                "initdb for {} failed:\n{}",
                node.region,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let conf = self.data_dir(node).join("postgresql.conf");
        let mut text = fs::read_to_string(&conf)?;
        text.push_str("\n# Settings of the local payhuk-edge stack, per node.\ninclude_if_exists = 'payhuk.conf'\n");
        fs::write(&conf, text)?;
        self.write_node_conf(node)
    }

    /// `payhuk.conf`: what differs per node. Standbys get a copy of the primary's with
    /// `pg_basebackup`, so it is rewritten for each. Every node archives its WAL with
    /// pgBackRest once it is primary (standbys archive nothing while in recovery).
    pub fn write_node_conf(&self, node: &Node) -> anyhow::Result<()> {
        self.write_conf(
            &self.data_dir(node),
            node.pg_port,
            node.region,
            Some(&crate::backup::archive_command(&self.paths)),
        )
    }

    /// Writes `payhuk.conf` into a cluster's data folder.
    pub fn write_conf(
        &self,
        data_dir: &Path,
        port: u16,
        name: &str,
        archive_command: Option<&str>,
    ) -> anyhow::Result<()> {
        let archiving = match archive_command {
            // archive_timeout bounds how much acknowledged WAL a lost primary takes with it.
            Some(command) => format!(
                "archive_mode = on\narchive_command = '{}'\narchive_timeout = {}\n",
                command.replace('\'', "''"),
                crate::backup::ARCHIVE_TIMEOUT_SECONDS
            ),
            None => "archive_mode = off\n".to_owned(),
        };
        let text = format!(
            "listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{sockets}'\n\
             cluster_name = '{name}'\n\
             wal_level = replica\n\
             max_wal_senders = 10\n\
             max_replication_slots = 10\n\
             hot_standby = on\n\
             hot_standby_feedback = on\n\
             max_standby_streaming_delay = 5s\n\
             shared_buffers = 512MB\n\
             max_wal_size = 4GB\n\
             wal_compression = on\n\
             unix_socket_permissions = 0700\n\
             log_line_prefix = '%m [%p] %q%u@%d %a '\n\
             {archiving}",
            sockets = self.paths.pg_sockets().display(),
        );
        let path = data_dir.join("payhuk.conf");
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        self.give_to_owner(&path)
    }

    /// How a standby reaches a primary on `port` to stream from it. The password is in a
    /// passfile: PostgreSQL logs a changed `primary_conninfo` in full.
    pub fn replication_conninfo(
        &self,
        port: u16,
        application_name: &str,
    ) -> anyhow::Result<String> {
        use std::os::unix::fs::PermissionsExt;
        let passfile = self.paths.pg().join("replication.pgpass");
        fs::write(
            &passfile,
            format!("*:*:*:replicator:{REPLICATOR_PASSWORD}\n"),
        )
        .with_context(|| format!("writing {}", passfile.display()))?;
        // libpq ignores a passfile others can read.
        fs::set_permissions(&passfile, fs::Permissions::from_mode(0o600))?;
        self.give_to_owner(&passfile)?;
        Ok(format!(
            "host=127.0.0.1 port={port} user=replicator passfile='{}' application_name={application_name}",
            passfile.display()
        ))
    }

    /// Hands a file or folder the gateway's user created to the cluster owner.
    pub fn give_to_owner(&self, path: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            chown(path, Some(uid.as_raw()), Some(gid.as_raw()))
                .with_context(|| format!("giving {} to postgres", path.display()))?;
        }
        Ok(())
    }

    /// The postmaster's pid when the node runs.
    pub fn running_pid(&self, node: &Node) -> Option<i32> {
        cluster_pid(&self.data_dir(node))
    }

    pub fn start(&self, node: &Node) -> anyhow::Result<()> {
        self.start_cluster(
            &self.data_dir(node),
            &self.paths.pg_log(node.region),
            node.region,
        )
    }

    /// Starts the cluster in `data_dir` and waits until it accepts connections.
    /// On a pinned [`DbClock`] the server runs on that clock.
    pub fn start_cluster(&self, data_dir: &Path, log: &Path, label: &str) -> anyhow::Result<()> {
        let out = cmd::capture(
            self.server_command("pg_ctl")
                .envs(DbClock::new(&self.paths).server_env()?)
                .args(["start", "-w", "-t", "300", "-D"])
                .arg(data_dir)
                .arg("-l")
                .arg(log),
        )?;
        if !out.status.success() {
            bail!(
                "PostgreSQL {label} did not start: {}{}\nLast lines of {}:\n{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim(),
                log.display(),
                cmd::tail(log, 15)
            );
        }
        Ok(())
    }

    /// Fast shutdown by pid, then immediate if it does not finish in time.
    pub fn stop(&self, node: &Node) -> anyhow::Result<bool> {
        self.stop_cluster(&self.data_dir(node), node.region)
    }

    pub fn stop_cluster(&self, data_dir: &Path, label: &str) -> anyhow::Result<bool> {
        let Some(pid) = cluster_pid(data_dir) else {
            return Ok(false);
        };
        process::signal_pid(pid, Signal::SIGINT)?;
        if !process::wait_exit(pid, Duration::from_secs(30)) {
            process::signal_pid(pid, Signal::SIGQUIT)?;
            if !process::wait_exit(pid, Duration::from_secs(10)) {
                bail!("PostgreSQL {label} (pid {pid}) does not stop");
            }
        }
        Ok(true)
    }

    /// Kills a node's postmaster outright, as a crash would, and waits for its
    /// orphaned backends to notice and exit.
    pub fn crash(&self, node: &Node) -> anyhow::Result<()> {
        if let Some(pid) = self.running_pid(node) {
            process::signal_pid(pid, Signal::SIGKILL)?;
            process::wait_exit(pid, Duration::from_secs(10));
        }
        let title = format!("postgres: {}: ", node.region);
        process::wait_until(
            &format!("{}'s backends to exit", node.region),
            Duration::from_secs(20),
            || true,
            || !process::any_cmdline_starts_with(&title),
        )?;
        // A killed postmaster leaves its lock files behind. Where nothing reaps orphans
        // (a container's init), its pid lingers as a zombie, which a new postmaster
        // takes for a live owner and refuses to start; the process is gone, so drop them.
        let sockets = self.paths.pg_sockets();
        for stale in [
            sockets.join(format!(".s.PGSQL.{}.lock", node.pg_port)),
            sockets.join(format!(".s.PGSQL.{}", node.pg_port)),
            self.data_dir(node).join("postmaster.pid"),
        ] {
            match fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", stale.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Makes `standby` a streaming copy of `primary`, with its own replication slot.
    pub fn basebackup(&self, standby: &Node, primary: &Node) -> anyhow::Result<()> {
        // A slot left by an earlier copy of this standby would make -C fail.
        self.sql(
            primary,
            &format!(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots \
                 where slot_name = '{}' and not active",
                standby.region
            ),
        )?;
        let conninfo = format!(
            "host=127.0.0.1 port={} user=replicator password={REPLICATOR_PASSWORD}",
            primary.pg_port
        );
        let out = cmd::capture(
            self.server_command("pg_basebackup")
                .arg("-D")
                .arg(self.data_dir(standby))
                .args([
                    "-R",
                    "-X",
                    "stream",
                    "-C",
                    "-S",
                    standby.region,
                    "--checkpoint=fast",
                ])
                .arg("-d")
                .arg(conninfo),
        )?;
        if !out.status.success() {
            bail!(
                "pg_basebackup for {} from {} failed:\n{}",
                standby.region,
                primary.region,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.write_node_conf(standby)
    }

    fn psql(&self, node: &Node, database: &str) -> Command {
        self.psql_port(node.pg_port, database)
    }

    fn psql_port(&self, port: u16, database: &str) -> Command {
        let mut command = Command::new(self.bin.join("psql"));
        command
            .arg("-X")
            .args(["-h"])
            .arg(self.paths.pg_sockets())
            .args(["-p", &port.to_string(), "-U", SUPERUSER, "-d", database])
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-A", "-t"])
            .env("PGCONNECT_TIMEOUT", "5");
        command
    }

    /// Runs SQL as the superuser; returns unaligned, tuples-only output, trimmed.
    pub fn sql(&self, node: &Node, sql: &str) -> anyhow::Result<String> {
        self.sql_in(node, DATABASE, sql)
    }

    /// [`Pg::sql`] on a cluster of the stack known only by its port (a restored copy).
    pub fn sql_at(&self, port: u16, sql: &str) -> anyhow::Result<String> {
        let out = cmd::output(self.psql_port(port, DATABASE).arg("-c").arg(sql))
            .with_context(|| format!("SQL on the cluster at :{port}"))?;
        Ok(out.trim().to_owned())
    }

    /// [`Pg::sql`] in another database of the node.
    pub fn sql_in(&self, node: &Node, database: &str, sql: &str) -> anyhow::Result<String> {
        let out = cmd::output(self.psql(node, database).arg("-c").arg(sql))
            .with_context(|| format!("SQL on {} ({database})", node.region))?;
        Ok(out.trim().to_owned())
    }

    /// Runs `file` then `then` in one transaction.
    pub fn apply_file(
        &self,
        node: &Node,
        database: &str,
        file: &Path,
        then: &str,
    ) -> anyhow::Result<()> {
        cmd::output(
            self.psql(node, database)
                .arg("-1")
                .arg("-f")
                .arg(file)
                .arg("-c")
                .arg(then),
        )
        .with_context(|| format!("applying {} on {}", file.display(), node.region))?;
        Ok(())
    }

    /// Runs a SQL script (fed on stdin) with psql variables set.
    pub fn run_script(
        &self,
        node: &Node,
        database: &str,
        script: &str,
        vars: &[(&str, String)],
    ) -> anyhow::Result<String> {
        let mut command = self.psql(node, database);
        for (name, value) in vars {
            command.args(["-v", &format!("{name}={value}")]);
        }
        let mut child = command
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("starting psql")?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        std::io::Write::write_all(&mut stdin, script.as_bytes())?;
        drop(stdin);
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "psql on {} failed:\n{}",
                node.region,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Passwords of the local stack's roles, and the replication role.
    pub fn set_local_credentials(&self, node: &Node) -> anyhow::Result<()> {
        self.run_script(
            node,
            DATABASE,
            LOCAL_PLATFORM_SQL,
            &[
                (
                    "authenticator_password",
                    topology::AUTHENTICATOR_PASSWORD.to_owned(),
                ),
                ("replicator_password", REPLICATOR_PASSWORD.to_owned()),
                (
                    "superuser_password",
                    topology::SUPERUSER_PASSWORD.to_owned(),
                ),
            ],
        )
        .context("setting the local credentials")?;
        Ok(())
    }

    /// Waits until every standby streams from `primary` and has replayed everything
    /// the primary had written when the wait began.
    pub fn wait_caught_up(&self, primary: &Node, standbys: &[&Node]) -> anyhow::Result<()> {
        let target = self.sql(primary, "select pg_current_wal_lsn()")?;
        let names: Vec<String> = standbys.iter().map(|n| format!("'{}'", n.region)).collect();
        let query = format!(
            "select count(*) from pg_stat_replication where state = 'streaming' \
             and application_name in ({}) and replay_lsn >= '{target}'::pg_lsn",
            names.join(",")
        );
        let expected = standbys.len().to_string();
        process::wait_until(
            "replication",
            Duration::from_secs(60),
            || true,
            || {
                self.sql(primary, &query)
                    .map(|n| n == expected)
                    .unwrap_or(false)
            },
        )
        .with_context(|| {
            let seen = self
                .sql(
                    primary,
                    "select application_name, state from pg_stat_replication",
                )
                .unwrap_or_default();
            format!(
                "standbys did not catch up with {}; pg_stat_replication: {seen:?}",
                primary.region
            )
        })
    }
}
