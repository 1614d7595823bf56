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
