//! `cargo xtask bench --jwt`: ES256 and RS256 JWT signatures, the runtime's WebCrypto
//! beside the RustCrypto crates built to wasm32, measured in one run (issue 19).
//!
//! The crate in `bench/jwt-crypto/` (outside the workspace, built as the gateway is:
//! release, `opt-level = "z"`, LTO) is built once per variant (glue only, ES256 verify,
//! ES256 verify and sign, RS256 verify, all three), each run through the pinned
//! wasm-bindgen CLI and through wasm-opt with the gateway's flags, and weighed raw and
//! gzipped. Then `bench/jwt-crypto/bench.mjs` times WebCrypto and the complete wasm build
//! on the same keys and tokens, under Node and inside plain workerd (the gateway's
//! runtime; a worker of the script's own on a free port, timed from outside since workerd
//! stops its clocks while a request runs), after checking in each that the two accept
//! each other's signatures and refuse tampered ones.
//!
//! Nothing is written: the figures are printed. Needs no stack and touches none.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::paths::Paths;
use crate::{build, cmd, setup, ui, workerd};

/// The benchmark crate and its Node script, from the checkout's root.
const CRATE_DIR: &str = "bench/jwt-crypto";
const SCRIPT: &str = "bench/jwt-crypto/bench.mjs";
/// The crate's library name, as cargo and wasm-bindgen name its files.
const LIB: &str = "jwt_crypto_bench";
/// The gateway's budget for its wasm, gzipped at the default level.
const BUNDLE_BUDGET: usize = 400_000;

/// One build of the crate: the cargo features it has.
struct Variant {
    name: &'static str,
    features: &'static str,
}

const VARIANTS: [Variant; 5] = [
    Variant {
        name: "glue only (baseline)",
        features: "",
    },
    Variant {
        name: "ES256 verify",
        features: "es256-verify",
    },
    Variant {
        name: "ES256 verify + sign",
        features: "es256-verify,es256-sign",
    },
    Variant {
        name: "RS256 verify",
        features: "rs256-verify",
    },
    Variant {
        name: "ES256 verify + sign, RS256",
        features: "es256-verify,es256-sign,rs256-verify",
    },
];

/// One wasm file's weight.
#[derive(Debug, Clone, Copy)]
struct Weight {
    raw: usize,
    /// gzip at the default level, as `cargo xtask build` and the budget count.
    gzip: usize,
    /// gzip -9.
    gzip_best: usize,
}

impl Weight {
    fn of(path: &Path) -> anyhow::Result<Weight> {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut best = GzEncoder::new(Vec::new(), Compression::best());
        best.write_all(&bytes)?;
        Ok(Weight {
            raw: bytes.len(),
            gzip: build::gzipped_len(&bytes)?,
            gzip_best: best.finish()?.len(),
        })
    }
}

pub fn run(paths: &Paths) -> anyhow::Result<()> {
    setup::build_tools(paths)?;
    let started = std::time::Instant::now();
    ui::header("bench --jwt: ES256/RS256, WebCrypto beside RustCrypto in wasm32");
    let out = out_dir(paths);
    let wasm_opt_flags = wasm_opt_flags(paths)?;
    let mut weights = Vec::new();
    for variant in &VARIANTS {
        let dir = out.join(slug(variant));
        let weight = ui::step(
            &format!(
                "building {} (wasm32 release, wasm-bindgen, wasm-opt)",
                variant.name
            ),
            || build_variant(paths, &out, variant, &dir, &wasm_opt_flags),
        )?;
        weights.push(weight);
    }
    let all = out.join(slug(&VARIANTS[VARIANTS.len() - 1]));
    // The same wasm as an ES module for workerd, which is given the compiled module as
    // an import rather than a file to read.
    let for_workerd = all.join("web");
    cmd::run(
        Command::new(paths.tool("wasm-bindgen"))
            .args(["--target", "web", "--out-dir"])
            .arg(&for_workerd)
            .arg(built_wasm(&out)),
    )?;
    let compatibility_date = workerd::compatibility_date(paths)?;
    ui::step(
        "timing WebCrypto and the wasm build, in node then in workerd",
        || {
            cmd::run(
                Command::new("node")
                    .current_dir(&paths.root)
                    .arg(SCRIPT)
                    .arg(&all)
                    .arg("--workerd")
                    .arg(workerd::binary(paths))
                    .args(["--compatibility-date", &compatibility_date])
                    .arg("--workerd-wasm")
                    .arg(&for_workerd),
            )
        },
    )?;

    ui::header(&format!("bench --jwt: sizes ({})", ui::elapsed(started)));
    print!("{}", size_table(&weights, &wasm_opt_flags));
    Ok(())
}

/// Under the target folder cargo would use (`$CARGO_TARGET_DIR` or `target/`), in a
/// folder of its own: its builds never wait on the gateway's build lock.
fn out_dir(paths: &Paths) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths.root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        paths.root.join(target)
    };
    target.join("jwt-crypto-bench")
}

