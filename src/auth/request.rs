//! Who is calling: the JWT from `Authorization: Bearer` or Supabase's `apikey` header,
//! verified at the edge as PostgREST would, so a bad token never costs an upstream call.

use crate::auth::crypto::{self, JwtCrypto};
use crate::auth::jwt::Claims;
use crate::config::Config;
use crate::error::AppError;
use crate::region::HeaderLookup;

#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    /// The verified token, to pass on so PostgREST applies RLS for this role.
    pub token: Option<String>,
    pub claims: Option<Claims>,
}

impl Caller {
    /// Anyone at all: no token, or a verified `anon` token naming no user (the project's
    /// anon key, which supabase-js sends on every request). Row-level security shows all
    /// such callers the same rows, so what they read may be shared from a cache.
    pub fn is_public(&self) -> bool {
        self.claims
            .as_ref()
            .is_none_or(|claims| claims.role == "anon" && claims.sub.is_none())
    }
}

/// No token at all is an anonymous caller (PostgREST's anon role); a token that is
/// there but forged, expired, signed by an untrusted key or for another audience is a 401.
pub async fn authenticate(
    headers: &impl HeaderLookup,
    config: &Config,
    crypto: &impl JwtCrypto,
    now: i64,
) -> Result<Caller, AppError> {
    let bearer = match headers.header("authorization") {
        Some(value) => {
            let (scheme, token) =
                value
                    .trim()
                    .split_once(' ')
                    .ok_or_else(|| AppError::Unauthorized {
                        reason: "Authorization must be `Bearer <token>`".into(),
                    })?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(AppError::Unauthorized {
                    reason: "Authorization must be `Bearer <token>`".into(),
                });
            }
            Some(token.trim().to_owned())
        }
        // supabase-js sends the anon key as `apikey` and as the bearer; alone, it is the bearer.
        None => headers.header("apikey").map(|k| k.trim().to_owned()),
    };
    let Some(token) = bearer.filter(|t| !t.is_empty()) else {
        return Ok(Caller {
            token: None,
            claims: None,
        });
    };
    let claims = crypto::verify(&token, &config.trusted_keys, crypto, now)
        .await
        .map_err(|e| AppError::Unauthorized {
            reason: e.to_string(),
        })?;
    if let Some(expected) = &config.jwt_audience
        && let Some(aud) = claims.extra.get("aud")
        && !audience_matches(aud, expected)
    {
        return Err(AppError::Unauthorized {
            reason: format!("token audience is not `{expected}`"),
        });
    }
    Ok(Caller {
        token: Some(token),
        claims: Some(claims),
    })
}

