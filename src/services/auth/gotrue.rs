//! GoTrue's API (Supabase Auth) at `/auth/v1`, as supabase-js's auth client calls it:
//! the same accounts, sessions and rules as `/api/v1/auth` (the functions of `api.rs`:
//! bcrypt in PostgreSQL, refresh rotation with family revocation, lockout), answered in
//! GoTrue's shapes: its Session and User JSON, its error bodies and error codes, and the
//! `X-Supabase-Api-Version` header.

use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{no_store, password_login, rotate_refresh, signed_in_account, start_signup};
use super::model::{Account, LoginBody, Session, SignupBody};
use super::service::{bcrypt_input, password_length_ok};
use crate::auth::crypto::JwtCrypto;
use crate::config::Config;
use crate::db::{Db, Role, rpc};
use crate::error::{AppError, Credential};
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::request::ApiRequest;

/// The API version auth-js asks for (`X-Supabase-Api-Version`); from it on, error codes
/// are in `code`.
pub const API_VERSION: &str = "2024-01-01";
pub const API_VERSION_HEADER: &str = "x-supabase-api-version";

/// GoTrue's signup body. Other members auth-js may send (`gotrue_meta_security`,
/// `code_challenge`, ...) are accepted and not used.
#[derive(Debug, Deserialize)]
struct SignupRequest {
    email: Option<String>,
    password: String,
    #[serde(default)]
    data: Option<Value>,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PasswordGrant {
    email: Option<String>,
    password: String,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RefreshGrant {
    refresh_token: String,
}

#[derive(Debug, Deserialize)]
struct UserUpdate {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    data: Option<Value>,
}

fn unsupported(what: &str) -> AppError {
    AppError::Rejected {
        status: 422,
        code: "PT422".into(),
        message: format!("{what} is not supported by this server"),
        details: None,
        hint: Some("feature_not_supported".into()),
    }
}

/// The name a profile shows, from the metadata as apps commonly set it.
fn display_name(data: Option<&Value>) -> Option<String> {
    let data = data?;
    ["display_name", "full_name", "name"]
        .iter()
        .find_map(|key| data.get(key)?.as_str())
        .map(str::to_owned)
}

/// GoTrue's User.
pub fn user(account: &Account) -> Value {
    let stores: Vec<&str> = account.stores.iter().map(|s| s.id.as_str()).collect();
    json!({
        "id": account.user_id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": account.email,
        "email_confirmed_at": account.created_at,
        "phone": "",
        "confirmed_at": account.created_at,
        "last_sign_in_at": account.last_sign_in_at,
        "app_metadata": {"provider": "email", "providers": ["email"], "store_ids": stores},
        "user_metadata": account.user_metadata.clone().unwrap_or_else(|| json!({})),
        "identities": [],
        "created_at": account.created_at,
        "updated_at": account.updated_at,
        "is_anonymous": false,
    })
}

/// GoTrue's Session: the token response with its User.
fn session(session: &Session) -> Value {
    json!({
        "access_token": session.access_token,
        "token_type": session.token_type,
        "expires_in": session.expires_in,
        "expires_at": session.expires_at,
        "refresh_token": session.refresh_token,
        "user": user(&session.user),
    })
}

fn answer(req: &ApiRequest, status: u16, body: &Value) -> Result<ApiResponse, AppError> {
    Ok(versioned(req, no_store(ApiResponse::json(status, body)?)))
}

/// The response carries the API version the client asked for, when it asked for one
/// this server speaks (auth-js reads error codes by it).
fn versioned(req: &ApiRequest, response: ApiResponse) -> ApiResponse {
    if asks_for_current_api(req) {
        response.with_header(API_VERSION_HEADER, API_VERSION)
    } else {
        response
    }
}

fn asks_for_current_api(req: &ApiRequest) -> bool {
    req.header(API_VERSION_HEADER)
        .and_then(|v| crate::dates::parse_ymd(v.trim()))
        .is_some_and(|asked| {
            asked >= chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("a valid date")
        })
}

/// `POST /auth/v1/signup` -> 200 with a session (accounts are confirmed at once).
pub async fn signup(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<ApiResponse, AppError> {
    let body: SignupRequest = req.json()?;
    if body.phone.is_some() && body.email.is_none() {
        return Err(unsupported("signing up with a phone number"));
    }
    let signup = SignupBody {
        email: body.email.unwrap_or_default(),
        password: body.password,
        display_name: display_name(body.data.as_ref()),
        store: None,
    };
    let started = start_signup(&signup, body.data.as_ref(), req, config, db, crypto).await?;
    answer(req, 200, &session(&started))
}

/// `POST /auth/v1/token?grant_type=password|refresh_token` -> 200 with a session.
pub async fn token(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    crypto: &impl JwtCrypto,
) -> Result<ApiResponse, AppError> {
    let started = match req.query("grant_type") {
        Some("password") => {
            let body: PasswordGrant = req.json()?;
            if body.phone.is_some() && body.email.is_none() {
                return Err(unsupported("signing in with a phone number"));
            }
            let login = LoginBody {
                email: body.email.unwrap_or_default(),
                password: body.password,
            };
            password_login(&login, req, config, db, crypto).await?
        }
        Some("refresh_token") => {
            let body: RefreshGrant = req.json()?;
            rotate_refresh(&body.refresh_token, req, config, db, crypto).await?
        }
        other => {
            return Err(AppError::BadRequest {
                message: format!(
                    "grant_type {} is not supported: use password or refresh_token",
                    other.unwrap_or("(none)")
                ),
                details: None,
            });
        }
    };
    answer(req, 200, &session(&started))
}

/// `GET /auth/v1/user` -> the signed-in user, from the primary as GoTrue reads it:
/// supabase-js asks right after a signup or an update and carries no read-your-writes
/// token outside a browser, where a replica may not have the write yet.
pub async fn get_user(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let account = signed_in_account(req, db, Access::Write, "/auth/v1/user").await?;
    answer(req, 200, &user(&account))
}

/// `PUT /auth/v1/user` -> the user after a new password and/or metadata (merged into
/// theirs; a key set to null is removed).
pub async fn update_user(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let user_id = req.user_id()?;
    let body: UserUpdate = req.json()?;
    if body.email.is_some() || body.phone.is_some() {
        return Err(unsupported("changing the email or phone"));
    }
    if let Some(password) = &body.password
        && !password_length_ok(password)
    {
        return Err(AppError::Rejected {
            status: 422,
            code: "PT422".into(),
            message: "password must be 8 to 72 characters long".into(),
            details: None,
            hint: Some("invalid_password".into()),
        });
    }
    let password = body.password.as_deref().map(bcrypt_input);
    let args = json!({"user_id": user_id, "password": password, "user_metadata": body.data});
    let account: Account = rpc(db, "auth_update_user", &args, Access::Write, Role::Service).await?;
    answer(req, 200, &user(&account))
}

/// `POST /auth/v1/logout?scope=global|local|others` -> 204: ends every session of the
/// user (the default, as GoTrue), this one, or all but this one.
pub async fn logout(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let user_id = req.user_id()?;
    let scope = req.query("scope").unwrap_or("global");
    if !["global", "local", "others"].contains(&scope) {
        return Err(AppError::BadRequest {
            message: "scope must be global, local or others".into(),
            details: None,
        });
    }
    let session_id = req
        .caller
        .as_ref()
        .and_then(|c| c.claims.as_ref())
        .and_then(|claims| claims.extra.get("session_id"))
        .and_then(Value::as_str)
        .and_then(|s| uuid::Uuid::parse_str(s).ok());
    let args = json!({"user_id": user_id, "session_id": session_id, "scope": scope});
    let _revoked: i64 = rpc(db, "auth_end_sessions", &args, Access::Write, Role::Service).await?;
    Ok(versioned(
        req,
        ApiResponse {
            status: 204,
            headers: vec![],
            body: vec![],
        },
    ))
}

/// `err` as GoTrue answers it: `{code, error_code, msg}`, with `code` the error code
/// for clients of API version 2024-01-01 and the HTTP status for older ones, and
/// GoTrue's statuses (a wrong password is 400, an existing email 422).
pub fn error_response(req: &ApiRequest, err: &AppError) -> ApiResponse {
    let body = err.body();
    let status = err.status();
    let hint = body.hint.as_deref().unwrap_or("");
    let (status, code, msg) = match err {
        AppError::CredentialsRefused {
            credential: Credential::Password,
            ..
        } => (
            400,
            "invalid_credentials",
            "Invalid login credentials".to_owned(),
        ),
        AppError::CredentialsRefused { hint, .. } if *hint == "refresh_token_reused" => (
            400,
            "refresh_token_already_used",
            "Invalid Refresh Token: Already Used".to_owned(),
        ),
        AppError::CredentialsRefused { .. } => (
            400,
            "refresh_token_not_found",
            "Invalid Refresh Token: Refresh Token Not Found".to_owned(),
        ),
        _ => match (status, hint) {
            (409, "email_taken") => (422, "user_already_exists", "User already registered".into()),
            (422, "invalid_password") => (422, "weak_password", body.message.clone()),
            (422, _)
                if body
                    .details
                    .as_deref()
                    .is_some_and(|d| d.contains("\"password\"")) =>
            {
                (422, "weak_password", body.message.clone())
            }
            (422, "feature_not_supported") => (422, "feature_not_supported", body.message.clone()),
            (400 | 413 | 415 | 422, _) => (status, "validation_failed", described(&body)),
            (401, _) => (401, "no_authorization", body.message.clone()),
            (403, _) => (403, "bad_jwt", body.message.clone()),
            (404, _) => (404, "user_not_found", body.message.clone()),
            (429, _) => (429, "over_request_rate_limit", body.message.clone()),
            (s, _) if s >= 500 => (s, "unexpected_failure", body.message.clone()),
            (s, _) => (s, "unexpected_failure", body.message.clone()),
        },
    };
    let mut payload = json!({"error_code": code, "msg": msg});
    payload["code"] = if asks_for_current_api(req) {
        code.into()
    } else {
        status.into()
    };
    if code == "weak_password" {
        payload["weak_password"] = json!({"reasons": ["length"]});
    }
    // Keep what the error says beside its body (Retry-After, WWW-Authenticate).
    let from = ApiResponse::from(err);
    versioned(
        req,
        ApiResponse {
            status,
            headers: from.headers,
            body: serde_json::to_vec(&payload).expect("an error body serializes"),
        },
    )
}

fn described(body: &crate::error::ErrorBody) -> String {
    match &body.details {
        Some(details) => format!("{}: {details}", body.message),
        None => body.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::auth::crypto::native::RustCrypto;
    use crate::test_support::{ScriptedDb, config, signed_in};

    const AMINATA: &str = "22222222-2222-4222-8222-000000000001";

    fn account() -> Value {
        json!({"user_id": AMINATA, "email": "aminata@payhuk.test", "display_name": "Aminata",
               "stores": [], "created_at": "2026-11-24T12:00:00+00:00",
               "updated_at": "2026-11-25T12:00:00+00:00", "last_sign_in_at": null,
               "user_metadata": {"display_name": "Aminata", "lang": "fr"},
               "session_id": "66666666-6666-4666-8666-000000000001"})
    }

    fn request(body: Value, query: &[(&str, &str)], version: bool) -> ApiRequest {
        let mut req = signed_in(AMINATA, body, &[]);
        req.caller = None;
        req.query = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        req.headers.push((
            "content-type".into(),
            "application/json;charset=UTF-8".into(),
        ));
        if version {
            req.headers
                .push((API_VERSION_HEADER.into(), API_VERSION.into()));
        }
        req
    }

    fn body(response: &ApiResponse) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn a_password_grant_answers_gotrue_s_session_with_its_user() {
        let db = ScriptedDb::default().answer(
            "/rpc/auth_login",
            200,
            json!({"status": "ok", "account": account()}),
        );
        let req = request(
            json!({"email": "aminata@payhuk.test", "password": "payhuk-demo-password",
                   "gotrue_meta_security": {}}),
            &[("grant_type", "password")],
            true,
        );
        let response = block_on(token(&req, &config(), &db, &RustCrypto)).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header(API_VERSION_HEADER), Some(API_VERSION));
        let session = body(&response);
        for key in ["access_token", "refresh_token", "expires_in", "expires_at"] {
            assert!(session.get(key).is_some(), "{key}");
        }
        assert_eq!(session["token_type"], "bearer");
        let user = &session["user"];
        assert_eq!(user["id"], AMINATA);
        assert_eq!(user["aud"], "authenticated");
        assert_eq!(user["user_metadata"]["lang"], "fr");
        assert_eq!(user["app_metadata"]["provider"], "email");
        assert_eq!(user["created_at"], "2026-11-24T12:00:00+00:00");
        let claims = crate::auth::jwt::parse(session["access_token"].as_str().unwrap())
            .unwrap()
            .claims;
        assert_eq!(
            claims.extra["session_id"],
            "66666666-6666-4666-8666-000000000001"
        );
    }

    #[test]
    fn errors_carry_gotrue_s_codes_by_api_version() {
        let refused = AppError::CredentialsRefused {
            credential: Credential::Password,
            reason: "email or password is wrong".into(),
            hint: "invalid_credentials",
        };
        let current = error_response(&request(Value::Null, &[], true), &refused);
        assert_eq!(current.status, 400);
        assert_eq!(
            body(&current),
            json!({"code": "invalid_credentials", "error_code": "invalid_credentials",
                   "msg": "Invalid login credentials"})
        );
        assert_eq!(current.header(API_VERSION_HEADER), Some(API_VERSION));
        let older = error_response(&request(Value::Null, &[], false), &refused);
        assert_eq!(body(&older)["code"], 400);
        assert_eq!(older.header(API_VERSION_HEADER), None);

        let reused = AppError::CredentialsRefused {
            credential: Credential::RefreshToken,
            reason: "used".into(),
            hint: "refresh_token_reused",
        };
        let req = request(Value::Null, &[], true);
        assert_eq!(
            body(&error_response(&req, &reused))["code"],
            "refresh_token_already_used"
        );
        let taken = AppError::Rejected {
            status: 409,
            code: "PT409".into(),
            message: "an account with this email exists".into(),
            details: None,
            hint: Some("email_taken".into()),
        };
        let response = error_response(&req, &taken);
        assert_eq!(
            (response.status, body(&response)["code"].as_str()),
            (422, Some("user_already_exists"))
        );
        let weak = AppError::Rejected {
            status: 422,
            code: "PT422".into(),
            message: "password must be 8 to 72 characters long".into(),
            details: None,
            hint: Some("invalid_password".into()),
        };
        let weak = body(&error_response(&req, &weak));
        assert_eq!(weak["code"], "weak_password");
        assert_eq!(weak["weak_password"]["reasons"][0], "length");
        let locked = AppError::TooManyRequests {
            reason: "too many".into(),
            retry_after_secs: 7,
        };
        let response = error_response(&req, &locked);
        assert_eq!(response.status, 429);
        assert_eq!(response.header("retry-after"), Some("7"));
    }

    #[test]
    fn logout_ends_the_scope_asked_for_the_token_s_session() {
        let db = ScriptedDb::default().answer("/rpc/auth_end_sessions", 200, json!(1));
        let mut req = signed_in(AMINATA, Value::Null, &[]);
        if let Some(claims) = req.caller.as_mut().and_then(|c| c.claims.as_mut()) {
            claims.extra.insert(
                "session_id".into(),
                "66666666-6666-4666-8666-000000000001".into(),
            );
        }
        req.query = vec![("scope".into(), "others".into())];
        let response = block_on(logout(&req, &db)).unwrap();
        assert_eq!(response.status, 204);
        let sent: Value =
            serde_json::from_slice(db.seen.borrow()[0].body.as_ref().unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({"user_id": AMINATA, "session_id": "66666666-6666-4666-8666-000000000001",
                   "scope": "others"})
        );
        req.query = vec![("scope".into(), "everyone".into())];
        assert_eq!(block_on(logout(&req, &db)).unwrap_err().status(), 400);
    }

    #[test]
    fn an_unknown_grant_is_400() {
        let req = request(json!({}), &[("grant_type", "pkce")], true);
        let err =
            block_on(token(&req, &config(), &ScriptedDb::default(), &RustCrypto)).unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
