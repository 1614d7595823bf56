//! The Workers side of [`crate::observe`]: a request's scope from its headers, and once
//! its response is made, what every response gets (`x-request-id`, `Server-Timing`, the
//! id in an error body) and what is said of it (one JSON line on the console, which
//! Workers Logs parse; the isolate's history; a data point in Workers Analytics Engine
//! when the `METRICS` binding exists, none otherwise).

use std::cell::RefCell;

use worker::{Env, Request, Response, ResponseBody, console_log};

use super::now_ms;
use crate::error::AppError;
use crate::observe::history::History;
use crate::observe::ids::{REQUEST_ID_HEADER, TRACEPARENT_HEADER};
use crate::observe::log::{Outcome, request_line};
use crate::observe::timing::server_timing;
use crate::observe::{RequestScope, UpstreamTry};
use crate::region::EdgeLocation;
use crate::services::health::model::RegionHealth;

/// The Analytics Engine dataset binding; optional.
const METRICS_BINDING: &str = "METRICS";

thread_local! {
    static HISTORY: RefCell<History> = RefCell::new(History::new(now_ms()));
}

pub fn begin(req: &Request) -> RequestScope {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    RequestScope::begin(
        now_ms(),
        header(REQUEST_ID_HEADER).as_deref(),
        header(TRACEPARENT_HEADER).as_deref(),
        header("cf-ray").as_deref(),
    )
}

/// A probe round's results, into the history.
pub fn record_round(regions: &[RegionHealth]) {
    let now = now_ms();
    HISTORY.with(|h| h.borrow_mut().record_round(now, regions));
}

/// The last hour as this isolate saw it, for `/status/history`.
pub fn history() -> crate::observe::history::HistoryReport {
    let now = now_ms();
    HISTORY.with(|h| h.borrow().report(now))
}

/// The failure kind a try is logged with.
pub fn failure_of(error: &AppError) -> &'static str {
    match error {
        AppError::UpstreamUnreachable { .. } => "unreachable",
        AppError::UpstreamTimeout { .. } => "timeout",
        AppError::Overloaded { .. } => "shed",
        _ => "bad_response",
    }
}

/// Finishes `response` for `scope` and says what happened.
pub fn finish(
    scope: &RequestScope,
    response: Response,
    method: &str,
    edge: Option<&EdgeLocation>,
    env: &Env,
) -> worker::Result<Response> {
    let mut response = with_id_in_error_body(scope, response)?;
    let finished = now_ms();
    let journal = scope.journal();
    let headers = response.headers_mut();
    headers.set(REQUEST_ID_HEADER, &scope.id)?;
    headers.set(
        "server-timing",
        &server_timing(&journal, scope.started_ms, finished),
    )?;
    let cache = headers.get("x-payhuk-cache")?;
    let token_issued = headers.has(crate::consistency::HEADER)?;
    let status = response.status_code();
    let bytes = match response.body() {
        ResponseBody::Empty => Some(0),
        ResponseBody::Body(body) => Some(body.len() as u64),
        ResponseBody::Stream(_) => None,
    };
    let outcome = Outcome {
        method,
        status,
        bytes,
        cache: cache.as_deref(),
        token_issued,
        finished_ms: finished,
    };
    console_log!("{}", request_line(scope, edge, &outcome));

    let served_by = journal
        .tries
        .iter()
        .rev()
        .find(|t| t.status.is_some())
        .map(region_of);
    let route = format!("{method} {}", journal.route.unwrap_or("(no route)"));
    let duration = finished.saturating_sub(scope.started_ms);
    HISTORY.with(|h| {
        h.borrow_mut()
            .record_request(finished, &route, served_by, status, duration)
    });
    if let Ok(dataset) = env.analytics_engine(METRICS_BINDING) {
        let upstream_ms: u64 = journal.tries.iter().map(|t| t.ms).sum();
        let point = worker::AnalyticsEngineDataPointBuilder::new()
            .indexes([route.as_str()])
            .add_blob(route.as_str())
            .add_blob(served_by.unwrap_or(crate::observe::history::EDGE))
            .add_blob(edge.map_or("", |e| e.region.as_str()))
            .add_blob(edge.and_then(|e| e.colo.as_deref()).unwrap_or(""))
            .add_blob(cache.as_deref().unwrap_or(""))
            .add_double(f64::from(status))
            .add_double(duration as f64)
            .add_double(upstream_ms as f64)
            .add_double(journal.tries.len() as f64)
            .add_double(bytes.unwrap_or(0) as f64);
        // Metrics must never cost the request.
        let _ = point.write_to(&dataset);
    }
    Ok(response)
}

/// `fra1` of `replica:fra1`.
fn region_of(attempt: &UpstreamTry) -> &str {
    attempt
        .node
        .split_once(':')
        .map_or(attempt.node.as_str(), |(_, region)| region)
}

/// An error's JSON body names the request, so a customer can quote it.
fn with_id_in_error_body(scope: &RequestScope, response: Response) -> worker::Result<Response> {
    let is_json = response
        .headers()
        .get("content-type")?
        .is_some_and(|t| t.contains("json"));
    if response.status_code() < 400 || !is_json {
        return Ok(response);
    }
    let ResponseBody::Body(body) = response.body() else {
        return Ok(response);
    };
    let Some(body) = crate::observe::log::with_request_id(body, &scope.id) else {
        return Ok(response);
    };
    let status = response.status_code();
    let headers = response.headers().clone();
    Ok(Response::from_bytes(body)?
        .with_status(status)
        .with_headers(headers))
}
