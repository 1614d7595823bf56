//! The per-service handlers under `/api/v1`, wired to the Workers runtime: the request
//! becomes an [`ApiRequest`], PostgREST is reached through [`RoutedDb`], and the
//! answer gets the upstream, timing and read-your-writes headers. Anonymous catalogue
//! reads are served from the Workers Cache API.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use worker::{Cache, Context, Date, Delay, Request, Response, Url, console_error};

use super::keys::EdgeKeys;
use super::providers::EdgeProviders;
use super::rest::read_body;
use super::routed::{Budget, RoutedDb, Trail};
use super::webcrypto::WebCrypto;
use super::{RequestHeaders, glue_error, now_ms, response};
use crate::auth::request::authenticate;
use crate::cache::{Freshness, Lookup, MemoryCache};
use crate::config::Config;
use crate::consistency;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::observe::{RequestScope, TokenOutcome};
use crate::region::EdgeLocation;
use crate::router::{Matched, Route};
use crate::routes;
use crate::services;
use crate::services::request::ApiRequest;
use crate::services::rest::service::{UPSTREAM_CALLS_HEADER, UPSTREAM_HEADER, presented_token};

/// Cached catalogue answers are fresh this long, then served stale while refreshed.
const FRESHNESS: Freshness = Freshness {
    fresh_ms: 30_000,
    stale_ms: 60_000,
};
/// What one isolate keeps of them in memory (an isolate has 128 MB).
const MEMORY_BUDGET_BYTES: usize = 4 * 1024 * 1024;
const CACHED_AT: &str = "x-payhuk-cached-at";
/// How often a request waiting on another's fill of the same miss looks for it.
const FILL_POLL_MS: u64 = 10;

pub async fn serve(
    req: &mut Request,
    url: &Url,
    matched: &Matched,
    config: &Rc<Config>,
    edge: &EdgeLocation,
    ctx: &Context,
    scope: &RequestScope,
) -> Result<Response, AppError> {
    let now = (Date::now().as_millis() / 1000) as i64;
    let headers = RequestHeaders(req);
    let keys = EdgeKeys(config.clone());
    let auth_started = now_ms();
    let caller = authenticate(&headers, config, &keys, &WebCrypto, now).await;
    scope.record_auth(auth_started, now_ms());
    let caller = caller?;
    let key = super::consistency_key(config);
    let presented = presented_token(&headers, &key, now);
    scope.record_token(TokenOutcome::of(presented.as_ref()));
    let apikey = req.headers().get("apikey").ok().flatten();

    let api = ApiRequest {
        params: matched.params.clone(),
        query: url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers: req
            .headers()
            .entries()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .collect(),
        body: read_body(req).await?.unwrap_or_default(),
        caller: Some(caller.clone()),
        now,
    };
    let db = RoutedDb {
        config: config.clone(),
        ctx: Some(ctx),
        edge: edge.clone(),
        caller_token: caller.token.clone(),
        apikey,
        min_xids: match &presented {
            Some(Ok(token)) => Some(token.min_xid_header()),
            _ => None,
        },
        budget: Budget::starting(config),
        trail: RefCell::new(Trail::default()),
        scope: Some(scope),
    };

    let cacheable = matches!(matched.route, Route::ListProducts | Route::GetProduct)
        && caller.is_public()
        && presented.is_none();
    if cacheable {
        return cached(url.as_str(), matched.route, api, db, ctx).await;
    }

    // An error after a write (a failed login is recorded) still carries the token, so
    // the client's next read sees that write.
    let providers = EdgeProviders::Within(db.budget.deadline);
    let answer = routes::dispatch(matched.route, &api, config, &db, &WebCrypto, &providers)
        .await
        .unwrap_or_else(|err| {
            if let Some(line) = err.log_line() {
                scope.record_error(line);
            }
            if matched.route.is_gotrue() {
                services::auth::gotrue::error_response(&api, &err)
            } else {
                ApiResponse::from(&err)
            }
        });
    let mut response = response::into_worker(answer, false).map_err(glue_error)?;
    let trail = db.trail.borrow();
    name_upstream(&mut response, &trail)?;
    let headers = response.headers_mut();
    for (name, value) in consistency::response_headers(
        presented.as_ref(),
        trail.written_xid,
        &key,
        now,
        i64::from(config.consistency_ttl_seconds),
    ) {
        headers.append(name, &value).map_err(glue_error)?;
    }
    if matches!(matched.route, Route::ListProducts | Route::GetProduct) {
        headers
            .set("x-payhuk-cache", "bypass")
            .map_err(glue_error)?;
    }
    Ok(response)
}

