use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::model::{HealthSnapshot, PublicHealthReport};
use super::service::{Probe, build_report, probe_all};
use crate::auth::crypto::JwtCrypto;
use crate::auth::request::{FetchedKeys, authenticate};
use crate::config::Config;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::region::{EdgeLocation, HeaderLookup};
use crate::upstream::Upstream;

/// Who is asking `/health`, which decides how much it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Each region's status.
    Public,
    /// Everything: roles, WAL positions, lag, probe latency, errors, warnings.
    Operator,
}

/// An operator presents `STATUS_TOKEN` or the service role as the bearer (or as
/// `apikey`, as supabase-js sends it). A credential that is there but wrong is a 401,
/// not a quiet fall back to the public view, so a typo in a dashboard's token shows.
pub async fn audience(
    headers: &impl HeaderLookup,
    config: &Config,
    fetched: &impl FetchedKeys,
    crypto: &impl JwtCrypto,
    now: i64,
) -> Result<Audience, AppError> {
    if let Some(token) = &config.status_token
        && bearer(headers).is_some_and(|presented| same_secret(&presented, token.expose()))
    {
        return Ok(Audience::Operator);
    }
    let caller = authenticate(headers, config, fetched, crypto, now).await?;
    Ok(
        match caller.claims.as_ref().map(|claims| claims.role.as_str()) {
            Some("service_role") => Audience::Operator,
            _ => Audience::Public,
        },
    )
}

