//! Who is calling: the JWT from `Authorization: Bearer` or Supabase's `apikey` header,
//! verified at the edge as PostgREST would, so a bad token never costs an upstream call.

use crate::auth::api_keys::{KeyRole, looks_like_api_key};
use crate::auth::crypto::{self, JwtCrypto};
use crate::auth::jwks::KeySet;
use crate::auth::jwt::{self, Claims, JwtError};
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

/// How long a token the gateway re-signs for PostgREST lives: one request's worth.
pub const UPSTREAM_TOKEN_SECONDS: i64 = 60;
/// `iss` of the role tokens the gateway makes for API keys.
pub const UPSTREAM_ISSUER: &str = "payhuk-edge";

/// The role a Supabase API key stands for; a key that is not configured, or a secret
/// key from a browser, is refused.
fn api_key_role(
    key: &str,
    headers: &impl HeaderLookup,
    config: &Config,
) -> Result<KeyRole, AppError> {
    let role = config
        .api_keys
        .find(key)
        .ok_or_else(|| AppError::Unauthorized {
            reason: "the API key is not valid".into(),
        })?;
    if role == KeyRole::Secret && headers.header("origin").is_some() {
        return Err(AppError::Unauthorized {
            reason: "a secret API key is refused from a browser: use the publishable key there"
                .into(),
        });
    }
    Ok(role)
}

/// The keys fetched from `JWT_JWKS_URL` (the edge keeps them per isolate).
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait FetchedKeys {
    /// The fetched keys, fetched first when a token's `kid` or their age asks for it;
    /// `None` when there are none.
    async fn for_kid(&self, kid: Option<&str>) -> Option<KeySet>;
}

/// No keys are fetched (no `JWT_JWKS_URL`, or outside the edge).
pub struct NoFetchedKeys;

impl FetchedKeys for NoFetchedKeys {
    async fn for_kid(&self, _kid: Option<&str>) -> Option<KeySet> {
        None
    }
}

/// No token at all is an anonymous caller (PostgREST's anon role); a token that is
/// there but forged, expired, signed by an untrusted key or for another audience is a 401.
pub async fn authenticate(
    headers: &impl HeaderLookup,
    config: &Config,
    fetched: &impl FetchedKeys,
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
    // A Supabase API key in `apikey` must be one of ours, whatever the bearer says.
    if let Some(key) = headers.header("apikey").map(|k| k.trim().to_owned())
        && looks_like_api_key(&key)
    {
        api_key_role(&key, headers, config)?;
    }
    let Some(token) = bearer.filter(|t| !t.is_empty()) else {
        return Ok(Caller {
            token: None,
            claims: None,
        });
    };
    if looks_like_api_key(&token) {
        let role = api_key_role(&token, headers, config)?;
        let claims = Claims::new(
            role.role(),
            UPSTREAM_ISSUER,
            now,
            now + UPSTREAM_TOKEN_SECONDS,
        );
        return Ok(Caller {
            token: Some(upstream_token(&claims, config, now)),
            claims: Some(claims),
        });
    }
    let refused = |e: JwtError| AppError::Unauthorized {
        reason: e.to_string(),
    };
    let (claims, upstream) = match crypto::verify(&token, &config.trusted_keys, crypto, now).await {
        Ok(claims) => (claims, token),
        Err(JwtError::UnknownKey { kid }) if config.jwks_url.is_some() => {
            let keys = fetched
                .for_kid(kid.as_deref())
                .await
                .ok_or_else(|| refused(JwtError::UnknownKey { kid }))?;
            let claims = crypto::verify(&token, &keys, crypto, now)
                .await
                .map_err(refused)?;
            // PostgREST does not fetch keys: it gets the same claims signed with the
            // secret it shares with the gateway, for no longer than a request needs.
            let upstream = upstream_token(&claims, config, now);
            (claims, upstream)
        }
        Err(e) => return Err(refused(e)),
    };
    if let Some(expected) = &config.jwt_audience
        && let Some(aud) = claims.extra.get("aud")
        && !audience_matches(aud, expected)
    {
        return Err(AppError::Unauthorized {
            reason: format!("token audience is not `{expected}`"),
        });
    }
    Ok(Caller {
        token: Some(upstream),
        claims: Some(claims),
    })
}

