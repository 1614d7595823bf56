//! `/rest/v1/*` forwarded to the region the policy picks: the request as the client
//! sent it (method, path, query, body, PostgREST headers) with its verified JWT, the
//! response streamed back with the upstream named.

use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{Either, select};
use worker::{
    AbortController, Context, Date, Delay, Fetch, Headers, Method, Request, RequestInit, Response,
    ResponseBuilder,
};

use super::{RequestHeaders, cluster, glue_error, now_ms};
use crate::auth::request::authenticate;
use crate::config::Config;
use crate::consistency::{self, ConsistencyToken, REPLICA_BEHIND_STATUS, token_key};
use crate::error::AppError;
use crate::region::EdgeLocation;
use crate::routing::fallback::{Attempt, first_that_serves};
use crate::routing::{Target, read_targets, write_target};
use crate::services::rest::service::{
    Access, MAX_BODY_BYTES, PREFIX, classify, forwarded_request_headers, passed_response_headers,
    presented_token, server_timing, token_cookie, upstream_url, write_xid,
};

/// What goes upstream, prepared once and sent to one target or several.
struct Outgoing {
    method: Method,
    subpath: String,
    query: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    /// `x-payhuk-min-xid` for replicas, from a valid consistency token.
    min_xids: Option<String>,
}

struct Upstream {
    response: Response,
    elapsed_ms: u64,
}

