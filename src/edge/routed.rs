//! One request to the region the policy picks: reads to the nearest usable replica
//! with fallback, writes once to the primary. Shared by the `/rest/v1` pass-through
//! and the services' [`RoutedDb`].

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{Either, select};
use worker::{
    AbortController, Context, Delay, Fetch, Headers, Method, Request, RequestInit, Response,
};

use super::response::read_whole;
use super::{cluster, glue_error, now_ms};
use crate::config::Config;
use crate::consistency::{self, REPLICA_BEHIND_STATUS};
use crate::db::{Db, DbReply, DbRequest, Role};
use crate::error::AppError;
use crate::region::EdgeLocation;
use crate::routing::fallback::{Attempt, first_that_serves};
use crate::routing::{Access, Evidence, Target, read_targets, write_target};
use crate::services::rest::service::{upstream_url, write_xid};

/// What goes upstream, prepared once and sent to one target or several.
pub struct Outgoing {
    pub method: Method,
    /// Relative to a region's PostgREST base URL.
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// `x-payhuk-min-xid` for replicas, from a valid consistency token.
    pub min_xids: Option<String>,
}

pub struct Upstream {
    pub response: Response,
    pub elapsed_ms: u64,
}

/// Sends `outgoing` where the policy says. `ctx` schedules background health refreshes;
/// without it (already in the background) a stale view is refreshed inline.
pub async fn route(
    config: &Rc<Config>,
    ctx: Option<&Context>,
    edge: &EdgeLocation,
    access: Access,
    outgoing: &Outgoing,
) -> Result<(Target, Upstream), AppError> {
    let nodes = cluster::nodes(config, ctx).await;
    match access {
        Access::Read => {
            let targets = read_targets(&edge.point, &nodes, &config.max_replica_lag);
            let served = first_that_serves(
                &targets,
                |target| attempt_read(config, target, outgoing),
                |target, error| cluster::record_failure(config, target.region(), evidence(error)),
            )
            .await?;
            Ok((served.target, served.response))
        }
        Access::Write => {
            let target = write_target(&nodes).map_err(|no| AppError::Unavailable {
                reason: no.reason(),
                retry_after_secs: 2,
            })?;
            match send(config, &target, outgoing).await {
                // PostgREST cannot reach its database: nothing was written.
                Ok(upstream) if upstream.response.status_code() == 503 => {
                    cluster::record_failure(config, target.region(), Evidence::Dead);
                    Err(AppError::Unavailable {
                        reason: format!("{target} cannot reach its database"),
                        retry_after_secs: 2,
                    })
                }
                Ok(upstream) => Ok((target, upstream)),
                // Refused before anything reached PostgREST: safe to say "try again".
                Err(AppError::UpstreamUnreachable { upstream, cause }) => {
                    cluster::record_failure(config, target.region(), Evidence::Dead);
                    Err(AppError::Unavailable {
                        reason: format!("the primary ({upstream}) is unreachable: {cause}"),
                        retry_after_secs: 2,
                    })
                }
                // A timeout is not retried: the write may have happened.
                Err(other) => {
                    cluster::record_failure(config, target.region(), evidence(&other));
                    Err(other)
                }
            }
        }
    }
}

/// What a failed attempt says about the node: no answer in time is a slow node's
/// evidence (the probe decides); anything else, a dead one's.
fn evidence(error: &AppError) -> Evidence {
    match error {
        AppError::UpstreamTimeout { .. } => Evidence::Slow,
        _ => Evidence::Dead,
    }
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
                    // 502/503/504: the node cannot serve (PostgREST without its
                    // database). A 500 is PostgREST failing on this one request: the
                    // next node may do better, but one odd request must not mark the
                    // whole cluster down for everyone.
                    node_failed: matches!(status, 502..=504),
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
        &outgoing.path,
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

/// What the requests a service made went through, for the response's headers.
#[derive(Debug, Default, Clone)]
pub struct Trail {
    /// The last upstream that answered, and its time.
    pub last: Option<(Target, u64)>,
    /// The transaction of the last successful write that reported one.
    pub written_xid: Option<u64>,
}

/// The services' database: PostgREST through the routing layer, as the caller (their
/// JWT, RLS applies) or as the gateway's service role.
pub struct RoutedDb<'a> {
    pub config: Rc<Config>,
    pub ctx: Option<&'a Context>,
    pub edge: EdgeLocation,
    /// The caller's verified JWT, if any.
    pub caller_token: Option<String>,
    /// The caller's `apikey`, passed on (Supabase's API gateway wants one).
    pub apikey: Option<String>,
    /// From the caller's consistency token: what their reads must see.
    pub min_xids: Option<String>,
    pub trail: RefCell<Trail>,
}

impl Db for RoutedDb<'_> {
    async fn send(&self, request: DbRequest) -> Result<DbReply, AppError> {
        let mut headers = request.headers.clone();
        let bearer = match request.role {
            Role::Caller => self.caller_token.clone(),
            Role::Service => Some(self.config.service_role_key.expose().to_owned()),
        };
        if let Some(token) = &bearer {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        let apikey = match request.role {
            Role::Service => bearer.clone(),
            Role::Caller => self.apikey.clone(),
        };
        if let Some(key) = apikey {
            headers.push(("apikey".into(), key));
        }
        let (path, query) = match request.path_and_query.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (request.path_and_query.clone(), None),
        };
        let outgoing = Outgoing {
            method: Method::from(request.method.clone()),
            path,
            query,
            headers,
            body: request.body.clone(),
            min_xids: self.min_xids.clone(),
        };
        let (target, upstream) = route(
            &self.config,
            self.ctx,
            &self.edge,
            request.access,
            &outgoing,
        )
        .await?;
        let status = upstream.response.status_code();
        let reply_headers: Vec<(String, String)> = upstream.response.headers().entries().collect();
        let body =
            read_whole(&upstream.response)
                .await
                .map_err(|e| AppError::UpstreamBadResponse {
                    upstream: target.to_string(),
                    cause: format!("reading the body: {e}"),
                })?;
        let mut trail = self.trail.borrow_mut();
        if request.access == Access::Write && (200..300).contains(&status) {
            trail.written_xid = write_xid(&reply_headers).or(trail.written_xid);
        }
        trail.last = Some((target, upstream.elapsed_ms));
        Ok(DbReply {
            status,
            headers: reply_headers,
            body,
        })
    }
}
