//! `cargo xtask build`: the gateway to wasm32 with worker-build (release), using the
//! pinned tools instead of worker-build's downloads (GitHub is out of reach here).

use std::fs;
use std::io::Write;
use std::process::Command;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::paths::Paths;
use crate::{cmd, setup, ui};

pub fn run(paths: &Paths) -> anyhow::Result<()> {
    setup::build_tools(paths)?;
    ui::header("build");
    ui::step("worker-build --release (wasm32)", || {
        cmd::run(
            Command::new(paths.tool("worker-build"))
                .current_dir(&paths.root)
                .arg("--release")
                .env("WASM_BINDGEN_BIN", paths.tool("wasm-bindgen"))
                .env("ESBUILD_BIN", paths.esbuild_bin())
                .env("WASM_OPT_BIN", paths.npm_bin("wasm-opt")),
        )
    })?;
    let wasm = paths.root.join("build/index_bg.wasm");
    let bytes = fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let gzipped = gzipped_len(&bytes)?;
    ui::detail(&format!(
        "{}: {} raw, {} gzipped",
        wasm.strip_prefix(&paths.root).unwrap_or(&wasm).display(),
        human_size(bytes.len()),
        human_size(gzipped)
    ));
    Ok(())
}

/// Size after gzip at the default level, as HTTP transfer and Cloudflare's upload
/// limit count it.
pub fn gzipped_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len())
}

fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!(
            "{:.2} MiB ({bytes} bytes)",
            bytes as f64 / (1024.0 * 1024.0)
        )
    } else {
        format!("{:.1} KiB ({bytes} bytes)", bytes as f64 / 1024.0)
    }
}
