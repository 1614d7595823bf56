use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::model::{Account, LoginBody, Session, SignupBody};
use crate::auth::crypto::{self, JwtCrypto};
use crate::auth::jwt::Claims;
use crate::config::Config;
use crate::error::AppError;
use crate::services::request::Problems;

pub const ISSUER: &str = "payhuk-edge";
/// `aud` of user tokens, as Supabase issues them.
pub const AUDIENCE: &str = "authenticated";

fn looks_like_email(email: &str) -> bool {
    let email = email.trim();
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
                && email.len() <= 254
        }
        None => false,
    }
}

/// A new password's length, in characters as the API document counts them.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=72;
/// bcrypt reads at most this many bytes of its input.
const BCRYPT_MAX_BYTES: usize = 72;

pub fn password_length_ok(password: &str) -> bool {
    PASSWORD_CHARS.contains(&password.chars().count())
}

fn check_password(problems: &mut Problems, password: &str) {
    problems.check(
        password_length_ok(password),
        "password",
        "must be 8 to 72 characters long",
    );
}

/// What bcrypt (in PostgreSQL) is given for `password`: the password itself when it
/// fits bcrypt's 72 bytes, else its SHA-256 in base64 (44 bytes, no NUL), so 72
/// characters of any script count whole instead of being cut at the 72nd byte.
pub fn bcrypt_input(password: &str) -> std::borrow::Cow<'_, str> {
    if password.len() <= BCRYPT_MAX_BYTES {
        password.into()
    } else {
        base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(password.as_bytes()))
            .into()
    }
}

pub fn validate_signup(body: &SignupBody) -> Result<(), AppError> {
    let mut p = Problems::default();
    p.check(
        looks_like_email(&body.email),
        "email",
        "is not an email address",
    );
    check_password(&mut p, &body.password);
    if let Some(name) = &body.display_name {
        p.check(
            name.chars().count() <= 120,
            "display_name",
            "must be at most 120 characters",
        );
    }
    if let Some(store) = &body.store {
        p.check(
            (1..=120).contains(&store.name.chars().count()),
            "store.name",
            "must be 1 to 120 characters",
        );
        let slug_ok = store.slug.len() <= 60
            && !store.slug.is_empty()
            && store.slug.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        p.check(
            slug_ok,
            "store.slug",
            "must be lowercase letters and digits in words joined by -",
        );
        if let Some(currency) = &store.default_currency {
            p.check(
                currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()),
                "store.default_currency",
                "must be an ISO 4217 code such as XOF",
            );
        }
    }
    p.finish()
}

pub fn validate_login(body: &LoginBody) -> Result<(), AppError> {
    let mut p = Problems::default();
    p.check(
        looks_like_email(&body.email),
        "email",
        "is not an email address",
    );
    p.check(
        (1..=*PASSWORD_CHARS.end()).contains(&body.password.chars().count()),
        "password",
        "must be 1 to 72 characters long",
    );
    p.finish()
}

/// An access token PostgREST accepts, signed with the configured key (ES256, or HS256
/// for legacy): `role: authenticated`, the user in `sub`, the stores they own in
/// `store_ids`.
pub async fn access_token(
    account: &Account,
    config: &Config,
    crypto: &impl JwtCrypto,
    now: i64,
) -> Result<(String, i64), AppError> {
    let expires_at = now + i64::from(config.access_token_ttl_seconds);
    let mut claims = Claims::new("authenticated", ISSUER, now, expires_at);
    claims.sub = Some(account.user_id.clone());
    claims.extra.insert("aud".into(), AUDIENCE.into());
    claims
        .extra
        .insert("email".into(), account.email.clone().into());
    if let Some(session) = &account.session_id {
        claims
            .extra
            .insert("session_id".into(), session.clone().into());
    }
    claims.extra.insert("is_anonymous".into(), false.into());
    claims.extra.insert(
        "store_ids".into(),
        account
            .stores
            .iter()
            .map(|s| serde_json::Value::from(s.id.clone()))
            .collect(),
    );
    let token = crypto::sign(&claims, &config.signing_key, crypto)
        .await
        .map_err(|e| AppError::Internal(format!("signing an access token: {e}")))?;
    Ok((token, expires_at))
}

/// A new opaque refresh token and the SHA-256 the database keeps of it.
pub fn new_refresh_token() -> Result<(String, String), AppError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    Ok((token, hash))
}

