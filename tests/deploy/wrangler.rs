//! `wrangler.toml`: the production and staging environments as the file says them, as
//! wrangler resolves them (what environments inherit), and as `wrangler deploy --dry-run`
//! bundles and binds them.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use payhuk_edge::config::{AllowedOrigins, Config};
use serde_json::Value;
use xtask::paths::Paths;
use xtask::topology;

use crate::{REGIONS, Ran, assert_no_wrangler_diagnostics, node, root};

/// One deployed environment and what it must be.
struct Deployment {
    env: &'static str,
    worker: &'static str,
    host: &'static str,
    origins: &'static [&'static str],
}

const DEPLOYMENTS: [Deployment; 2] = [
    Deployment {
        env: "production",
        worker: "payhuk-edge",
        host: "api.payhuk.com",
        origins: &["https://payhuk.com", "https://www.payhuk.com"],
    },
    Deployment {
        env: "staging",
        worker: "payhuk-edge-staging",
        host: "api.staging.payhuk.com",
        origins: &["https://staging.payhuk.com"],
    },
];

/// Partition maintenance, as README and the stack's cron test know it.
const MAINTENANCE_CRON: &str = "0 */6 * * *";

/// How long one wrangler run may take before the test gives up on it.
const WRANGLER_LIMIT: Duration = Duration::from_secs(120);

pub(crate) fn wrangler_toml() -> toml::Table {
    let path = root().join("wrangler.toml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("wrangler.toml does not parse: {e}"))
}

pub(crate) fn env_table<'a>(file: &'a toml::Table, env: &str) -> &'a toml::Table {
    file.get("env")
        .and_then(|e| e.get(env))
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("wrangler.toml has no [env.{env}]"))
}

/// An environment's own `vars` (wrangler does not inherit them from the top level).
pub(crate) fn vars(env: &str, table: &toml::Table) -> BTreeMap<String, String> {
    table
        .get("vars")
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("[env.{env}] has no vars"))
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("[env.{env}.vars] {k} is not a string: {v}"));
            (k.clone(), v.to_owned())
        })
        .collect()
}

fn str_list(what: &str, value: Option<&toml::Value>) -> Vec<String> {
    value
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("{what} is not a list"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what}: {v} is not a string"))
                .to_owned()
        })
        .collect()
}