/// `claims` as an HS256 token PostgREST verifies with the shared secret, expiring within
/// [`UPSTREAM_TOKEN_SECONDS`] (or earlier, with the original).
pub fn upstream_token(claims: &Claims, config: &Config, now: i64) -> String {
    let mut claims = claims.clone();
    let soon = now.saturating_add(UPSTREAM_TOKEN_SECONDS);
    claims.exp = Some(claims.exp.map_or(soon, |exp| exp.min(soon)));
    jwt::sign_hs256(&claims, config.jwt_secret.expose().as_bytes())
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
            &NoFetchedKeys,
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

    struct Fetched(Option<KeySet>);

    impl FetchedKeys for Fetched {
        async fn for_kid(&self, _kid: Option<&str>) -> Option<KeySet> {
            self.0.clone()
        }
    }

    #[test]
    fn a_token_from_the_fetched_keys_reaches_postgrest_re_signed_for_a_minute() {
        use crate::auth::crypto::tests::EC_KEY;
        use crate::auth::jwks::Jwk;

        let project = crate::auth::crypto::native::new_es256_key("project-1").unwrap();
        let mut claims = Claims::new(
            "authenticated",
            "https://ref.supabase.co/auth/v1",
            900,
            5000,
        );
        claims.sub = Some("22222222-2222-4222-8222-000000000001".into());
        let foreign = block_on(crypto::sign(&claims, &project, &RustCrypto)).unwrap();
        let fetched = Fetched(Some(KeySet {
            keys: vec![project.public().unwrap()],
        }));
        let with_url = config_with(&[(
            "JWT_JWKS_URL",
            "https://ref.supabase.co/auth/v1/.well-known/jwks.json",
        )]);
        let headers: HashMap<&str, String> =
            [("authorization", format!("Bearer {foreign}"))].into();

        let caller = block_on(authenticate(
            &headers,
            &with_url,
            &fetched,
            &RustCrypto,
            1000,
        ))
        .unwrap();
        assert_eq!(caller.claims.as_ref(), Some(&claims));
        let upstream = caller.token.unwrap();
        assert_ne!(upstream, foreign);
        let passed = jwt::verify(&upstream, SECRET.as_bytes(), 1000).unwrap();
        assert_eq!(passed.exp, Some(1000 + UPSTREAM_TOKEN_SECONDS));
        assert_eq!(
            (passed.role, passed.sub),
            (claims.role.clone(), claims.sub.clone())
        );

        // Not configured, or nothing fetched, or fetched without that key: refused.
        for (config, fetched) in [
            (config(None), Fetched(fetched.0.clone())),
            (with_url.clone(), Fetched(None)),
            (
                with_url.clone(),
                Fetched(Some(KeySet {
                    keys: vec![serde_json::from_str::<Jwk>(EC_KEY).unwrap()],
                })),
            ),
        ] {
            let err =
                block_on(authenticate(&headers, &config, &fetched, &RustCrypto, 1000)).unwrap_err();
            assert_eq!(err.status(), 401);
        }
        // A token of the configured keys is passed as it is.
        let own = token("authenticated", 2000, None, SECRET);
        let headers: HashMap<&str, String> = [("authorization", format!("Bearer {own}"))].into();
        let caller = block_on(authenticate(
            &headers,
            &with_url,
            &fetched,
            &RustCrypto,
            1000,
        ))
        .unwrap();
        assert_eq!(caller.token.as_deref(), Some(own.as_str()));
    }

    #[test]
    fn supabase_api_keys_act_as_their_role_with_a_role_token_upstream() {
        const PUBLISHABLE: &str = "sb_publishable_local0123456789abcdefgh";
        const SECRET_KEY: &str = "sb_secret_local0123456789abcdefghijkl";
        let config = config_with(&[
            ("PUBLISHABLE_KEYS", PUBLISHABLE),
            ("SECRET_KEYS", SECRET_KEY),
        ]);
        let auth = |headers: &[(&'static str, String)]| {
            block_on(authenticate(
                &headers.iter().cloned().collect::<HashMap<_, _>>(),
                &config,
                &NoFetchedKeys,
                &RustCrypto,
                1000,
            ))
        };
        // supabase-js sends the key as `apikey` and as the bearer.
        let caller = auth(&[
            ("apikey", PUBLISHABLE.into()),
            ("authorization", format!("Bearer {PUBLISHABLE}")),
        ])
        .unwrap();
        assert!(caller.is_public(), "the publishable key is anyone");
        let upstream =
            jwt::verify(caller.token.as_deref().unwrap(), SECRET.as_bytes(), 1000).unwrap();
        assert_eq!(upstream.role, "anon");
        assert!(upstream.exp.unwrap() <= 1000 + UPSTREAM_TOKEN_SECONDS);

        // With a user's session, the user; the key must still be a real one.
        let user = token("authenticated", 2000, None, SECRET);
        let caller = auth(&[
            ("apikey", PUBLISHABLE.into()),
            ("authorization", format!("Bearer {user}")),
        ])
        .unwrap();
        assert_eq!(caller.token.as_deref(), Some(user.as_str()));
        let forged_key = auth(&[
            ("apikey", "sb_publishable_not0the0key0at0all00000".into()),
            ("authorization", format!("Bearer {user}")),
        ]);
        assert_eq!(forged_key.unwrap_err().status(), 401);

        let service = auth(&[("apikey", SECRET_KEY.into())]).unwrap();
        assert_eq!(service.claims.unwrap().role, "service_role");
        // Upstream, a short-lived service-role token the gateway signed: never the key.
        let upstream =
            jwt::verify(service.token.as_deref().unwrap(), SECRET.as_bytes(), 1000).unwrap();
        assert_eq!(upstream.role, "service_role");
        assert!(upstream.exp.unwrap() <= 1000 + UPSTREAM_TOKEN_SECONDS);
        assert!(!service.token.as_deref().unwrap().contains(SECRET_KEY));
        let from_a_browser = auth(&[
            ("apikey", SECRET_KEY.into()),
            ("origin", "https://shop.example".into()),
        ]);
        let err = from_a_browser.unwrap_err();
        assert_eq!(err.status(), 401);
        assert!(err.body().message.contains("browser"), "{:?}", err.body());
    }
}
