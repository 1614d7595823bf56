//! The gateway's configuration, parsed and validated once from a key/value source.
//!
//! Production reads the Workers `Env` (vars and secrets); tests feed a `HashMap`.
//! Every problem is collected and reported together, so an operator fixes a broken
//! deployment in one pass.
//!
//! | key | required | meaning |
//! |---|---|---|
//! | `REGIONS` | yes | comma-separated region codes, e.g. `iad1,sfo1,fra1` |
//! | `REGION_<CODE>_POSTGREST_URL` | yes, per region | base URL of that region's PostgREST |
//! | `REGION_<CODE>_LOCATION` | unless a known Vercel region | `latitude,longitude` |
//! | `JWT_SECRET` | yes (secret) | HS256 secret PostgREST verifies tokens with, >= 32 chars |
//! | `SERVICE_ROLE_KEY` | yes (secret) | JWT with `role: service_role`, signed with `JWT_SECRET` |
//! | `JWT_SIGNING_KEY` | yes (secret) | the private JWK (EC P-256, with `kid`) the gateway signs its sessions with, ES256, published at `/auth/v1/.well-known/jwks.json` (`cargo xtask keys --new-signing-key` makes one); or `legacy-hs256` to sign with `JWT_SECRET` |
//! | `PUBLISHABLE_KEYS` | no (secret) | comma-separated Supabase publishable keys (`sb_publishable_...`): as `apikey` or bearer, the anon role |
//! | `SECRET_KEYS` | no (secret) | comma-separated Supabase secret keys (`sb_secret_...`): the service role, refused from browsers (a request with `Origin`) |
//! | `JWT_JWKS_URL` | no | a JWKS to fetch and trust (a Supabase project's `https://<ref>.supabase.co/auth/v1/.well-known/jwks.json`): kept per isolate for `JWT_JWKS_TTL_SECONDS` (30..=86400, default 600) and fetched again at once for an unknown `kid`; tokens it verifies reach PostgREST re-signed with `JWT_SECRET`, for a minute at most |
//! | `JWT_JWKS` | no | more trusted keys, as a JWKS (`{"keys": [...]}`): a Supabase project's public keys, the previous signing key during a rotation; verified by `kid` |
//! | `DEFAULT_REGION` | no | edge region when nothing else tells; default the first of `REGIONS` |
//! | `ALLOW_REGION_OVERRIDE` | no | `true` lets `x-payhuk-edge-region` pick the edge region; default `false` |
//! | `ALLOWED_ORIGINS` | no | comma-separated browser origins, or `*`; default none |
//! | `UPSTREAM_TIMEOUT_MS` | no | time budget of one upstream call, 100..=60000; default 3000 |
//! | `USE_CF_LOCATION` | no | locate the edge from `request.cf`; default `true` (`false` under offline `wrangler dev`) |
//! | `LATENCY_ROUTING` | no | order reads by the round trips of this isolate's health probes instead of by distance alone; default `true` (`false` on loopback, where every node is a millisecond away and the order would be noise) |
//! | `RYW_REPLICA_WAIT_MS` | no | how long a replica may wait for the client's last write (a read presenting a consistency token) before the read moves on: `auto` (the default: about the next target's round trip) or 0..=1000 ms, 0 to move on at once |
//! | `HEALTH_TTL_MS` | no | how long a region health snapshot is trusted, 100..=60000; default 2000 |
//! | `MAX_REPLICA_LAG` | no | replicas further behind are skipped for reads: `30s`, `16MiB`, or both `30s,16MiB` (the default); `none` disables |
//! | `READ_ONLY_RPCS` | no | comma-separated functions whose `POST /rest/v1/rpc/<fn>` may go to replicas |
//! | `JWT_AUDIENCE` | no | when set, tokens with another `aud` are refused (as PostgREST's `jwt-aud`) |
//! | `CONSISTENCY_TTL_SECONDS` | no | lifetime of read-your-writes tokens, 10..=86400; default 300 |
//! | `ACCESS_TOKEN_TTL_SECONDS` | no | lifetime of access tokens the auth service issues, 60..=86400; default 3600 |
//! | `REFRESH_TOKEN_TTL_SECONDS` | no | lifetime of refresh tokens, 300..=31536000; default 2592000 (30 days) |
//! | `TRUSTED_PROXIES` | no | comma-separated CIDRs of proxies in front of the gateway whose `x-forwarded-for` names the client (the storefront's Vercel rewrite); from any other peer only `cf-connecting-ip` counts; default none |
//! | `LOGIN_FAILURE_WINDOW_SECONDS` | no | failed logins count this long, 1..=86400; default 900 |
//! | `LOGIN_MAX_FAILURES_PER_ACCOUNT` | no | failures in the window before an account waits, 1..=1000; default 5 |
//! | `LOGIN_MAX_FAILURES_PER_CLIENT` | no | failures in the window before a client address waits, 1..=10000; default 20 |
//! | `ANALYTICS_EVENTS_PER_MINUTE` | no | analytics events one client address may send per minute (counted on the primary, shared by every edge), 100..=1000000; default 1200 |
//! | `STATUS_TOKEN` | no (secret) | a bearer token, at least 32 characters, that shows operators `/health`'s details (roles, WAL positions, lag, errors, warnings) and the `/status` page's; the service role key does too; anyone else sees each region's status only |
//! | `WEBHOOK_SECRET_TEST` | local stack only (secret) | signing secret of the local `test` provider's notifications; unset disables it |
//! | `<PROVIDER>_<CREDENTIAL>` | per provider (secret) | a payment provider's credentials, all of them or none (an adapter with none set is not offered): `FEDAPAY_SECRET_KEY`, `FEDAPAY_WEBHOOK_SECRET`; `MONEROO_SECRET_KEY`, `MONEROO_WEBHOOK_SECRET`; `PAYDUNYA_MASTER_KEY`, `PAYDUNYA_PRIVATE_KEY`, `PAYDUNYA_TOKEN`; `CINETPAY_API_KEY`, `CINETPAY_SITE_ID`, `CINETPAY_SECRET_KEY` (see `services::payments::providers`) |
//! | `<PROVIDER>_API_BASE` | no | the provider's API, e.g. its sandbox; default its production API |
//! | `PUBLIC_URL` | with a provider | the gateway's public origin, for the notification URL given to providers (`<PUBLIC_URL>/api/v1/payments/webhooks/<provider>`) and the default return URL |
//! | `PAYMENT_TTL_SECONDS` | no | how long a pending payment stays open at its provider before it expires, 60..=604800; default 1800 |
//! | `WEBHOOK_TOLERANCE_SECONDS` | no | how old a signed notification may be, 10..=3600; default 300 |
//! | `DOWNLOAD_LINK_TTL_SECONDS` | no | lifetime of download links, 60..=604800; default 86400 |
//! | `DOWNLOAD_MAX_COUNT` | no | downloads one link allows, 1..=1000; default 5 |

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use crate::auth::api_keys::{ApiKeys, KeyRole};
use crate::auth::jwks::{Jwk, KeySet};
use crate::auth::jwt::{self, Alg};
use crate::region::{GeoPoint, RegionCode, known_location};
use crate::routing::admission::AdmissionSettings;
use crate::routing::policy::{MAX_REPLICA_WAIT_MS, ReplicaWait};
use crate::services::payments::providers::{PROVIDERS, Provider, Settings};

