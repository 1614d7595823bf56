//! The local three-region stack as one thing: bring it up, take it down, report on it,
//! and the handles the stack tests use to inject real faults.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::clock::DbClock;
use crate::parts::{self, Part, PartKind};
use crate::paths::{Paths, StackPaths};
use crate::pg::Pg;
use crate::process::Service;
use crate::topology::{self, GATEWAY_PORT, NODES, Node, Replication};
use crate::wan::{self, Wan};
use crate::{backup, gateway, migrate, postgrest, process, sandbox, seed, storefront, ui};

pub struct Stack {
    pub paths: Paths,
    pub dirs: StackPaths,
    pub pg: Pg,
    /// The databases' clock: real unless pinned (`up --db-clock`, the pinned-clock tests).
    pub clock: DbClock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpOutcome {
    AlreadyUp,
    Started,
}

impl Stack {
    pub fn open() -> anyhow::Result<Stack> {
        let paths = Paths::discover();
        let dirs = paths.stack();
        let pg = Pg::new(dirs.clone())?;
        let clock = DbClock::new(&dirs);
        Ok(Stack {
            paths,
            dirs,
            pg,
            clock,
        })
    }

    /// Every part of the stack has a live process: cheap, for the stack tests' guard.
    pub fn is_running(&self) -> bool {
        NODES.iter().all(|n| self.pg.running_pid(n).is_some())
            && NODES
                .iter()
                .all(|n| postgrest::service(&self.dirs, n).running_pid().is_some())
            && gateway::service(&self.dirs).running_pid().is_some()
            && storefront::service(&self.dirs).running_pid().is_some()
            && sandbox::service(&self.dirs).running_pid().is_some()
    }

    /// Every part of the stack answers.
    pub fn is_up(&self) -> bool {
        parts::down(&self.parts()).is_none()
    }

    /// Each part and whether it answers now, in the order `up` starts them.
    pub fn parts(&self) -> Vec<Part> {
        let mut parts = Vec::new();
        for node in &NODES {
            let (answering, detail) = match self.describe_node(node) {
                Ok(state) => (true, state),
                Err(err) => (false, format!("{err:#}").replace('\n', " ")),
            };
            parts.push(Part {
                name: format!("PostgreSQL {}", node.region),
                kind: PartKind::Postgresql,
                region: Some(node.region),
                city: None,
                url: None,
                port: node.pg_port,
                pid: self.pg.running_pid(node),
                answering,
                detail: Some(detail),
            });
        }
        for node in &NODES {
            let svc = postgrest::service(&self.dirs, node);
            parts.push(Part {
                name: svc.name.clone(),
                kind: PartKind::Postgrest,
                region: Some(node.region),
                city: None,
                url: Some(topology::postgrest_url(node)),
                port: node.postgrest_port,
                pid: svc.running_pid(),
                answering: postgrest::is_ready(node),
                detail: None,
            });
        }
        let gw = gateway::service(&self.dirs);
        parts.push(Part {
            name: gw.name.clone(),
            kind: PartKind::Gateway,
            region: None,
            city: None,
            url: Some(format!("{}/health", topology::gateway_url())),
            port: GATEWAY_PORT,
            pid: gw.running_pid(),
            answering: gateway::is_ready(),
            detail: None,
        });
        let shop = storefront::service(&self.dirs);
        parts.push(Part {
            name: shop.name.clone(),
            kind: PartKind::Storefront,
            region: None,
            city: None,
            url: Some(topology::storefront_origin()),
            port: topology::STOREFRONT_PORT,
            pid: shop.running_pid(),
            answering: storefront::is_ready(),
            detail: None,
        });
        let providers = sandbox::service(&self.dirs);
        parts.push(Part {
            name: providers.name.clone(),
            kind: PartKind::Sandbox,
            region: None,
            city: None,
            url: Some(topology::sandbox_url()),
            port: topology::SANDBOX_PORT,
            pid: providers.running_pid(),
            answering: sandbox::is_ready(),
            detail: None,
        });
        let wan = self.wan();
        if wan.is_on() {
            parts.extend(wan.parts());
        }
        parts
    }

