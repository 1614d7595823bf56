//! PostgREST requests the services make: built with the `postgrest` crate, sent by the
//! routing layer (reads to the nearest replica, writes to the primary, the caller's
//! read-your-writes token honoured). A trait, so services are tested natively.

use crate::error::AppError;
use crate::routing::Access;

/// The base URL requests are built against; the router puts the real one in.
const PLACEHOLDER_BASE: &str = "http://postgrest.invalid";

/// Whose rights a request runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The request's own JWT (or anon without one): row-level security applies.
    Caller,
    /// The gateway's service role, for what only the gateway may do.
    Service,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbRequest {
    pub access: Access,
    pub role: Role,
    pub method: String,
    /// `/products?select=...`, relative to a region's PostgREST.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl DbRequest {
    /// A PostgREST client to build requests with (`.from(..)`, `.rpc(..)`).
    pub fn client() -> postgrest::Postgrest {
        postgrest::Postgrest::new(PLACEHOLDER_BASE)
    }

    pub fn from_builder(
        builder: postgrest::Builder,
        access: Access,
        role: Role,
    ) -> Result<Self, AppError> {
        let request = builder
            .build()
            .build()
            .map_err(|e| AppError::Internal(format!("building a PostgREST request: {e}")))?;
        let url = request.url();
        let path = url.path().strip_prefix('/').map_or(url.path(), |p| p);
        let path_and_query = match url.query() {
            Some(q) if !q.is_empty() => format!("/{path}?{q}"),
            _ => format!("/{path}"),
        };
        let headers = request
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .filter(|b| !b.is_empty())
            .map(<[u8]>::to_vec);
        Ok(DbRequest {
            access,
            role,
            method: request.method().as_str().to_owned(),
            path_and_query,
            headers,
            body,
        })
    }

    /// `POST /rpc/<function>` with `args`.
    pub fn rpc(
        function: &str,
        args: &serde_json::Value,
        access: Access,
        role: Role,
    ) -> Result<Self, AppError> {
        Self::from_builder(Self::client().rpc(function, args.to_string()), access, role)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl DbReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON of type `T` when the status is 2xx; otherwise the error
    /// PostgREST reported, passed on as a client error ([`AppError::Rejected`]), or for
    /// a 5xx, an upstream failure.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, AppError> {
        self.success()?;
        serde_json::from_slice(&self.body).map_err(|e| AppError::UpstreamBadResponse {
            upstream: "postgrest".into(),
            cause: format!("unexpected JSON: {e}"),
        })
    }

    /// Ok for 2xx; the error otherwise.
    pub fn success(&self) -> Result<(), AppError> {
        if (200..300).contains(&self.status) {
            return Ok(());
        }
        #[derive(serde::Deserialize)]
        struct PostgrestError {
            code: Option<String>,
            message: Option<String>,
            details: Option<String>,
            hint: Option<String>,
        }
        let parsed: Option<PostgrestError> = serde_json::from_slice(&self.body).ok();
        if self.status >= 500 || parsed.is_none() {
            return Err(AppError::UpstreamBadResponse {
                upstream: "postgrest".into(),
                cause: format!(
                    "status {}: {}",
                    self.status,
                    crate::error::bounded(
                        &String::from_utf8_lossy(&self.body),
                        crate::error::MAX_LOGGED_CAUSE
                    )
                ),
            });
        }
        let e = parsed.expect("checked above");
        Err(AppError::Rejected {
            status: self.status,
            code: e.code.unwrap_or_else(|| format!("HTTP{}", self.status)),
            message: e
                .message
                .unwrap_or_else(|| "the database refused the request".into()),
            details: e.details,
            hint: e.hint,
        })
    }
}

#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Db {
    async fn send(&self, request: DbRequest) -> Result<DbReply, AppError>;
}

/// Calls `function` with `args` and decodes its JSON answer.
pub async fn rpc<T: serde::de::DeserializeOwned>(
    db: &impl Db,
    function: &str,
    args: &serde_json::Value,
    access: Access,
    role: Role,
) -> Result<T, AppError> {
    db.send(DbRequest::rpc(function, args, access, role)?)
        .await?
        .json()
}

/// The rows `builder` selects (or, for a write, returns).
pub async fn rows(
    db: &impl Db,
    builder: postgrest::Builder,
    access: Access,
    role: Role,
) -> Result<Vec<serde_json::Value>, AppError> {
    db.send(DbRequest::from_builder(builder, access, role)?)
        .await?
        .json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_path_query_headers_and_body_from_the_postgrest_crate() {
        let builder = DbRequest::client()
            .from("products")
            .select("id,name")
            .eq("published", "true")
            .order("created_at.desc")
            .limit(21);
        let request = DbRequest::from_builder(builder, Access::Read, Role::Caller).unwrap();
        assert_eq!(request.method, "GET");
        assert!(
            request.path_and_query.starts_with("/products?"),
            "{}",
            request.path_and_query
        );
        for part in [
            "select=id%2Cname",
            "published=eq.true",
            "order=created_at.desc",
        ] {
            assert!(
                request.path_and_query.contains(part),
                "{part} in {}",
                request.path_and_query
            );
        }
        // The crate limits with a Range header.
        assert!(
            request
                .headers
                .contains(&("range".to_owned(), "0-20".to_owned())),
            "{:?}",
            request.headers
        );
        assert!(request.body.is_none());

        let rpc = DbRequest::rpc(
            "place_order",
            &serde_json::json!({"items": []}),
            Access::Write,
            Role::Caller,
        )
        .unwrap();
        assert_eq!(
            (rpc.method.as_str(), rpc.path_and_query.as_str()),
            ("POST", "/rpc/place_order")
        );
        assert_eq!(rpc.body.as_deref(), Some(br#"{"items":[]}"#.as_slice()));
        assert!(
            rpc.headers
                .iter()
                .any(|(n, v)| n == "content-type" && v == "application/json")
        );
    }

    #[test]
    fn replies_map_to_results() {
        let ok = DbReply {
            status: 200,
            headers: vec![],
            body: br#"{"a": 1}"#.to_vec(),
        };
        assert_eq!(ok.json::<serde_json::Value>().unwrap()["a"], 1);
        let refused = DbReply {
            status: 409,
            headers: vec![],
            body: br#"{"code":"PT409","message":"only 2 left","details":null,"hint":"insufficient_stock"}"#.to_vec(),
        };
        let err = refused.json::<serde_json::Value>().unwrap_err();
        assert_eq!((err.status(), err.code()), (409, "PT409".to_owned()));
        assert_eq!(err.body().hint.as_deref(), Some("insufficient_stock"));
        let broken = DbReply {
            status: 503,
            headers: vec![],
            body: b"upstream down".to_vec(),
        };
        assert_eq!(broken.success().unwrap_err().status(), 502);
    }
}