fn bearer(headers: &impl HeaderLookup) -> Option<String> {
    let value = headers.header("authorization")?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Compared as digests, in constant time: neither the content nor the length leaks.
fn same_secret(presented: &str, expected: &str) -> bool {
    let digest = |s: &str| Sha256::digest(s.as_bytes());
    bool::from(digest(presented).ct_eq(&digest(expected)))
}

/// Always 200 when the gateway itself works: a dead region is news, not a failure.
/// Served from the isolate's last probe round (the one routing uses), so asking costs
/// no upstream call; `checked_at` is when that round was taken in.
pub fn report(
    audience: Audience,
    edge: EdgeLocation,
    snapshot: HealthSnapshot,
) -> Result<ApiResponse, AppError> {
    let checked_at = chrono::DateTime::from_timestamp_millis(snapshot.taken_ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let report = build_report(edge, checked_at, snapshot.regions, snapshot.warnings);
    let reply = match audience {
        Audience::Operator => ApiResponse::json(200, &report)?,
        Audience::Public => ApiResponse::json(200, &PublicHealthReport::from(&report))?,
    };
    // The view depends on the credential: never one cache entry for both.
    Ok(reply
        .with_header("cache-control", "no-store")
        .with_header("vary", "authorization, apikey"))
}

/// Every region probed now.
pub async fn probe_regions<U: Upstream>(config: &Config, upstream: &U) -> Vec<Probe> {
    probe_all(upstream, &config.regions, config.service_role_key.expose()).await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use futures::executor::block_on;

    use super::*;
    use crate::auth::crypto::native::RustCrypto;
    use crate::auth::jwt::{Claims, sign_hs256};
    use crate::auth::request::NoFetchedKeys;
    use crate::region::{EdgeSource, Lsn, RegionCode, known_location};
    use crate::services::health::model::{
        HealthWarning, RegionHealth, ReplicationHealth, Role, WarningCode,
    };
    use crate::test_support::{SECRET, config_with};

    const STATUS_TOKEN: &str = "st_0123456789abcdef0123456789abcdef";

    fn who(config: &Config, headers: &[(&'static str, String)]) -> Result<Audience, AppError> {
        let headers: HashMap<&'static str, String> = headers.iter().cloned().collect();
        block_on(audience(
            &headers,
            config,
            &NoFetchedKeys,
            &RustCrypto,
            1_000,
        ))
    }

    fn seen_as(config: &Config, headers: &[(&'static str, String)]) -> Option<Audience> {
        who(config, headers).ok()
    }

    fn token(role: &str, sub: Option<&str>) -> String {
        let mut claims = Claims::new(role, "t", 0, 2_000);
        claims.sub = sub.map(str::to_owned);
        sign_hs256(&claims, SECRET.as_bytes())
    }

    fn bearer(token: &str) -> [(&'static str, String); 1] {
        [("authorization", format!("Bearer {token}"))]
    }

    #[test]
    fn operators_are_the_status_token_or_the_service_role() {
        let config = config_with(&[("STATUS_TOKEN", STATUS_TOKEN)]);
        let operator = Some(Audience::Operator);
        let public = Some(Audience::Public);
        assert_eq!(seen_as(&config, &[]), public);
        assert_eq!(seen_as(&config, &bearer(STATUS_TOKEN)), operator);
        let service = token("service_role", None);
        assert_eq!(seen_as(&config, &bearer(&service)), operator);
        assert_eq!(seen_as(&config, &[("apikey", service)]), operator);
        assert_eq!(
            seen_as(&config, &bearer(&token("authenticated", Some("u1")))),
            public
        );
        assert_eq!(seen_as(&config, &[("apikey", token("anon", None))]), public);
    }

    #[test]
    fn a_wrong_credential_is_refused_not_shown_less() {
        let config = config_with(&[("STATUS_TOKEN", STATUS_TOKEN)]);
        let near = who(&config, &bearer(&format!("{STATUS_TOKEN}x")));
        assert_eq!(near.unwrap_err().status(), 401);
        // Without a configured token, a presented one is just a bad bearer.
        let unset = who(&config_with(&[]), &bearer(STATUS_TOKEN));
        assert_eq!(unset.unwrap_err().status(), 401);
    }

    fn snapshot() -> HealthSnapshot {
        let region = |c: &str| RegionCode::parse(c).unwrap();
        HealthSnapshot {
            taken_ms: 1_796_000_000_123,
            regions: vec![
                RegionHealth {
                    region: region("iad1"),
                    reachable: true,
                    role: Some(Role::Primary),
                    latency_ms: Some(4),
                    lsn: Some(Lsn(0x3000060)),
                    replication: None,
                    error: None,
                },
                RegionHealth {
                    region: region("sfo1"),
                    reachable: true,
                    role: Some(Role::Replica),
                    latency_ms: Some(7),
                    lsn: Some(Lsn(0x3000000)),
                    replication: Some(ReplicationHealth {
                        wal_receiver: Some("streaming".into()),
                        replay_paused: true,
                        lag_seconds: 2.5,
                        lag_bytes: 96,
                    }),
                    error: None,
                },
                RegionHealth {
                    region: region("fra1"),
                    reachable: false,
                    role: None,
                    latency_ms: None,
                    lsn: None,
                    replication: None,
                    error: Some("connection refused by 10.0.3.7:3000".into()),
                },
            ],
            warnings: vec![HealthWarning {
                region: region("iad1"),
                code: WarningCode::PartitionsMissingAhead,
                table: "public.orders".into(),
                message: "public.orders has no partition for 2027-01".into(),
                rows: None,
                months: vec!["2027-01-01".into()],
            }],
        }
    }

    fn edge() -> EdgeLocation {
        EdgeLocation {
            region: RegionCode::parse("fra1").unwrap(),
            point: known_location("fra1").unwrap(),
            source: EdgeSource::Default,
            colo: None,
            city: None,
        }
    }

    #[test]
    fn anyone_sees_each_region_s_status_and_nothing_of_its_insides() {
        let reply = report(Audience::Public, edge(), snapshot()).unwrap();
        assert_eq!(reply.status, 200);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "status": "degraded",
                "details": false,
                "edge": serde_json::to_value(edge()).unwrap(),
                "checked_at": "2026-11-30T00:53:20.123Z",
                "regions": [
                    {"region": "iad1", "status": "ok"},
                    {"region": "sfo1", "status": "degraded"},
                    {"region": "fra1", "status": "unreachable"},
                ],
            })
        );
        let text = String::from_utf8(reply.body).unwrap();
        for secret in ["0/30000", "10.0.3.7", "lag", "partition", "latency"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn operators_see_every_detail_as_of_the_round() {
        let reply = report(Audience::Operator, edge(), snapshot()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["details"], true);
        assert_eq!(body["checked_at"], "2026-11-30T00:53:20.123Z");
        assert_eq!(body["regions"][1]["replication"]["lag_bytes"], 96);
        assert_eq!(
            body["regions"][2]["error"],
            "connection refused by 10.0.3.7:3000"
        );
        assert_eq!(body["warnings"][0]["months"][0], "2027-01-01");
        let vary = reply
            .headers
            .iter()
            .find(|(k, _)| k == "vary")
            .map(|(_, v)| v.as_str());
        assert_eq!(vary, Some("authorization, apikey"));
    }
}