#[test]
fn production_and_staging_are_complete_gateway_configs() {
    let file = wrangler_toml();
    for d in DEPLOYMENTS {
        let env = d.env;
        let table = env_table(&file, env);

        assert_eq!(
            table.get("name").and_then(toml::Value::as_str),
            Some(d.worker),
            "[env.{env}] name"
        );

        let routes = table
            .get("routes")
            .and_then(toml::Value::as_array)
            .unwrap_or_else(|| panic!("[env.{env}] has no routes"));
        let serves_host = routes.iter().any(|r| {
            let pattern = r.get("pattern").and_then(toml::Value::as_str);
            let custom_domain = r.get("custom_domain").and_then(toml::Value::as_bool);
            let zone = r.get("zone_name").and_then(toml::Value::as_str);
            (pattern == Some(d.host) && custom_domain == Some(true))
                || (pattern == Some(&format!("{}/*", d.host)) && zone == Some("payhuk.com"))
        });
        assert!(
            serves_host,
            "[env.{env}] routes do not serve {}: {routes:?}",
            d.host
        );

        let crons = str_list(
            &format!("[env.{env}] triggers.crons"),
            table.get("triggers").and_then(|t| t.get("crons")),
        );
        for cron in &crons {
            assert_eq!(
                cron.split_whitespace().count(),
                5,
                "[env.{env}] cron `{cron}` is not five fields"
            );
        }
        assert!(
            crons.iter().any(|c| c == MAINTENANCE_CRON),
            "[env.{env}] crons {crons:?} lack partition maintenance `{MAINTENANCE_CRON}`"
        );

        let vars = vars(env, table);
        for secret in [
            "JWT_SECRET",
            "SERVICE_ROLE_KEY",
            "JWT_SIGNING_KEY",
            "PUBLISHABLE_KEYS",
            "SECRET_KEYS",
            "STATUS_TOKEN",
        ] {
            assert!(
                !vars.contains_key(secret),
                "[env.{env}.vars] sets {secret}: it is a secret (`wrangler secret put {secret} --env {env}`)"
            );
        }
        assert_eq!(
            vars.get("REGIONS").map(String::as_str),
            Some(REGIONS.join(",").as_str()),
            "[env.{env}.vars] REGIONS"
        );
        for code in REGIONS {
            let key = format!("REGION_{}_POSTGREST_URL", code.to_ascii_uppercase());
            let url = vars
                .get(&key)
                .unwrap_or_else(|| panic!("[env.{env}.vars] lacks {key}"));
            assert!(
                url.starts_with("https://") && url.len() > "https://".len(),
                "[env.{env}.vars] {key} is not an https URL: {url}"
            );
        }
        let origins = vars
            .get("ALLOWED_ORIGINS")
            .unwrap_or_else(|| panic!("[env.{env}.vars] lacks ALLOWED_ORIGINS"));
        assert!(
            !origins.contains('*'),
            "[env.{env}.vars] ALLOWED_ORIGINS must list exact origins, not `*`: {origins}"
        );
        let listed: Vec<&str> = origins.split(',').map(str::trim).collect();
        assert_eq!(listed, d.origins, "[env.{env}.vars] ALLOWED_ORIGINS");
        assert_eq!(
            vars.get("ALLOW_REGION_OVERRIDE").map(String::as_str),
            Some("false"),
            "[env.{env}.vars] ALLOW_REGION_OVERRIDE must be false outside the local stack"
        );

        // The vars plus the three secrets must be a configuration the gateway accepts.
        let mut source: HashMap<String, String> = vars.into_iter().collect();
        source.insert("JWT_SECRET".into(), topology::JWT_SECRET.into());
        source.insert("JWT_SIGNING_KEY".into(), topology::SIGNING_KEY.into());
        source.insert("SERVICE_ROLE_KEY".into(), topology::service_role_key());
        let config = Config::from_source(&source).unwrap_or_else(|errors| {
            panic!("[env.{env}.vars] plus the secrets is not a valid gateway config: {errors}")
        });
        let codes: Vec<&str> = config.regions.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(
            codes, REGIONS,
            "[env.{env}] regions as the gateway reads them"
        );
        assert_eq!(
            config.allowed_origins,
            AllowedOrigins::List(d.origins.iter().map(|o| (*o).to_owned()).collect()),
            "[env.{env}] origins as the gateway reads them"
        );
        assert!(!config.allow_region_override, "[env.{env}]");
        assert!(
            config.use_cf_location,
            "[env.{env}] must locate the edge from request.cf"
        );
    }
}

#[test]
fn no_secret_is_written_in_wrangler_toml() {
    let path = root().join("wrangler.toml");
    let text = fs::read_to_string(&path).unwrap();
    // Every JWT (a service-role key, an anon key) starts with base64 of `{"`.
    assert!(
        !text.contains("eyJ"),
        "wrangler.toml holds something that looks like a JWT"
    );

    let file = wrangler_toml();
    let mut tables: Vec<(String, &toml::Table)> = Vec::new();
    if let Some(top) = file.get("vars").and_then(toml::Value::as_table) {
        tables.push(("[vars]".into(), top));
    }
    for (env, table) in file
        .get("env")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
    {
        if let Some(vars) = table.get("vars").and_then(toml::Value::as_table) {
            tables.push((format!("[env.{env}.vars]"), vars));
        }
    }
    assert!(
        tables.len() >= 3,
        "expected top-level, production and staging vars"
    );
    for (name, vars) in tables {
        for key in vars.keys() {
            let upper = key.to_ascii_uppercase();
            assert!(
                !upper.contains("SECRET") && !upper.contains("KEY"),
                "{name} sets {key}: secrets go through `wrangler secret put {key} --env <env>`"
            );
        }
    }
}