    /// The WAN topology's parts of this stack (`up --wan`).
    pub fn wan(&self) -> Wan<'_> {
        Wan {
            paths: &self.paths,
            dirs: &self.dirs,
        }
    }

    /// [`up`](Self::up) with every inter-region link through a relay and one edge per
    /// customer city; the stack stays so until `down`.
    pub fn up_wan(&mut self) -> anyhow::Result<UpOutcome> {
        self.ensure_stack_dir()?;
        self.wan().switch_on()?;
        self.up()
    }

    /// A service whose process lives but does not answer (a wrangler whose workerd
    /// died, a frozen PostgREST) is stopped, so that `up` starts it afresh. True when
    /// it answers and is left alone.
    fn keep_if_answering(&self, service: &Service, answering: bool) -> anyhow::Result<bool> {
        if service.running_pid().is_none() {
            return Ok(false);
        }
        if answering {
            ui::detail(&format!("{} already running", service.name));
            return Ok(true);
        }
        ui::detail(&format!(
            "{} runs but does not answer: restarting it",
            service.name
        ));
        service.stop(Duration::from_secs(10))?;
        Ok(false)
    }

    /// [`up`](Self::up) with the databases' clock reading `instant` as they start. A
    /// stack already running on the real clock cannot be moved: `down --wipe` first.
    pub fn up_at(&mut self, instant: chrono::DateTime<chrono::Utc>) -> anyhow::Result<UpOutcome> {
        if !self.clock.is_pinned() && self.pg.exists(topology::primary()) {
            bail!(
                "this stack's databases were made on the real clock; \
                 `cargo xtask down --wipe` first, then `cargo xtask up --db-clock ...`"
            );
        }
        self.ensure_stack_dir()?;
        self.clock.set(instant)?;
        ui::detail(&format!(
            "database clock pinned to {}",
            instant.to_rfc3339()
        ));
        self.up()
    }

    pub fn up(&mut self) -> anyhow::Result<UpOutcome> {
        if self.is_up() {
            ui::header("the stack is already up");
            // Answering is not enough for the city edges: one may serve an older build.
            if self.wan().is_on() {
                self.wan().start_edges()?;
            }
            self.print_endpoints();
            return Ok(UpOutcome::AlreadyUp);
        }
        let started = Instant::now();
        let wan = self.wan().is_on();
        ui::header(if wan {
            "starting the local three-region stack, regions and cities apart (WAN)"
        } else {
            "starting the local three-region stack"
        });
        report_open_file_limit();
        self.pg.check_installed()?;
        for (what, path) in [
            ("PostgREST", self.paths.postgrest_bin()),
            ("wrangler", self.paths.wrangler_js()),
            ("http-server", self.paths.http_server_js()),
        ] {
            if !path.exists() {
                bail!(
                    "{what} is not installed ({} is missing); run `cargo xtask setup`",
                    path.display()
                );
            }
        }
        self.ensure_stack_dir()?;
        if wan {
            self.wan().start_relays()?;
        }

        let primary = topology::primary();
        self.ensure_node(primary, None)?;
        ui::step("pgBackRest stanza (WAL archiving)", || {
            backup::ensure_stanza(&self.pg, primary)
        })?;
        let applied = ui::step("migrations", || {
            migrate::apply(
                &self.pg,
                primary,
                topology::DATABASE,
                &self.paths.migrations(),
                None,
                true,
            )
        })?;
        ui::step("local credentials (authenticator, replicator)", || {
            self.pg.set_local_credentials(primary)
        })?;

        let standbys: Vec<&Node> = NODES.iter().filter(|n| !n.starts_as_primary).collect();
        for standby in &standbys {
            self.ensure_node(standby, Some(primary))?;
            self.route_replication(standby, primary, wan)?;
        }
        ui::step("standbys streaming and caught up", || {
            self.pg.wait_caught_up(primary, &standbys)
        })?;

        for node in &NODES {
            let svc = postgrest::service(&self.dirs, node);
            if self.keep_if_answering(&svc, postgrest::is_ready(node))? {
                if applied > 0 {
                    postgrest::reload(&self.dirs, node)?;
                }
                continue;
            }
            let standby = !node.starts_as_primary;
            ui::step(&format!("{} on :{}", svc.name, node.postgrest_port), || {
                postgrest::start(&self.paths, &self.dirs, node, standby)
            })?;
        }

        // Before the gateway: a checkout opened as soon as it answers reaches a provider.
        let providers = sandbox::service(&self.dirs);
        if !self.keep_if_answering(&providers, sandbox::is_ready())? {
            ui::step(
                &format!("payment providers (sandbox) on :{}", topology::SANDBOX_PORT),
                || sandbox::start(&self.paths, &self.dirs),
            )?;
        }
        let gw = gateway::service(&self.dirs);
        if !self.keep_if_answering(&gw, gateway::is_ready())? {
            ui::step(
                &format!("gateway (wasm in workerd) on :{GATEWAY_PORT}"),
                || gateway::start(&self.paths, &self.dirs),
            )?;
        }
        let shop = storefront::service(&self.dirs);
        if !self.keep_if_answering(&shop, storefront::is_ready())? {
            ui::step(
                &format!(
                    "storefront (static files) on :{}",
                    topology::STOREFRONT_PORT
                ),
                || storefront::start(&self.paths, &self.dirs),
            )?;
        }
        if wan {
            self.wan().start_edges()?;
        }
        ui::header(&format!("stack up in {}", ui::elapsed(started)));
        self.print_endpoints();
        Ok(UpOutcome::Started)
    }

