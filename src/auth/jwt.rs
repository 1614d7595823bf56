//! JSON Web Tokens as Supabase and PostgREST use them: HS256 with a shared secret,
//! ES256 and RS256 with keys from a JWKS ([`super::jwks`]). Parsing and the claims'
//! clock checks are here; asymmetric signatures go through [`super::crypto`].

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
    /// No key of the set has the token's `kid` (or, without one, its algorithm).
    UnknownKey {
        kid: Option<String>,
    },
    /// The key named by `kid` is for another algorithm than the token's `alg`.
    KeyMismatch {
        kid: String,
        alg: String,
    },
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
                write!(
                    f,
                    "token uses algorithm {alg}; only HS256, ES256 and RS256 are accepted"
                )
            }
            JwtError::BadSignature => f.write_str("token signature does not match its key"),
            JwtError::UnknownKey { kid: Some(kid) } => {
                write!(
                    f,
                    "token is signed with key `{kid}`, which is not trusted here"
                )
            }
            JwtError::UnknownKey { kid: None } => {
                f.write_str("token names no key and no trusted key has its algorithm")
            }
            JwtError::KeyMismatch { kid, alg } => {
                write!(f, "key `{kid}` is not an {alg} key")
            }
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

/// The algorithms accepted; anything else (`none` included) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Hs256,
    Es256,
    Rs256,
}

impl Alg {
    pub fn parse(name: &str) -> Option<Alg> {
        match name {
            "HS256" => Some(Alg::Hs256),
            "ES256" => Some(Alg::Es256),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Hs256 => "HS256",
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// A token split and decoded, its signature not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Unverified<'a> {
    pub alg: Alg,
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
    pub claims: Claims,
}

/// Splits and decodes `token`; refuses algorithms other than [`Alg`]'s.
pub fn parse(token: &str) -> Result<Unverified<'_>, JwtError> {
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
    // JSON text is UTF-8 throughout (RFC 8259): checked whole, since serde_json skips
    // the members it does not read without looking at them (found by fuzzing).
    let json_text = |part: &str, what: &str| {
        String::from_utf8(decode(part, what)?)
            .map_err(|_| JwtError::Malformed(format!("{what} is not UTF-8")))
    };
    let header: Header = serde_json::from_str(&json_text(header, "header")?)
        .map_err(|e| JwtError::Malformed(format!("header: {e}")))?;
    let alg = Alg::parse(&header.alg).ok_or(JwtError::UnsupportedAlgorithm(header.alg))?;
    let signature = decode(signature, "signature")?;
    let claims = serde_json::from_str(&json_text(payload, "payload")?)
        .map_err(|e| JwtError::Malformed(format!("claims: {e}")))?;
    let signing_input_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    Ok(Unverified {
        alg,
        kid: header.kid,
        signing_input: &token.as_bytes()[..signing_input_len],
        signature,
        claims,
    })
}

/// `header.payload` for `claims`, to be signed with `alg` (and the key `kid`).
pub fn signing_input<C: Serialize>(claims: &C, alg: Alg, kid: Option<&str>) -> String {
    let header = Header {
        alg: alg.name().to_owned(),
        kid: kid.map(str::to_owned),
        typ: Some("JWT".into()),
    };
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serializes"));
    let payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize to JSON"));
    format!("{header}.{payload}")
}

/// Appends the signature to a signing input.
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Whether `signature` is the HMAC-SHA256 of `input` under `secret` (constant time).
pub fn hs256_matches(secret: &[u8], input: &[u8], signature: &[u8]) -> bool {
    let mut mac = mac(secret);
    mac.update(input);
    mac.verify_slice(signature).is_ok()
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

pub fn sign_hs256<C: Serialize>(claims: &C, secret: &[u8]) -> String {
    sign_hs256_as(claims, secret, None)
}

/// [`sign_hs256`] naming the key `kid` in the header.
pub fn sign_hs256_as<C: Serialize>(claims: &C, secret: &[u8], kid: Option<&str>) -> String {
    let input = signing_input(claims, Alg::Hs256, kid);
    let mut mac = mac(secret);
    mac.update(input.as_bytes());
    assemble(&input, &mac.finalize().into_bytes())
}

/// Checks an HS256 token's signature (in constant time) against `secret` and decodes
/// the claims. Does not look at the clock: see [`verify`].
pub fn decode_verified(token: &str, secret: &[u8]) -> Result<Claims, JwtError> {
    let token = parse(token)?;
    if token.alg != Alg::Hs256 {
        return Err(JwtError::UnsupportedAlgorithm(token.alg.name().into()));
    }
    if !hs256_matches(secret, token.signing_input, &token.signature) {
        return Err(JwtError::BadSignature);
    }
    Ok(token.claims)
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
        // Invalid UTF-8 in a header member nobody reads is still not JSON.
        let odd_header = URL_SAFE_NO_PAD.encode(b"{\"alg\":\"HS256\",\"cid\":\"\xffx\"}");
        assert_eq!(
            parse(&format!("{odd_header}.{}.{}", parts[1], parts[2])),
            Err(JwtError::Malformed("header is not UTF-8".into()))
        );
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
