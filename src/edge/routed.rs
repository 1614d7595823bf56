//! One request to the region the policy picks: reads to the nearest usable replica
//! with fallback, writes once to the primary. Shared by the `/rest/v1` pass-through
//! and the services' [`RoutedDb`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::{Context, Method};

use super::admission::admit;
use super::upstream::{Call, Reply, exchange};
use super::{cluster, now_ms};
use crate::config::Config;
use crate::consistency::{self, REPLICA_BEHIND_STATUS};
use crate::db::{Db, DbReply, DbRequest, Role};
use crate::error::AppError;
use crate::observe::{RequestScope, UpstreamTry};
use crate::region::EdgeLocation;
use crate::routing::admission::Outcome;
use crate::routing::fallback::{Attempt, first_that_serves};
use crate::routing::outlier::{evidence_of_error, evidence_of_status};
use crate::routing::policy::replica_wait_ms;
use crate::routing::{Access, Evidence, NodeView, Target, read_targets, write_target};
use crate::services::rest::service::{upstream_url, write_xid};
use crate::upstream::Deadline;

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

/// When a request's upstream work must be done, and how long it may queue for a slot.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub deadline: Deadline,
    queue_until_ms: u64,
    /// One try of several: its call gets half of what is left once admitted.
    split: bool,
}

impl Budget {
    /// From now: the configured upstream budget, and the admission queue's wait within it.
    pub fn starting(config: &Config) -> Budget {
        let now = now_ms();
        let deadline = Deadline::starting(now, u64::from(config.upstream_timeout_ms));
        Budget {
            deadline,
            queue_until_ms: deadline.queue_until_ms(now, u64::from(config.admission.queue_ms)),
            split: false,
        }
    }

    /// One try of several. It may queue as long as a lone try (a request waiting for a
    /// slot has sent nothing; halving its wait too shed requests a lone try would have
    /// served); its call, once admitted, gets half of what is left, so the next try has
    /// time too.
    fn first_half(&self) -> Budget {
        Budget {
            deadline: self.deadline,
            queue_until_ms: self
                .queue_until_ms
                .min(self.deadline.queue_until_ms(now_ms(), u64::MAX)),
            split: true,
        }
    }

    /// The deadline of the call itself, asked once admitted.
    fn call_deadline(&self) -> Deadline {
        if self.split {
            self.deadline.first_half(now_ms())
        } else {
            self.deadline
        }
    }

    fn expired(&self) -> bool {
        self.deadline.remaining_ms(now_ms()) == 0
    }
}

/// Who served a routed request, their answer, and how many upstream calls it took.
pub struct Routed {
    pub target: Target,
    pub reply: Reply,
    /// Calls actually sent: one, plus one per node tried before (a node passed over
    /// without being sent anything, shed or out of time, does not count).
    pub calls: u32,
}

/// Sends `outgoing` where the policy says. `ctx` schedules background health refreshes;
/// without it (already in the background) a stale view is refreshed inline.
pub async fn route(
    config: &Rc<Config>,
    ctx: Option<&Context>,
    edge: &EdgeLocation,
    access: Access,
    outgoing: &Outgoing,
    budget: &Budget,
    scope: Option<&RequestScope>,
) -> Result<Routed, AppError> {
    let nodes = cluster::nodes(config, ctx).await;
    let calls = Cell::new(0);
    let (target, reply) = match access {
        Access::Read => {
            let targets = read_targets(&edge.point, &nodes, &config.max_replica_lag);
            let last = targets.last().cloned();
            let waits = replica_waits(config, edge, &nodes, &targets, outgoing);
            let served = first_that_serves(
                &targets,
                |target| {
                    let budget = if Some(&target) == last.as_ref() {
                        *budget
                    } else {
                        budget.first_half()
                    };
                    let wait_ms = waits.iter().find(|(t, _)| *t == target).map(|(_, ms)| *ms);
                    let sending = Sending {
                        config,
                        outgoing,
                        calls: &calls,
                        scope,
                    };
                    attempt_read(sending, target, budget, wait_ms)
                },
                |target, evidence| cluster::record_failure(config, target.region(), evidence),
            )
            .await?;
            (served.target, served.response)
        }
        Access::Write => {
            let target = write_target(&nodes).map_err(|no| AppError::Unavailable {
                reason: no.reason(),
                retry_after_secs: 2,
            })?;
            let sending = Sending {
                config,
                outgoing,
                calls: &calls,
                scope,
            };
            match send(&sending, &target, budget, None).await {
                // PostgREST cannot reach its database: nothing was written.
                Ok(reply) if reply.status == 503 => {
                    cluster::record_failure(config, target.region(), Evidence::Dead);
                    return Err(AppError::Unavailable {
                        reason: format!("{target} cannot reach its database"),
                        retry_after_secs: 2,
                    });
                }
                Ok(reply) => (target, reply),
                // Refused before anything reached PostgREST: safe to say "try again".
                Err(AppError::UpstreamUnreachable { upstream, cause }) => {
                    cluster::record_failure(config, target.region(), Evidence::Dead);
                    return Err(AppError::Unavailable {
                        reason: format!("the primary ({upstream}) is unreachable: {cause}"),
                        retry_after_secs: 2,
                    });
                }
                // Shed before sending: nothing was written, and the node is only busy.
                Err(shed @ AppError::Overloaded { .. }) => return Err(shed),
                // A timeout is not retried: the write may have happened.
                Err(other) => {
                    if let Some(evidence) = evidence_of_error(&other) {
                        cluster::record_failure(config, target.region(), evidence);
                    }
                    return Err(other);
                }
            }
        }
    };
    Ok(Routed {
        target,
        reply,
        calls: calls.get(),
    })
}