    /// Creates the node if it has no data (a primary with initdb, a standby with
    /// pg_basebackup from `primary`) and starts it if it is not running.
    fn ensure_node(&self, node: &Node, primary: Option<&Node>) -> anyhow::Result<()> {
        let label = match primary {
            None => format!("PostgreSQL {} (primary) on :{}", node.region, node.pg_port),
            Some(_) => format!("PostgreSQL {} (standby) on :{}", node.region, node.pg_port),
        };
        if self.pg.running_pid(node).is_some() {
            if self.pg.sql(node, "select 1").is_ok() {
                ui::detail(&format!("{label} already running"));
                return Ok(());
            }
            ui::detail(&format!("{label} runs but does not answer: restarting it"));
            self.pg.stop(node)?;
        }
        if process::port_in_use(node.pg_port) {
            bail!(
                "port {} ({label}) is taken by another program; stop it and run `cargo xtask up` again",
                node.pg_port
            );
        }
        if !self.pg.exists(node) {
            match primary {
                None => ui::step(&format!("initdb {}", node.region), || self.pg.initdb(node))?,
                Some(from) => ui::step(
                    &format!("pg_basebackup {} from {}", node.region, from.region),
                    || self.pg.basebackup(node, from),
                )?,
            }
        }
        // Rewritten on every start, so a changed setting reaches existing clusters.
        self.pg.write_node_conf(node)?;
        ui::step(&format!("start {label}"), || self.pg.start(node))
    }

    /// `.payhuk/stack`, or when running as root and the `postgres` user cannot reach
    /// it, a folder under /var/tmp that `.payhuk/stack` links to.
    fn ensure_stack_dir(&mut self) -> anyhow::Result<()> {
        let link = self.paths.stack_link();
        if !link.exists() {
            fs::create_dir_all(&link).with_context(|| format!("creating {}", link.display()))?;
            self.refresh_dirs()?;
            if !self.pg.prepare_dirs()? {
                fs::remove_dir_all(&link)?;
                let digest = Sha256::digest(self.paths.root.to_string_lossy().as_bytes());
                let elsewhere = std::path::PathBuf::from("/var/tmp").join(format!(
                    "payhuk-edge-{:02x}{:02x}{:02x}{:02x}",
                    digest[0], digest[1], digest[2], digest[3]
                ));
                fs::create_dir_all(&elsewhere)?;
                std::os::unix::fs::symlink(&elsewhere, &link)?;
                ui::detail(&format!(
                    "the postgres user cannot reach {}; keeping the stack in {} (linked)",
                    link.display(),
                    elsewhere.display()
                ));
                self.refresh_dirs()?;
                if !self.pg.prepare_dirs()? {
                    bail!(
                        "the postgres user cannot write {}",
                        self.dirs.pg().display()
                    );
                }
            }
        } else {
            self.pg.prepare_dirs()?;
        }
        self.dirs.create_dirs()
    }

