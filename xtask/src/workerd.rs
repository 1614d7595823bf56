//! The built gateway under plain `workerd serve` (no wrangler dev proxy in front), for
//! the benchmarks: the same bundle and configuration on another port.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::paths::{Paths, StackPaths};
use crate::process::Service;
use crate::topology;

/// Where plain workerd serves the gateway.
pub const PORT: u16 = 8788;

/// wrangler.toml's compatibility date, so both runs execute the same semantics.
pub fn compatibility_date(paths: &Paths) -> anyhow::Result<String> {
    let path = paths.root.join("wrangler.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    table
        .get("compatibility_date")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .context("wrangler.toml has no compatibility_date")
}

fn capnp_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What Cloudflare's front line does before a Worker runs: `request.cf` says which colo
/// the request entered. Plain workerd has no `cf`; this worker in front of the gateway
/// supplies it, so an edge is located as production locates it.
const COLO_FRONT_JS: &str = "export default {
  fetch(request, env) {
    return env.gateway.fetch(new Request(request, { cf: { colo: env.COLO } }));
  },
};
";

/// A workerd configuration serving the bundle beside it (capnp embeds are relative to
/// the configuration file) with the local stack's variables as text bindings, reaching
/// loopback PostgREST; with `colo`, requests enter through [`COLO_FRONT_JS`].
pub fn config(
    compatibility_date: &str,
    env: &str,
    port: u16,
    colo: Option<&str>,
    assets: &Path,
) -> String {
    let bindings: Vec<String> = env
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            format!(
                "      (name = {}, text = {}),",
                capnp_string(k),
                capnp_string(v)
            )
        })
        .collect();
    format!(
        r#"using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "gateway", worker = .gateway),
    (name = "assets", disk = (path = {assets}, writable = false)),
    (name = "loopback", network = (allow = ["public", "private", "local"])),{front_service}
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "{entry}")],
);
{front}
const gateway :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),
  ],
  compatibilityDate = {date},
  bindings = [
      (name = "ASSETS", service = "assets"),
{bindings}
  ],
  globalOutbound = "loopback",
);
"#,
        date = capnp_string(compatibility_date),
        assets = capnp_string(&assets.to_string_lossy()),
        bindings = bindings.join("\n"),
        front_service = if colo.is_some() {
            "\n    (name = \"colo\", worker = .colo),"
        } else {
            ""
        },
        entry = if colo.is_some() { "colo" } else { "gateway" },
        front = colo.map_or(String::new(), |colo| format!(
            r#"
const colo :Workerd.Worker = (
  modules = [(name = "colo.js", esModule = embed "colo.js")],
  compatibilityDate = {date},
  bindings = [(name = "COLO", text = {colo}), (name = "gateway", service = "gateway")],
);
"#,
            date = capnp_string(compatibility_date),
            colo = capnp_string(colo),
        )),
    )
}

pub fn service(stack: &StackPaths) -> Service {
    Service {
        name: "gateway (plain workerd)".into(),
        pid_file: stack.pids().join("workerd.pid"),
        log_file: stack.logs().join("workerd.log"),
        signature: "workerd",
    }
}

pub fn binary(paths: &Paths) -> PathBuf {
    paths
        .root
        .join("node_modules/@cloudflare/workerd-linux-64/bin/workerd")
}

/// Starts workerd on [`PORT`] and waits until it serves; with `inspector`, the V8
/// inspector listens on that port (for CPU profiles). It comes up cold: readiness is
/// asked of `/status`, a static page, so no health probe has run in its isolate.
pub fn start(paths: &Paths, stack: &StackPaths, inspector: Option<u16>) -> anyhow::Result<Service> {
    start_with(paths, stack, inspector, &[])
}

/// The local stack's variables with each of `overrides` in place of its own line.
pub fn env_with(env: &str, overrides: &[(&str, &str)]) -> String {
    let overridden = |line: &str| {
        line.split_once('=')
            .is_some_and(|(k, _)| overrides.iter().any(|(name, _)| *name == k))
    };
    let mut lines: Vec<String> = env
        .lines()
        .filter(|l| !overridden(l))
        .map(str::to_owned)
        .collect();
    lines.extend(overrides.iter().map(|(k, v)| format!("{k}={v}")));
    lines.join("\n")
}

