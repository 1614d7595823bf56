use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
    /// Signing up as a merchant opens a store.
    pub store: Option<StoreInput>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreInput {
    pub name: String,
    pub slug: String,
    pub default_currency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// An account as the database reports it. `/api/v1` shows the first four fields; the
/// others are for GoTrue's User shape and the access token's `session_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub stores: Vec<StoreRef>,
    #[serde(default, skip_serializing)]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing)]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing)]
    pub last_sign_in_at: Option<String>,
    #[serde(default, skip_serializing)]
    pub user_metadata: Option<serde_json::Value>,
    /// The session (refresh token family) a sign-in or a refresh started or continued.
    #[serde(default, skip_serializing)]
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRef {
    pub id: String,
    pub name: String,
    pub slug: String,
}

/// What signup, login and refresh answer (the shape of Supabase's token response).
#[derive(Debug, Serialize)]
pub struct Session {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    pub expires_at: i64,
    pub refresh_token: String,
    pub user: Account,
}

/// `auth_login`'s answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LoginOutcome {
    Ok {
        account: Box<Account>,
    },
    Wait {
        retry_after: u32,
    },
    /// A wrong password or an unknown email: the failure is recorded.
    Refused,
}

/// `auth_rotate_refresh`'s answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Rotation {
    Ok { account: Box<Account> },
    Reused,
    Invalid,
    Expired,
}