pub async fn forward(
    req: &mut Request,
    config: &Rc<Config>,
    edge: &EdgeLocation,
    ctx: &Context,
) -> Result<Response, AppError> {
    let now_secs = (Date::now().as_millis() / 1000) as i64;
    let caller = authenticate(&RequestHeaders(req), config, now_secs)?;
    let method = req.method();
    let path = req.path();
    let subpath = match path.strip_prefix(PREFIX).unwrap_or("") {
        "" => "/".to_owned(),
        rest => rest.to_owned(),
    };
    let access = classify(method.as_ref(), &subpath, &config.read_only_rpcs);
    let key = token_key(config.jwt_secret.expose().as_bytes());
    let presented = presented_token(&RequestHeaders(req), &key, now_secs);

    let mut headers = forwarded_request_headers(&RequestHeaders(req));
    if let Some(token) = &caller.token {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    let outgoing = Outgoing {
        query: req.url().map_err(glue_error)?.query().map(str::to_owned),
        body: read_body(req).await?,
        min_xids: match &presented {
            Some(Ok(token)) => Some(token.min_xid_header()),
            _ => None,
        },
        method,
        subpath,
        headers,
    };

    let nodes = cluster::nodes(config, ctx).await;
    let (target, upstream) = match access {
        Access::Read => {
            let targets = read_targets(&edge.point, &nodes, &config.max_replica_lag);
            let served = first_that_serves(
                &targets,
                |target| attempt_read(config, target, &outgoing),
                |target| cluster::mark_down(config, target.region()),
            )
            .await?;
            (served.target, served.response)
        }
        Access::Write => {
            let target = write_target(&nodes).map_err(|no| AppError::Unavailable {
                reason: no.reason(),
                retry_after_secs: 2,
            })?;
            match send(config, &target, &outgoing).await {
                // PostgREST cannot reach its database: nothing was written.
                Ok(upstream) if upstream.response.status_code() == 503 => {
                    cluster::mark_down(config, target.region());
                    return Err(AppError::Unavailable {
                        reason: format!("{target} cannot reach its database"),
                        retry_after_secs: 2,
                    });
                }
                Ok(upstream) => (target, upstream),
                // Refused before anything reached PostgREST: safe to say "try again".
                Err(AppError::UpstreamUnreachable { upstream, cause }) => {
                    cluster::mark_down(config, target.region());
                    return Err(AppError::Unavailable {
                        reason: format!("the primary ({upstream}) is unreachable: {cause}"),
                        retry_after_secs: 2,
                    });
                }
                // A timeout is not retried: the write may have happened.
                Err(other) => return Err(other),
            }
        }
    };
    respond(config, &key, target, upstream, presented, access, now_secs)
}

async fn read_body(req: &mut Request) -> Result<Option<Vec<u8>>, AppError> {
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

async fn attempt_read(config: &Config, target: Target, outgoing: &Outgoing) -> Attempt<Upstream> {
    match send(config, &target, outgoing).await {
        Ok(upstream) => {
            let status = upstream.response.status_code();
            if status == REPLICA_BEHIND_STATUS && !target.is_primary() {
                Attempt::Skip {
                    error: AppError::Unavailable {
                        reason: format!("{target} has not replayed the client's last write"),
                        retry_after_secs: 1,
                    },
                    node_failed: false,
                }
            } else if status >= 500 {
                Attempt::Skip {
                    error: AppError::UpstreamBadResponse {
                        upstream: target.to_string(),
                        cause: format!("status {status}"),
                    },
                    node_failed: true,
                }
            } else {
                Attempt::Served(upstream)
            }
        }
        Err(error) => Attempt::Skip {
            error,
            node_failed: true,
        },
    }
}

/// One request to one target within the time budget.
async fn send(config: &Config, target: &Target, outgoing: &Outgoing) -> Result<Upstream, AppError> {
    let region = config
        .region(target.region().as_str())
        .ok_or_else(|| AppError::Internal(format!("{target} is not configured")))?;
    let url = upstream_url(
        &region.postgrest_url,
        &outgoing.subpath,
        outgoing.query.as_deref(),
    );

    let headers = Headers::new();
    for (name, value) in &outgoing.headers {
        headers.set(name, value).map_err(glue_error)?;
    }
    if let (Some(xids), false) = (&outgoing.min_xids, target.is_primary()) {
        headers
            .set(consistency::MIN_XID_HEADER, xids)
            .map_err(glue_error)?;
    }
    let mut init = RequestInit::new();
    init.with_method(outgoing.method.clone())
        .with_headers(headers);
    if let Some(body) = &outgoing.body {
        init.with_body(Some(
            worker::js_sys::Uint8Array::from(body.as_slice()).into(),
        ));
    }
    let request = Request::new_with_init(&url, &init).map_err(glue_error)?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let started = now_ms();
    let fetch = Fetch::Request(request);
    let call = fetch.send_with_signal(&signal);
    let budget = Delay::from(Duration::from_millis(u64::from(config.upstream_timeout_ms)));
    match select(pin!(call), pin!(budget)).await {
        Either::Left((Ok(response), _)) => Ok(Upstream {
            response,
            elapsed_ms: now_ms().saturating_sub(started),
        }),
        Either::Left((Err(e), _)) => Err(AppError::UpstreamUnreachable {
            upstream: target.to_string(),
            cause: e.to_string(),
        }),
        Either::Right(_) => {
            controller.abort();
            Err(AppError::UpstreamTimeout {
                upstream: target.to_string(),
                after_ms: u64::from(config.upstream_timeout_ms),
            })
        }
    }
}

fn respond(
    config: &Config,
    key: &[u8; 32],
    target: Target,
    upstream: Upstream,
    presented: Option<Result<ConsistencyToken, consistency::TokenError>>,
    access: Access,
    now_secs: i64,
) -> Result<Response, AppError> {
    let status = upstream.response.status_code();
    let upstream_headers: Vec<(String, String)> = upstream.response.headers().entries().collect();
    let headers = Headers::new();
    for (name, value) in passed_response_headers(&upstream_headers) {
        headers.append(&name, &value).map_err(glue_error)?;
    }
    headers
        .set("x-payhuk-upstream", &target.to_string())
        .map_err(glue_error)?;
    headers
        .set(
            "server-timing",
            &server_timing(&target, upstream.elapsed_ms),
        )
        .map_err(glue_error)?;

    let ttl = i64::from(config.consistency_ttl_seconds);
    let previous = match presented {
        Some(Ok(token)) => Some(token),
        Some(Err(why)) => {
            // Not trusted, so not honoured: say so, and drop the cookie.
            headers
                .set("x-payhuk-consistency-ignored", &why.to_string())
                .map_err(glue_error)?;
            headers
                .append("set-cookie", &token_cookie(None, 0))
                .map_err(glue_error)?;
            None
        }
        None => None,
    };
    if access == Access::Write
        && (200..300).contains(&status)
        && let Some(xid) = write_xid(&upstream_headers)
    {
        let token = ConsistencyToken::after_write(previous, xid, now_secs, ttl).encode(key);
        headers
            .set(consistency::HEADER, &token)
            .map_err(glue_error)?;
        headers
            .append("set-cookie", &token_cookie(Some(&token), ttl))
            .map_err(glue_error)?;
    }

    Ok(ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .body(upstream.response.body().clone()))
}
