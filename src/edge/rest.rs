//! `/rest/v1/*` forwarded to the region the policy picks: the request as the client
//! sent it (method, path, query, body, PostgREST headers) with its verified JWT, the
//! response passed back with the upstream named. The upstream body is read whole within
//! the request's deadline, so the node's admission slot is held exactly as long as the
//! node is busy with it.

use std::rc::Rc;

use worker::{Context, Date, Headers, Method, Request, Response, ResponseBuilder, Url};

use super::keys::EdgeKeys;
use super::routed::{Budget, Outgoing, Routed, route};
use super::webcrypto::WebCrypto;
use super::{RequestHeaders, glue_error, now_ms};
use crate::auth::request::authenticate;
use crate::config::Config;
use crate::consistency::{self, ConsistencyToken, TokenError};
use crate::error::AppError;
use crate::observe::{RequestScope, TokenOutcome};
use crate::region::EdgeLocation;
use crate::routing::Access;
use crate::services::rest::service::{
    MAX_BODY_BYTES, PREFIX, UPSTREAM_CALLS_HEADER, UPSTREAM_HEADER, classify,
    forwarded_request_headers, passed_response_headers, presented_token, write_xid,
};

pub async fn forward(
    req: &mut Request,
    url: &Url,
    config: &Rc<Config>,
    edge: &EdgeLocation,
    ctx: &Context,
    scope: &RequestScope,
) -> Result<Response, AppError> {
    let now_secs = (Date::now().as_millis() / 1000) as i64;
    let budget = Budget::starting(config);
    let keys = EdgeKeys(config.clone());
    let auth_started = now_ms();
    let caller = authenticate(&RequestHeaders(req), config, &keys, &WebCrypto, now_secs).await;
    scope.record_auth(auth_started, now_ms());
    let caller = caller?;
    let path = req.path();
    let subpath = match path.strip_prefix(PREFIX).unwrap_or("") {
        "" => "/".to_owned(),
        rest => rest.to_owned(),
    };
    let access = classify(req.method().as_ref(), &subpath, &config.read_only_rpcs);
    let key = super::consistency_key(config);
    let presented = presented_token(&RequestHeaders(req), &key, now_secs);
    scope.record_token(TokenOutcome::of(presented.as_ref()));

    let mut headers: Vec<(String, String)> = forwarded_request_headers(&RequestHeaders(req))
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    if let Some(token) = &caller.token {
        headers.push(("authorization".into(), format!("Bearer {token}")));
    }
    let outgoing = Outgoing {
        query: url.query().map(str::to_owned),
        body: read_body(req).await?,
        min_xids: match &presented {
            Some(Ok(token)) => Some(token.min_xid_header()),
            _ => None,
        },
        method: req.method(),
        path: subpath,
        headers,
    };
    let routed = route(
        config,
        Some(ctx),
        edge,
        access,
        &outgoing,
        &budget,
        Some(scope),
    )
    .await?;
    respond(config, &key, routed, presented, access, now_secs)
}

/// The body, kept whole so a read can be retried on another node.
pub async fn read_body(req: &mut Request) -> Result<Option<Vec<u8>>, AppError> {
    if matches!(req.method(), Method::Get | Method::Head) {
        return Ok(None);
    }
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(AppError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    let body = req.bytes().await.map_err(|e| AppError::BadRequest {
        message: "the request body could not be read".into(),
        details: Some(e.to_string()),
    })?;
    if body.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    Ok(Some(body))
}

fn respond(
    config: &Config,
    key: &[u8; 32],
    Routed {
        target,
        reply,
        calls,
    }: Routed,
    presented: Option<Result<ConsistencyToken, TokenError>>,
    access: Access,
    now_secs: i64,
) -> Result<Response, AppError> {
    let status = reply.status;
    let headers = Headers::new();
    for (name, value) in passed_response_headers(&reply.headers) {
        headers.append(&name, &value).map_err(glue_error)?;
    }
    headers
        .set(UPSTREAM_HEADER, &target.to_string())
        .map_err(glue_error)?;
    headers
        .set(UPSTREAM_CALLS_HEADER, &calls.to_string())
        .map_err(glue_error)?;
    let written = (access == Access::Write && (200..300).contains(&status))
        .then(|| write_xid(&reply.headers))
        .flatten();
    for (name, value) in consistency::response_headers(
        presented.as_ref(),
        written,
        key,
        now_secs,
        i64::from(config.consistency_ttl_seconds),
    ) {
        headers.append(name, &value).map_err(glue_error)?;
    }
    let response = ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers);
    // 204 and 304 must have a null body, not an empty one.
    Ok(if matches!(status, 204 | 304) {
        response.empty()
    } else {
        response.fixed(reply.body)
    })
}
