//! The local three-region stack: one fixed layout, so ports and names are the same on
//! every machine and in the README.

use payhuk_edge::auth::jwks::{Jwk, KeySet};
use payhuk_edge::auth::jwt::{self, Claims};
use payhuk_edge::services::payments::providers::{PROVIDERS, Provider};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub region: &'static str,
    pub pg_port: u16,
    pub postgrest_port: u16,
    /// Role at creation. Who is primary later is whatever the nodes report.
    pub starts_as_primary: bool,
}

pub const NODES: [Node; 3] = [
    Node {
        region: "iad1",
        pg_port: 5433,
        postgrest_port: 3001,
        starts_as_primary: true,
    },
    Node {
        region: "sfo1",
        pg_port: 5434,
        postgrest_port: 3002,
        starts_as_primary: false,
    },
    Node {
        region: "fra1",
        pg_port: 5435,
        postgrest_port: 3003,
        starts_as_primary: false,
    },
];

pub const GATEWAY_PORT: u16 = 8787;
/// Where `cargo xtask restore` starts its copy unless told otherwise.
pub const RESTORE_PORT: u16 = 5440;
/// The cluster of its own `cargo xtask bench --scale` loads and measures.
pub const SCALE_BENCH_PG_PORT: u16 = 5449;
/// The gateway's health cache lifetime locally: short, so fault tests settle fast.
pub const LOCAL_HEALTH_TTL_MS: u32 = 1000;
/// Failed logins count this long in the local stack.
pub const LOCAL_LOGIN_FAILURE_WINDOW_SECONDS: u32 = 6;
/// Analytics events per client address per minute in the local stack.
pub const LOCAL_ANALYTICS_EVENTS_PER_MINUTE: u32 = 300;
/// Replicas further behind than this are skipped for reads in the local stack.
pub const LOCAL_MAX_REPLICA_LAG: &str = "30s,1MiB";
pub const GATEWAY_INSPECTOR_PORT: u16 = 9329;
/// The demo storefront's static files, on an origin of their own.
pub const STOREFRONT_PORT: u16 = 8790;
/// The payment providers' sandbox.
pub const SANDBOX_PORT: u16 = 8820;
pub const DATABASE: &str = "postgres";
pub const SUPERUSER: &str = "postgres";

/// Local development only: every local stack shares these, like Supabase's local keys.
pub const JWT_SECRET: &str = "payhuk-local-development-jwt-secret-not-for-production";
/// The local stack's session signing key (ES256), a private JWK: development only, as
/// public as [`JWT_SECRET`]. Production's comes from `cargo xtask keys --new-signing-key`.
pub const SIGNING_KEY: &str = r#"{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"payhuk-local-es256-1","x":"NW09lRjYHImy-UOdZBF0Q5ELISUaW2aY-SHNssJtTbE","y":"O2yV2RIjc3QlwvF3fOuDTV1hUX7un_ISiDd05UUyVJ4","d":"Fm8ZV8vCDEYpOPtDGXL2qodniyPvAWuObaeXmr4AoQg"}"#;
pub const SUPERUSER_PASSWORD: &str = "postgres";
pub const AUTHENTICATOR_PASSWORD: &str = "payhuk-local-authenticator";
pub const REPLICATOR_PASSWORD: &str = "payhuk-local-replicator";

/// The dev seed's customer, their password (every seeded account's), and a digital
/// product (no stock to run out of) they can order.
pub const DEMO_CUSTOMER_EMAIL: &str = "emily@payhuk.test";
pub const DEMO_PASSWORD: &str = "payhuk-demo-password";
pub const DEMO_PRODUCT: &str = "44444444-4444-4444-8444-000000000101";

/// Issue and expiry times of the local keys, fixed so the keys never change.
const KEYS_ISSUED_AT: i64 = 1_735_689_600; // 2025-01-01
const KEYS_EXPIRE_AT: i64 = 2_524_608_000; // 2050-01-01
const KEYS_ISSUER: &str = "payhuk-local";