/// `aud` may be a string or a list of strings (RFC 7519).
fn audience_matches(aud: &serde_json::Value, expected: &str) -> bool {
    match aud {
        serde_json::Value::String(one) => one == expected,
        serde_json::Value::Array(many) => many.iter().any(|a| a.as_str() == Some(expected)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use futures::executor::block_on;

    use crate::auth::crypto::native::RustCrypto;
    use crate::auth::jwt::sign_hs256;
    use crate::test_support::{SECRET, config_with};

    fn config(audience: Option<&str>) -> Config {
        match audience {
            Some(aud) => config_with(&[("JWT_AUDIENCE", aud)]),
            None => config_with(&[]),
        }
    }

    fn token(role: &str, exp: i64, aud: Option<serde_json::Value>, secret: &str) -> String {
        let mut claims = Claims::new(role, "t", 0, exp);
        if let Some(aud) = aud {
            claims.extra.insert("aud".into(), aud);
        }
        sign_hs256(&claims, secret.as_bytes())
    }

    fn auth(
        headers: &[(&'static str, String)],
        audience: Option<&str>,
    ) -> Result<Caller, AppError> {
        block_on(authenticate(
            &headers.iter().cloned().collect::<HashMap<_, _>>(),
            &config(audience),
            &RustCrypto,
            1000,
        ))
    }

    #[test]
    fn the_anon_key_is_public_a_user_or_an_anon_token_with_a_subject_is_not() {
        let anon = token("anon", 2000, None, SECRET);
        let caller = auth(&[("apikey", anon.clone())], None).unwrap();
        assert!(caller.is_public(), "supabase-js's apikey alone");
        let both = auth(
            &[
                ("apikey", anon.clone()),
                ("authorization", format!("Bearer {anon}")),
            ],
            None,
        )
        .unwrap();
        assert!(both.is_public(), "supabase-js's apikey and bearer");
        assert!(auth(&[], None).unwrap().is_public(), "no key at all");

        let user = token("authenticated", 2000, None, SECRET);
        assert!(
            !auth(&[("authorization", format!("Bearer {user}"))], None)
                .unwrap()
                .is_public()
        );
        let mut named = Claims::new("anon", "t", 0, 2000);
        named.sub = Some("22222222-2222-4222-8222-000000000001".into());
        let named = sign_hs256(&named, SECRET.as_bytes());
        assert!(
            !auth(&[("apikey", named)], None).unwrap().is_public(),
            "auth.uid() would differ: not shared"
        );
        let service = token("service_role", 2000, None, SECRET);
        assert!(!auth(&[("apikey", service)], None).unwrap().is_public());
    }

    #[test]
    fn no_token_is_anonymous() {
        let caller = auth(&[], None).unwrap();
        assert_eq!(
            caller,
            Caller {
                token: None,
                claims: None
            }
        );
    }

    #[test]
    fn bearer_or_apikey() {
        let t = token("authenticated", 2000, None, SECRET);
        let caller = auth(&[("authorization", format!("Bearer {t}"))], None).unwrap();
        assert_eq!(caller.claims.unwrap().role, "authenticated");
        let caller = auth(&[("apikey", t.clone())], None).unwrap();
        assert_eq!(caller.token.as_deref(), Some(t.as_str()));
        // Both: the bearer decides.
        let anon = token("anon", 2000, None, SECRET);
        let caller = auth(
            &[("authorization", format!("bearer {t}")), ("apikey", anon)],
            None,
        )
        .unwrap();
        assert_eq!(caller.claims.unwrap().role, "authenticated");
    }

    #[test]
    fn bad_tokens_are_401() {
        let forged = token(
            "service_role",
            2000,
            None,
            "some-other-secret-long-enough-000000000",
        );
        let expired = token("anon", 999, None, SECRET);
        for headers in [
            vec![("authorization", format!("Bearer {forged}"))],
            vec![("authorization", format!("Bearer {expired}"))],
            vec![("authorization", "Basic dXNlcjpwdw==".to_owned())],
            vec![("authorization", "Bearer not.a.jwt".to_owned())],
            vec![("apikey", forged.clone())],
        ] {
            let err = auth(&headers, None).unwrap_err();
            assert_eq!(err.status(), 401, "{headers:?}");
            assert!(
                err.headers()[0]
                    .1
                    .starts_with("Bearer error=\"invalid_token\"")
            );
        }
    }

    #[test]
    fn audience_is_checked_when_configured() {
        let user = token("authenticated", 2000, Some("authenticated".into()), SECRET);
        let other = token("authenticated", 2000, Some("other-app".into()), SECRET);
        let listed = token(
            "authenticated",
            2000,
            Some(serde_json::json!(["x", "authenticated"])),
            SECRET,
        );
        let no_aud = token("anon", 2000, None, SECRET);
        let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];
        assert!(auth(&bearer(&user), Some("authenticated")).is_ok());
        assert!(auth(&bearer(&listed), Some("authenticated")).is_ok());
        assert!(
            auth(&bearer(&no_aud), Some("authenticated")).is_ok(),
            "as PostgREST: no aud, no check"
        );
        assert_eq!(
            auth(&bearer(&other), Some("authenticated"))
                .unwrap_err()
                .status(),
            401
        );
        assert!(auth(&bearer(&other), None).is_ok());
    }
}
