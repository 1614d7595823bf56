//! The gateway's one error type and the one place that turns it into HTTP.
//!
//! Every client-visible error is JSON in PostgREST's shape `{code, message, details,
//! hint}`. Internal causes are logged by the edge glue and never sent to clients.

use serde::Serialize;

use crate::config::ConfigErrors;

/// Where a failure came from. It decides the status family, as in pingora:
/// the client gets 4xx, a failing dependency 502/503/504, our own bugs 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Client,
    Upstream,
    Internal,
}

#[derive(Debug)]
pub enum AppError {
    /// 404: no route has this path.
    NoRoute { path: String },
    /// 404: the route exists but what it names does not, or the caller may not see it
    /// (the same answer either way, so nothing leaks).
    NotFound { path: String },
    /// 405: the path exists but not for this method; `Allow` lists the methods that are.
    MethodNotAllowed {
        method: String,
        /// `GET, HEAD`, as the `Allow` header lists them.
        allow: String,
    },
    /// 400: the request itself is wrong.
    BadRequest {
        message: String,
        details: Option<String>,
    },
    /// 401: the caller's token is missing where required, forged, expired or not for us.
    Unauthorized { reason: String },
    /// 401: a login or a refresh token was refused; `hint` is a stable key.
    CredentialsRefused {
        credential: Credential,
        reason: String,
        hint: &'static str,
    },
    /// 403: a browser's cross-origin request from an origin `ALLOWED_ORIGINS` does not list.
    OriginNotAllowed { origin: String },
    /// 415: a body that is not declared `application/json` where JSON is taken.
    UnsupportedMediaType { got: Option<String> },
    /// 413: the body is larger than the gateway forwards.
    PayloadTooLarge { limit_bytes: usize },
    /// 422: input that does not pass validation; every problem, by field.
    Validation(Vec<FieldProblem>),
    /// 403/404/409/422/...: the database refused the request for the client's own
    /// reasons (RLS, a unique key, a rule in a SQL function); its error is passed on.
    Rejected {
        status: u16,
        code: String,
        message: String,
        details: Option<String>,
        hint: Option<String>,
    },
    /// 429: too many attempts; retry after the given time.
    TooManyRequests {
        reason: String,
        retry_after_secs: u32,
    },
    /// 502: the upstream could not be reached (connection refused, DNS, TLS).
    UpstreamUnreachable { upstream: String, cause: String },
    /// 504: the upstream did not answer within the time budget.
    UpstreamTimeout { upstream: String, after_ms: u64 },
    /// 502: the upstream answered, but not with something we can use.
    UpstreamBadResponse { upstream: String, cause: String },
    /// 503: no node can serve this request right now; retry later.
    Unavailable {
        reason: String,
        retry_after_secs: u32,
    },
    /// 503: the gateway sheds this request: `upstream` is at its concurrency limit and
    /// its queue is full or the wait ran out. Nothing was sent.
    Overloaded {
        upstream: String,
        retry_after_secs: u32,
    },
    /// 500: the deployment's configuration is invalid. The list goes to the log.
    Misconfigured(ConfigErrors),
    /// 500: a bug or an impossible state in the gateway. The cause goes to the log.
    Internal(String),
}

/// What a client presented to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Password,
    RefreshToken,
}

/// One input field that failed validation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// The JSON body of every error, in PostgREST's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub details: Option<String>,
    pub hint: Option<String>,
}

impl AppError {
    /// PostgreSQL's refusal `sqlstate` read as the domain error it means at this call
    /// (`code` with `status`, `message` and `hint`); any other error as it was.
    pub fn when_sqlstate(
        self,
        sqlstate: &str,
        (status, code): (u16, &str),
        message: &str,
        hint: &str,
    ) -> AppError {
        match self {
            AppError::Rejected { code: got, .. } if got == sqlstate => AppError::Rejected {
                status,
                code: code.into(),
                message: message.into(),
                details: None,
                hint: Some(hint.into()),
            },
            other => other,
        }
    }