/// [`start`], with some of the gateway's variables set otherwise (a test of one knob).
pub fn start_with(
    paths: &Paths,
    stack: &StackPaths,
    inspector: Option<u16>,
    overrides: &[(&str, &str)],
) -> anyhow::Result<Service> {
    let svc = service(stack);
    let env = env_with(&topology::gateway_env(), overrides);
    launch(
        paths,
        &svc,
        &stack.conf().join("workerd"),
        &env,
        PORT,
        None,
        inspector,
    )?;
    Ok(svc)
}

/// Serves the built bundle with `env` on `port` from its own folder `dir`, as `svc`,
/// and waits until it serves; `colo` puts [`COLO_FRONT_JS`] in front.
pub fn launch(
    paths: &Paths,
    svc: &Service,
    dir: &Path,
    env: &str,
    port: u16,
    colo: Option<&str>,
    inspector: Option<u16>,
) -> anyhow::Result<()> {
    svc.stop(Duration::from_secs(2))?;
    // Otherwise the new workerd dies of "Address already in use" while the readiness
    // check is answered by the other one, and a measurement or test runs against it.
    if crate::process::port_in_use(port) {
        anyhow::bail!(
            "port {port} ({}) is taken by another program{}; stop it and try again",
            svc.name,
            crate::process::listening_pid(port)
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default()
        );
    }
    fs::create_dir_all(dir)?;
    for file in ["index.js", "index_bg.wasm"] {
        // Profiled (an inspector attached), the bundle with function names.
        let from = match (file, inspector) {
            ("index_bg.wasm", Some(_)) => paths.root.join(crate::build::NAMED_WASM),
            _ => paths.root.join("build").join(file),
        };
        fs::copy(&from, dir.join(file)).with_context(|| format!("copying {}", from.display()))?;
    }
    if colo.is_some() {
        fs::write(dir.join("colo.js"), COLO_FRONT_JS)?;
    }
    // The assets as built: the status page and the OpenAPI document (wrangler's
    // `[assets]` in production), read in place through a disk service.
    let assets = paths.root.join(crate::build::ASSETS_DIR);
    let conf = dir.join("workerd.capnp");
    let text = config(&compatibility_date(paths)?, env, port, colo, &assets);
    fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
    let url = format!("http://127.0.0.1:{port}/status");
    let mut command = Command::new(binary(paths));
    command.arg("serve").arg(&conf);
    if let Some(port) = inspector {
        command.arg(format!("--inspector-addr=127.0.0.1:{port}"));
    }
    svc.start(&mut command, Duration::from_secs(30), || serves(&url))
}

/// `/status` is a static page: asking it runs no health probe in the isolate.
pub fn serves(status_url: &str) -> bool {
    ureq::get(status_url)
        .timeout(Duration::from_secs(5))
        .call()
        .is_ok_and(|r| r.status() == 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_binds_every_variable_and_escapes_strings() {
        let assets = Path::new("/srv/build/assets");
        let text = config("2026-04-01", "# comment\nA=1\nB=x\"y\n", 8788, None, assets);
        assert!(text.contains(r#"(name = "A", text = "1"),"#), "{text}");
        assert!(text.contains(r#"(name = "B", text = "x\"y"),"#), "{text}");
        assert!(!text.contains("comment"));
        assert!(text.contains(r#"esModule = embed "index.js""#));
        assert!(text.contains(r#"address = "127.0.0.1:8788""#));
        assert!(text.contains(r#"service = "gateway")"#), "{text}");
        assert!(!text.contains("colo"));
        assert!(
            text.contains(r#"disk = (path = "/srv/build/assets", writable = false)"#),
            "{text}"
        );
        assert!(text.contains(r#"(name = "ASSETS", service = "assets"),"#));
    }

    #[test]
    fn a_colo_puts_the_front_worker_before_the_gateway() {
        let text = config("2026-04-01", "A=1\n", 8801, Some("LOS"), Path::new("/a"));
        assert!(text.contains(r#"service = "colo")"#), "{text}");
        assert!(text.contains(r#"(name = "COLO", text = "LOS")"#), "{text}");
        assert!(
            text.contains(r#"(name = "gateway", service = "gateway")"#),
            "{text}"
        );
    }

    #[test]
    fn an_override_replaces_the_variable_once() {
        let env = env_with("# c\nA=1\nB=2\n", &[("A", "9"), ("C", "3")]);
        assert_eq!(env, "# c\nB=2\nA=9\nC=3");
    }
}