    /// Where `cargo xtask bench --scale` keeps its own cluster: inside the stack's
    /// folder, which the `postgres` user can reach.
    pub fn scale_dir(&mut self) -> anyhow::Result<std::path::PathBuf> {
        self.ensure_stack_dir()?;
        Ok(self.dirs.dir.join("scale"))
    }

    fn refresh_dirs(&mut self) -> anyhow::Result<()> {
        self.dirs = self.paths.stack();
        self.pg = Pg::new(self.dirs.clone())?;
        self.clock = DbClock::new(&self.dirs);
        Ok(())
    }

    pub fn down(&self, wipe: bool) -> anyhow::Result<()> {
        ui::header(if wipe {
            "stopping the stack and wiping its data"
        } else {
            "stopping the stack"
        });
        let grace = Duration::from_secs(10);
        for (name, was_running) in self.wan().stop(grace)? {
            if was_running {
                report_stop(&name, true);
            }
        }
        let shop = storefront::service(&self.dirs);
        report_stop(&shop.name, shop.stop(grace)?);
        let gw = gateway::service(&self.dirs);
        report_stop(&gw.name, gw.stop(grace)?);
        let providers = sandbox::service(&self.dirs);
        report_stop(&providers.name, providers.stop(grace)?);
        for node in NODES.iter().rev() {
            let svc = postgrest::service(&self.dirs, node);
            report_stop(&svc.name, svc.stop(grace)?);
        }
        // Standbys first, so the primary's walsenders are not waiting on them.
        for node in NODES.iter().rev() {
            report_stop(&format!("PostgreSQL {}", node.region), self.pg.stop(node)?);
        }
        if crate::bench::scale::stop_leftover(&self.dirs.dir)? {
            report_stop("the bench --scale cluster", true);
        }
        for restored in self.restored_clusters() {
            let name = restored
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if self.pg.stop_cluster(&restored, &name)? {
                report_stop(&format!("PostgreSQL {name}"), true);
            }
        }
        if wipe {
            let link = self.paths.stack_link();
            if link.exists() || link.is_symlink() {
                let real = fs::canonicalize(&link).unwrap_or_else(|_| link.clone());
                if real != link {
                    fs::remove_dir_all(&real)
                        .with_context(|| format!("removing {}", real.display()))?;
                    fs::remove_file(&link)?;
                } else {
                    fs::remove_dir_all(&link)
                        .with_context(|| format!("removing {}", link.display()))?;
                }
                ui::detail(&format!("removed {}", link.display()));
            }
        }
        Ok(())
    }