    pub fn origin(&self) -> Origin {
        match self {
            AppError::NoRoute { .. }
            | AppError::NotFound { .. }
            | AppError::MethodNotAllowed { .. }
            | AppError::BadRequest { .. }
            | AppError::Unauthorized { .. }
            | AppError::CredentialsRefused { .. }
            | AppError::OriginNotAllowed { .. }
            | AppError::UnsupportedMediaType { .. }
            | AppError::PayloadTooLarge { .. }
            | AppError::Validation(_)
            | AppError::Rejected { .. }
            | AppError::TooManyRequests { .. } => Origin::Client,
            AppError::UpstreamUnreachable { .. }
            | AppError::UpstreamTimeout { .. }
            | AppError::UpstreamBadResponse { .. }
            | AppError::Unavailable { .. }
            | AppError::Overloaded { .. } => Origin::Upstream,
            AppError::Misconfigured(_) | AppError::Internal(_) => Origin::Internal,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::NoRoute { .. } | AppError::NotFound { .. } => 404,
            AppError::MethodNotAllowed { .. } => 405,
            AppError::BadRequest { .. } => 400,
            AppError::Unauthorized { .. } | AppError::CredentialsRefused { .. } => 401,
            AppError::OriginNotAllowed { .. } => 403,
            AppError::UnsupportedMediaType { .. } => 415,
            AppError::PayloadTooLarge { .. } => 413,
            AppError::Validation(_) => 422,
            AppError::Rejected { status, .. } => *status,
            AppError::TooManyRequests { .. } => 429,
            AppError::UpstreamUnreachable { .. } | AppError::UpstreamBadResponse { .. } => 502,
            AppError::Unavailable { .. } | AppError::Overloaded { .. } => 503,
            AppError::UpstreamTimeout { .. } => 504,
            AppError::Misconfigured(_) | AppError::Internal(_) => 500,
        }
    }

    /// Stable machine-readable code; the README lists them. A database refusal keeps
    /// the database's code.
    pub fn code(&self) -> String {
        let ours = match self {
            AppError::Rejected { code, .. } => return code.clone(),
            AppError::NoRoute { .. } => "PHK404",
            AppError::NotFound { .. } => "PHK444",
            AppError::MethodNotAllowed { .. } => "PHK405",
            AppError::BadRequest { .. } => "PHK400",
            AppError::Unauthorized { .. } => "PHK401",
            AppError::CredentialsRefused {
                credential: Credential::Password,
                ..
            } => "PHK440",
            AppError::CredentialsRefused {
                credential: Credential::RefreshToken,
                ..
            } => "PHK441",
            AppError::OriginNotAllowed { .. } => "PHK430",
            AppError::UnsupportedMediaType { .. } => "PHK415",
            AppError::PayloadTooLarge { .. } => "PHK413",
            AppError::Validation(_) => "PHK422",
            AppError::TooManyRequests { .. } => "PHK429",
            AppError::UpstreamUnreachable { .. } => "PHK502",
            AppError::UpstreamBadResponse { .. } => "PHK520",
            AppError::Unavailable { .. } => "PHK503",
            AppError::Overloaded { .. } => "PHK529",
            AppError::UpstreamTimeout { .. } => "PHK504",
            AppError::Misconfigured(_) => "PHK510",
            AppError::Internal(_) => "PHK500",
        };
        ours.to_owned()
    }