thread_local! {
    /// This isolate's copy of recent catalogue answers, in front of the Cache API.
    static MEMORY: RefCell<MemoryCache<ApiResponse>> =
        RefCell::new(MemoryCache::new(MEMORY_BUDGET_BYTES, FRESHNESS));
}

/// A public catalogue read (no key, or the anon key alone): from this isolate's memory,
/// else the edge cache, else computed; once stale, served as is while one request's
/// background task refreshes it. Concurrent misses of one URL are computed once.
/// A failing Cache API costs the cache, never the request.
async fn cached(
    url: &str,
    route: Route,
    api: ApiRequest,
    db: RoutedDb<'_>,
    ctx: &Context,
) -> Result<Response, AppError> {
    let lookup = MEMORY.with(|m| m.borrow_mut().get(url, now_ms()));
    let _claim = match lookup {
        Lookup::Filling { until_ms } => {
            // Waits at most half its own budget, so it can still compute it itself.
            let own = db.budget.deadline.first_half(now_ms()).at_ms();
            if let Some(served) = await_fill(url, route, &api, &db, ctx, until_ms.min(own)).await {
                return served;
            }
            None
        }
        Lookup::Miss => Some(FillClaim::new(url, db.budget.deadline.at_ms())),
        hit => match from_memory(hit, url, route, &api, &db, ctx) {
            Some(served) => return served,
            None => None,
        },
    };

    match Cache::default().get(url, false).await {
        Ok(Some(hit)) => {
            let (answer, computed_at) = from_cache(hit).await?;
            remember(url, &answer, computed_at);
            // Through memory, so a stale answer gets exactly one refresh.
            let again = MEMORY.with(|m| m.borrow_mut().get(url, now_ms()));
            return from_memory(again, url, route, &api, &db, ctx).unwrap_or_else(|| {
                refresh_in_background(url, route, api.clone(), &db, ctx);
                labelled(answer, "stale")
            });
        }
        Ok(None) => {}
        Err(e) => console_error!("cache lookup failed, computing instead: {e}"),
    }

    let now = now_ms();
    let providers = EdgeProviders::Within(db.budget.deadline);
    let answer =
        routes::dispatch(route, &api, &db.config.clone(), &db, &WebCrypto, &providers).await?;
    let answer = with_producer(answer, &db.trail.borrow());
    let mut response = response::into_worker(answer.clone(), false).map_err(glue_error)?;
    if answer.status == 200 {
        remember(url, &answer, now);
        let url = url.to_owned();
        ctx.wait_until(async move { store(&url, answer, now).await });
    }
    name_upstream(&mut response, &db.trail.borrow())?;
    response
        .headers_mut()
        .set("x-payhuk-cache", "miss")
        .map_err(glue_error)?;
    Ok(response)
}

/// A memory hit as a response (a stale one refreshed by its one refresher); `None` when
/// the lookup found nothing to serve.
fn from_memory(
    lookup: Lookup<ApiResponse>,
    url: &str,
    route: Route,
    api: &ApiRequest,
    db: &RoutedDb<'_>,
    ctx: &Context,
) -> Option<Result<Response, AppError>> {
    match lookup {
        Lookup::Fresh(answer) => Some(labelled(answer, "hit")),
        Lookup::Stale { value, refresh } => {
            if refresh {
                refresh_in_background(url, route, api.clone(), db, ctx);
            }
            Some(labelled(value, "stale"))
        }
        Lookup::Filling { .. } | Lookup::Miss => None,
    }
}

/// Waits, on this request's own timer, for the request that claimed `url`'s miss to
/// fill it; `None` if it did not by `until_ms` or gave up.
async fn await_fill(
    url: &str,
    route: Route,
    api: &ApiRequest,
    db: &RoutedDb<'_>,
    ctx: &Context,
    until_ms: u64,
) -> Option<Result<Response, AppError>> {
    loop {
        let now = now_ms();
        if now >= until_ms {
            return None;
        }
        Delay::from(Duration::from_millis(FILL_POLL_MS.min(until_ms - now))).await;
        match MEMORY.with(|m| m.borrow_mut().get(url, now_ms())) {
            Lookup::Filling { .. } => {}
            Lookup::Miss => return None,
            hit => return from_memory(hit, url, route, api, db, ctx),
        }
    }
}

