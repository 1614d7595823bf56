//! The one upstream client: every call to a region's PostgREST (the services,
//! `/rest/v1` and the health probes) is an [`exchange`], headers and body read whole
//! within the caller's [`Deadline`]. The `postgrest` crate builds requests; this sends
//! them, with the runtime's `fetch`.

use std::pin::pin;
use std::time::Duration;

use futures::future::{Either, select};
use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Method, Request, web_sys};

use super::response::read_whole;
use super::{glue_error, now_ms};
use crate::config::RegionConfig;
use crate::db::DbRequest;
use crate::error::AppError;
use crate::routing::Access;
use crate::services::rest::service::upstream_url;
use crate::upstream::{Deadline, Upstream, UpstreamReply};

/// One request to one node.
pub struct Call<'a> {
    pub method: Method,
    pub url: String,
    pub headers: &'a [(String, String)],
    /// Beside `headers`, what depends on the node (a replica's minimum xid and wait).
    pub extra_headers: Vec<(&'static str, String)>,
    pub body: Option<&'a [u8]>,
}

/// A node's whole answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From sending to the last byte of the body.
    pub elapsed_ms: u64,
}

/// Sends `call` to the node called `upstream` and reads its answer, all before
/// `deadline`; past it the call is aborted and the error is a 504. A refused
/// connection is a 502, and nothing reached the node.
pub async fn exchange(
    upstream: &str,
    call: Call<'_>,
    deadline: &Deadline,
) -> Result<Reply, AppError> {
    let started = now_ms();
    let remaining = deadline.remaining_ms(started);
    if remaining == 0 {
        return Err(deadline.expired(upstream));
    }
    let request = into_request(&call)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let whole = async {
        let response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| AppError::UpstreamUnreachable {
                upstream: upstream.to_owned(),
                cause: e.to_string(),
            })?;
        let body = read_whole(&response)
            .await
            .map_err(|e| AppError::UpstreamBadResponse {
                upstream: upstream.to_owned(),
                cause: format!("reading the body: {e}"),
            })?;
        Ok(Reply {
            status: response.status_code(),
            headers: response.headers().entries().collect(),
            body,
            elapsed_ms: 0,
        })
    };
    let budget = Delay::from(Duration::from_millis(remaining));
    match select(pin!(whole), pin!(budget)).await {
        Either::Left((reply, _)) => reply.map(|reply| Reply {
            elapsed_ms: now_ms().saturating_sub(started),
            ..reply
        }),
        Either::Right(_) => {
            controller.abort();
            Err(deadline.expired(upstream))
        }
    }
}

/// The request built with the runtime's own `Request` and `RequestInit`: the worker
/// crate's `RequestInit` converts every field it knows (its `cf` options among them),
/// about 7 KB gzipped of the bundle for a method, headers and a body.
fn into_request(call: &Call<'_>) -> Result<Request, AppError> {
    let js = |e: JsValue| glue_error(worker::Error::from(e));
    let headers = web_sys::Headers::new().map_err(js)?;
    let extra = call.extra_headers.iter().map(|(n, v)| (*n, v.as_str()));
    for (name, value) in call
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(extra)
    {
        headers.set(name, value).map_err(js)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(call.method.as_ref());
    init.set_headers(&headers);
    if let Some(body) = call.body {
        init.set_body(&worker::js_sys::Uint8Array::from(body));
    }
    let request = web_sys::Request::new_with_str_and_init(&call.url, &init).map_err(js)?;
    Ok(Request::from(request))
}

/// RPCs outside a client's request (the health probes), each with its own deadline.
pub struct RpcClient {
    timeout_ms: u32,
}

impl RpcClient {
    pub fn new(timeout_ms: u32) -> Self {
        RpcClient { timeout_ms }
    }
}

impl Upstream for RpcClient {
    async fn call_rpc(
        &self,
        region: &RegionConfig,
        function: &str,
        args: &serde_json::Value,
        bearer: &str,
    ) -> Result<UpstreamReply, AppError> {
        let request = DbRequest::rpc(function, args, Access::Read, crate::db::Role::Service)?;
        let mut headers = request.headers;
        headers.push(("authorization".into(), format!("Bearer {bearer}")));
        let (path, query) = match request.path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (request.path_and_query.as_str(), None),
        };
        let call = Call {
            method: Method::Post,
            url: upstream_url(&region.postgrest_url, path, query),
            headers: &headers,
            extra_headers: Vec::new(),
            body: request.body.as_deref(),
        };
        let deadline = Deadline::starting(now_ms(), u64::from(self.timeout_ms));
        let reply = exchange(region.code.as_str(), call, &deadline).await?;
        Ok(UpstreamReply {
            status: reply.status,
            body: reply.body,
            elapsed_ms: reply.elapsed_ms,
        })
    }
}
