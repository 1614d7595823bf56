//! The gateway: the built wasm served by workerd through `wrangler dev`.

use std::fs;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::paths::{Paths, StackPaths};
use crate::process::{self, Service};
use crate::topology::{self, GATEWAY_INSPECTOR_PORT, GATEWAY_PORT};

pub fn service(stack: &StackPaths) -> Service {
    Service {
        name: "gateway (wrangler dev)".into(),
        pid_file: stack.pids().join("gateway.pid"),
        log_file: stack.logs().join("gateway.log"),
        signature: "wrangler",
    }
}

pub fn start(paths: &Paths, stack: &StackPaths) -> anyhow::Result<()> {
    // A build from before the assets existed has no build/assets.
    if !paths.root.join("build/index.js").exists()
        || !paths.root.join(crate::build::ASSETS_DIR).is_dir()
    {
        bail!("the gateway is not built; run `cargo xtask build` (or `cargo xtask dev`)");
    }
    if process::port_in_use(GATEWAY_PORT) {
        bail!(
            "port {GATEWAY_PORT} (gateway) is taken by another program; stop it and run `cargo xtask up` again"
        );
    }
    let env_file = stack.gateway_env();
    fs::write(&env_file, topology::gateway_env())
        .with_context(|| format!("writing {}", env_file.display()))?;

    let svc = service(stack);
    let mut command = Command::new("node");
    command
        .current_dir(&paths.root)
        .arg(paths.wrangler_js())
        // `--env local` skips wrangler.toml's build command: `cargo xtask build` ran already.
        .args(["dev", "--env", "local", "--ip", "127.0.0.1"])
        // The gateway's ASSETS: an assets-only Worker beside it (wrangler.toml says why).
        .args([
            "--config",
            "wrangler.toml",
            "--config",
            "wrangler.assets.toml",
        ])
        .args(["--port", &GATEWAY_PORT.to_string()])
        .args(["--inspector-port", &GATEWAY_INSPECTOR_PORT.to_string()])
        .arg("--env-file")
        .arg(&env_file)
        .arg("--persist-to")
        .arg(stack.wrangler_state())
        // `log`, not `info`: wrangler counts `console.log` (the gateway's JSON line per
        // request) below `info` and would drop it.
        .args(["--show-interactive-dev-session=false", "--log-level", "log"])
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_LOG_PATH", stack.logs().join("wrangler"))
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0");
    svc.start(&mut command, Duration::from_secs(90), is_ready)
}

/// `/health` answers 200 JSON once workerd serves the worker and its config is valid.
pub fn is_ready() -> bool {
    ureq::get(&format!("{}/health", topology::gateway_url()))
        .timeout(Duration::from_secs(5))
        .call()
        .ok()
        .and_then(|r| r.into_json::<serde_json::Value>().ok())
        .is_some_and(|body| body.get("regions").is_some())
}
