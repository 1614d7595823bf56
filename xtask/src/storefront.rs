//! The demo storefront: the static files in `storefront/` served on an origin of their
//! own, so the browser calls the gateway cross-origin as a deployed frontend does.

use std::process::Command;
use std::time::Duration;

use anyhow::bail;

use crate::paths::{Paths, StackPaths};
use crate::process::{self, Service};
use crate::topology::STOREFRONT_PORT;

pub fn service(stack: &StackPaths) -> Service {
    Service {
        name: "storefront (static files)".into(),
        pid_file: stack.pids().join("storefront.pid"),
        log_file: stack.logs().join("storefront.log"),
        signature: "http-server",
    }
}

pub fn start(paths: &Paths, stack: &StackPaths) -> anyhow::Result<()> {
    if process::port_in_use(STOREFRONT_PORT) {
        bail!(
            "port {STOREFRONT_PORT} (storefront) is taken by another program; stop it and run `cargo xtask up` again"
        );
    }
    let svc = service(stack);
    svc.start(
        Command::new("node")
            .arg(paths.http_server_js())
            .arg(paths.storefront())
            .args(["-a", "127.0.0.1", "-p", &STOREFRONT_PORT.to_string()])
            // No caching: an edited file shows on the next reload.
            .args(["-c-1", "--no-dotfiles"]),
        Duration::from_secs(20),
        is_ready,
    )
}

pub fn is_ready() -> bool {
    ureq::get(&format!("http://127.0.0.1:{STOREFRONT_PORT}/index.html"))
        .timeout(Duration::from_secs(2))
        .call()
        .is_ok()
}
