//! `cargo xtask setup`: installs whatever is missing, and nothing else. A second run
//! only checks, and is fast.

use std::fs;
use std::process::Command;

use anyhow::{Context, bail};
use nix::unistd::Uid;
use sha2::{Digest, Sha256};

use crate::cmd;
use crate::paths::Paths;
use crate::ui;

pub const WORKER_BUILD_VERSION: &str = "0.8.7";
/// The load generator `cargo xtask bench` drives.
pub const OHA_VERSION: &str = "1.16.0";
/// The libFuzzer driver `cargo xtask fuzz` runs the fuzz targets with.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// The property-based API tester `cargo xtask contract` runs over the OpenAPI document
/// (from PyPI, into its own virtual environment).
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
const MIN_NODE: (u32, u32) = (20, 3);

/// Debian packages the stack and later test layers use.
pub const DEBIAN_PACKAGES: &[&str] = &[
    "postgresql-15",
    "postgresql-15-pgtap",
    "libtap-parser-sourcehandler-pgtap-perl", // pg_prove
    "pgbackrest",
    "faketime",     // the pinned-clock test layer (libfaketime in the PostgreSQL servers)
    "chromium",     // the browser end-to-end tests
    "python3-venv", // Schemathesis, the contract layer's API tester, in its own venv
];

pub fn run(paths: &Paths) -> anyhow::Result<()> {
    ui::header("setup");
    system_packages()?;
    build_tools(paths)
}

/// What `cargo xtask build` needs: the wasm target, worker-build, the wasm-bindgen CLI
/// matching Cargo.lock, and the npm packages.
pub fn build_tools(paths: &Paths) -> anyhow::Result<()> {
    wasm_target()?;
    cargo_tool(
        paths,
        "worker-build",
        "worker-build",
        WORKER_BUILD_VERSION,
        &["--locked"],
    )?;
    let bindgen = wasm_bindgen_version(paths)?;
    // wasm-bindgen-cli's own lock file names a yanked crate, so it installs unlocked.
    cargo_tool(paths, "wasm-bindgen-cli", "wasm-bindgen", &bindgen, &[])?;
    npm_packages(paths)
}

/// What `cargo xtask bench` needs beyond the build: the oha load generator.
pub fn bench_tools(paths: &Paths) -> anyhow::Result<()> {
    cargo_tool(paths, "oha", "oha", OHA_VERSION, &["--locked"])
}

/// What `cargo xtask fuzz` needs: the nightly toolchain (sanitizers, coverage) and
/// cargo-fuzz.
pub fn fuzz_tools(paths: &Paths) -> anyhow::Result<()> {
    let toolchains = cmd::output(Command::new("rustup").args(["toolchain", "list"]))
        .context("rustup is needed to find the nightly toolchain")?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        bail!(
            "the fuzz targets build with the nightly toolchain, which is not installed\n\
             install it with: rustup toolchain install nightly"
        );
    }
    ui::detail("nightly toolchain: installed");
    cargo_tool(
        paths,
        "cargo-fuzz",
        "cargo-fuzz",
        CARGO_FUZZ_VERSION,
        &["--locked"],
    )
}

/// What `cargo xtask contract` needs: Schemathesis and what it depends on, pinned, in a Python virtual
/// environment under `.payhuk/tools/schemathesis`, made only when it does not already
/// hold that version.
pub fn contract_tools(paths: &Paths) -> anyhow::Result<()> {
    let bin = paths.schemathesis_bin();
    if cmd::prints(&bin, &["--version"], SCHEMATHESIS_VERSION) {
        ui::detail(&format!("schemathesis {SCHEMATHESIS_VERSION}: installed"));
        return Ok(());
    }
    let venv = paths.schemathesis_venv();
    ui::step(
        &format!("installing schemathesis {SCHEMATHESIS_VERSION} from PyPI (pip, a minute)"),
        || {
            if !venv.join("bin/python").exists() {
                cmd::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
                    .context("Python 3.9 or later with its venv module is needed")?;
            }
            cmd::run(
                Command::new(venv.join("bin/python"))
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
                        "--constraint",
                    ])
                    .arg(paths.root.join(crate::contract::CONSTRAINTS)),
            )?;
            if !cmd::prints(&bin, &["--version"], SCHEMATHESIS_VERSION) {
                bail!("{} does not report {SCHEMATHESIS_VERSION}", bin.display());
            }
            Ok(())
        },
    )
}

fn wasm_target() -> anyhow::Result<()> {
    let installed = cmd::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("rustup is needed to add the wasm32 target")?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        ui::detail(&format!("{WASM_TARGET} target: installed"));
        return Ok(());
    }
    ui::step(&format!("adding the {WASM_TARGET} target"), || {
        cmd::run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
    })
}