#[test]
fn wrangler_resolves_each_environment_with_its_own_vars_and_the_build() {
    let file = wrangler_toml();
    let main = root().join("build/index.js").display().to_string();
    // One node run for every environment: loading wrangler is most of its cost.
    let ran = node(
        &[
            "tests/deploy/wrangler_config.cjs",
            "production",
            "staging",
            "local",
            "top",
        ],
        WRANGLER_LIMIT,
    );
    assert!(ran.success, "reading wrangler.toml\n{}", ran.both());
    let resolved: Value =
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.stdout));
    // wrangler's warnings, per environment, after a line `== <env>`.
    let mut warnings: HashMap<&str, String> = HashMap::new();
    let mut current = "";
    for line in ran.stderr.lines() {
        match line.strip_prefix("== ") {
            Some(env) => current = env.trim(),
            None => warnings
                .entry(current)
                .or_default()
                .push_str(&format!("{line}\n")),
        }
    }

    for d in DEPLOYMENTS {
        let env = d.env;
        assert_no_wrangler_diagnostics(
            &format!("reading [env.{env}]"),
            &Ran {
                success: true,
                stdout: String::new(),
                stderr: warnings.get(env).cloned().unwrap_or_default(),
            },
        );
        let resolved = &resolved[env];
        let table = env_table(&file, env);

        assert_eq!(resolved["name"], d.worker, "[env.{env}] worker name");
        assert_eq!(resolved["main"], main.as_str(), "[env.{env}] main");
        // Inherited from the top-level [build]: a real deploy builds first.
        assert_eq!(
            resolved["build"]["command"], "cargo xtask build",
            "[env.{env}] build command as wrangler resolves it"
        );
        assert_eq!(
            resolved["compatibility_date"],
            file["compatibility_date"].as_str().unwrap(),
            "[env.{env}] compatibility_date"
        );
        assert_eq!(
            resolved["routes"],
            serde_json::to_value(&table["routes"]).unwrap(),
            "[env.{env}] routes"
        );
        assert_eq!(
            resolved["triggers"]["crons"],
            serde_json::to_value(&table["triggers"]["crons"]).unwrap(),
            "[env.{env}] crons"
        );
        // Exactly the environment's own vars: nothing comes from the top level.
        assert_eq!(
            resolved["vars"],
            serde_json::to_value(vars(env, table)).unwrap(),
            "[env.{env}] vars"
        );
        assert_eq!(
            resolved["workers_dev"], false,
            "[env.{env}] must not also be on workers.dev"
        );
    }

    // A bare `wrangler deploy` reads the top level: it must not be a deployment.
    let top = &resolved["top"];
    for d in DEPLOYMENTS {
        assert_ne!(
            top["name"], d.worker,
            "the top level is named like [env.{}]",
            d.env
        );
    }
    assert_eq!(
        top["workers_dev"], false,
        "the top level on workers.dev: {top}"
    );
    assert_eq!(
        top["preview_urls"], false,
        "the top level with preview URLs: {top}"
    );
    assert!(
        top["routes"].as_array().is_none_or(Vec::is_empty) && top["route"].is_null(),
        "the top level serves routes: {top}"
    );

    // The local stack's environment keeps skipping the build (`wrangler dev --env local`).
    assert_eq!(
        resolved["local"]["build"]["command"], "",
        "[env.local] build command"
    );
}

/// wrangler.toml as committed, minus the build command, in `dir`. A dry run executes
/// `[build] command` (`cargo xtask build`: about 20 s on an already-built tree, mostly
/// wasm-opt, twice per run, and it rewrites `build/` from whatever the work tree holds),
/// so the dry run here bundles the bundle already built instead. `main` is made absolute
/// because the copy lives outside the repository.
fn config_without_build(file: &toml::Table, dir: &Path) -> PathBuf {
    let mut copy = file.clone();
    assert_eq!(
        copy.get("main").and_then(toml::Value::as_str),
        Some("build/index.js"),
        "wrangler.toml main"
    );
    copy.insert(
        "main".into(),
        root().join("build/index.js").display().to_string().into(),
    );
    let mut build = toml::Table::new();
    build.insert("command".into(), String::new().into());
    copy.insert("build".into(), build.into());
    if let Some(envs) = copy.get_mut("env").and_then(toml::Value::as_table_mut) {
        for env in envs.iter_mut().filter_map(|(_, env)| env.as_table_mut()) {
            env.remove("build");
            // The assets folder too: the copy is elsewhere, and relative paths follow it.
            if let Some(assets) = env.get_mut("assets").and_then(toml::Value::as_table_mut) {
                assert_eq!(
                    assets.get("directory").and_then(toml::Value::as_str),
                    Some("build/assets"),
                    "wrangler.toml assets.directory"
                );
                assets.insert(
                    "directory".into(),
                    root().join("build/assets").display().to_string().into(),
                );
            }
        }
    }
    let path = dir.join("wrangler.toml");
    fs::write(&path, toml::to_string(&copy).unwrap()).unwrap();
    path
}

