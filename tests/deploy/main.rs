//! The deployment configs, checked offline: `wrangler.toml`'s production and staging
//! environments and `vercel.json`, as files, as wrangler and Vercel's own code resolve
//! them, and `wrangler deploy --dry-run` bundling the built worker for each environment;
//! each region's production PostgREST config as the real PostgREST binary loads it.
//!
//! Needs `node_modules` (`cargo xtask setup`) and the built bundle (`cargo xtask build`),
//! not the local stack. `cargo test -p payhuk-stack-tests --test deploy`.

mod postgrest;
mod vercel;
mod wrangler;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xtask::paths::Paths;

/// The regions every deploy config names, in this order.
const REGIONS: [&str; 3] = ["iad1", "sfo1", "fra1"];

/// Production's gateway, which the storefront reaches through Vercel's rewrites.
const GATEWAY_ORIGIN: &str = "https://api.payhuk.com";

fn root() -> PathBuf {
    Paths::discover().root
}

/// What a finished `node` run printed.
struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn both(&self) -> String {
        without_ansi_escapes(&format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        ))
    }
}

/// Runs `node <args>` from the repository root with wrangler's telemetry off and no
/// terminal; kills it and fails the test when it is still running after `limit`.
fn node(args: &[&str], limit: Duration) -> Ran {
    let paths = Paths::discover();
    assert!(
        paths.wrangler_js().is_file(),
        "{} is missing: run `cargo xtask setup` (npm ci) first",
        paths.wrangler_js().display()
    );
    let logs = tempfile::tempdir().expect("a temporary folder");
    let out_path = logs.path().join("stdout");
    let err_path = logs.path().join("stderr");
    let mut child = Command::new("node")
        .current_dir(&paths.root)
        .args(args)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_LOG_PATH", logs.path().join("wrangler-logs"))
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("starting `node` (Node.js >= 20.3 on PATH?): {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let ran = Ran {
        success: status.is_some_and(|s| s.success()),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "`node {}` was still running after {limit:?}, killed\n{}",
        args.join(" "),
        ran.both()
    );
    ran
}

/// Wrangler's warnings and errors are lines starting `▲ [WARNING]` / `✘ [ERROR]`,
/// colored whatever NO_COLOR says.
fn assert_no_wrangler_diagnostics(what: &str, ran: &Ran) {
    let text = without_ansi_escapes(&format!("{}\n{}", ran.stdout, ran.stderr));
    assert!(
        !text.contains("[WARNING]") && !text.contains("[ERROR]"),
        "{what}: wrangler complained\n{}",
        ran.both()
    );
}

/// `text` without terminal escape sequences (`ESC [ ... letter`).
fn without_ansi_escapes(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}