    /// Clusters `cargo xtask restore` made, in `pg/restored-*`.
    pub fn restored_clusters(&self) -> Vec<std::path::PathBuf> {
        let mut found: Vec<std::path::PathBuf> = fs::read_dir(self.dirs.pg())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("restored-"))
            })
            .collect();
        found.sort();
        found
    }

    /// `cargo xtask backup`.
    pub fn backup(&self, schedule: &str, kind: &str) -> anyhow::Result<()> {
        let primary = self.primary_running()?;
        let schedule = backup::schedule(schedule)?;
        ui::header(&format!(
            "{kind} backup of {} to repo{} ({})",
            primary.region, schedule.repo, schedule.name
        ));
        backup::configure(&self.pg, primary)?;
        let took = backup::backup(&self.pg, schedule, kind)?;
        ui::detail(&format!("done in {:.1}s", took.as_secs_f64()));
        for (repo, labels) in backup::backups_by_repo(&self.pg)? {
            ui::detail(&format!(
                "repo{repo}: {} backup(s), newest {}",
                labels.len(),
                labels.last().map_or("-", String::as_str)
            ));
        }
        Ok(())
    }

    /// `cargo xtask restore`: a point-in-time copy of the primary, started on `port`.
    pub fn restore(
        &self,
        to: &str,
        schedule: &str,
        target_dir: Option<std::path::PathBuf>,
        port: u16,
    ) -> anyhow::Result<()> {
        let primary = self.primary_running()?;
        let target = match to {
            "latest" => backup::RestoreTarget::Latest,
            when => backup::RestoreTarget::Time(when.to_owned()),
        };
        let dir = target_dir.unwrap_or_else(|| {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            self.dirs.pg().join(format!("restored-{stamp}"))
        });
        ui::header(&format!(
            "restoring {} to {to} into {}",
            primary.region,
            dir.display()
        ));
        backup::flush_archive(&self.pg, primary)?;
        let started = Instant::now();
        backup::restore(&self.pg, backup::schedule(schedule)?, &target, &dir, port)?;
        ui::detail(&format!(
            "restored and answering on 127.0.0.1:{port} in {:.1}s (data {}); \
             `cargo xtask down` stops it",
            started.elapsed().as_secs_f64(),
            dir.display()
        ));
        Ok(())
    }

    pub fn print_endpoints(&self) {
        ui::detail(&format!("gateway      {}/health", topology::gateway_url()));
        ui::detail(&format!(
            "status       {}/status",
            topology::browser_gateway_url()
        ));
        ui::detail(&format!("storefront   {}", topology::storefront_url()));
        for node in &NODES {
            ui::detail(&format!(
                "{}         PostgREST {}  PostgreSQL postgres://postgres:{}@127.0.0.1:{}/{}",
                node.region,
                topology::postgrest_url(node),
                topology::SUPERUSER_PASSWORD,
                node.pg_port,
                topology::DATABASE
            ));
        }
        if self.wan().is_on() {
            for city in &wan::CITIES {
                ui::detail(&format!(
                    "edge         {:<14} {}/health (colo {})",
                    city.name,
                    wan::edge_url(city),
                    city.colo
                ));
            }
        }
        ui::detail(&format!("logs         {}", self.dirs.logs().display()));
        ui::detail("keys         eval \"$(cargo xtask keys)\"");
    }

    /// `cargo xtask status`: each part and whether it answers; fails naming the parts
    /// that do not. `json` prints the parts as a JSON array instead of lines.
    pub fn status(&self, json: bool) -> anyhow::Result<()> {
        let parts = self.parts();
        if json {
            println!("{}", serde_json::to_string_pretty(&parts)?);
        } else {
            ui::header("local stack");
            for part in &parts {
                ui::detail(&part.line());
            }
            if self.clock.is_pinned() {
                let reads = self
                    .pg
                    .sql(topology::primary(), "select now()")
                    .unwrap_or_else(|e| format!("unknown ({e:#})"));
                ui::detail(&format!("database clock pinned: reads {reads}"));
            }
        }
        match parts::down(&parts) {
            Some(down) => bail!("not answering: {down}; `cargo xtask up` restarts what is down"),
            None => Ok(()),
        }
    }

    /// The node's role and replication state, asked of the node itself.
    fn describe_node(&self, node: &Node) -> anyhow::Result<String> {
        let query = "select case when pg_is_in_recovery() then \
             'standby, receiver ' || coalesce((select status from pg_stat_wal_receiver), 'not running') \
             || ', replay ' || pg_get_wal_replay_pause_state() \
             || ', behind by ' || pg_size_pretty(coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)) \
             else 'primary, ' || (select count(*) from pg_stat_replication where state = 'streaming') || ' streaming standby(s): ' \
             || coalesce((select string_agg(application_name || ' ' || state || ' replay lag ' \
                 || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), ', ') from pg_stat_replication), 'none') end";
        self.pg.sql(node, query)
    }

    /// `cargo xtask seed --orders N`: bulk orders on the running primary.
    pub fn seed(&self, orders: u64, batch: u64) -> anyhow::Result<()> {
        let primary = self.primary_running()?;
        ui::header(&format!("generating {orders} orders in batches of {batch}"));
        let started = Instant::now();
        seed::generate_orders(
            &self.pg,
            primary,
            orders,
            batch,
            1,
            true,
            seed::Extras::default(),
        )?;
        ui::header(&format!(
            "{orders} orders generated in {}",
            ui::elapsed(started)
        ));
        Ok(())
    }

    fn primary_running(&self) -> anyhow::Result<&'static Node> {
        let primary = topology::primary();
        if self.pg.running_pid(primary).is_none() {
            bail!(
                "PostgreSQL {} is not running; start the stack with `cargo xtask up`",
                primary.region
            );
        }
        Ok(primary)
    }

    // ---- handles for the stack tests: real faults on real processes ----

    /// Stops a region's PostgREST (SIGTERM to its process group).
    pub fn stop_postgrest(&self, region: &str) -> anyhow::Result<()> {
        let node = topology::node(region)?;
        postgrest::service(&self.dirs, node).stop(Duration::from_secs(10))?;
        Ok(())
    }

    /// Restarts a region's PostgREST with `pool` connections to its PostgreSQL.
    pub fn restart_postgrest_with_pool(&self, region: &str, pool: u32) -> anyhow::Result<()> {
        let node = topology::node(region)?;
        self.stop_postgrest(region)?;
        postgrest::start_with_pool(&self.paths, &self.dirs, node, !node.starts_as_primary, pool)
    }

    /// Freezes a region's PostgREST (SIGSTOP) or thaws it (SIGCONT): while frozen the
    /// kernel still accepts connections, but nothing answers them.
    pub fn freeze_postgrest(&self, region: &str, frozen: bool) -> anyhow::Result<()> {
        let node = topology::node(region)?;
        let pid = postgrest::service(&self.dirs, node)
            .running_pid()
            .with_context(|| format!("PostgREST {region} is not running"))?;
        let signal = if frozen {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        process::signal_pid(pid, signal)
    }

    /// Kills the process that serves the gateway's port (workerd, not the wrangler that
    /// started it), as an out-of-files crash would; returns its pid once it is gone.
    pub fn kill_gateway_runtime(&self) -> anyhow::Result<i32> {
        let pid = process::listening_pid(GATEWAY_PORT)
            .with_context(|| format!("nothing listens on :{GATEWAY_PORT}"))?;
        process::signal_pid(pid, nix::sys::signal::Signal::SIGKILL)?;
        if !process::wait_exit(pid, Duration::from_secs(10)) {
            bail!("the gateway's runtime (pid {pid}) survived SIGKILL");
        }
        Ok(pid)
    }

    /// Starts a region's PostgREST again and waits until it serves.
    pub fn start_postgrest(&self, region: &str) -> anyhow::Result<()> {
        let node = topology::node(region)?;
        if postgrest::service(&self.dirs, node).running_pid().is_some() {
            return Ok(());
        }
        postgrest::start(&self.paths, &self.dirs, node, !node.starts_as_primary)
    }

    /// Stops a region's PostgreSQL (fast shutdown, by pid).
    pub fn stop_postgres(&self, region: &str) -> anyhow::Result<()> {
        self.pg.stop(topology::node(region)?)?;
        Ok(())
    }

    /// Starts a region's PostgreSQL again (after `stop_postgres`).
    pub fn start_postgres(&self, region: &str) -> anyhow::Result<()> {
        let node = topology::node(region)?;
        if self.pg.running_pid(node).is_some() {
            return Ok(());
        }
        self.pg.start(node)
    }

    /// Points a standby at another primary (and its slot there), as after a failover.
    pub fn repoint_standby(&self, standby: &str, new_primary: &str) -> anyhow::Result<()> {
        let (standby, primary) = (topology::node(standby)?, topology::node(new_primary)?);
        self.stream_from(standby, primary, primary.pg_port)
    }

    /// A standby streams from the primary straight, or through its relay on the WAN.
    fn route_replication(&self, standby: &Node, primary: &Node, wan: bool) -> anyhow::Result<()> {
        let port = if wan {
            wan::replication_port(standby)
        } else {
            primary.pg_port
        };
        let conninfo = self.pg.sql(standby, "show primary_conninfo")?;
        if conninfo_port(&conninfo) == Some(port) {
            return Ok(());
        }
        ui::detail(&format!(
            "{} streams from {} through :{port}{}",
            standby.region,
            primary.region,
            if wan { " (its WAN relay)" } else { "" }
        ));
        self.stream_from(standby, primary, port)
    }

    /// `primary_conninfo` (and the slot on `primary`) for `standby`, reaching `primary`
    /// on `port`; a reload restarts its WAL receiver.
    fn stream_from(&self, standby: &Node, primary: &Node, port: u16) -> anyhow::Result<()> {
        self.pg.sql(
            primary,
            &format!(
                "select pg_create_physical_replication_slot('{0}') \
                 where not exists (select from pg_replication_slots where slot_name = '{0}')",
                standby.region
            ),
        )?;
        let conninfo = self.pg.replication_conninfo(port, standby.region)?;
        self.pg.sql(
            standby,
            &format!(
                "alter system set primary_conninfo = '{}'",
                conninfo.replace('\'', "''")
            ),
        )?;
        self.pg.sql(standby, "select pg_reload_conf()")?;
        Ok(())
    }

    /// Switches the primary between synchronous and asynchronous replication; in
    /// synchronous mode, returns once every standby counts towards the quorum.
    pub fn set_replication(&self, mode: Replication) -> anyhow::Result<()> {
        let primary = self.primary_running()?;
        self.pg.sql(
            primary,
            &format!(
                "alter system set synchronous_standby_names = '{}'",
                mode.standby_names()
            ),
        )?;
        self.pg.sql(primary, "select pg_reload_conf()")?;
        if mode == Replication::Synchronous {
            let standbys = topology::NODES.len() - 1;
            process::wait_until(
                "every standby in the synchronous quorum",
                Duration::from_secs(20),
                || true,
                || {
                    self.pg
                        .sql(
                            primary,
                            "select count(*) from pg_stat_replication where sync_state = 'quorum'",
                        )
                        .is_ok_and(|n| n == standbys.to_string())
                },
            )?;
        }
        ui::detail(&format!("{}: {} replication", primary.region, mode.name()));
        Ok(())
    }

    /// Runs SQL as the superuser on a region's node.
    pub fn sql(&self, region: &str, sql: &str) -> anyhow::Result<String> {
        self.pg.sql(topology::node(region)?, sql)
    }

    /// Runs SQL as the superuser in another database of a region's node.
    pub fn sql_in(&self, region: &str, database: &str, sql: &str) -> anyhow::Result<String> {
        self.pg.sql_in(topology::node(region)?, database, sql)
    }

    /// Applies the migrations up to `until` (all when `None`) to another database of
    /// the primary, without the dev seed.
    pub fn migrate_database(&self, database: &str, until: Option<&str>) -> anyhow::Result<usize> {
        let primary = self.primary_running()?;
        migrate::apply(
            &self.pg,
            primary,
            database,
            &self.paths.migrations(),
            until,
            false,
        )
    }
}

