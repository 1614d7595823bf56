//! One PostgREST 12 per region, each reading its own PostgreSQL node.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::Signal;

use crate::paths::{Paths, StackPaths};
use crate::process::{self, Service};
use crate::topology::{self, AUTHENTICATOR_PASSWORD, DATABASE, Node};

pub fn service(stack: &StackPaths, node: &Node) -> Service {
    Service {
        name: format!("PostgREST {}", node.region),
        pid_file: stack.pids().join(format!("postgrest-{}.pid", node.region)),
        log_file: stack.logs().join(format!("postgrest-{}.log", node.region)),
        signature: "postgrest",
    }
}

/// Connections each PostgREST keeps to its PostgreSQL. The load bench measures
/// PostgREST's throughput at other sizes beside this one (docs/SCALING.md).
pub const DB_POOL: u32 = 10;
/// Seconds a request waits for one of them before PostgREST answers 504.
pub const DB_POOL_ACQUISITION_TIMEOUT_SECS: u32 = 5;

/// `standby`: LISTEN is refused during recovery, so standbys' PostgREST does not
/// listen for schema reloads; `cargo xtask up` signals it instead.
pub fn config(node: &Node, standby: bool, pool: u32, jwks_file: &Path) -> String {
    format!(
        "db-uri = \"postgres://authenticator:{AUTHENTICATOR_PASSWORD}@127.0.0.1:{pg}/{DATABASE}\"\n\
         db-schemas = \"public\"\n\
         db-anon-role = \"anon\"\n\
         db-pool = {pool}\n\
         db-pool-acquisition-timeout = {DB_POOL_ACQUISITION_TIMEOUT_SECS}\n\
         db-channel-enabled = {listen}\n\
         jwt-secret = \"@{jwks}\"\n\
         server-host = \"127.0.0.1\"\n\
         server-port = {port}\n\
         log-level = \"info\"\n",
        pg = node.pg_port,
        listen = !standby,
        port = node.postgrest_port,
        jwks = jwks_file.display(),
    )
}

pub fn start(paths: &Paths, stack: &StackPaths, node: &Node, standby: bool) -> anyhow::Result<()> {
    start_with_pool(paths, stack, node, standby, DB_POOL)
}

/// [`start`] with `pool` connections to PostgreSQL instead of [`DB_POOL`].
pub fn start_with_pool(
    paths: &Paths,
    stack: &StackPaths,
    node: &Node,
    standby: bool,
    pool: u32,
) -> anyhow::Result<()> {
    let svc = service(stack, node);
    if process::port_in_use(node.postgrest_port) {
        bail!(
            "port {} (PostgREST {}) is taken by another program; stop it and run `cargo xtask up` again",
            node.postgrest_port,
            node.region
        );
    }
    let jwks = jwks_file(stack);
    fs::write(&jwks, topology::postgrest_jwks())
        .with_context(|| format!("writing {}", jwks.display()))?;
    let conf = stack.conf().join(format!("postgrest-{}.conf", node.region));
    fs::write(&conf, config(node, standby, pool, &jwks))
        .with_context(|| format!("writing {}", conf.display()))?;
    svc.start(
        std::process::Command::new(paths.postgrest_bin()).arg(&conf),
        Duration::from_secs(30),
        || is_ready(node),
    )
}

/// The root answers 200 only once PostgREST has connected and loaded its schema cache.
pub fn is_ready(node: &Node) -> bool {
    ureq::get(&topology::postgrest_url(node))
        .timeout(Duration::from_secs(2))
        .call()
        .map(|r| r.status() == 200)
        .unwrap_or(false)
}

/// Where every local PostgREST reads its key set (`jwt-secret = "@<file>"`).
pub fn jwks_file(stack: &StackPaths) -> std::path::PathBuf {
    stack.conf().join("postgrest-jwks.json")
}

/// Gives every running PostgREST the key set `jwks` (it re-reads the file on a
/// configuration reload), as an operator rotating keys would.
pub fn set_jwks(stack: &StackPaths, jwks: &str) -> anyhow::Result<()> {
    let file = jwks_file(stack);
    fs::write(&file, jwks).with_context(|| format!("writing {}", file.display()))?;
    for node in &topology::NODES {
        reload(stack, node)?;
    }
    Ok(())
}

/// Makes a running PostgREST reload its in-database configuration and its schema
/// cache (after migrations). Standbys' PostgREST cannot LISTEN, hence signals.
pub fn reload(stack: &StackPaths, node: &Node) -> anyhow::Result<()> {
    if let Some(pid) = service(stack, node).running_pid() {
        process::signal_pid(pid, Signal::SIGUSR2)?;
        process::signal_pid(pid, Signal::SIGUSR1)?;
    }
    Ok(())
}