/// Where configuration values come from.
pub trait ConfigSource {
    /// The value of `key`, or `None` when it is not set.
    fn get(&self, key: &str) -> Option<String>;
}

impl<S: BuildHasher> ConfigSource for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl<S: BuildHasher> ConfigSource for HashMap<&str, &str, S> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).map(|v| (*v).to_owned())
    }
}

pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u32 = 3000;
pub const DEFAULT_HEALTH_TTL_MS: u32 = 2000;
/// A probe is a tiny RPC: a node that takes longer is not one to route to anyway.
pub const DEFAULT_HEALTH_PROBE_TIMEOUT_MS: u32 = 1000;
pub const DEFAULT_CONSISTENCY_TTL_SECONDS: u32 = 300;
/// Per isolate and node: a few times a PostgREST pool, far below the open-file limit.
pub const DEFAULT_UPSTREAM_MAX_IN_FLIGHT: u32 = 128;
/// Half the default budget, which is all a queued request may wait anyway. Clients
/// that are refused ask again at once: the longer a refusal is held, the fewer the
/// isolate spends itself on. Measured (docs/SCALING.md): from 1000 to 1500 ms took a cold
/// isolate at 1,000 connections from 98.8-99.3% to 100% served, and goodput at 5,000
/// from 276 to 534 requests/s.
pub const DEFAULT_ADMISSION_QUEUE_MS: u32 = 1500;
pub const DEFAULT_MAX_REPLICA_LAG: MaxLag = MaxLag {
    seconds: Some(30.0),
    bytes: Some(16 * 1024 * 1024),
};
const MIN_JWT_SECRET_LEN: usize = 32;
/// A status token shorter than this could be guessed.
const MIN_STATUS_TOKEN_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    /// In the order of `REGIONS`.
    pub regions: Vec<RegionConfig>,
    pub default_region: RegionCode,
    pub allow_region_override: bool,
    pub jwt_secret: Secret,
    pub service_role_key: Secret,
    /// The key sessions are signed with: a private EC P-256 JWK, or the legacy secret as
    /// an `oct` key.
    pub signing_key: Jwk,
    /// Every key a token may be verified with: the signing key's public half, `JWT_JWKS`
    /// and the legacy HS256 secret (no `kid`).
    pub trusted_keys: KeySet,
    /// What `/auth/v1/.well-known/jwks.json` publishes: the public keys of the above.
    pub published_keys: KeySet,
    /// Supabase's publishable and secret API keys.
    pub api_keys: ApiKeys,
    /// A JWKS fetched and trusted beside those, and how long a fetch is kept.
    pub jwks_url: Option<String>,
    pub jwks_ttl_seconds: u32,
    pub allowed_origins: AllowedOrigins,
    pub upstream_timeout_ms: u32,
    pub use_cf_location: bool,
    /// Reads ordered by measured round trips (else by the distance prior).
    pub latency_routing: bool,
    /// How long a replica may wait for a client's last write before the read moves on.
    pub replica_wait: ReplicaWait,
    pub health_ttl_ms: u32,
    /// The deadline of one health probe, apart from requests' `upstream_timeout_ms`.
    pub health_probe_timeout_ms: u32,
    /// Requests in flight to one node per isolate, and how long one over it may wait.
    pub admission: AdmissionSettings,
    pub max_replica_lag: MaxLag,
    pub read_only_rpcs: Vec<String>,
    pub jwt_audience: Option<String>,
    pub consistency_ttl_seconds: u32,
    pub access_token_ttl_seconds: u32,
    pub refresh_token_ttl_seconds: u32,
    pub login_limits: LoginLimits,
    /// Analytics events one client address may send per minute, all edges together.
    pub analytics_events_per_minute: u32,
    /// Peers whose forwarded client address is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// By provider name, only those configured.
    pub webhook_secrets: Vec<(String, Secret)>,
    pub webhook_tolerance_seconds: u32,
    /// The payment providers configured here, with their endpoint and credentials.
    pub payment_providers: Vec<(Provider, Settings)>,
    pub public_url: Option<String>,
    /// What shows an operator `/health`'s details, besides the service role.
    pub status_token: Option<Secret>,
    pub payment_ttl_seconds: u32,
    pub download_link_ttl_seconds: u32,
    pub download_max_count: u32,
}

/// Providers configured by a bare webhook secret: the local `test` provider only (the
/// real ones are adapters, configured by `<PROVIDER>_<CREDENTIAL>`).
pub const WEBHOOK_PROVIDERS: [&str; 1] = ["test"];

/// When failed logins lock an account or a client out for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub window_seconds: u32,
    pub per_account: u32,
    pub per_client: u32,
}

/// How far behind a replica may be and still serve reads; `None` parts do not limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxLag {
    pub seconds: Option<f64>,
    pub bytes: Option<u64>,
}