/// Every client connection costs the gateway's runtime a descriptor, and so does each
/// upstream socket; the runtime inherits this limit and cannot raise it.
fn report_open_file_limit() {
    /// The concurrent users the seed's plan is sized for.
    const SEED_CONNECTIONS: u64 = 10_000;
    match process::open_file_limit() {
        Some((soft, hard)) if soft < SEED_CONNECTIONS => ui::detail(&format!(
            "open-file limit {soft} (hard {hard}) per process: below the {SEED_CONNECTIONS} \
             concurrent connections the plan is sized for; the runtime cannot accept more than it"
        )),
        Some((soft, hard)) => ui::detail(&format!(
            "open-file limit {soft} (hard {hard}) per process, inherited by the gateway's runtime"
        )),
        None => ui::detail("open-file limit: unknown (no /proc/self/limits)"),
    }
}

/// The `port=` of a libpq connection string.
fn conninfo_port(conninfo: &str) -> Option<u16> {
    conninfo
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("port="))
        .and_then(|p| p.trim_matches('\'').parse().ok())
}

fn report_stop(name: &str, was_running: bool) {
    ui::detail(&format!(
        "{name}: {}",
        if was_running {
            "stopped"
        } else {
            "was not running"
        }
    ));
}

#[cfg(test)]
mod tests {
    use super::conninfo_port;

    #[test]
    fn the_port_is_read_from_a_connection_string() {
        assert_eq!(
            conninfo_port("user=replicator password=x host=127.0.0.1 port=5433 sslmode=prefer"),
            Some(5433)
        );
        assert_eq!(conninfo_port("host=127.0.0.1 port='15401'"), Some(15401));
        assert_eq!(conninfo_port("host=127.0.0.1"), None);
    }
}
