//! A plain response value the handlers return; the edge glue turns it into a
//! `worker::Response`. Keeping it free of `worker` types lets handlers be tested natively.

use serde::Serialize;

use crate::error::AppError;

pub const JSON: &str = "application/json; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Self, AppError> {
        Ok(ApiResponse {
            status,
            headers: vec![("content-type".into(), JSON.into())],
            body: serde_json::to_vec(value)?,
        })
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request's path and query as the gateway takes them: once percent-decoded, UTF-8
/// without control characters. Anything else is the client's mistake (400) and must
/// not reach PostgREST, which answers some of it with a 500 and the runtime's fetch
/// refuses some of it outright: either would count against a healthy node.
pub fn check_request_target(path: &str, query: Option<&str>) -> Result<(), AppError> {
    for (part, raw) in [("path", Some(path)), ("query", query)] {
        let Some(raw) = raw else { continue };
        let problem = match percent_encoding::percent_decode_str(raw).decode_utf8() {
            Err(_) => "is not UTF-8 once percent-decoded",
            Ok(text) if text.chars().any(char::is_control) => "holds a control character",
            Ok(_) => continue,
        };
        return Err(AppError::BadRequest {
            message: format!("the request's {part} {problem}"),
            details: None,
        });
    }
    Ok(())
}

/// The one place an error becomes HTTP.
impl From<&AppError> for ApiResponse {
    fn from(err: &AppError) -> Self {
        let mut headers = vec![("content-type".to_owned(), JSON.to_owned())];
        headers.extend(err.headers().into_iter().map(|(n, v)| (n.to_owned(), v)));
        ApiResponse {
            status: err.status(),
            headers,
            body: serde_json::to_vec(&err.body()).expect("error bodies serialize"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets_must_decode_to_clean_utf8() {
        for (path, query) in [
            (
                "/rest/v1/products",
                Some("name=eq.caf%C3%A9&select=id,name"),
            ),
            ("/api/v1/products/%C3%A9t%C3%A9", None),
            ("/rest/v1/products", Some("q=a+b%20c")),
        ] {
            assert!(
                check_request_target(path, query).is_ok(),
                "{path}?{query:?}"
            );
        }
        for (path, query) in [
            ("/rest/v1/products", Some("name=eq.%FF%FE")),
            ("/rest/v1/products", Some("name=eq.%C0%AF")),
            ("/rest/v1/products%00", None),
            ("/api/v1/products", Some("q=x%00y")),
            ("/api/v1/products", Some("q=a%0D%0Ab")),
            ("/api/v1/orders/a%80b", None),
        ] {
            let err = check_request_target(path, query).unwrap_err();
            assert_eq!(err.status(), 400, "{path}?{query:?}");
        }
    }

    #[test]
    fn errors_render_as_json_with_their_headers() {
        let err = AppError::MethodNotAllowed {
            method: "DELETE".into(),
            allow: "GET, HEAD".into(),
        };
        let resp = ApiResponse::from(&err);
        assert_eq!(resp.status, 405);
        assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
        assert_eq!(resp.header("content-type"), Some(JSON));
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(body["code"], "PHK405");
        assert_eq!(body["hint"], "allowed: GET, HEAD");
    }
}