/// For a read presenting a consistency token, how long each replica among `targets`
/// may wait for the client's last write ([`replica_wait_ms`]), the next target being
/// what refusing would cost.
fn replica_waits(
    config: &Config,
    edge: &EdgeLocation,
    nodes: &[NodeView],
    targets: &[Target],
    outgoing: &Outgoing,
) -> Vec<(Target, u32)> {
    if outgoing.min_xids.is_none() {
        return Vec::new();
    }
    targets
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.is_primary())
        .filter_map(|(i, t)| {
            let view = |target: &Target| nodes.iter().find(|v| &v.region == target.region());
            let next = targets.get(i + 1).and_then(view);
            let in_vain = cluster::replay_waits_in_vain(config, t.region());
            let wait = replica_wait_ms(config.replica_wait, &edge.point, view(t)?, next, in_vain);
            Some((t.clone(), wait))
        })
        .collect()
}

/// What every call of one routed request shares.
struct Sending<'a> {
    config: &'a Config,
    outgoing: &'a Outgoing,
    /// Calls sent so far.
    calls: &'a Cell<u32>,
    /// The client's request, when there is one: its id travels upstream, its journal
    /// gets each try.
    scope: Option<&'a RequestScope>,
}

async fn attempt_read(
    sending: Sending<'_>,
    target: Target,
    budget: Budget,
    wait_ms: Option<u32>,
) -> Attempt<Reply> {
    let config = sending.config;
    // A node never tried is not a node found slow.
    if budget.expired() {
        return Attempt::Skip {
            error: budget.deadline.expired(&target.to_string()),
            evidence: None,
        };
    }
    match send(&sending, &target, &budget, wait_ms).await {
        Ok(reply) => {
            let status = reply.status;
            // A read allowed to wait for the client's write teaches whether waiting
            // there pays off.
            if wait_ms.is_some_and(|ms| ms > 0) && (status == REPLICA_BEHIND_STATUS || status < 300)
            {
                cluster::record_replay_wait(
                    config,
                    target.region(),
                    status != REPLICA_BEHIND_STATUS,
                );
            }
            if status == REPLICA_BEHIND_STATUS && !target.is_primary() {
                Attempt::Skip {
                    error: AppError::Unavailable {
                        reason: format!("{target} has not replayed the client's last write"),
                        retry_after_secs: 1,
                    },
                    evidence: None,
                }
            } else if status >= 500 {
                Attempt::Skip {
                    error: AppError::UpstreamBadResponse {
                        upstream: target.to_string(),
                        cause: format!("status {status}"),
                    },
                    // 502-504: the node cannot serve now. A 500 is PostgREST failing
                    // on this one request: the next node may do better, but one odd
                    // request says nothing of the node.
                    evidence: evidence_of_status(status),
                }
            } else {
                Attempt::Served(reply)
            }
        }
        // Shed here (busy, not unwell: the next node may have room), slow or failing.
        Err(error) => Attempt::Skip {
            evidence: evidence_of_error(&error),
            error,
        },
    }
}