fn slug(variant: &Variant) -> String {
    if variant.features.is_empty() {
        "baseline".into()
    } else {
        variant.features.replace(',', "+")
    }
}

/// Builds `variant`, writes its Node bindings into `dir` and returns the weight of the
/// wasm before and after wasm-opt.
fn build_variant(
    paths: &Paths,
    out: &Path,
    variant: &Variant,
    dir: &Path,
    wasm_opt_flags: &[String],
) -> anyhow::Result<(Weight, Weight)> {
    cmd::run(
        Command::new("cargo")
            .current_dir(paths.root.join(CRATE_DIR))
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                setup::WASM_TARGET,
            ])
            .args(["--no-default-features", "--features", variant.features])
            .arg("--target-dir")
            .arg(out.join("cargo")),
    )?;
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    cmd::run(
        Command::new(paths.tool("wasm-bindgen"))
            .args(["--target", "nodejs", "--out-dir"])
            .arg(dir)
            .arg(built_wasm(out)),
    )?;
    let bound = dir.join(format!("{LIB}_bg.wasm"));
    let optimized = dir.join(format!("{LIB}_bg.opt.wasm"));
    cmd::run(
        Command::new(paths.npm_bin("wasm-opt"))
            .arg(&bound)
            .arg("-o")
            .arg(&optimized)
            .args(wasm_opt_flags),
    )?;
    Ok((Weight::of(&bound)?, Weight::of(&optimized)?))
}

/// The wasm cargo built last, before wasm-bindgen.
fn built_wasm(out: &Path) -> PathBuf {
    out.join("cargo")
        .join(setup::WASM_TARGET)
        .join("release")
        .join(format!("{LIB}.wasm"))
}

/// What worker-build passes wasm-opt for the gateway: the root Cargo.toml's
/// `package.metadata.wasm-pack.profile.release.wasm-opt`, then the features it enables
/// and `--debuginfo` (worker-build 0.8.7, `step_run_wasm_opt`).
fn wasm_opt_flags(paths: &Paths) -> anyhow::Result<Vec<String>> {
    let path = paths.root.join("Cargo.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let configured = [
        "package",
        "metadata",
        "wasm-pack",
        "profile",
        "release",
        "wasm-opt",
    ]
    .iter()
    .try_fold(&manifest, |v, key| v.get(key))
    .and_then(|v| v.as_array())
    .context("the root Cargo.toml has no package.metadata.wasm-pack.profile.release.wasm-opt")?;
    let mut flags: Vec<String> = configured
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for feature in [
        "mutable-globals",
        "sign-ext",
        "nontrapping-float-to-int",
        "bulk-memory",
        "multivalue",
        "reference-types",
        "exception-handling",
    ] {
        flags.push(format!("--enable-{feature}"));
    }
    flags.push("--debuginfo".into());
    Ok(flags)
}

fn kb(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / 1000.0)
}

fn size_table(weights: &[(Weight, Weight)], wasm_opt_flags: &[String]) -> String {
    let base = weights.first().map_or(0, |(_, opt)| opt.gzip);
    let mut out = format!(
        "KB = 1000 bytes; gz = gzip at the default level (as `cargo xtask build` and the \
         {} KB budget count), gz-9 = gzip -9\n\
         after wasm-opt: {}\n\n",
        BUNDLE_BUDGET / 1000,
        wasm_opt_flags.first().map_or("", String::as_str)
    );
    out.push_str(&format!(
        "{:<28}  {:>24}  {:>24}  {:>12}\n",
        "variant", "wasm-bindgen raw/gz/gz-9", "wasm-opt raw/gz/gz-9", "gz over glue"
    ));
    for (variant, (bound, optimized)) in VARIANTS.iter().zip(weights) {
        let triple = |w: &Weight| format!("{} / {} / {}", kb(w.raw), kb(w.gzip), kb(w.gzip_best));
        out.push_str(&format!(
            "{:<28}  {:>24}  {:>24}  {:>12}\n",
            variant.name,
            triple(bound),
            triple(optimized),
            format!("+{}", kb(optimized.gzip.saturating_sub(base)))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_crate_pins_the_workspace_wasm_bindgen() {
        let paths = Paths::discover();
        let version = setup::wasm_bindgen_version(&paths).unwrap();
        let manifest = fs::read_to_string(paths.root.join(CRATE_DIR).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("wasm-bindgen = \"={version}\"")),
            "{CRATE_DIR}/Cargo.toml must pin wasm-bindgen = \"={version}\", as the CLI is"
        );
    }

    #[test]
    fn variants_name_features_the_crate_has() {
        let paths = Paths::discover();
        let text = fs::read_to_string(paths.root.join(CRATE_DIR).join("Cargo.toml")).unwrap();
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        let features = manifest["features"].as_table().unwrap();
        for variant in &VARIANTS {
            for feature in variant.features.split(',').filter(|f| !f.is_empty()) {
                assert!(features.contains_key(feature), "no feature {feature}");
            }
        }
    }
}
