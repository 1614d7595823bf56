//! `deploy/postgrest/<region>.conf`: each region's production PostgREST, as PostgREST
//! 12 itself loads it (`--dump-config`), with its secrets from the environment.

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use xtask::paths::Paths;

use crate::wrangler::{env_table, vars, wrangler_toml};
use crate::{REGIONS, root};

/// What the environment gives PostgREST in production, stand-ins here. Nothing listens
/// on port 1: PostgREST's attempt to read in-database settings fails at once.
const DB_URI: &str = "postgres://authenticator@127.0.0.1:1/postgres";
const JWT_SECRET: &str = "a-secret-from-the-environment-not-the-file";

/// `key = value` lines of `--dump-config`, values unquoted.
fn loaded_config(region: &str) -> BTreeMap<String, String> {
    let file = root().join(format!("deploy/postgrest/{region}.conf"));
    let out = Command::new(Paths::discover().postgrest_bin())
        .arg("--dump-config")
        .arg(&file)
        .env("PGRST_DB_URI", DB_URI)
        .env("PGRST_JWT_SECRET", JWT_SECRET)
        .output()
        .unwrap_or_else(|e| panic!("running PostgREST (cargo xtask setup installs it): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PostgREST refused {}:\n{stdout}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

#[test]
fn each_regions_postgrest_loads_its_capacity_knobs_and_takes_secrets_from_the_environment() {
    let file = wrangler_toml();
    let production = vars("production", env_table(&file, "production"));
    let budget_ms: u64 = production["UPSTREAM_TIMEOUT_MS"].parse().unwrap();
    for region in REGIONS {
        let text = fs::read_to_string(root().join(format!("deploy/postgrest/{region}.conf")))
            .unwrap_or_else(|e| panic!("deploy/postgrest/{region}.conf: {e}"));
        for secret in ["db-uri", "jwt-secret"] {
            assert!(
                !text.lines().any(|l| l.trim_start().starts_with(secret)),
                "{region}: {secret} belongs in the environment, not the file"
            );
        }
        let loaded = loaded_config(region);
        assert_eq!(loaded["db-uri"], DB_URI, "{region}");
        assert_eq!(loaded["jwt-secret"], JWT_SECRET, "{region}");
        assert_eq!(loaded["db-anon-role"], "anon", "{region}");
        assert_eq!(loaded["db-schemas"], "public", "{region}");
        let pool: u32 = loaded["db-pool"].parse().unwrap();
        assert!(pool >= 10, "{region}: db-pool {pool}");
        // A busy pool must say so (504) before the gateway stops waiting, so the gateway
        // learns the node was slow and a read can try the next one.
        let acquisition_ms = 1000
            * loaded["db-pool-acquisition-timeout"]
                .parse::<u64>()
                .unwrap();
        assert!(
            acquisition_ms < budget_ms,
            "{region}: waits {acquisition_ms} ms for a connection, the gateway {budget_ms} ms"
        );
        // Standbys refuse LISTEN during recovery; the primary hears schema reloads.
        let listens = loaded["db-channel-enabled"] == "true";
        assert_eq!(
            listens,
            region == production["DEFAULT_REGION"],
            "{region}: db-channel-enabled"
        );
    }
}
