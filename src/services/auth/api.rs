use serde_json::json;

use super::model::{Account, LoginBody, LoginOutcome, RefreshBody, Rotation, Session, SignupBody};
use super::service::{
    bcrypt_input, hash_refresh_token, new_refresh_token, session, validate_login, validate_signup,
};
use crate::auth::crypto::JwtCrypto;
use crate::config::Config;
use crate::db::{Db, DbRequest, Role, rpc};
use crate::error::{AppError, Credential};
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::request::ApiRequest;

pub fn no_store(response: ApiResponse) -> ApiResponse {
    response.with_header("cache-control", "no-store")
}

/// `GET /auth/v1/.well-known/jwks.json` -> the public keys tokens are signed with, for
/// PostgREST, supabase-js's `getClaims` and other verifiers. Cached as Supabase's
/// (10 minutes), so a new key is published that long before it signs.
pub fn jwks(config: &Config) -> Result<ApiResponse, AppError> {
    Ok(ApiResponse::json(200, &config.published_keys)?
        .with_header("cache-control", "public, max-age=600"))
}

/// `POST /api/v1/auth/signup` -> 201 with a session: the account and its first session
/// in one call to the primary (`auth_signup_session`).
pub async fn signup(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<ApiResponse, AppError> {
    let body: SignupBody = req.json()?;
    let session = start_signup(&body, None, req, config, db, crypto).await?;
    Ok(no_store(ApiResponse::json(201, &session)?))
}

/// An account and its first session (both paths: `/api/v1/auth/signup` and GoTrue's
/// `/auth/v1/signup`, which also sends the user's metadata).
pub async fn start_signup(
    body: &SignupBody,
    user_metadata: Option<&serde_json::Value>,
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<Session, AppError> {
    validate_signup(body)?;
    let (refresh_token, hash) = new_refresh_token()?;
    let args = json!({
        "email": body.email,
        "password": bcrypt_input(&body.password),
        "display_name": body.display_name,
        "store": body.store,
        "token_hash": hash,
        "ttl_seconds": config.refresh_token_ttl_seconds,
        "user_metadata": user_metadata,
    });
    let account: Account = rpc(
        db,
        "auth_signup_session",
        &args,
        Access::Write,
        Role::Service,
    )
    .await?;
    session(account, refresh_token, config, crypto, req.now).await
}

/// `POST /api/v1/auth/login` -> 200 with a session; 401 for a wrong email or password
/// (the same answer for both); 429 while the account or the client is locked out.
pub async fn login(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<ApiResponse, AppError> {
    let body: LoginBody = req.json()?;
    let session = password_login(&body, req, config, db, crypto).await?;
    Ok(no_store(ApiResponse::json(200, &session)?))
}

/// A session for an email and password. One call to the primary (`auth_login`): a
/// login always writes, so checking on a replica first only added round trips.
pub async fn password_login(
    body: &LoginBody,
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<Session, AppError> {
    validate_login(body)?;
    let limits = config.login_limits;
    let (refresh_token, hash) = new_refresh_token()?;
    let args = json!({
        "email": body.email,
        "password": bcrypt_input(&body.password),
        "client": req.client_address(&config.trusted_proxies),
        "window_seconds": limits.window_seconds,
        "account_limit": limits.per_account,
        "client_limit": limits.per_client,
        "token_hash": hash,
        "ttl_seconds": config.refresh_token_ttl_seconds,
    });
    let outcome: LoginOutcome = rpc(db, "auth_login", &args, Access::Write, Role::Service).await?;
    match outcome {
        LoginOutcome::Ok { account } => {
            session(*account, refresh_token, config, crypto, req.now).await
        }
        LoginOutcome::Wait { retry_after } => Err(AppError::TooManyRequests {
            reason: "too many failed logins for this account or client".into(),
            retry_after_secs: retry_after,
        }),
        LoginOutcome::Refused => Err(AppError::CredentialsRefused {
            credential: Credential::Password,
            reason: "email or password is wrong".into(),
            hint: "invalid_credentials",
        }),
    }
}

/// `POST /api/v1/auth/refresh` -> 200 with a new session; the presented token is used
/// up. Presenting a used token again revokes every token of its family.
pub async fn refresh(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<ApiResponse, AppError> {
    let body: RefreshBody = req.json()?;
    let session = rotate_refresh(&body.refresh_token, req, config, db, crypto).await?;
    Ok(no_store(ApiResponse::json(200, &session)?))
}

/// A new session for a refresh token, which is used up (both paths).
pub async fn rotate_refresh(
    presented: &str,
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<Session, AppError> {
    let (refresh_token, new_hash) = new_refresh_token()?;
    let args = json!({
        "old_hash": hash_refresh_token(presented.trim()),
        "new_hash": new_hash,
        "ttl_seconds": config.refresh_token_ttl_seconds,
    });
    let rotation: Rotation = rpc(
        db,
        "auth_rotate_refresh",
        &args,
        Access::Write,
        Role::Service,
    )
    .await?;
    let refused = |reason: &str, hint: &'static str| AppError::CredentialsRefused {
        credential: Credential::RefreshToken,
        reason: reason.into(),
        hint,
    };
    match rotation {
        Rotation::Ok { account } => session(*account, refresh_token, config, crypto, req.now).await,
        Rotation::Reused => Err(refused(
            "this refresh token was already used; every session it belongs to is now signed out",
            "refresh_token_reused",
        )),
        Rotation::Expired => Err(refused(
            "this refresh token has expired",
            "refresh_token_expired",
        )),
        Rotation::Invalid => Err(refused(
            "this refresh token is not valid",
            "refresh_token_invalid",
        )),
    }
}

/// `POST /api/v1/auth/logout` -> 204; the refresh token's whole family is revoked.
pub async fn logout(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let body: RefreshBody = req.json()?;
    let args = json!({"token_hash": hash_refresh_token(body.refresh_token.trim())});
    db.send(DbRequest::rpc(
        "auth_logout",
        &args,
        Access::Write,
        Role::Service,
    )?)
    .await?
    .success()?;
    Ok(ApiResponse {
        status: 204,
        headers: vec![],
        body: vec![],
    })
}

/// `GET /api/v1/auth/me` -> the signed-in account, from the nearest replica.
pub async fn me(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let account = signed_in_account(req, db, Access::Read, "/api/v1/auth/me").await?;
    Ok(no_store(ApiResponse::json(200, &account)?))
}

/// The caller's account (both paths), read as `access` says; 404 at `path` when the
/// token's user is gone.
pub async fn signed_in_account(
    req: &ApiRequest,
    db: &impl Db,
    access: Access,
    path: &str,
) -> Result<Account, AppError> {
    let args = json!({"user_id": req.user_id()?});
    let account: Option<Account> = rpc(db, "auth_account", &args, access, Role::Service).await?;
    account.ok_or_else(|| AppError::NotFound { path: path.into() })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::auth::crypto::native::RustCrypto;
    use crate::test_support::{ScriptedDb, config};

    fn account() -> serde_json::Value {
        json!({"user_id": "22222222-2222-4222-8222-000000000001", "email": "aminata@payhuk.test",
               "display_name": "Aminata", "stores": []})
    }

    fn login_request(password: &str) -> ApiRequest {
        ApiRequest {
            body: json!({"email": "aminata@payhuk.test", "password": password})
                .to_string()
                .into_bytes(),
            headers: vec![
                ("cf-connecting-ip".into(), "198.51.100.7".into()),
                ("content-type".into(), "application/json".into()),
            ],
            now: 1000,
            ..Default::default()
        }
    }

    #[test]
    fn signup_is_one_call_to_the_primary_and_starts_a_session() {
        let db = ScriptedDb::default().answer("/rpc/auth_signup_session", 200, account());
        let req = ApiRequest {
            body: json!({"email": "aminata@payhuk.test", "password": "a long enough password",
                         "display_name": "Aminata"})
            .to_string()
            .into_bytes(),
            headers: vec![("content-type".into(), "application/json".into())],
            now: 1000,
            ..Default::default()
        };
        let response = block_on(signup(&req, &config(), &db, &RustCrypto)).unwrap();
        assert_eq!(response.status, 201);
        let session: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        let seen = db.seen.borrow();
        let routes: Vec<(&str, Access)> = seen
            .iter()
            .map(|r| (r.path_and_query.as_str(), r.access))
            .collect();
        assert_eq!(routes, [("/rpc/auth_signup_session", Access::Write)]);
        let sent: serde_json::Value =
            serde_json::from_slice(seen[0].body.as_ref().unwrap()).unwrap();
        assert_eq!(
            sent["token_hash"],
            hash_refresh_token(session["refresh_token"].as_str().unwrap())
        );
        assert_eq!(sent["password"], "a long enough password");
    }

    #[test]
    fn a_good_login_is_one_call_to_the_primary_and_starts_a_session() {
        let db = ScriptedDb::default().answer(
            "/rpc/auth_login",
            200,
            json!({"status": "ok", "account": account()}),
        );
        let response = block_on(login(
            &login_request("payhuk-demo-password"),
            &config(),
            &db,
            &RustCrypto,
        ))
        .unwrap();
        assert_eq!(response.status, 200);
        let session: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(session["user"]["email"], "aminata@payhuk.test");
        assert_eq!(session["token_type"], "bearer");
        let seen = db.seen.borrow();
        let routes: Vec<(&str, Access)> = seen
            .iter()
            .map(|r| (r.path_and_query.as_str(), r.access))
            .collect();
        assert_eq!(routes, [("/rpc/auth_login", Access::Write)]);
        let sent: serde_json::Value =
            serde_json::from_slice(seen[0].body.as_ref().unwrap()).unwrap();
        // Only the hash of the refresh token reaches the database.
        assert_eq!(
            sent["token_hash"],
            hash_refresh_token(session["refresh_token"].as_str().unwrap())
        );
        assert_eq!(sent["client"], "198.51.100.7");
        assert_eq!(sent["account_limit"], config().login_limits.per_account);
    }

    #[test]
    fn a_refused_login_is_401_whatever_was_wrong() {
        let db = ScriptedDb::default().answer("/rpc/auth_login", 200, json!({"status": "refused"}));
        let err = block_on(login(
            &login_request("nope-nope"),
            &config(),
            &db,
            &RustCrypto,
        ))
        .unwrap_err();
        assert_eq!((err.status(), err.code()), (401, "PHK440".to_owned()));
        assert_eq!(db.seen.borrow().len(), 1);
    }

    #[test]
    fn a_locked_out_login_is_429_with_the_wait() {
        let db = ScriptedDb::default().answer(
            "/rpc/auth_login",
            200,
            json!({"status": "wait", "retry_after": 42}),
        );
        let err = block_on(login(
            &login_request("whatever1"),
            &config(),
            &db,
            &RustCrypto,
        ))
        .unwrap_err();
        assert_eq!(err.status(), 429);
        assert_eq!(err.headers(), vec![("retry-after", "42".to_owned())]);
    }

    #[test]
    fn refresh_rotation_outcomes() {
        let req = ApiRequest {
            body: br#"{"refresh_token": "abc"}"#.to_vec(),
            headers: crate::test_support::json_content_type(),
            ..Default::default()
        };
        let reused = ScriptedDb::default().answer(
            "/rpc/auth_rotate_refresh",
            200,
            json!({"status": "reused"}),
        );
        let err = block_on(refresh(&req, &config(), &reused, &RustCrypto)).unwrap_err();
        assert_eq!(
            (err.status(), err.body().hint.as_deref()),
            (401, Some("refresh_token_reused"))
        );
        let ok = ScriptedDb::default().answer(
            "/rpc/auth_rotate_refresh",
            200,
            json!({"status": "ok", "account": account()}),
        );
        let response = block_on(refresh(&req, &config(), &ok, &RustCrypto)).unwrap();
        let session: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_ne!(session["refresh_token"], "abc");
        let sent: serde_json::Value =
            serde_json::from_slice(ok.seen.borrow()[0].body.as_ref().unwrap()).unwrap();
        assert_eq!(sent["old_hash"], hash_refresh_token("abc"));
    }

    #[test]
    fn signup_validates_before_touching_the_database() {
        let req = ApiRequest {
            body: br#"{"email": "x", "password": "short"}"#.to_vec(),
            headers: crate::test_support::json_content_type(),
            ..Default::default()
        };
        let db = ScriptedDb::default();
        let err = block_on(signup(&req, &config(), &db, &RustCrypto)).unwrap_err();
        assert_eq!(err.status(), 422);
        assert!(db.seen.borrow().is_empty());
    }
}
