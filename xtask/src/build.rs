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

/// Where the bundle is kept with its name section, for CPU profiles.
pub const NAMED_WASM: &str = "build/names/index_bg.wasm";

/// The deployable bundle: built, then without its name section (function names, about
/// 57 KB of the gzipped size), so it stays inside the 400 KB budget. Panics still say
/// what and where (file and line are in the message); stack frames show indices. A
/// copy with names ([`NAMED_WASM`]) is what a profiled workerd runs.
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
    write_assets(paths)?;
    let wasm = paths.root.join("build/index_bg.wasm");
    let named = fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let named_path = paths.root.join(NAMED_WASM);
    fs::create_dir_all(named_path.parent().expect("a file in a folder"))?;
    fs::write(&named_path, &named).with_context(|| format!("writing {}", named_path.display()))?;
    let bytes = without_custom_section(&named, "name")?;
    fs::write(&wasm, &bytes).with_context(|| format!("writing {}", wasm.display()))?;
    let gzipped = gzipped_len(&bytes)?;
    ui::detail(&format!(
        "{}: {} raw, {} gzipped",
        wasm.strip_prefix(&paths.root).unwrap_or(&wasm).display(),
        human_size(bytes.len()),
        human_size(gzipped)
    ));
    Ok(())
}

/// Where the bundle's static assets go (wrangler.toml's `[assets]`, workerd's disk
/// service): the files the gateway serves but does not carry in its wasm.
pub const ASSETS_DIR: &str = "build/assets";

/// The status page and the OpenAPI document (its paths made from the route table, as
/// the gateway's own code makes them), written for the `ASSETS` binding.
fn write_assets(paths: &Paths) -> anyhow::Result<()> {
    use payhuk_edge::services::{openapi, status};
    let dir = paths.root.join(ASSETS_DIR);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let document = openapi::base().map_err(|e| anyhow::anyhow!("openapi.json: {e}"))?;
    for (name, text) in [
        (status::ASSET, status::PAGE.to_owned()),
        (openapi::ASSET, document.to_string()),
    ] {
        let file = dir.join(name);
        fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// Size after gzip at the default level, as HTTP transfer and Cloudflare's upload
/// limit count it.
pub fn gzipped_len(bytes: &[u8]) -> anyhow::Result<usize> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len())
}

fn leb128(bytes: &[u8], at: &mut usize) -> anyhow::Result<usize> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at).context("wasm ends inside a number")?;
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    anyhow::bail!("wasm number longer than 5 bytes")
}

/// `wasm` without the custom sections called `name` (the binary format: an 8-byte
/// preamble, then sections of id, LEB128 size and contents; custom sections are id 0
/// and start with their name).
pub fn without_custom_section(wasm: &[u8], name: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(wasm.starts_with(b"\0asm"), "not a wasm module");
    let mut out = wasm[..8].to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        at += 1;
        let size = leb128(wasm, &mut at)?;
        let end = at
            .checked_add(size)
            .filter(|e| *e <= wasm.len())
            .context("wasm section runs past the end")?;
        let named = id == 0 && {
            let mut inner = at;
            let len = leb128(wasm, &mut inner)?;
            wasm.get(inner..inner + len) == Some(name.as_bytes())
        };
        if !named {
            out.extend_from_slice(&wasm[start..end]);
        }
        at = end;
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(name: &str, body: &[u8]) -> Vec<u8> {
        let mut contents = vec![u8::try_from(name.len()).unwrap()];
        contents.extend_from_slice(name.as_bytes());
        contents.extend_from_slice(body);
        // A two-byte LEB128 size, to cover the continuation bit.
        let size = contents.len();
        let mut section = vec![0, 0x80 | (size & 0x7f) as u8, (size >> 7) as u8];
        section.extend(contents);
        section
    }

    #[test]
    fn drops_only_the_named_custom_section() {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        let types = [1u8, 4, 1, 0x60, 0, 0];
        wasm.extend_from_slice(&types);
        wasm.extend(custom("name", &[9; 200]));
        wasm.extend(custom("producers", &[7; 3]));
        let stripped = without_custom_section(&wasm, "name").unwrap();
        let mut expected = b"\0asm\x01\0\0\0".to_vec();
        expected.extend_from_slice(&types);
        expected.extend(custom("producers", &[7; 3]));
        assert_eq!(stripped, expected);
        assert_eq!(without_custom_section(&stripped, "name").unwrap(), stripped);
        assert!(without_custom_section(&wasm[..wasm.len() - 1], "name").is_err());
        assert!(without_custom_section(b"nope", "name").is_err());
    }
}