impl MaxLag {
    /// Parses `30s`, `500ms`, `16MiB`, `64kB`, `1GB`, `30s,16MiB`, or `none`.
    pub fn parse(raw: &str) -> Result<MaxLag, String> {
        let mut lag = MaxLag {
            seconds: None,
            bytes: None,
        };
        if raw.trim().eq_ignore_ascii_case("none") {
            return Ok(lag);
        }
        for part in raw.split(',').map(str::trim) {
            let split = part
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(part.len());
            let (number, unit) = part.split_at(split);
            let value: f64 = number
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("`{part}` does not start with a number"))?;
            let bytes_per = |unit: &str| -> Option<f64> {
                Some(match unit {
                    "B" => 1.0,
                    "kB" | "KB" => 1e3,
                    "KiB" => 1024.0,
                    "MB" => 1e6,
                    "MiB" => 1024.0 * 1024.0,
                    "GB" => 1e9,
                    "GiB" => 1024.0 * 1024.0 * 1024.0,
                    _ => return None,
                })
            };
            match unit.trim() {
                "s" => set_once(&mut lag.seconds, value, part)?,
                "ms" => set_once(&mut lag.seconds, value / 1000.0, part)?,
                other => match bytes_per(other) {
                    Some(factor) => set_once(&mut lag.bytes, (value * factor) as u64, part)?,
                    None => {
                        return Err(format!(
                            "`{part}`: unit must be s, ms, B, kB, KiB, MB, MiB, GB or GiB"
                        ));
                    }
                },
            }
        }
        Ok(lag)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, part: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("`{part}` repeats a limit already given"));
    }
    *slot = Some(value);
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegionConfig {
    pub code: RegionCode,
    /// Without a trailing slash.
    pub postgrest_url: String,
    pub location: GeoPoint,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Every problem found in one parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.key, e.problem))
            .collect();
        write!(f, "{}", lines.join("; "))
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    pub fn from_source(source: &impl ConfigSource) -> Result<Config, ConfigErrors> {
        let mut p = Parser {
            source,
            errors: Vec::new(),
        };

        let regions = p.regions();
        let default_region = p.default_region(&regions);
        let allow_region_override = p.bool_or("ALLOW_REGION_OVERRIDE", false);
        let jwt_secret = p.jwt_secret();
        let service_role_key = p.service_role_key(jwt_secret.as_ref());
        let signing_key = p.signing_key(jwt_secret.as_ref());
        let extra_keys = p.jwks("JWT_JWKS");
        if let Some(kid) = signing_key.as_ref().and_then(|k| k.kid.as_deref())
            && extra_keys
                .keys
                .iter()
                .any(|k| k.kid.as_deref() == Some(kid))
        {
            p.fail(
                "JWT_JWKS",
                format!("`kid` {kid} is the signing key's: one kid, one key"),
            );
        }
        let jwks_url = p.get("JWT_JWKS_URL").and_then(|raw| {
            parse_base_url(&raw)
                .map_err(|why| p.fail("JWT_JWKS_URL", why))
                .ok()
        });
        let api_keys = p.api_keys();
        let jwks_ttl_seconds = p.bounded("JWT_JWKS_TTL_SECONDS", 30, 86_400, 600, "seconds");
        let allowed_origins = p.allowed_origins();
        let upstream_timeout_ms = p.bounded(
            "UPSTREAM_TIMEOUT_MS",
            100,
            60_000,
            DEFAULT_UPSTREAM_TIMEOUT_MS,
            "milliseconds",
        );
        let use_cf_location = p.bool_or("USE_CF_LOCATION", true);
        let latency_routing = p.bool_or("LATENCY_ROUTING", true);
        let health_ttl_ms = p.bounded(
            "HEALTH_TTL_MS",
            100,
            60_000,
            DEFAULT_HEALTH_TTL_MS,
            "milliseconds",
        );
        let health_probe_timeout_ms = p.bounded(
            "HEALTH_PROBE_TIMEOUT_MS",
            50,
            10_000,
            DEFAULT_HEALTH_PROBE_TIMEOUT_MS,
            "milliseconds",
        );
        let admission = AdmissionSettings {
            max_in_flight: p.bounded(
                "UPSTREAM_MAX_IN_FLIGHT",
                1,
                10_000,
                DEFAULT_UPSTREAM_MAX_IN_FLIGHT,
                "requests",
            ),
            queue_ms: p.bounded(
                "ADMISSION_QUEUE_MS",
                0,
                10_000,
                DEFAULT_ADMISSION_QUEUE_MS,
                "milliseconds",
            ),
        };
        let max_replica_lag = p.max_replica_lag();
        let read_only_rpcs = p.read_only_rpcs();
        let replica_wait = p.replica_wait();
        let jwt_audience = p.get("JWT_AUDIENCE");
        let consistency_ttl_seconds = p.bounded(
            "CONSISTENCY_TTL_SECONDS",
            10,
            86_400,
            DEFAULT_CONSISTENCY_TTL_SECONDS,
            "seconds",
        );
        let access_token_ttl_seconds =
            p.bounded("ACCESS_TOKEN_TTL_SECONDS", 60, 86_400, 3600, "seconds");
        let refresh_token_ttl_seconds = p.bounded(
            "REFRESH_TOKEN_TTL_SECONDS",
            300,
            31_536_000,
            30 * 86_400,
            "seconds",
        );
        let webhook_secrets = WEBHOOK_PROVIDERS
            .iter()
            .filter_map(|name| {
                let key = format!("WEBHOOK_SECRET_{}", name.to_ascii_uppercase());
                let secret = p.get(&key)?;
                if secret.len() < 16 {
                    p.fail(&key, "must be at least 16 characters");
                    return None;
                }
                // Whoever holds it settles any payment: the local stack only, which
                // is where every region's PostgREST is on this machine.
                if !regions.iter().all(|r| is_loopback_url(&r.postgrest_url)) {
                    p.fail(
                        &key,
                        "is for the local stack only (every REGION_*_POSTGREST_URL on loopback); unset it here",
                    );
                    return None;
                }
                Some(((*name).to_owned(), Secret(secret)))
            })
            .collect();
        let webhook_tolerance_seconds =
            p.bounded("WEBHOOK_TOLERANCE_SECONDS", 10, 3600, 300, "seconds");
        for provider in ["FEDAPAY", "MONEROO"] {
            let old = format!("WEBHOOK_SECRET_{provider}");
            if p.get(&old).is_some() {
                p.fail(
                    &old,
                    format!("is no longer read: set {provider}_WEBHOOK_SECRET with {provider}_SECRET_KEY"),
                );
            }
        }
        let payment_providers: Vec<(Provider, Settings)> = PROVIDERS
            .into_iter()
            .filter_map(|provider| Some((provider, p.provider_settings(provider)?)))
            .collect();
        let public_url = p.get("PUBLIC_URL").and_then(|raw| {
            parse_base_url(&raw)
                .map_err(|why| p.fail("PUBLIC_URL", why))
                .ok()
        });
        if public_url.is_none() && !payment_providers.is_empty() && p.get("PUBLIC_URL").is_none() {
            p.fail(
                "PUBLIC_URL",
                "is required with a payment provider: it tells the provider where to send its notifications",
            );
        }
        let status_token = p.get("STATUS_TOKEN").and_then(|token| {
            if token.trim().len() < MIN_STATUS_TOKEN_LEN {
                p.fail(
                    "STATUS_TOKEN",
                    format!(
                        "must be at least {MIN_STATUS_TOKEN_LEN} characters: it is a credential"
                    ),
                );
                return None;
            }
            Some(Secret(token.trim().to_owned()))
        });
        let payment_ttl_seconds = p.bounded("PAYMENT_TTL_SECONDS", 60, 604_800, 1800, "seconds");
        let download_link_ttl_seconds =
            p.bounded("DOWNLOAD_LINK_TTL_SECONDS", 60, 604_800, 86_400, "seconds");
        let download_max_count = p.bounded("DOWNLOAD_MAX_COUNT", 1, 1000, 5, "downloads");
        let trusted_proxies = p.trusted_proxies();
        // At least one full batch; generous, since mobile carriers put many customers
        // behind one address.
        let analytics_events_per_minute = p.bounded(
            "ANALYTICS_EVENTS_PER_MINUTE",
            crate::services::analytics::api::MAX_EVENTS as u32,
            1_000_000,
            1200,
            "events",
        );
        let login_limits = LoginLimits {
            window_seconds: p.bounded("LOGIN_FAILURE_WINDOW_SECONDS", 1, 86_400, 900, "seconds"),
            per_account: p.bounded("LOGIN_MAX_FAILURES_PER_ACCOUNT", 1, 1000, 5, "failures"),
            per_client: p.bounded("LOGIN_MAX_FAILURES_PER_CLIENT", 1, 10_000, 20, "failures"),
        };

        match (default_region, jwt_secret, service_role_key, signing_key) {
            (Some(default_region), Some(jwt_secret), Some(service_role_key), Some(signing_key))
                if p.errors.is_empty() =>
            {
                let ours = KeySet {
                    keys: signing_key.public().into_iter().collect(),
                }
                .with(&extra_keys);
                let legacy = KeySet {
                    keys: vec![Jwk::hs256(jwt_secret.expose().as_bytes(), None)],
                };
                Ok(Config {
                    regions,
                    default_region,
                    allow_region_override,
                    trusted_keys: ours.clone().with(&legacy),
                    published_keys: ours.public(),
                    jwt_secret,
                    service_role_key,
                    signing_key,
                    api_keys,
                    jwks_url,
                    jwks_ttl_seconds,
                    allowed_origins,
                    upstream_timeout_ms,
                    use_cf_location,
                    latency_routing,
                    replica_wait,
                    health_ttl_ms,
                    health_probe_timeout_ms,
                    admission,
                    max_replica_lag,
                    read_only_rpcs,
                    jwt_audience,
                    consistency_ttl_seconds,
                    access_token_ttl_seconds,
                    refresh_token_ttl_seconds,
                    login_limits,
                    analytics_events_per_minute,
                    trusted_proxies,
                    webhook_secrets,
                    webhook_tolerance_seconds,
                    payment_providers,
                    public_url,
                    status_token,
                    payment_ttl_seconds,
                    download_link_ttl_seconds,
                    download_max_count,
                })
            }
            _ => Err(ConfigErrors(p.errors)),
        }
    }

    pub fn region(&self, code: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.code.as_str() == code)
    }

    /// A payment provider's settings, when it is configured here.
    pub fn payment_provider(&self, provider: Provider) -> Option<&Settings> {
        self.payment_providers
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, settings)| settings)
    }

    pub fn webhook_secret(&self, provider: &str) -> Option<&Secret> {
        self.webhook_secrets
            .iter()
            .find(|(name, _)| name == provider)
            .map(|(_, secret)| secret)
    }
}

