//! The payment providers' sandbox (`tests/sandbox/providers.mjs`): FedaPay, Moneroo,
//! PayDunya and CinetPay as their published APIs describe them, each under its own
//! prefix, settling checkouts and signing notifications as the provider does. The local
//! gateway is configured to use it (`topology::gateway_env`).

use std::process::Command;
use std::time::Duration;

use anyhow::bail;

use crate::paths::{Paths, StackPaths};
use crate::process::{self, Service};
use crate::topology::{self, SANDBOX_PORT};

pub fn service(stack: &StackPaths) -> Service {
    Service {
        name: "payment providers (sandbox)".into(),
        pid_file: stack.pids().join("sandbox.pid"),
        log_file: stack.logs().join("sandbox.log"),
        signature: "providers.mjs",
    }
}

pub fn start(paths: &Paths, stack: &StackPaths) -> anyhow::Result<()> {
    if process::port_in_use(SANDBOX_PORT) {
        bail!(
            "port {SANDBOX_PORT} (payment sandbox) is taken by another program; stop it and run `cargo xtask up` again"
        );
    }
    service(stack).start(
        Command::new("node")
            .arg(paths.root.join("tests/sandbox/providers.mjs"))
            .env("SANDBOX_PORT", SANDBOX_PORT.to_string())
            .envs(topology::sandbox_env()),
        Duration::from_secs(20),
        is_ready,
    )
}

pub fn is_ready() -> bool {
    ureq::get(&format!("{}/_control/health", topology::sandbox_url()))
        .timeout(Duration::from_secs(2))
        .call()
        .is_ok()
}
