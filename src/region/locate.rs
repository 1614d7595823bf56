//! Which region this edge counts as for one request.

use serde::Serialize;

use super::RegionCode;
use crate::config::Config;
use crate::error::AppError;

/// Lets a developer (or a test) play any edge region; honoured only when the
/// deployment sets `ALLOW_REGION_OVERRIDE=true`.
pub const EDGE_REGION_OVERRIDE_HEADER: &str = "x-payhuk-edge-region";

/// Read access to the request's headers, so this module stays free of `worker` types.
pub trait HeaderLookup {
    fn header(&self, name: &str) -> Option<String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeSource {
    /// The `x-payhuk-edge-region` header.
    Override,
    /// Vercel's `x-vercel-id` header.
    Vercel,
    /// `DEFAULT_REGION`.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeLocation {
    pub region: RegionCode,
    pub source: EdgeSource,
}

pub fn locate_edge(headers: &impl HeaderLookup, config: &Config) -> Result<EdgeLocation, AppError> {
    if config.allow_region_override
        && let Some(raw) = headers.header(EDGE_REGION_OVERRIDE_HEADER)
    {
        return match RegionCode::parse(&raw) {
            Ok(code) if config.region(code.as_str()).is_some() => Ok(EdgeLocation {
                region: code,
                source: EdgeSource::Override,
            }),
            _ => Err(AppError::BadRequest {
                message: format!("{EDGE_REGION_OVERRIDE_HEADER} names no configured region"),
                details: Some(format!(
                    "got `{raw}`; configured: {}",
                    config
                        .regions
                        .iter()
                        .map(|r| r.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }),
        };
    }

    // `x-vercel-id` is `<edge pop>::<function region>::<request id>`; the function
    // region is the one this code runs in.
    if let Some(id) = headers.header("x-vercel-id") {
        let mut segments: Vec<&str> = id.split("::").collect();
        segments.pop();
        if let Some(code) = segments
            .iter()
            .rev()
            .find_map(|s| config.region(s).map(|r| r.code.clone()))
        {
            return Ok(EdgeLocation {
                region: code,
                source: EdgeSource::Vercel,
            });
        }
    }

    Ok(EdgeLocation {
        region: config.default_region.clone(),
        source: EdgeSource::Default,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::auth::jwt::{Claims, sign_hs256};

    struct Headers(HashMap<&'static str, &'static str>);

    impl HeaderLookup for Headers {
        fn header(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn config(allow_override: bool) -> Config {
        let secret = "locate-test-secret-that-is-long-enough-000";
        let key = sign_hs256(
            &Claims::new("service_role", "t", 0, i64::MAX),
            secret.as_bytes(),
        );
        let allow = allow_override.to_string();
        let vars: HashMap<&str, &str> = HashMap::from([
            ("REGIONS", "iad1,sfo1,fra1"),
            ("REGION_IAD1_POSTGREST_URL", "http://127.0.0.1:3001"),
            ("REGION_SFO1_POSTGREST_URL", "http://127.0.0.1:3002"),
            ("REGION_FRA1_POSTGREST_URL", "http://127.0.0.1:3003"),
            ("DEFAULT_REGION", "sfo1"),
            ("JWT_SECRET", secret),
            ("SERVICE_ROLE_KEY", key.as_str()),
            ("ALLOW_REGION_OVERRIDE", allow.as_str()),
        ]);
        Config::from_source(&vars).unwrap()
    }

    fn locate(
        allow: bool,
        headers: &[(&'static str, &'static str)],
    ) -> Result<EdgeLocation, AppError> {
        locate_edge(&Headers(headers.iter().copied().collect()), &config(allow))
    }

    #[test]
    fn override_only_when_allowed() {
        let headers = [(EDGE_REGION_OVERRIDE_HEADER, "fra1")];
        let found = locate(true, &headers).unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("fra1", EdgeSource::Override)
        );
        let found = locate(false, &headers).unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("sfo1", EdgeSource::Default)
        );
    }

    #[test]
    fn unknown_override_is_a_client_error() {
        let err = locate(true, &[(EDGE_REGION_OVERRIDE_HEADER, "cdg1")]).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(err.body().details.unwrap().contains("iad1, sfo1, fra1"));
    }

    #[test]
    fn vercel_function_region_wins_over_default() {
        let found = locate(
            false,
            &[("x-vercel-id", "cdg1::fra1::abcde-1700000000000-0123")],
        )
        .unwrap();
        assert_eq!(
            (found.region.as_str(), found.source),
            ("fra1", EdgeSource::Vercel)
        );
        // An id naming no configured region falls back to the default.
        let found = locate(false, &[("x-vercel-id", "cdg1::hnd1::abcde")]).unwrap();
        assert_eq!(found.source, EdgeSource::Default);
        // The request id is never taken for a region.
        let found = locate(false, &[("x-vercel-id", "fra1")]).unwrap();
        assert_eq!(found.source, EdgeSource::Default);
    }
}
