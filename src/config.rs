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
//! | `DEFAULT_REGION` | no | edge region when nothing else tells; default the first of `REGIONS` |
//! | `ALLOW_REGION_OVERRIDE` | no | `true` lets `x-payhuk-edge-region` pick the edge region; default `false` |
//! | `ALLOWED_ORIGINS` | no | comma-separated browser origins, or `*`; default none |
//! | `UPSTREAM_TIMEOUT_MS` | no | time budget of one upstream call, 100..=60000; default 3000 |

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use crate::auth::jwt;
use crate::region::{GeoPoint, RegionCode, known_location};

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
const MIN_JWT_SECRET_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    /// In the order of `REGIONS`.
    pub regions: Vec<RegionConfig>,
    pub default_region: RegionCode,
    pub allow_region_override: bool,
    pub jwt_secret: Secret,
    pub service_role_key: Secret,
    pub allowed_origins: AllowedOrigins,
    pub upstream_timeout_ms: u32,
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
        let allowed_origins = p.allowed_origins();
        let upstream_timeout_ms = p.upstream_timeout_ms();

        match (default_region, jwt_secret, service_role_key) {
            (Some(default_region), Some(jwt_secret), Some(service_role_key))
                if p.errors.is_empty() =>
            {
                Ok(Config {
                    regions,
                    default_region,
                    allow_region_override,
                    jwt_secret,
                    service_role_key,
                    allowed_origins,
                    upstream_timeout_ms,
                })
            }
            _ => Err(ConfigErrors(p.errors)),
        }
    }

    pub fn region(&self, code: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.code.as_str() == code)
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

    fn upstream_timeout_ms(&mut self) -> u32 {
        let Some(raw) = self.get("UPSTREAM_TIMEOUT_MS") else {
            return DEFAULT_UPSTREAM_TIMEOUT_MS;
        };
        match raw.parse::<u32>() {
            Ok(ms) if (100..=60_000).contains(&ms) => ms,
            _ => {
                self.fail(
                    "UPSTREAM_TIMEOUT_MS",
                    format!("`{raw}` is not a number of milliseconds in 100..=60000"),
                );
                DEFAULT_UPSTREAM_TIMEOUT_MS
            }
        }
    }
}

/// An absolute http(s) URL without query or fragment, returned without a trailing slash.
fn parse_base_url(raw: &str) -> Result<String, String> {
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

/// A browser origin: scheme, host and optional port, nothing else.
fn parse_origin(raw: &str) -> Result<String, String> {
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
    fn minimal_config_gets_defaults() {
        let config = Config::from_source(&base()).unwrap();
        let codes: Vec<_> = config.regions.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["iad1", "sfo1", "fra1"]);
        assert_eq!(config.default_region.as_str(), "iad1");
        assert!(!config.allow_region_override);
        assert_eq!(config.upstream_timeout_ms, DEFAULT_UPSTREAM_TIMEOUT_MS);
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
                "ALLOWED_ORIGINS",
                "UPSTREAM_TIMEOUT_MS",
            ]
        );
    }

    #[test]
    fn missing_required_keys_are_named() {
        let vars = HashMap::<String, String>::new();
        let keys: Vec<String> = problems(&vars).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["REGIONS", "JWT_SECRET", "SERVICE_ROLE_KEY"]);

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
    fn secrets_do_not_leak_through_debug() {
        let config = Config::from_source(&base()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains(SECRET));
        assert!(!debug.contains(config.service_role_key.expose()));
    }
}