/// One request to one target, within the node's admission limit and the budget;
/// counted once admitted. A replica is told the token's transactions and how long it
/// may wait for them (`wait_ms`).
async fn send(
    sending: &Sending<'_>,
    target: &Target,
    budget: &Budget,
    wait_ms: Option<u32>,
) -> Result<Reply, AppError> {
    let Sending {
        config,
        outgoing,
        calls,
        scope,
    } = *sending;
    let region = config
        .region(target.region().as_str())
        .ok_or_else(|| AppError::Internal(format!("{target} is not configured")))?;
    let permit = admit(config, target, budget.queue_until_ms).await?;
    let call = Call {
        method: outgoing.method.clone(),
        url: upstream_url(
            &region.postgrest_url,
            &outgoing.path,
            outgoing.query.as_deref(),
        ),
        headers: &outgoing.headers,
        extra_headers: {
            let mut extra: Vec<(&'static str, String)> =
                match (&outgoing.min_xids, target.is_primary()) {
                    (Some(xids), false) => {
                        std::iter::once((consistency::MIN_XID_HEADER, xids.clone()))
                            .chain(
                                wait_ms
                                    .filter(|ms| *ms > 0)
                                    .map(|ms| (consistency::MAX_WAIT_HEADER, ms.to_string())),
                            )
                            .collect()
                    }
                    _ => Vec::new(),
                };
            if let Some(scope) = scope {
                extra.extend(scope.upstream_headers());
            }
            extra
        },
        body: outgoing.body.as_deref(),
    };
    calls.set(calls.get() + 1);
    let sent_at = now_ms();
    let reply = exchange(&target.to_string(), call, &budget.call_deadline()).await;
    if let Some(scope) = scope {
        scope.record_try(UpstreamTry {
            node: target.to_string(),
            status: reply.as_ref().ok().map(|r| r.status),
            failure: reply.as_ref().err().map(super::observe::failure_of),
            sent_ms: sent_at,
            ms: match &reply {
                Ok(reply) => reply.elapsed_ms,
                Err(_) => now_ms().saturating_sub(sent_at),
            },
            replica_wait_ms: reply
                .as_ref()
                .ok()
                .and_then(|r| consistency::replica_waited_ms(&r.headers)),
        });
    }
    if let Ok(answer) = &reply
        && evidence_of_status(answer.status).is_none()
    {
        cluster::record_answer(config, target.region());
    }
    permit.release(match &reply {
        Ok(reply) => Outcome::Answered {
            latency_ms: reply.elapsed_ms as f64,
        },
        // A call cut off by the deadline took at least that long: a latency sample, so
        // the gradient judges it, rather than a drop that shrinks the limit however busy
        // the isolate itself was (a saturated isolate's timeouts compounding into a
        // limit at its floor is a collapse, not protection).
        Err(AppError::UpstreamTimeout { .. }) => Outcome::Answered {
            latency_ms: now_ms().saturating_sub(sent_at) as f64,
        },
        Err(AppError::UpstreamUnreachable { .. }) => Outcome::Dropped,
        Err(_) => Outcome::Abandoned,
    });
    reply
}

/// What the requests a service made went through, for the response's headers.
#[derive(Debug, Default, Clone)]
pub struct Trail {
    /// The last upstream that answered.
    pub last: Option<Target>,
    /// Upstream calls sent for the calls that were answered.
    pub calls: u32,
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
    /// Shared by every call the service makes for this request.
    pub budget: Budget,
    pub trail: RefCell<Trail>,
    /// The client's request; `None` for background work.
    pub scope: Option<&'a RequestScope>,
}

impl RoutedDb<'_> {
    /// For work off any client's request (a cache refresh, the cron): no caller, no
    /// token, a budget from now.
    pub fn background(config: Rc<Config>, edge: EdgeLocation) -> RoutedDb<'static> {
        RoutedDb {
            budget: Budget::starting(&config),
            config,
            ctx: None,
            edge,
            caller_token: None,
            apikey: None,
            min_xids: None,
            trail: RefCell::new(Trail::default()),
            scope: None,
        }
    }
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
        let Routed {
            target,
            reply,
            calls,
        } = route(
            &self.config,
            self.ctx,
            &self.edge,
            request.access,
            &outgoing,
            &self.budget,
            self.scope,
        )
        .await?;
        let mut trail = self.trail.borrow_mut();
        trail.calls += calls;
        if request.access == Access::Write && (200..300).contains(&reply.status) {
            trail.written_xid = write_xid(&reply.headers).or(trail.written_xid);
        }
        trail.last = Some(target);
        Ok(DbReply {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        })
    }
}
