use worker::{Headers, Response, ResponseBody};

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

/// A response's whole body. The `worker` crate's `Response::bytes` pulls a stream chunk
/// by chunk through a JS reader (a promise and a lock release per chunk: about 13% of a
/// service request's busy time in a workerd profile); `arrayBuffer()` lets the runtime
/// collect it natively and hands it to wasm in one copy.
pub async fn read_whole(response: &Response) -> worker::Result<Vec<u8>> {
    use worker::{js_sys::Uint8Array, wasm_bindgen_futures::JsFuture, web_sys};
    match response.body() {
        ResponseBody::Empty => Ok(Vec::new()),
        ResponseBody::Body(bytes) => Ok(bytes.clone()),
        ResponseBody::Stream(stream) => {
            let whole = web_sys::Response::new_with_opt_readable_stream(Some(stream))?;
            let buffer = JsFuture::from(whole.array_buffer()?).await?;
            Ok(Uint8Array::new(&buffer).to_vec())
        }
    }
}