/// Installs `krate` at exactly `version` into `.payhuk/tools` unless `binary` there
/// already reports that version.
fn cargo_tool(
    paths: &Paths,
    krate: &str,
    binary: &str,
    version: &str,
    flags: &[&str],
) -> anyhow::Result<()> {
    let bin = paths.tool(binary);
    if cmd::prints(&bin, &["--version"], version) {
        ui::detail(&format!("{krate} {version}: installed"));
        return Ok(());
    }
    ui::step(
        &format!("installing {krate} {version} (compiles from source: a few minutes)"),
        || {
            let mut install = Command::new("cargo");
            install
                .args(["install", krate, "--version", version, "--force", "--root"])
                .arg(paths.state.join("tools"))
                .args(flags);
            cmd::run(&mut install)
        },
    )
}

/// The wasm-bindgen library version in Cargo.lock; the CLI must match it exactly.
pub fn wasm_bindgen_version(paths: &Paths) -> anyhow::Result<String> {
    #[derive(serde::Deserialize)]
    struct Lock {
        package: Vec<Package>,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
        version: String,
    }
    let path = paths.root.join("Cargo.lock");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let lock: Lock =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let versions: Vec<String> = lock
        .package
        .into_iter()
        .filter(|p| p.name == "wasm-bindgen")
        .map(|p| p.version)
        .collect();
    match versions.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("Cargo.lock has no wasm-bindgen"),
        many => bail!("Cargo.lock has several wasm-bindgen versions ({many:?}); pin one with `=`"),
    }
}

fn npm_packages(paths: &Paths) -> anyhow::Result<()> {
    check_node()?;
    let lock = paths.root.join("package-lock.json");
    let digest = format!(
        "{:x}",
        Sha256::digest(fs::read(&lock).with_context(|| format!("reading {}", lock.display()))?)
    );
    let stamp = paths.node_modules.join(".payhuk-lock-sha256");
    if fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == digest) {
        ui::detail("npm packages: installed");
        return Ok(());
    }
    ui::step("installing npm packages (npm ci)", || {
        cmd::run(Command::new("npm").current_dir(&paths.root).args([
            "ci",
            "--no-audit",
            "--no-fund",
        ]))?;
        fs::write(&stamp, &digest)?;
        Ok(())
    })
}

fn check_node() -> anyhow::Result<()> {
    let version = cmd::output(Command::new("node").arg("--version"))
        .context("Node.js is needed for wrangler; install Node.js 20.3 or later")?;
    let parsed = parse_node_version(&version);
    match parsed {
        Some(v) if v >= MIN_NODE => Ok(()),
        _ => bail!(
            "Node.js {} found; wrangler needs {}.{} or later",
            version.trim(),
            MIN_NODE.0,
            MIN_NODE.1
        ),
    }
}

fn parse_node_version(raw: &str) -> Option<(u32, u32)> {
    let mut parts = raw.trim().trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn is_installed(package: &str) -> bool {
    cmd::prints(
        "dpkg-query",
        &["-W", "-f=${Status}", package],
        "install ok installed",
    )
}

fn system_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        ui::detail(&format!(
            "Debian packages: installed ({})",
            DEBIAN_PACKAGES.join(", ")
        ));
        return Ok(());
    }
    if !Uid::effective().is_root() {
        bail!(
            "missing Debian packages: {0}\ninstall them with: sudo apt-get install -y {0}",
            missing.join(" ")
        );
    }
    ui::step(
        &format!("installing Debian packages: {}", missing.join(" ")),
        || {
            let install = || {
                cmd::run(
                    Command::new("apt-get")
                        .args(["install", "-y", "--no-install-recommends"])
                        .args(&missing)
                        .env("DEBIAN_FRONTEND", "noninteractive"),
                )
            };
            if install().is_err() {
                ui::detail("refreshing the package lists and trying again");
                cmd::run(
                    Command::new("apt-get")
                        .arg("update")
                        .env("DEBIAN_FRONTEND", "noninteractive"),
                )?;
                install()?;
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions() {
        assert_eq!(parse_node_version("v20.20.2\n"), Some((20, 20)));
        assert_eq!(parse_node_version("v22.1.0"), Some((22, 1)));
        assert_eq!(parse_node_version("nonsense"), None);
        assert!(parse_node_version("v20.2.0").unwrap() < MIN_NODE);
    }

    #[test]
    fn the_lock_pins_one_wasm_bindgen() {
        let version = wasm_bindgen_version(&Paths::discover()).unwrap();
        let manifest = fs::read_to_string(Paths::discover().root.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("wasm-bindgen = \"={version}\"")),
            "Cargo.toml must pin wasm-bindgen = \"={version}\""
        );
    }
}