    pub fn body(&self) -> ErrorBody {
        let (message, details, hint) = match self {
            AppError::NoRoute { path } => (
                format!("no route for {path}"),
                None,
                Some("GET /api/v1/openapi.json lists the routes".to_owned()),
            ),
            AppError::NotFound { path } => (format!("nothing found at {path}"), None, None),
            AppError::MethodNotAllowed { method, allow } => (
                format!("method {method} is not allowed here"),
                None,
                Some(format!("allowed: {allow}")),
            ),
            AppError::BadRequest { message, details } => (message.clone(), details.clone(), None),
            AppError::CredentialsRefused { reason, hint, .. } => (reason.clone(), None, Some((*hint).to_owned())),
            AppError::Unauthorized { reason } => (
                format!("invalid token: {reason}"),
                None,
                Some("send a JWT issued for this project as `Authorization: Bearer <token>` or `apikey`".to_owned()),
            ),
            AppError::OriginNotAllowed { origin } => (
                format!("the origin {origin} may not call this gateway from a browser"),
                None,
                Some("the gateway's ALLOWED_ORIGINS lists the origins it serves".to_owned()),
            ),
            AppError::UnsupportedMediaType { got } => (
                match got {
                    Some(_) => "the body must be sent as application/json".to_owned(),
                    None => "the body has no content type; send it as application/json".to_owned(),
                },
                got.as_ref().map(|ct| format!("content-type: {}", error_description(ct))),
                Some("set `Content-Type: application/json`".to_owned()),
            ),
            AppError::PayloadTooLarge { limit_bytes } => (
                format!("the body is larger than {limit_bytes} bytes"),
                None,
                None,
            ),
            AppError::Validation(problems) => (
                match problems.as_slice() {
                    [one] => format!("invalid {}: {}", one.field, one.problem),
                    _ => format!("{} fields are invalid", problems.len()),
                },
                Some(serde_json::to_string(problems).expect("problems serialize")),
                None,
            ),
            AppError::Rejected {
                message,
                details,
                hint,
                ..
            } => (message.clone(), details.clone(), hint.clone()),
            AppError::TooManyRequests {
                reason,
                retry_after_secs,
            } => (
                format!("too many attempts: {reason}"),
                None,
                Some(format!("retry after {retry_after_secs} s")),
            ),
            // The cause (an upstream's error text, addresses) is for the log only.
            AppError::UpstreamUnreachable { upstream, .. } => (
                format!("upstream {upstream} is unreachable"),
                None,
                None,
            ),
            AppError::UpstreamTimeout { upstream, after_ms } => (
                format!("upstream {upstream} did not answer within {after_ms} ms"),
                None,
                None,
            ),
            AppError::UpstreamBadResponse { upstream, .. } => (
                format!("upstream {upstream} gave an unusable answer"),
                None,
                None,
            ),
            AppError::Unavailable {
                reason,
                retry_after_secs,
            } => (
                format!("service unavailable: {reason}"),
                None,
                Some(format!("retry after {retry_after_secs} s")),
            ),
            AppError::Overloaded {
                upstream,
                retry_after_secs,
            } => (
                format!("overloaded: {upstream} has as many requests in flight as it can take"),
                None,
                Some(format!("retry after {retry_after_secs} s")),
            ),
            AppError::Misconfigured(_) => (
                "the gateway is misconfigured".to_owned(),
                None,
                Some("the operator can see the problems in the worker's log".to_owned()),
            ),
            AppError::Internal(_) => ("internal gateway error".to_owned(), None, None),
        };
        ErrorBody {
            code: self.code(),
            message,
            details,
            hint,
        }
    }

    /// Headers the status itself calls for (`Allow` with 405, `Retry-After` with 503).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            AppError::MethodNotAllowed { allow, .. } => vec![("allow", allow.clone())],
            AppError::Unavailable {
                retry_after_secs, ..
            }
            | AppError::Overloaded {
                retry_after_secs, ..
            }
            | AppError::TooManyRequests {
                retry_after_secs, ..
            } => vec![("retry-after", retry_after_secs.to_string())],
            AppError::Unauthorized { reason } => vec![(
                "www-authenticate",
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    error_description(reason)
                ),
            )],
            _ => Vec::new(),
        }
    }

    /// What the operator should see in the log, including causes hidden from clients.
    /// `None` for client errors, which are not worth logging.
    pub fn log_line(&self) -> Option<String> {
        match self {
            AppError::Misconfigured(errors) => Some(format!("configuration invalid: {errors}")),
            AppError::Internal(cause) => Some(format!("internal error: {cause}")),
            // Shedding answers thousands a second: a line each would add to the load.
            AppError::Overloaded { .. } => None,
            AppError::UpstreamUnreachable { cause, .. }
            | AppError::UpstreamBadResponse { cause, .. } => Some(format!(
                "{}: {}",
                self.body().message,
                bounded(cause, MAX_LOGGED_CAUSE)
            )),
            other if other.origin() == Origin::Upstream => Some(other.body().message),
            _ => None,
        }
    }
}