/// How the primary waits for its standbys before acknowledging a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// Commits wait for any one standby to have flushed the WAL: a failover loses no
    /// acknowledged write, while either standby alone may be lost.
    Synchronous,
    /// Commits return at once (the local default): faster, but a failover can lose the
    /// last acknowledged writes.
    Asynchronous,
}

impl Replication {
    pub fn parse(text: &str) -> anyhow::Result<Replication> {
        match text {
            "sync" | "synchronous" => Ok(Replication::Synchronous),
            "async" | "asynchronous" => Ok(Replication::Asynchronous),
            other => anyhow::bail!("no replication mode `{other}` (sync, async)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Replication::Synchronous => "synchronous",
            Replication::Asynchronous => "asynchronous",
        }
    }

    /// The primary's `synchronous_standby_names` for this mode.
    pub fn standby_names(self) -> String {
        match self {
            Replication::Synchronous => {
                let standbys: Vec<&str> = NODES
                    .iter()
                    .filter(|n| !n.starts_as_primary)
                    .map(|n| n.region)
                    .collect();
                format!("ANY 1 ({})", standbys.join(", "))
            }
            Replication::Asynchronous => String::new(),
        }
    }
}

pub fn primary() -> &'static Node {
    NODES
        .iter()
        .find(|n| n.starts_as_primary)
        .expect("one node starts as primary")
}

pub fn node(region: &str) -> anyhow::Result<&'static Node> {
    NODES.iter().find(|n| n.region == region).ok_or_else(|| {
        let known: Vec<_> = NODES.iter().map(|n| n.region).collect();
        anyhow::anyhow!(
            "no region `{region}` in the local stack (regions: {})",
            known.join(", ")
        )
    })
}

pub fn key_for_role(role: &str) -> String {
    jwt::sign_hs256(
        &Claims::new(role, KEYS_ISSUER, KEYS_ISSUED_AT, KEYS_EXPIRE_AT),
        JWT_SECRET.as_bytes(),
    )
}

/// The local stack's Supabase-style API keys (development only, like [`JWT_SECRET`]).
pub const PUBLISHABLE_KEY: &str = "sb_publishable_payhuk_local_development_only";
pub const SECRET_KEY: &str = "sb_secret_payhuk_local_development_only";
/// The local stack's `STATUS_TOKEN`: `/health` and `/status` show operators' details with it.
pub const STATUS_TOKEN: &str = "payhuk_local_status_token_00000000000000";

/// What PostgREST verifies tokens with (its `jwt-secret` takes a JWKS): the signing
/// key's public half, and the legacy secret as an `oct` key for the HS256 anon and
/// service keys. The same keys the gateway trusts.
pub fn postgrest_jwks() -> String {
    let signing: Jwk = serde_json::from_str(SIGNING_KEY).expect("the local signing key is a JWK");
    postgrest_jwks_of(&[&signing])
}

/// PostgREST's key set trusting `keys` (their public halves) and the legacy secret.
pub fn postgrest_jwks_of(keys: &[&Jwk]) -> String {
    let mut set = KeySet {
        keys: keys.iter().filter_map(|k| k.public()).collect(),
    };
    set.keys.push(Jwk::hs256(JWT_SECRET.as_bytes(), None));
    serde_json::to_string(&set).expect("a key set serializes")
}

pub fn anon_key() -> String {
    key_for_role("anon")
}

pub fn service_role_key() -> String {
    key_for_role("service_role")
}

/// The local stack's webhook secret of a payment provider (development only).
pub fn webhook_secret(provider: &str) -> String {
    format!("whsec_payhuk_local_{provider}")
}

pub fn sandbox_url() -> String {
    format!("http://127.0.0.1:{SANDBOX_PORT}")
}

/// A local provider credential: `local_fedapay_secret_key`.
pub fn provider_credential(provider: Provider, name: &str) -> String {
    format!("local_{}_{}", provider.name(), name.to_ascii_lowercase())
}

/// Where the gateway finds `provider`'s API in the sandbox: the sandbox's prefix plus
/// the path of the provider's production base (`.../fedapay` for `https://api.fedapay.com`).
pub fn sandbox_api_base(provider: Provider) -> String {
    let production = provider.default_api_base();
    let path = production
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    format!("{}/{}{path}", sandbox_url(), provider.name())
}