struct Parser<'a, S: ConfigSource> {
    source: &'a S,
    errors: Vec<ConfigError>,
}

impl<S: ConfigSource> Parser<'_, S> {
    /// The trimmed value, treating an empty one as unset.
    fn get(&self, key: &str) -> Option<String> {
        self.source
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn fail(&mut self, key: &str, problem: impl Into<String>) {
        self.errors.push(ConfigError::new(key, problem));
    }

    fn required(&mut self, key: &str) -> Option<String> {
        let value = self.get(key);
        if value.is_none() {
            self.fail(key, "is required but not set");
        }
        value
    }

    fn regions(&mut self) -> Vec<RegionConfig> {
        let Some(list) = self.required("REGIONS") else {
            return Vec::new();
        };
        let mut regions: Vec<RegionConfig> = Vec::new();
        for raw in list.split(',') {
            let code = match RegionCode::parse(raw) {
                Ok(code) => code,
                Err(problem) => {
                    self.fail("REGIONS", problem);
                    continue;
                }
            };
            if regions.iter().any(|r| r.code == code) {
                self.fail("REGIONS", format!("{code} is listed twice"));
                continue;
            }
            if let Some(region) = self.region(code) {
                regions.push(region);
            }
        }
        regions
    }

    fn region(&mut self, code: RegionCode) -> Option<RegionConfig> {
        let url_key = format!("REGION_{}_POSTGREST_URL", code.env_key());
        let postgrest_url = self
            .required(&url_key)
            .and_then(|raw| match parse_base_url(&raw) {
                Ok(url) => Some(url),
                Err(problem) => {
                    self.fail(&url_key, problem);
                    None
                }
            });

        let location_key = format!("REGION_{}_LOCATION", code.env_key());
        let location = match self.get(&location_key) {
            Some(raw) => GeoPoint::parse(&raw)
                .map_err(|problem| self.fail(&location_key, problem))
                .ok(),
            None => {
                let known = known_location(code.as_str());
                if known.is_none() {
                    self.fail(
                        &location_key,
                        format!("{code} is not a known Vercel region, so its location must be set"),
                    );
                }
                known
            }
        };

        Some(RegionConfig {
            code,
            postgrest_url: postgrest_url?,
            location: location?,
        })
    }

    fn default_region(&mut self, regions: &[RegionConfig]) -> Option<RegionCode> {
        match self.get("DEFAULT_REGION") {
            Some(raw) => match RegionCode::parse(&raw) {
                Ok(code) if regions.iter().any(|r| r.code == code) => Some(code),
                Ok(code) => {
                    self.fail("DEFAULT_REGION", format!("{code} is not one of REGIONS"));
                    None
                }
                Err(problem) => {
                    self.fail("DEFAULT_REGION", problem);
                    None
                }
            },
            // REGIONS already reported why it is empty.
            None => regions.first().map(|r| r.code.clone()),
        }
    }

    fn bool_or(&mut self, key: &str, default: bool) -> bool {
        match self.get(key).as_deref() {
            None => default,
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                self.fail(key, format!("`{other}` is not true or false"));
                default
            }
        }
    }

    fn jwt_secret(&mut self) -> Option<Secret> {
        let secret = self.required("JWT_SECRET")?;
        if secret.len() < MIN_JWT_SECRET_LEN {
            self.fail(
                "JWT_SECRET",
                format!("must be at least {MIN_JWT_SECRET_LEN} characters (PostgREST's minimum)"),
            );
            return None;
        }
        Some(Secret(secret))
    }

    fn service_role_key(&mut self, jwt_secret: Option<&Secret>) -> Option<Secret> {
        let key = self.required("SERVICE_ROLE_KEY")?;
        // Without a valid secret the key cannot be checked; that error is already listed.
        if let Some(secret) = jwt_secret {
            match jwt::decode_verified(&key, secret.expose().as_bytes()) {
                Ok(claims) if claims.role == "service_role" => {}
                Ok(claims) => {
                    self.fail(
                        "SERVICE_ROLE_KEY",
                        format!("has role `{}`, expected `service_role`", claims.role),
                    );
                    return None;
                }
                Err(err) => {
                    self.fail(
                        "SERVICE_ROLE_KEY",
                        format!("is not usable with JWT_SECRET: {err}"),
                    );
                    return None;
                }
            }
        }
        Some(Secret(key))
    }

    fn signing_key(&mut self, jwt_secret: Option<&Secret>) -> Option<Jwk> {
        const KEY: &str = "JWT_SIGNING_KEY";
        let raw = self.required(KEY)?;
        if raw.trim() == "legacy-hs256" {
            return jwt_secret.map(|s| Jwk::hs256(s.expose().as_bytes(), None));
        }
        let key = match serde_json::from_str::<Jwk>(&raw) {
            Ok(key) => key,
            Err(_) => {
                self.fail(
                    KEY,
                    "is not a JWK nor `legacy-hs256` (`cargo xtask keys --new-signing-key` makes one)",
                );
                return None;
            }
        };
        let problem = match key.validate() {
            Err(why) => Some(why),
            Ok(Alg::Es256) if key.d.is_none() => Some("has no private part `d`".into()),
            Ok(Alg::Es256) if key.kid.is_none() => Some("has no `kid`".into()),
            Ok(Alg::Es256) => None,
            Ok(_) => Some("must be an EC P-256 key (ES256)".into()),
        };
        match problem {
            Some(why) => {
                self.fail(KEY, why);
                None
            }
            None => Some(key),
        }
    }

    fn api_keys(&mut self) -> ApiKeys {
        let mut keys = ApiKeys::default();
        for (name, role) in [
            ("PUBLISHABLE_KEYS", KeyRole::Publishable),
            ("SECRET_KEYS", KeyRole::Secret),
        ] {
            let Some(raw) = self.get(name) else { continue };
            for (i, key) in raw
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .enumerate()
            {
                if let Err(why) = keys.add(key, role) {
                    // Never the key itself in the message: it is a secret.
                    self.fail(name, format!("key {}: {why}", i + 1));
                }
            }
        }
        keys
    }

    fn trusted_proxies(&mut self) -> Vec<ipnet::IpNet> {
        let Some(raw) = self.get("TRUSTED_PROXIES") else {
            return Vec::new();
        };
        let mut nets = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            // A bare address is a network of one.
            let parsed = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(net) => nets.push(net.trunc()),
                Err(_) => self.fail(
                    "TRUSTED_PROXIES",
                    format!("`{item}` is not an IP network such as 76.76.21.0/24"),
                ),
            }
        }
        nets
    }

    fn jwks(&mut self, key: &str) -> KeySet {
        let Some(raw) = self.get(key) else {
            return KeySet::default();
        };
        KeySet::parse(&raw).unwrap_or_else(|why| {
            self.fail(key, why);
            KeySet::default()
        })
    }

    fn allowed_origins(&mut self) -> AllowedOrigins {
        let Some(raw) = self.get("ALLOWED_ORIGINS") else {
            return AllowedOrigins::List(Vec::new());
        };
        if raw == "*" {
            return AllowedOrigins::Any;
        }
        let mut origins = Vec::new();
        for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            match parse_origin(origin) {
                Ok(origin) => origins.push(origin),
                Err(problem) => self.fail("ALLOWED_ORIGINS", problem),
            }
        }
        AllowedOrigins::List(origins)
    }

    /// `<PROVIDER>_<CREDENTIAL>` for each credential the adapter declares: all or none.
    fn provider_settings(&mut self, provider: Provider) -> Option<Settings> {
        let prefix = provider.name().to_ascii_uppercase();
        let given: Vec<(&'static str, String, Option<String>)> = provider
            .credentials()
            .iter()
            .map(|name| {
                let key = format!("{prefix}_{name}");
                let value = self.get(&key).filter(|v| !v.is_empty());
                (*name, key, value)
            })
            .collect();
        let base_key = format!("{prefix}_API_BASE");
        let api_base = self.get(&base_key);
        if given.iter().all(|(_, _, value)| value.is_none()) {
            if api_base.is_some() {
                self.fail(
                    &base_key,
                    format!("is set, but none of {prefix}'s credentials"),
                );
            }
            return None;
        }
        let mut credentials = Vec::new();
        for (name, key, value) in given {
            match value {
                Some(value) => credentials.push((name, Secret(value))),
                None => self.fail(
                    &key,
                    format!("is required with the other {prefix}_ credentials"),
                ),
            }
        }
        let api_base = match api_base {
            Some(raw) => match parse_base_url(&raw) {
                Ok(url) => url,
                Err(why) => {
                    self.fail(&base_key, why);
                    return None;
                }
            },
            None => provider.default_api_base().to_owned(),
        };
        (credentials.len() == provider.credentials().len()).then_some(Settings {
            api_base,
            credentials,
        })
    }

    /// A whole number in `min..=max`, or `default` when unset.
    fn bounded(&mut self, key: &str, min: u32, max: u32, default: u32, unit: &str) -> u32 {
        let Some(raw) = self.get(key) else {
            return default;
        };
        match raw.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.fail(
                    key,
                    format!("`{raw}` is not a number of {unit} in {min}..={max}"),
                );
                default
            }
        }
    }

    fn replica_wait(&mut self) -> ReplicaWait {
        match self.get("RYW_REPLICA_WAIT_MS").as_deref() {
            None | Some("auto") => ReplicaWait::Auto,
            Some(raw) => match raw.parse::<u32>() {
                Ok(ms) if ms <= MAX_REPLICA_WAIT_MS => ReplicaWait::Fixed(ms),
                _ => {
                    self.fail(
                        "RYW_REPLICA_WAIT_MS",
                        format!(
                            "`{raw}` is neither `auto` nor a number of milliseconds in 0..={MAX_REPLICA_WAIT_MS}"
                        ),
                    );
                    ReplicaWait::Auto
                }
            },
        }
    }

    fn max_replica_lag(&mut self) -> MaxLag {
        let Some(raw) = self.get("MAX_REPLICA_LAG") else {
            return DEFAULT_MAX_REPLICA_LAG;
        };
        MaxLag::parse(&raw).unwrap_or_else(|problem| {
            self.fail("MAX_REPLICA_LAG", problem);
            DEFAULT_MAX_REPLICA_LAG
        })
    }

    fn read_only_rpcs(&mut self) -> Vec<String> {
        let Some(raw) = self.get("READ_ONLY_RPCS") else {
            return Vec::new();
        };
        let mut names = Vec::new();
        for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let valid = name.len() <= 63
                && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if valid {
                names.push(name.to_owned());
            } else {
                self.fail("READ_ONLY_RPCS", format!("`{name}` is not a function name"));
            }
        }
        names
    }
}