/// A claimed miss, released however the request ends (an error, a cancelled request)
/// unless an entry was stored first.
struct FillClaim<'a>(&'a str);

impl<'a> FillClaim<'a> {
    fn new(url: &'a str, until_ms: u64) -> Self {
        MEMORY.with(|m| m.borrow_mut().claim_fill(url, now_ms(), until_ms));
        FillClaim(url)
    }
}

impl Drop for FillClaim<'_> {
    fn drop(&mut self) {
        // Also after a stored entry released it: nothing awaits in between, so no one
        // else can have claimed it again.
        MEMORY.with(|m| m.borrow_mut().release_fill(self.0));
    }
}

fn remember(url: &str, answer: &ApiResponse, computed_at: u64) {
    let size = url.len()
        + answer.body.len()
        + answer
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>();
    MEMORY.with(|m| {
        m.borrow_mut()
            .put(url, answer.clone(), size, computed_at, now_ms())
    });
}

/// Recomputes a catalogue answer off the request path and stores it in both tiers.
fn refresh_in_background(
    url: &str,
    route: Route,
    api: ApiRequest,
    db: &RoutedDb<'_>,
    ctx: &Context,
) {
    let (url, config, edge) = (url.to_owned(), db.config.clone(), db.edge.clone());
    ctx.wait_until(async move {
        let db = RoutedDb::background(config.clone(), edge);
        let providers = EdgeProviders::Within(db.budget.deadline);
        if let Ok(answer) =
            routes::dispatch(route, &api, &config, &db, &WebCrypto, &providers).await
            && answer.status == 200
        {
            let answer = with_producer(answer, &db.trail.borrow());
            let now = now_ms();
            remember(&url, &answer, now);
            store(&url, answer, now).await;
        }
    });
}

/// `x-payhuk-upstream` for the last upstream that answered, and how many upstream
/// calls the request took (`Server-Timing` is the request's, `edge::observe`).
fn name_upstream(response: &mut Response, trail: &Trail) -> Result<(), AppError> {
    let headers = response.headers_mut();
    headers
        .set(UPSTREAM_CALLS_HEADER, &trail.calls.to_string())
        .map_err(glue_error)?;
    if let Some(target) = &trail.last {
        headers
            .set(UPSTREAM_HEADER, &target.to_string())
            .map_err(glue_error)?;
    }
    Ok(())
}

async fn store(url: &str, answer: ApiResponse, computed_at: u64) {
    let max_age = (FRESHNESS.fresh_ms + FRESHNESS.stale_ms) / 1000;
    let answer = answer
        .with_header("cache-control", format!("public, max-age={max_age}"))
        .with_header(CACHED_AT, computed_at.to_string());
    let stored = match response::into_worker(answer, false) {
        Ok(response) => Cache::default().put(url, response).await,
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        console_error!("cache store failed: {e}");
    }
}

/// A Cache API entry back as an answer, and when it was computed.
async fn from_cache(hit: Response) -> Result<(ApiResponse, u64), AppError> {
    let computed_at = hit
        .headers()
        .get(CACHED_AT)
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let headers = hit
        .headers()
        .entries()
        .filter(|(name, _)| name != CACHED_AT && name != "cache-control")
        .collect();
    let body = response::read_whole(&hit).await.map_err(glue_error)?;
    Ok((
        ApiResponse {
            status: hit.status_code(),
            headers,
            body,
        },
        computed_at,
    ))
}

/// A stored answer as a response, with `x-payhuk-cache` saying where it came from; it
/// took no upstream call (the node that computed it is named in the stored answer).
fn labelled(answer: ApiResponse, label: &str) -> Result<Response, AppError> {
    let answer = answer
        .with_header("x-payhuk-cache", label)
        .with_header(UPSTREAM_CALLS_HEADER, "0");
    response::into_worker(answer, false).map_err(glue_error)
}

/// A computed catalogue answer names the node that produced it, so its cached copies do.
fn with_producer(answer: ApiResponse, trail: &Trail) -> ApiResponse {
    match &trail.last {
        Some(target) => answer.with_header(UPSTREAM_HEADER, target.to_string()),
        None => answer,
    }
}
