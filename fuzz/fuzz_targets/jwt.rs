//! JWTs from `Authorization: Bearer` and `apikey`: `jwt::decode_verified`,
//! `jwt::verify` and `auth::request::authenticate`.
//!
//! Input: `<mode>\n<now>\n<rest>`.
//! - `signed`: rest is `<header JSON>\n<claims JSON>`, signed here with the project's
//!   secret, so the header and claims parsers run past the signature check;
//! - anything else: rest is the token as a client sends it (also tried verbatim as
//!   the `Authorization` header).
//!
//! Invariants: a token verifies under at most one secret; `verify` is
//! `decode_verified` plus the clock (`exp`, and `nbf`/`iat` within the skew); claims
//! the gateway signs decode to themselves; `authenticate` either refuses with 401 or
//! returns exactly the verified claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhuk_edge::auth::jwt::{self, CLOCK_SKEW_SECS, Claims, JwtError};
use payhuk_edge::auth::request::authenticate;
use payhuk_edge_fuzz::{
    Headers, OTHER_SECRET, SECRET, clock, config, fields, same_json, signed_jwt, text,
};

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 3);
    let now = clock(f[1]);
    let (token, authorization) = if f[0] == b"signed" {
        let parts = fields(f[2], 2);
        let token = signed_jwt(parts[0], parts[1], SECRET.as_bytes());
        let bearer = format!("Bearer {token}");
        (token, bearer)
    } else {
        let raw = text(f[2]);
        (raw.clone(), raw)
    };
    check_token(&token, now);

    for headers in [
        Headers::one("authorization", &authorization),
        Headers::one("apikey", &token),
        Headers::one("authorization", &format!("bearer {token}")).with("apikey", "ignored"),
    ] {
        match authenticate(&headers, config(), now) {
            Ok(caller) => match (&caller.token, &caller.claims) {
                (Some(t), Some(claims)) => {
                    assert_eq!(jwt::verify(t, SECRET.as_bytes(), now).as_ref(), Ok(claims));
                }
                (None, None) => {}
                other => panic!("a token without claims or claims without a token: {other:?}"),
            },
            Err(err) => assert_eq!(err.status(), 401, "{err:?}"),
        }
    }
});

fn check_token(token: &str, now: i64) {
    let verified = jwt::decode_verified(token, SECRET.as_bytes());
    let other = jwt::decode_verified(token, OTHER_SECRET.as_bytes());
    assert!(
        !(verified.is_ok() && other.is_ok()),
        "one token verified under two secrets"
    );
    let claims = match verified {
        Ok(claims) => claims,
        Err(_) => {
            assert!(jwt::verify(token, SECRET.as_bytes(), now).is_err());
            return;
        }
    };
    // `verify` is `decode_verified` plus the clock (`exp`, and `nbf`/`iat` within the
    // allowed skew).
    let skewed = now + CLOCK_SKEW_SECS;
    match jwt::verify(token, SECRET.as_bytes(), now) {
        Ok(c) => {
            assert_eq!(c, claims);
            assert_eq!(jwt::check_clock(&claims, now), Ok(()));
            assert!(claims.exp.is_none_or(|exp| exp > now));
            assert!(claims.iat.is_none_or(|iat| iat <= skewed));
        }
        Err(e) => {
            assert_eq!(jwt::check_clock(&claims, now), Err(e.clone()));
            match e {
                JwtError::Expired { exp } => assert!(claims.exp == Some(exp) && exp <= now),
                JwtError::NotYetValid { nbf } => assert!(nbf > skewed),
                JwtError::IssuedInFuture { iat } => {
                    assert!(claims.iat == Some(iat) && iat > skewed)
                }
                other => panic!("decode_verified accepted what verify refuses: {other}"),
            }
        }
    }
    // What the gateway signs (claims it read included) decodes to itself, and only
    // under its own secret.
    let again = jwt::sign_hs256(&claims, SECRET.as_bytes());
    let back: Claims = jwt::decode_verified(&again, SECRET.as_bytes())
        .expect("a token the gateway signs verifies");
    assert_eq!(
        (&back.role, &back.iss, &back.sub, back.iat, back.exp),
        (
            &claims.role,
            &claims.iss,
            &claims.sub,
            claims.iat,
            claims.exp
        )
    );
    assert!(same_json(
        &serde_json::Value::Object(back.extra.clone()),
        &serde_json::Value::Object(claims.extra.clone())
    ));
    assert_eq!(
        jwt::decode_verified(&again, OTHER_SECRET.as_bytes()),
        Err(JwtError::BadSignature)
    );
}