/// A URL whose host is this machine (`127.0.0.1`, `::1`, `localhost`).
fn is_loopback_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    })
}

/// An absolute http(s) URL without query or fragment, returned without a trailing slash.
fn parse_base_url(raw: &str) -> Result<String, String> {
    ascii_host(raw)?;
    let url = url::Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "`{raw}` must be an http:// or https:// URL with a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{raw}` must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The bundle carries no Unicode IDNA tables (Cargo.toml, idna_adapter): host names
/// must be ASCII (punycode for internationalized ones), written out or percent-encoded.
/// A non-ASCII host with ASCII capitals also trips a debug assertion of the table-less
/// IDNA adapter when parsed (found by the `config` fuzz target), so it is refused
/// before `url` sees it.
fn ascii_host(raw: &str) -> Result<(), String> {
    let after_scheme = raw.split_once(':').map_or(raw, |(_, rest)| rest);
    let authority = after_scheme
        .trim_start_matches(['/', '\\'])
        .split(['/', '\\', '?', '#'])
        .next()
        .unwrap_or("");
    if !raw.is_ascii() || authority.contains('%') {
        return Err(format!(
            "`{raw}` has non-ASCII or percent-encoded characters in its host name; write an internationalized host name in punycode (xn--...)"
        ));
    }
    Ok(())
}

/// A browser origin: scheme, host and optional port, nothing else.
fn parse_origin(raw: &str) -> Result<String, String> {
    // Browsers send origins in punycode anyway.
    ascii_host(raw)?;
    let url = url::Url::parse(raw).map_err(|_| format!("`{raw}` is not an origin"))?;
    let origin = url.origin();
    if !origin.is_tuple() || !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{raw}` is not an http(s) origin"));
    }
    let serialized = origin.ascii_serialization();
    if serialized != raw.trim_end_matches('/') {
        return Err(format!(
            "`{raw}` is not an origin (scheme://host[:port] only; did you mean {serialized}?)"
        ));
    }
    Ok(serialized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::crypto::tests::{EC_KEY, RSA_KEY};
    use crate::auth::jwt::{Claims, sign_hs256};

    const SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";

    fn service_key(secret: &str, role: &str) -> String {
        sign_hs256(
            &Claims::new(role, "test", 0, 4_000_000_000),
            secret.as_bytes(),
        )
    }

    fn base() -> HashMap<String, String> {
        let mut vars = HashMap::new();
        for (k, v) in [
            ("REGIONS", "iad1,sfo1,fra1"),
            ("REGION_IAD1_POSTGREST_URL", "http://127.0.0.1:3001"),
            ("REGION_SFO1_POSTGREST_URL", "http://127.0.0.1:3002/"),
            (
                "REGION_FRA1_POSTGREST_URL",
                "https://fra.example.com/rest/v1",
            ),
            ("JWT_SECRET", SECRET),
            ("JWT_SIGNING_KEY", EC_KEY),
        ] {
            vars.insert(k.to_owned(), v.to_owned());
        }
        vars.insert(
            "SERVICE_ROLE_KEY".into(),
            service_key(SECRET, "service_role"),
        );
        vars
    }

    fn problems(vars: &HashMap<String, String>) -> Vec<(String, String)> {
        Config::from_source(vars)
            .expect_err("config should be rejected")
            .0
            .into_iter()
            .map(|e| (e.key, e.problem))
            .collect()
    }

    #[test]
    fn the_local_test_provider_is_refused_anywhere_but_the_local_stack() {
        let mut vars = base();
        vars.insert("WEBHOOK_SECRET_TEST".into(), "whsec_local_test_0001".into());
        assert_eq!(
            problems(&vars),
            [(
                "WEBHOOK_SECRET_TEST".to_owned(),
                "is for the local stack only (every REGION_*_POSTGREST_URL on loopback); unset it here".to_owned()
            )],
            "fra1 is not on this machine"
        );
        for local in ["http://localhost:3003", "http://[::1]:3003"] {
            vars.insert("REGION_FRA1_POSTGREST_URL".into(), local.into());
            let config = Config::from_source(&vars).unwrap();
            assert!(config.webhook_secret("test").is_some(), "{local}");
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let config = Config::from_source(&base()).unwrap();
        let codes: Vec<_> = config.regions.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["iad1", "sfo1", "fra1"]);
        assert_eq!(config.default_region.as_str(), "iad1");
        assert!(!config.allow_region_override);
        assert_eq!(config.upstream_timeout_ms, DEFAULT_UPSTREAM_TIMEOUT_MS);
        assert_eq!(
            config.admission.max_in_flight,
            DEFAULT_UPSTREAM_MAX_IN_FLIGHT
        );
        assert_eq!(config.allowed_origins, AllowedOrigins::List(vec![]));
        assert_eq!(
            config.region("sfo1").unwrap().postgrest_url,
            "http://127.0.0.1:3002"
        );
        assert_eq!(
            config.region("fra1").unwrap().postgrest_url,
            "https://fra.example.com/rest/v1"
        );
        assert_eq!(
            config.region("fra1").unwrap().location,
            known_location("fra1").unwrap()
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut vars = base();
        vars.insert("REGIONS".into(), "iad1,SFO,fra1,iad1,zzz9".into());
        vars.insert("REGION_FRA1_POSTGREST_URL".into(), "ftp://x".into());
        vars.insert("REGION_ZZZ9_POSTGREST_URL".into(), "http://z".into());
        vars.insert("JWT_SECRET".into(), "short".into());
        vars.insert("ALLOW_REGION_OVERRIDE".into(), "maybe".into());
        vars.insert("UPSTREAM_TIMEOUT_MS".into(), "5".into());
        vars.insert("ALLOWED_ORIGINS".into(), "https://shop.example/path".into());
        vars.insert("DEFAULT_REGION".into(), "cdg1".into());
        vars.insert("JWT_SIGNING_KEY".into(), "{}".into());
        vars.insert("JWT_JWKS".into(), r#"{"keys":[{"kty":"EC"}]}"#.into());
        vars.insert("TRUSTED_PROXIES".into(), "76.76.21.0/24, vercel".into());
        let keys: Vec<String> = problems(&vars).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "REGIONS",                   // SFO malformed
                "REGION_FRA1_POSTGREST_URL", // ftp
                "REGIONS",                   // iad1 twice
                "REGION_ZZZ9_LOCATION",      // unknown region without location
                "DEFAULT_REGION",            // not in REGIONS
                "ALLOW_REGION_OVERRIDE",
                "JWT_SECRET",
                "JWT_SIGNING_KEY",
                "JWT_JWKS",
                "ALLOWED_ORIGINS",
                "UPSTREAM_TIMEOUT_MS",
                "TRUSTED_PROXIES",
            ]
        );
    }

    #[test]
    fn upstream_host_names_must_be_ascii_or_punycode() {
        assert!(
            parse_base_url("https://bücher.example/rest/v1")
                .unwrap_err()
                .contains("punycode")
        );
        assert_eq!(
            parse_base_url("https://xn--bcher-kva.example/rest/v1/").unwrap(),
            "https://xn--bcher-kva.example/rest/v1"
        );
        // Percent-encoded, and browser origins too (with capitals, each of these used
        // to panic in debug builds).
        for raw in [
            "https://%41%C3%BC.example/rest/v1",
            "https:/_FE%DAPAY=MiB",
            "HTTPS://u@%C3%BCB.example",
        ] {
            assert!(
                parse_base_url(raw).unwrap_err().contains("punycode"),
                "{raw}"
            );
            assert!(parse_origin(raw).unwrap_err().contains("punycode"), "{raw}");
        }
        assert!(
            parse_origin("https://Bücher.example")
                .unwrap_err()
                .contains("punycode")
        );
        assert_eq!(
            parse_base_url("https://shop.example/rest%20v1").unwrap(),
            "https://shop.example/rest%20v1",
            "a percent in the path is fine"
        );
        assert_eq!(
            parse_origin("https://xn--bcher-kva.example").unwrap(),
            "https://xn--bcher-kva.example"
        );
    }

    #[test]
    fn missing_required_keys_are_named() {
        let vars = HashMap::<String, String>::new();
        let keys: Vec<String> = problems(&vars).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "REGIONS",
                "JWT_SECRET",
                "SERVICE_ROLE_KEY",
                "JWT_SIGNING_KEY"
            ]
        );

        let mut vars = base();
        vars.remove("REGION_SFO1_POSTGREST_URL");
        vars.insert("REGION_IAD1_POSTGREST_URL".into(), "  ".into());
        let found = problems(&vars);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|(_, p)| p == "is required but not set"));
    }

    #[test]
    fn service_role_key_must_match_secret_and_role() {
        let mut vars = base();
        vars.insert(
            "SERVICE_ROLE_KEY".into(),
            service_key(
                "another-secret-that-is-long-enough-9876543210",
                "service_role",
            ),
        );
        let found = problems(&vars);
        assert_eq!(found[0].0, "SERVICE_ROLE_KEY");
        assert!(found[0].1.contains("signature"), "{found:?}");

        vars.insert("SERVICE_ROLE_KEY".into(), service_key(SECRET, "anon"));
        let found = problems(&vars);
        assert_eq!(found[0].1, "has role `anon`, expected `service_role`");
    }

    #[test]
    fn explicit_settings_are_honoured() {
        let mut vars = base();
        vars.insert("DEFAULT_REGION".into(), "fra1".into());
        vars.insert("ALLOW_REGION_OVERRIDE".into(), "true".into());
        vars.insert("UPSTREAM_TIMEOUT_MS".into(), "1500".into());
        vars.insert("UPSTREAM_MAX_IN_FLIGHT".into(), "8".into());
        vars.insert("ADMISSION_QUEUE_MS".into(), "0".into());
        vars.insert(
            "ALLOWED_ORIGINS".into(),
            "https://shop.payhuk.com, http://localhost:5173/".into(),
        );
        vars.insert("REGION_FRA1_LOCATION".into(), "6.37,2.39".into());
        let config = Config::from_source(&vars).unwrap();
        assert_eq!(config.default_region.as_str(), "fra1");
        assert!(config.allow_region_override);
        assert_eq!(config.upstream_timeout_ms, 1500);
        assert_eq!(
            config.admission,
            AdmissionSettings {
                max_in_flight: 8,
                queue_ms: 0
            }
        );
        assert_eq!(
            config.allowed_origins,
            AllowedOrigins::List(vec![
                "https://shop.payhuk.com".into(),
                "http://localhost:5173".into()
            ])
        );
        assert_eq!(config.region("fra1").unwrap().location.lat, 6.37);

        vars.insert("ALLOWED_ORIGINS".into(), "*".into());
        assert_eq!(
            Config::from_source(&vars).unwrap().allowed_origins,
            AllowedOrigins::Any
        );
    }

    #[test]
    fn routing_settings() {
        let config = Config::from_source(&base()).unwrap();
        assert!(config.use_cf_location);
        assert!(config.latency_routing);
        assert_eq!(config.replica_wait, ReplicaWait::Auto);
        assert_eq!(config.health_ttl_ms, DEFAULT_HEALTH_TTL_MS);
        assert_eq!(
            config.health_probe_timeout_ms,
            DEFAULT_HEALTH_PROBE_TIMEOUT_MS
        );
        assert_eq!(config.max_replica_lag, DEFAULT_MAX_REPLICA_LAG);
        assert!(config.read_only_rpcs.is_empty());
        assert_eq!(config.jwt_audience, None);

        let mut vars = base();
        vars.insert("USE_CF_LOCATION".into(), "false".into());
        vars.insert("LATENCY_ROUTING".into(), "false".into());
        vars.insert("HEALTH_TTL_MS".into(), "500".into());
        vars.insert("HEALTH_PROBE_TIMEOUT_MS".into(), "250".into());
        vars.insert("MAX_REPLICA_LAG".into(), "2s".into());
        vars.insert(
            "READ_ONLY_RPCS".into(),
            "search_products, node_status".into(),
        );
        vars.insert("JWT_AUDIENCE".into(), "authenticated".into());
        vars.insert("RYW_REPLICA_WAIT_MS".into(), "0".into());
        let config = Config::from_source(&vars).unwrap();
        assert_eq!(config.replica_wait, ReplicaWait::Fixed(0));
        assert!(!config.use_cf_location);
        assert!(!config.latency_routing);
        assert_eq!(config.health_ttl_ms, 500);
        assert_eq!(config.health_probe_timeout_ms, 250);
        assert_eq!(
            config.max_replica_lag,
            MaxLag {
                seconds: Some(2.0),
                bytes: None
            }
        );
        assert_eq!(config.read_only_rpcs, ["search_products", "node_status"]);
        assert_eq!(config.jwt_audience.as_deref(), Some("authenticated"));

        vars.insert("READ_ONLY_RPCS".into(), "ok_fn,Drop Table".into());
        vars.insert("MAX_REPLICA_LAG".into(), "fast".into());
        vars.insert("HEALTH_TTL_MS".into(), "0".into());
        vars.insert("RYW_REPLICA_WAIT_MS".into(), "1001".into());
        let keys: Vec<String> = problems(&vars).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "HEALTH_TTL_MS",
                "MAX_REPLICA_LAG",
                "READ_ONLY_RPCS",
                "RYW_REPLICA_WAIT_MS"
            ]
        );
    }

    #[test]
    fn max_lag_forms() {
        let lag = |raw: &str| MaxLag::parse(raw);
        assert_eq!(
            lag("30s").unwrap(),
            MaxLag {
                seconds: Some(30.0),
                bytes: None
            }
        );
        assert_eq!(
            lag("500ms").unwrap(),
            MaxLag {
                seconds: Some(0.5),
                bytes: None
            }
        );
        assert_eq!(
            lag("16MiB").unwrap(),
            MaxLag {
                seconds: None,
                bytes: Some(16 << 20)
            }
        );
        assert_eq!(
            lag("64kB, 2.5s").unwrap(),
            MaxLag {
                seconds: Some(2.5),
                bytes: Some(64_000)
            }
        );
        assert_eq!(
            lag("none").unwrap(),
            MaxLag {
                seconds: None,
                bytes: None
            }
        );
        for bad in ["", "s", "30", "30 parsecs", "1s,2s", "-1s", "1MB,2MB"] {
            assert!(lag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let config = Config::from_source(&base()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains(SECRET));
        assert!(!debug.contains(config.service_role_key.expose()));
        assert!(!debug.contains(config.signing_key.d.as_deref().unwrap()));
    }

    #[test]
    fn a_status_token_is_optional_long_and_never_printed() {
        assert!(Config::from_source(&base()).unwrap().status_token.is_none());
        let mut vars = base();
        vars.insert("STATUS_TOKEN".into(), "short".into());
        let errors = Config::from_source(&vars).unwrap_err();
        assert_eq!(errors.0[0].key, "STATUS_TOKEN", "{errors}");
        let token = "st_0123456789abcdef0123456789abcdef";
        vars.insert("STATUS_TOKEN".into(), format!(" {token} "));
        let config = Config::from_source(&vars).unwrap();
        assert_eq!(config.status_token.as_ref().unwrap().expose(), token);
        assert!(!format!("{config:?}").contains(token));
    }

    #[test]
    fn trusted_proxies_are_networks_or_single_addresses() {
        let mut vars = base();
        vars.insert(
            "TRUSTED_PROXIES".into(),
            "76.76.21.9/24, 2001:db8::1, 10.0.0.7".into(),
        );
        let config = Config::from_source(&vars).unwrap();
        let nets: Vec<String> = config
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["76.76.21.0/24", "2001:db8::1/128", "10.0.0.7/32"]);
        assert!(
            Config::from_source(&base())
                .unwrap()
                .trusted_proxies
                .is_empty()
        );
    }

    #[test]
    fn sessions_are_signed_es256_with_a_private_key_or_hs256_when_asked() {
        let config = Config::from_source(&base()).unwrap();
        assert_eq!(config.signing_key.algorithm(), Ok(Alg::Es256));
        let published = serde_json::to_value(&config.published_keys).unwrap();
        assert_eq!(published["keys"][0]["kid"], "test-ec");
        assert!(published["keys"][0].get("d").is_none());
        assert_eq!(
            config.published_keys.keys.len(),
            1,
            "the legacy secret is never published"
        );
        let algs: Vec<_> = config
            .trusted_keys
            .keys
            .iter()
            .map(|k| k.algorithm())
            .collect();
        assert_eq!(algs, [Ok(Alg::Es256), Ok(Alg::Hs256)]);

        let mut vars = base();
        vars.insert("JWT_SIGNING_KEY".into(), "legacy-hs256".into());
        let legacy = Config::from_source(&vars).unwrap();
        assert_eq!(legacy.signing_key.algorithm(), Ok(Alg::Hs256));
        assert!(legacy.published_keys.keys.is_empty());

        let public_only = serde_json::to_string(&config.published_keys.keys[0]).unwrap();
        vars.insert("JWT_SIGNING_KEY".into(), public_only.clone());
        assert!(problems(&vars)[0].1.contains("no private part"));
        vars.insert("JWT_SIGNING_KEY".into(), RSA_KEY.into());
        assert!(problems(&vars)[0].1.contains("EC P-256"));

        let mut vars = base();
        vars.insert("JWT_JWKS".into(), format!(r#"{{"keys":[{RSA_KEY}]}}"#));
        let config = Config::from_source(&vars).unwrap();
        assert_eq!(config.trusted_keys.keys.len(), 3);
        assert_eq!(config.published_keys.keys.len(), 2);
        vars.insert("JWT_JWKS".into(), format!(r#"{{"keys":[{public_only}]}}"#));
        assert!(problems(&vars)[0].1.contains("one kid, one key"));
    }
}
