use worker::{Headers, Response};

use crate::http::ApiResponse;

/// `head` drops the body but keeps the headers, as HEAD requires.
pub fn into_worker(response: ApiResponse, head: bool) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    let body = if head { Vec::new() } else { response.body };
    Ok(Response::from_bytes(body)?
        .with_status(response.status)
        .with_headers(headers))
}