/// The providers' credentials, for the gateway and the sandbox alike.
fn provider_credentials() -> Vec<(String, String)> {
    PROVIDERS
        .iter()
        .flat_map(|provider| {
            let prefix = provider.name().to_ascii_uppercase();
            provider.credentials().iter().map(move |name| {
                (
                    format!("{prefix}_{name}"),
                    provider_credential(*provider, name),
                )
            })
        })
        .collect()
}

/// The sandbox's environment: the same credentials, and where FedaPay and Moneroo (whose
/// notification URL is an account setting, not a per-payment field) send them.
pub fn sandbox_env() -> Vec<(String, String)> {
    let mut env = provider_credentials();
    for provider in ["fedapay", "moneroo"] {
        env.push((
            format!("{}_WEBHOOK_URL", provider.to_ascii_uppercase()),
            format!("{}/api/v1/payments/webhooks/{provider}", gateway_url()),
        ));
    }
    env
}

pub fn gateway_url() -> String {
    format!("http://127.0.0.1:{GATEWAY_PORT}")
}

pub fn postgrest_url(node: &Node) -> String {
    format!("http://127.0.0.1:{}", node.postgrest_port)
}

/// The gateway's configuration for the local stack, as `KEY=value` lines for
/// `wrangler dev --env-file`. Production sets the same keys with `wrangler.toml` vars
/// and `wrangler secret put`.
/// The storefront's origin. `localhost`, like [`browser_gateway_url`], so the two are
/// the same site and the gateway's SameSite=Lax cookie travels with `fetch`;
/// `http://127.0.0.1:8790` serves the same files from an origin that is not allowed.
pub fn storefront_origin() -> String {
    format!("http://localhost:{STOREFRONT_PORT}")
}

/// The gateway as a browser on this machine calls it.
pub fn browser_gateway_url() -> String {
    format!("http://localhost:{GATEWAY_PORT}")
}

/// The storefront page, pointed at the local gateway.
pub fn storefront_url() -> String {
    format!("{}/?gateway={}", storefront_origin(), browser_gateway_url())
}