/// The most of an upstream's error text a log line keeps (a 5xx page can be megabytes).
pub const MAX_LOGGED_CAUSE: usize = 500;

/// `text` cut to `max` characters, marked when cut.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}... ({} bytes)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

/// `reason` as RFC 6750 allows in `error_description` (visible ASCII but `"` and `\`):
/// it can quote a client's own bytes (a JWT header's `alg`), which must not break or
/// inject into the header. Short, since a header is no place for an essay.
fn error_description(reason: &str) -> String {
    reason
        .chars()
        .take(200)
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.body().message)
    }
}

impl std::error::Error for AppError {}

impl From<ConfigErrors> for AppError {
    fn from(errors: ConfigErrors) -> Self {
        AppError::Misconfigured(errors)
    }
}

impl From<serde_json::Error> for AppError {
    fn from(err: serde_json::Error) -> Self {
        AppError::Internal(format!("JSON: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    #[test]
    fn upstream_causes_are_logged_bounded_and_never_answered() {
        let page = format!("<html>{}</html>", "stack trace of 10.0.3.7 ".repeat(10_000));
        let db = crate::db::DbReply {
            status: 503,
            headers: Vec::new(),
            body: page.clone().into_bytes(),
        };
        for err in [
            db.success().unwrap_err(),
            AppError::UpstreamUnreachable {
                upstream: "sfo1".into(),
                cause: page.clone(),
            },
        ] {
            let body = serde_json::to_string(&err.body()).unwrap();
            assert!(!body.contains("10.0.3.7"), "{body}");
            assert!(body.len() < 300, "{body}");
            let line = err.log_line().unwrap();
            assert!(line.contains("10.0.3.7"), "the operator sees the cause");
            assert!(
                line.len() < MAX_LOGGED_CAUSE + 200,
                "bounded: {} bytes",
                line.len()
            );
        }
    }

    fn every_variant() -> Vec<AppError> {
        vec![
            AppError::NoRoute { path: "/x".into() },
            AppError::NotFound {
                path: "/x/1".into(),
            },
            AppError::MethodNotAllowed {
                method: "PUT".into(),
                allow: "GET, HEAD".into(),
            },
            AppError::BadRequest {
                message: "bad".into(),
                details: Some("field x".into()),
            },
            AppError::OriginNotAllowed {
                origin: "https://evil.example".into(),
            },
            AppError::UnsupportedMediaType {
                got: Some("text/plain".into()),
            },
            AppError::UpstreamUnreachable {
                upstream: "iad1".into(),
                cause: "refused".into(),
            },
            AppError::UpstreamTimeout {
                upstream: "iad1".into(),
                after_ms: 2000,
            },
            AppError::UpstreamBadResponse {
                upstream: "iad1".into(),
                cause: "not JSON".into(),
            },
            AppError::Unavailable {
                reason: "no primary".into(),
                retry_after_secs: 2,
            },
            AppError::Overloaded {
                upstream: "replica fra1".into(),
                retry_after_secs: 1,
            },
            AppError::Misconfigured(ConfigErrors(vec![ConfigError::new(
                "JWT_SECRET",
                "missing",
            )])),
            AppError::Internal("boom".into()),
        ]
    }

    #[test]
    fn status_family_follows_origin() {
        for err in every_variant() {
            let status = err.status();
            match err.origin() {
                Origin::Client => assert!((400..500).contains(&status), "{err:?}"),
                Origin::Upstream => assert!([502, 503, 504].contains(&status), "{err:?}"),
                Origin::Internal => assert_eq!(status, 500, "{err:?}"),
            }
        }
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<String> = every_variant().iter().map(AppError::code).collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn internal_causes_are_not_sent_to_clients() {
        let internal = AppError::Internal("secret stack trace".into());
        let json = serde_json::to_string(&internal.body()).unwrap();
        assert!(!json.contains("secret"), "{json}");
        let misconfigured = AppError::Misconfigured(ConfigErrors(vec![ConfigError::new(
            "JWT_SECRET",
            "is hunter2",
        )]));
        let json = serde_json::to_string(&misconfigured.body()).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(misconfigured.log_line().unwrap().contains("hunter2"));
    }

    #[test]
    fn a_clients_bytes_never_reach_www_authenticate_raw() {
        let err = AppError::Unauthorized {
            reason: "token uses algorithm HS256\r\nSet-Cookie: x=1\u{0}\"\\café; only HS256".into(),
        };
        let (_, value) = &err.headers()[0];
        assert!(
            value.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{value:?}"
        );
        assert!(
            value.contains("HS256??Set-Cookie: x=1?'/caf?; only HS256"),
            "{value}"
        );
        let long = AppError::Unauthorized {
            reason: "x".repeat(10_000),
        };
        assert!(long.headers()[0].1.len() < 300);
    }

    #[test]
    fn status_headers() {
        let err = AppError::MethodNotAllowed {
            method: "POST".into(),
            allow: "GET, HEAD".into(),
        };
        assert_eq!(err.headers(), vec![("allow", "GET, HEAD".to_owned())]);
        let err = AppError::Unavailable {
            reason: "no primary".into(),
            retry_after_secs: 3,
        };
        assert_eq!(err.headers(), vec![("retry-after", "3".to_owned())]);
        let shed = AppError::Overloaded {
            upstream: "primary iad1".into(),
            retry_after_secs: 1,
        };
        assert_eq!(
            (shed.status(), shed.headers(), shed.log_line()),
            (503, vec![("retry-after", "1".to_owned())], None)
        );
    }

    #[test]
    fn validation_lists_every_field_and_rejections_keep_their_code() {
        let one = AppError::Validation(vec![FieldProblem::new(
            "items[0].quantity",
            "must be 1 to 1000",
        )]);
        assert_eq!(
            one.body().message,
            "invalid items[0].quantity: must be 1 to 1000"
        );
        let two = AppError::Validation(vec![
            FieldProblem::new("email", "is required"),
            FieldProblem::new("password", "must be 8 to 72 bytes"),
        ]);
        assert_eq!(two.status(), 422);
        let details: serde_json::Value =
            serde_json::from_str(&two.body().details.unwrap()).unwrap();
        assert_eq!(details[1]["field"], "password");

        let rejected = AppError::Rejected {
            status: 409,
            code: "PT409".into(),
            message: "only 2 left".into(),
            details: None,
            hint: Some("insufficient_stock".into()),
        };
        assert_eq!(
            (rejected.status(), rejected.code(), rejected.origin()),
            (409, "PT409".to_owned(), Origin::Client)
        );
        assert_eq!(rejected.body().hint.as_deref(), Some("insufficient_stock"));
    }

    #[test]
    fn body_has_postgrest_shape() {
        let err = AppError::NoRoute {
            path: "/nope".into(),
        };
        let value = serde_json::to_value(err.body()).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["code", "details", "hint", "message"]);
        assert_eq!(value["code"], "PHK404");
        assert_eq!(value["message"], "no route for /nope");
        let missing = AppError::NotFound {
            path: "/api/v1/orders/1".into(),
        };
        assert_eq!(
            (missing.code().as_str(), missing.body().message.as_str()),
            ("PHK444", "nothing found at /api/v1/orders/1")
        );
    }
}