pub fn hash_refresh_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn session(
    account: Account,
    refresh_token: String,
    config: &Config,
    crypto: &impl JwtCrypto,
    now: i64,
) -> Result<Session, AppError> {
    let (access_token, expires_at) = access_token(&account, config, crypto, now).await?;
    Ok(Session {
        access_token,
        token_type: "bearer",
        expires_in: config.access_token_ttl_seconds,
        expires_at,
        refresh_token,
        user: account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    use crate::auth::crypto::native::RustCrypto;
    use crate::auth::crypto::verify;
    use crate::services::auth::model::{StoreInput, StoreRef};
    use crate::test_support::config;
    use crate::test_support::problem_fields;

    fn signup(email: &str, password: &str, store: Option<StoreInput>) -> SignupBody {
        SignupBody {
            email: email.into(),
            password: password.into(),
            display_name: None,
            store,
        }
    }

    #[test]
    fn bcrypt_is_given_the_password_or_its_digest_when_longer_than_72_bytes() {
        let fits = "x".repeat(72);
        assert_eq!(bcrypt_input(&fits), fits.as_str());
        let wide = "é".repeat(72);
        let given = bcrypt_input(&wide);
        assert_eq!(given.len(), 44);
        assert_ne!(
            given,
            bcrypt_input(&"é".repeat(71)),
            "every character counts"
        );
        assert_eq!(
            given,
            bcrypt_input(&wide),
            "the same password, the same input"
        );
        assert!(!given.contains('\0'));
    }

    #[test]
    fn signup_validation_names_each_field() {
        assert!(validate_signup(&signup("ada@payhuk.test", "correct horse", None)).is_ok());
        let store = StoreInput {
            name: "".into(),
            slug: "Bad Slug".into(),
            default_currency: Some("xof".into()),
        };
        let err = validate_signup(&signup("not-an-email", "short", Some(store))).unwrap_err();
        let fields = problem_fields(&err);
        assert_eq!(
            fields,
            [
                "email",
                "password",
                "store.name",
                "store.slug",
                "store.default_currency"
            ]
        );
        let long = "x".repeat(73);
        assert!(
            validate_signup(&signup("a@b.co", &long, None)).is_err(),
            "over 72 characters"
        );
        // Counted in characters, as JSON Schema counts them: 72 of them in any script,
        // and 8 however few bytes they take.
        let wide = "é".repeat(72);
        assert!(validate_signup(&signup("a@b.co", &wide, None)).is_ok());
        assert!(validate_signup(&signup("a@b.co", "éèêë", None)).is_err());
    }

    #[test]
    fn access_tokens_carry_user_role_audience_and_stores() {
        let config = config();
        let account = Account {
            user_id: "11111111-1111-4111-8111-000000000001".into(),
            email: "awa@payhuk.test".into(),
            display_name: None,
            stores: vec![StoreRef {
                id: "33333333-3333-4333-8333-000000000001".into(),
                name: "Awa".into(),
                slug: "awa".into(),
            }],
            created_at: None,
            updated_at: None,
            last_sign_in_at: None,
            user_metadata: None,
            session_id: Some("66666666-6666-4666-8666-000000000001".into()),
        };
        let (token, exp) = block_on(access_token(&account, &config, &RustCrypto, 1000)).unwrap();
        assert_eq!(exp, 1000 + i64::from(config.access_token_ttl_seconds));
        let header = crate::auth::jwt::parse(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (crate::auth::jwt::Alg::Es256, Some("test-ec")),
            "signed ES256 with the configured key"
        );
        let claims = block_on(verify(&token, &config.published_keys, &RustCrypto, 1001)).unwrap();
        assert_eq!(claims.role, "authenticated");
        assert_eq!(
            claims.sub.as_deref(),
            Some("11111111-1111-4111-8111-000000000001")
        );
        assert_eq!(claims.extra["aud"], "authenticated");
        assert_eq!(
            claims.extra["session_id"], "66666666-6666-4666-8666-000000000001",
            "logout by scope finds the session"
        );
        assert_eq!(
            claims.extra["store_ids"][0],
            "33333333-3333-4333-8333-000000000001"
        );
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_refresh_token().unwrap();
        let (b, _) = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_a, hash_refresh_token(&a));
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a));
    }
}