pub fn gateway_env() -> String {
    let mut lines = vec![
        "# Written by `cargo xtask up` for the local stack; edits are overwritten.".to_owned(),
        format!(
            "REGIONS={}",
            NODES.iter().map(|n| n.region).collect::<Vec<_>>().join(",")
        ),
    ];
    for node in &NODES {
        lines.push(format!(
            "REGION_{}_POSTGREST_URL={}",
            node.region.to_ascii_uppercase(),
            postgrest_url(node)
        ));
    }
    lines.extend([
        format!("DEFAULT_REGION={}", primary().region),
        "ALLOW_REGION_OVERRIDE=true".to_owned(),
        // Offline, wrangler's request.cf is a placeholder (colo DFW).
        "USE_CF_LOCATION=false".to_owned(),
        // On loopback every node is a millisecond away: measured, the order would be
        // noise. The WAN edges measure (`up --wan`).
        "LATENCY_ROUTING=false".to_owned(),
        // For the same reason a standby behind a client's write refuses at once: the
        // next node costs a millisecond, less than any wait. The WAN edges wait.
        "RYW_REPLICA_WAIT_MS=0".to_owned(),
        // Exact, so browsers send the read-your-writes cookie cross-origin.
        format!("ALLOWED_ORIGINS={}", storefront_origin()),
        "UPSTREAM_TIMEOUT_MS=2000".to_owned(),
        format!("HEALTH_TTL_MS={LOCAL_HEALTH_TTL_MS}"),
        format!("MAX_REPLICA_LAG={LOCAL_MAX_REPLICA_LAG}"),
        // Short, so the lockout tests see it engage and release.
        format!("LOGIN_FAILURE_WINDOW_SECONDS={LOCAL_LOGIN_FAILURE_WINDOW_SECONDS}"),
        // Low, so the per-client limit test reaches it in a few batches.
        format!("ANALYTICS_EVENTS_PER_MINUTE={LOCAL_ANALYTICS_EVENTS_PER_MINUTE}"),
        format!("JWT_SECRET={JWT_SECRET}"),
        format!("JWT_SIGNING_KEY={SIGNING_KEY}"),
        format!("PUBLISHABLE_KEYS={PUBLISHABLE_KEY}"),
        format!("SECRET_KEYS={SECRET_KEY}"),
        format!("STATUS_TOKEN={STATUS_TOKEN}"),
        format!("WEBHOOK_SECRET_TEST={}", webhook_secret("test")),
        format!("SERVICE_ROLE_KEY={}", service_role_key()),
        // Providers' notification URLs and default return URLs point here.
        format!("PUBLIC_URL={}", gateway_url()),
    ]);
    lines.extend(
        provider_credentials()
            .into_iter()
            .map(|(key, value)| format!("{key}={value}")),
    );
    lines.extend(PROVIDERS.iter().map(|provider| {
        format!(
            "{}_API_BASE={}",
            provider.name().to_ascii_uppercase(),
            sandbox_api_base(*provider)
        )
    }));
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use payhuk_edge::config::Config;

    use super::*;

    #[test]
    fn gateway_env_is_a_valid_gateway_config() {
        let vars: HashMap<String, String> = gateway_env()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let config = Config::from_source(&vars).expect("local config is valid");
        assert_eq!(config.regions.len(), 3);
        assert_eq!(
            config.region("fra1").unwrap().postgrest_url,
            "http://127.0.0.1:3003"
        );
        assert!(config.allow_region_override);
        let postgrest = KeySet::parse(&postgrest_jwks()).unwrap();
        assert_eq!(
            postgrest.public(),
            config.published_keys,
            "PostgREST trusts what the gateway publishes"
        );
        assert_eq!(postgrest.keys.len(), config.trusted_keys.keys.len());
    }

    #[test]
    fn keys_are_stable_and_carry_their_role() {
        assert_eq!(anon_key(), anon_key());
        let claims =
            jwt::verify(&service_role_key(), JWT_SECRET.as_bytes(), KEYS_ISSUED_AT).unwrap();
        assert_eq!(claims.role, "service_role");
        assert_eq!(claims.iss.as_deref(), Some(KEYS_ISSUER));
    }

    #[test]
    fn deploy_configs_name_the_same_regions() {
        let root = crate::paths::Paths::discover().root;
        let local: Vec<&str> = NODES.iter().map(|n| n.region).collect();

        let vercel: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("vercel.json")).unwrap())
                .unwrap();
        let vercel_regions: Vec<&str> = vercel["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(vercel_regions, local, "vercel.json regions");

        let wrangler: toml::Value =
            toml::from_str(&std::fs::read_to_string(root.join("wrangler.toml")).unwrap()).unwrap();
        let vars = &wrangler["vars"];
        assert_eq!(
            vars["REGIONS"].as_str().unwrap(),
            local.join(","),
            "wrangler.toml REGIONS"
        );
        assert_eq!(vars["ALLOW_REGION_OVERRIDE"].as_str(), Some("false"));
        assert!(wrangler.get("env").and_then(|e| e.get("local")).is_some());
    }

    #[test]
    fn synchronous_mode_waits_for_any_one_standby() {
        assert_eq!(
            Replication::parse("sync").unwrap().standby_names(),
            "ANY 1 (sfo1, fra1)"
        );
        assert_eq!(Replication::parse("async").unwrap().standby_names(), "");
        assert!(Replication::parse("quorum").is_err());
    }

    #[test]
    fn ports_do_not_collide() {
        let mut ports: Vec<u16> = NODES
            .iter()
            .flat_map(|n| [n.pg_port, n.postgrest_port])
            .collect();
        ports.extend([
            GATEWAY_PORT,
            GATEWAY_INSPECTOR_PORT,
            RESTORE_PORT,
            SCALE_BENCH_PG_PORT,
        ]);
        let n = ports.len();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), n);
    }
}