/// The vars in wrangler's printed bindings table, `env.KEY ("value")  Environment
/// Variable`; wrangler cuts long values to 37 characters and `...`.
fn printed_vars(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with("Environment Variable"))
        .map(|line| {
            let rest = line
                .strip_prefix("env.")
                .unwrap_or_else(|| panic!("unexpected binding line: {line}"));
            let (key, rest) = rest
                .split_once(" (\"")
                .unwrap_or_else(|| panic!("unexpected binding line: {line}"));
            let end = rest
                .rfind("\")")
                .unwrap_or_else(|| panic!("unexpected binding line: {line}"));
            (key.to_owned(), rest[..end].to_owned())
        })
        .collect()
}

#[test]
fn dry_run_bundles_the_built_worker_with_each_environments_vars() {
    let root = root();
    let built_js = root.join("build/index.js");
    let built_wasm = root.join("build/index_bg.wasm");
    assert!(
        built_js.is_file() && built_wasm.is_file(),
        "the built bundle is missing ({}, {}): run `cargo xtask build` first",
        built_js.display(),
        built_wasm.display()
    );
    let wasm_bytes = fs::read(&built_wasm).unwrap();
    let wrangler_js = Paths::discover().wrangler_js();
    let file = wrangler_toml();

    for d in DEPLOYMENTS {
        let env = d.env;
        let dir = tempfile::tempdir().unwrap();
        let config = config_without_build(&file, dir.path());
        let out = dir.path().join("out");
        let ran = node(
            &[
                wrangler_js.to_str().unwrap(),
                "deploy",
                "--dry-run",
                "--outdir",
                out.to_str().unwrap(),
                "--env",
                env,
                "--config",
                config.to_str().unwrap(),
            ],
            WRANGLER_LIMIT,
        );
        assert!(
            ran.success,
            "wrangler deploy --dry-run --env {env}\n{}",
            ran.both()
        );
        assert!(
            ran.stdout.contains("--dry-run: exiting now."),
            "--env {env}: no dry-run ending\n{}",
            ran.both()
        );
        assert_no_wrangler_diagnostics(&format!("deploy --dry-run --env {env}"), &ran);

        // The bundle: wrangler's index.js importing the wasm, byte for byte the one built.
        let bundle = fs::read_to_string(out.join("index.js"))
            .unwrap_or_else(|e| panic!("--env {env}: no index.js in the outdir ({e})"));
        let wasm_name = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(".wasm"))
            .unwrap_or_else(|| panic!("--env {env}: no .wasm in the outdir"));
        assert!(
            fs::read(out.join(&wasm_name)).unwrap() == wasm_bytes,
            "--env {env}: {wasm_name} differs from build/index_bg.wasm"
        );
        assert!(
            bundle.contains(&wasm_name),
            "--env {env}: the bundled index.js does not import {wasm_name}"
        );

        // The status page and the OpenAPI document, which the wasm does not carry.
        assert!(
            ran.stdout
                .lines()
                .any(|l| l.contains("env.ASSETS") && l.contains("Assets")),
            "--env {env}: no ASSETS binding\n{}",
            ran.stdout
        );

        // The bindings wrangler would upload: exactly the environment's vars.
        let shown = printed_vars(&ran.stdout);
        let expected = vars(env, env_table(&file, env));
        assert_eq!(
            shown.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "--env {env}: bound vars\n{}",
            ran.stdout
        );
        for (key, value) in &expected {
            let printed = &shown[key];
            let consistent = match printed.strip_suffix("...") {
                Some(prefix) => value.starts_with(prefix) && value.len() > prefix.len(),
                None => printed == value,
            };
            assert!(
                consistent,
                "--env {env}: wrangler binds {key} = \"{printed}\", wrangler.toml says \"{value}\""
            );
        }
    }
}
