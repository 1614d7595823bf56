use worker::{Headers, Response};

use crate::http::ApiResponse;

/// `head` drops the body but keeps the headers, as HEAD requires.
pub fn into_worker(response: ApiResponse, head: bool) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    // 204 and 304 must have a null body, not an empty one (the runtime warns).
    let no_body = matches!(response.status, 204 | 304);
    let base = if no_body {
        Response::empty()?
    } else if head {
        Response::from_bytes(Vec::new())?
    } else {
        Response::from_bytes(response.body)?
    };
    Ok(base.with_status(response.status).with_headers(headers))
}
