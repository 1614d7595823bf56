//! HS256 JSON Web Tokens as Supabase and PostgREST use them.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The claims PostgREST and the gateway look at. Unknown claims are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The database role PostgREST switches to (`anon`, `authenticated`, `service_role`).
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    pub fn new(role: &str, issuer: &str, issued_at: i64, expires_at: i64) -> Self {
        Claims {
            role: role.to_owned(),
            iss: Some(issuer.to_owned()),
            sub: None,
            iat: Some(issued_at),
            exp: Some(expires_at),
            extra: serde_json::Map::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    Malformed(String),
    UnsupportedAlgorithm(String),
    BadSignature,
    Expired {
        exp: i64,
    },
    /// `nbf` is later than now (beyond the allowed clock skew).
    NotYetValid {
        nbf: i64,
    },
    /// `iat` is later than now (beyond the allowed clock skew).
    IssuedInFuture {
        iat: i64,
    },
}

/// How far `nbf` and `iat` may be ahead of our clock, as PostgREST allows.
pub const CLOCK_SKEW_SECS: i64 = 30;

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Malformed(why) => write!(f, "malformed token: {why}"),
            JwtError::UnsupportedAlgorithm(alg) => {
                write!(f, "token uses algorithm {alg}; only HS256 is accepted")
            }
            JwtError::BadSignature => f.write_str("token signature does not match the secret"),
            JwtError::Expired { exp } => write!(f, "token expired at {exp} (unix time)"),
            JwtError::NotYetValid { nbf } => {
                write!(f, "token is not valid before {nbf} (unix time)")
            }
            JwtError::IssuedInFuture { iat } => {
                write!(f, "token is issued in the future, at {iat} (unix time)")
            }
        }
    }
}

impl std::error::Error for JwtError {}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

pub fn sign_hs256<C: Serialize>(claims: &C, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize to JSON"));
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Checks the algorithm and the signature (in constant time) and decodes the claims.
/// Does not look at the clock: see [`verify`].
pub fn decode_verified(token: &str, secret: &[u8]) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed(format!("{what} is not base64url")))
    };

    let header: Header = serde_json::from_slice(&decode(header, "header")?)
        .map_err(|e| JwtError::Malformed(format!("header: {e}")))?;
    if header.alg != "HS256" {
        return Err(JwtError::UnsupportedAlgorithm(header.alg));
    }

    let signature = decode(signature, "signature")?;
    let signing_input_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    let mut mac = mac(secret);
    mac.update(&token.as_bytes()[..signing_input_len]);
    mac.verify_slice(&signature)
        .map_err(|_| JwtError::BadSignature)?;

    serde_json::from_slice(&decode(payload, "payload")?)
        .map_err(|e| JwtError::Malformed(format!("claims: {e}")))
}

/// [`decode_verified`], then the clock, as PostgREST checks it: `exp` must be after
/// `now` (unix seconds); `nbf` and `iat` may not be ahead of it by more than
/// [`CLOCK_SKEW_SECS`].
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<Claims, JwtError> {
    let claims = decode_verified(token, secret)?;
    check_clock(&claims, now)?;
    Ok(claims)
}

/// The time checks of [`verify`] on claims already decoded.
pub fn check_clock(claims: &Claims, now: i64) -> Result<(), JwtError> {
    if let Some(exp) = claims.exp.filter(|exp| *exp <= now) {
        return Err(JwtError::Expired { exp });
    }
    let nbf = claims.extra.get("nbf").and_then(serde_json::Value::as_i64);
    if let Some(nbf) = nbf.filter(|nbf| *nbf > now.saturating_add(CLOCK_SKEW_SECS)) {
        return Err(JwtError::NotYetValid { nbf });
    }
    if let Some(iat) = claims
        .iat
        .filter(|iat| *iat > now.saturating_add(CLOCK_SKEW_SECS))
    {
        return Err(JwtError::IssuedInFuture { iat });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"super-secret-jwt-token-with-at-least-32-characters-long";

    #[test]
    fn matches_a_token_signed_elsewhere() {
        // Supabase's published local-development anon key, signed with SECRET.
        let anon = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
        let claims = verify(anon, SECRET, 1_700_000_000).unwrap();
        assert_eq!(claims.role, "anon");
        assert_eq!(claims.iss.as_deref(), Some("supabase-demo"));
        assert_eq!(claims.exp, Some(1_983_812_996));
    }

    #[test]
    fn rejects_tampering_and_other_algorithms() {
        let token = sign_hs256(&Claims::new("anon", "t", 0, 10), SECRET);
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"role":"service_role"}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            decode_verified(&forged, SECRET),
            Err(JwtError::BadSignature)
        );

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            decode_verified(&unsigned, SECRET),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
        assert!(matches!(
            decode_verified("a.b", SECRET),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            decode_verified(&format!("{token}.x"), SECRET),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn expiry_is_checked_by_verify_only() {
        let token = sign_hs256(&Claims::new("anon", "t", 0, 100), SECRET);
        assert!(verify(&token, SECRET, 99).is_ok());
        assert_eq!(
            verify(&token, SECRET, 100),
            Err(JwtError::Expired { exp: 100 })
        );
        assert!(decode_verified(&token, SECRET).is_ok());
    }

    #[test]
    fn not_before_and_issued_at_allow_only_the_clock_skew() {
        let mut claims = Claims::new("authenticated", "t", 1_000, 5_000);
        claims.extra.insert("nbf".into(), 1_000.into());
        let token = sign_hs256(&claims, SECRET);
        assert!(verify(&token, SECRET, 1_000 - CLOCK_SKEW_SECS).is_ok());
        assert_eq!(
            verify(&token, SECRET, 1_000 - CLOCK_SKEW_SECS - 1),
            Err(JwtError::NotYetValid { nbf: 1_000 })
        );
        claims.extra.clear();
        let token = sign_hs256(&claims, SECRET);
        assert_eq!(
            verify(&token, SECRET, 900),
            Err(JwtError::IssuedInFuture { iat: 1_000 })
        );
        assert!(verify(&token, SECRET, 1_000).is_ok());
    }

    proptest! {
        #[test]
        fn round_trips_and_binds_to_the_secret(
            role in "[a-z_]{1,20}",
            sub in proptest::option::of("[a-zA-Z0-9-]{1,36}"),
            iat in 0i64..4_000_000_000,
            secret in proptest::collection::vec(any::<u8>(), 32..64),
            other in proptest::collection::vec(any::<u8>(), 32..64),
        ) {
            let mut claims = Claims::new(&role, "payhuk", iat, iat + 3600);
            claims.sub = sub;
            let token = sign_hs256(&claims, &secret);
            prop_assert_eq!(verify(&token, &secret, iat).unwrap(), claims);
            if other != secret {
                prop_assert_eq!(decode_verified(&token, &other), Err(JwtError::BadSignature));
            }
        }
    }
}
