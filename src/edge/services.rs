//! The per-service handlers under `/api/v1`, wired to the Workers runtime: the request
//! becomes an [`ApiRequest`], PostgREST is reached through [`RoutedDb`], and the
//! answer gets the upstream, timing and read-your-writes headers. Anonymous catalogue
//! reads are served from the Workers Cache API.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{Cache, Context, Date, Headers, Request, Response, ResponseBuilder};

use super::rest::read_body;
use super::routed::{RoutedDb, Trail};
use super::{RequestHeaders, glue_error, now_ms, response};
use crate::auth::request::authenticate;
use crate::config::Config;
use crate::consistency::{self, token_key};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::region::EdgeLocation;
use crate::router::{Matched, Route};
use crate::services::request::ApiRequest;
use crate::services::rest::service::{presented_token, server_timing};
use crate::services::{analytics, auth, downloads, orders, payments, products, shipping};

/// Cached catalogue answers are fresh this long, then served stale while refreshed.
const CACHE_FRESH_MS: u64 = 30_000;
const CACHE_STALE_MS: u64 = 60_000;
const CACHED_AT: &str = "x-payhuk-cached-at";

pub async fn serve(
    req: &mut Request,
    matched: &Matched,
    config: &Rc<Config>,
    edge: &EdgeLocation,
    ctx: &Context,
) -> Result<Response, AppError> {
    let now = (Date::now().as_millis() / 1000) as i64;
    let headers = RequestHeaders(req);
    let caller = authenticate(&headers, config, now)?;
    let key = token_key(config.jwt_secret.expose().as_bytes());
    let presented = presented_token(&headers, &key, now);
    let apikey = req.headers().get("apikey").ok().flatten();
    let url = req.url().map_err(glue_error)?;

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
        trail: RefCell::new(Trail::default()),
    };

    let cacheable = matches!(matched.route, Route::ListProducts | Route::GetProduct)
        && caller.token.is_none()
        && presented.is_none();
    if cacheable {
        return cached(url.as_str(), matched.route, api, db, ctx).await;
    }

    // An error after a write (a failed login is recorded) still carries the token, so
    // the client's next read sees that write.
    let answer = handle(matched.route, &api, config, &db)
        .await
        .unwrap_or_else(|err| {
            if let Some(line) = err.log_line() {
                worker::console_error!("{:?}: {line}", matched.route);
            }
            ApiResponse::from(&err)
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

async fn handle(
    route: Route,
    req: &ApiRequest,
    config: &Config,
    db: &RoutedDb<'_>,
) -> Result<ApiResponse, AppError> {
    match route {
        Route::AuthSignup => auth::api::signup(req, config, db).await,
        Route::AuthLogin => auth::api::login(req, config, db).await,
        Route::AuthRefresh => auth::api::refresh(req, config, db).await,
        Route::AuthLogout => auth::api::logout(req, db).await,
        Route::AuthMe => auth::api::me(req, db).await,
        Route::ListProducts => products::api::list(req, db).await,
        Route::CreateProduct => products::api::create(req, db).await,
        Route::GetProduct => products::api::get(req, db).await,
        Route::UpdateProduct => products::api::update(req, db).await,
        Route::DeleteProduct => products::api::delete(req, db).await,
        Route::ListOrders => orders::api::list_mine(req, db).await,
        Route::PlaceOrder => orders::api::place(req, db).await,
        Route::GetOrder => orders::api::get(req, db).await,
        Route::ListStoreOrders => orders::api::list_for_store(req, db).await,
        Route::CreatePayment => payments::api::create(req, db).await,
        Route::GetPayment => payments::api::get(req, db).await,
        Route::RefundPayment => payments::api::refund(req, db).await,
        Route::PaymentWebhook => payments::api::webhook(req, config, db).await,
        Route::ShippingQuote => shipping::api::quote(req, db).await,
        Route::CreateShipment => shipping::api::create(req, db).await,
        Route::GetShipment => shipping::api::get(req, db).await,
        Route::AddShipmentEvent => shipping::api::add_event(req, db).await,
        Route::CreateDownloadLink => downloads::api::create_link(req, config, db).await,
        Route::Download => downloads::api::download(req, config, db).await,
        Route::IngestAnalytics => analytics::api::ingest(req, db).await,
        Route::SalesReport => analytics::api::sales(req, db).await,
        Route::Health | Route::Rest => Err(AppError::Internal(format!(
            "{route:?} is not a service route"
        ))),
    }
}

/// An anonymous catalogue read: from the edge cache when there, refreshed in the
/// background once stale; computed and stored otherwise.
async fn cached(
    url: &str,
    route: Route,
    api: ApiRequest,
    db: RoutedDb<'_>,
    ctx: &Context,
) -> Result<Response, AppError> {
    let cache = Cache::default();
    if let Some(hit) = cache.get(url, false).await.map_err(glue_error)? {
        let cached_at = hit
            .headers()
            .get(CACHED_AT)
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let fresh = now_ms().saturating_sub(cached_at) <= CACHE_FRESH_MS;
        if !fresh {
            // Serve what we have; compute the next one off the request path.
            let (url, config, edge) = (url.to_owned(), db.config.clone(), db.edge.clone());
            ctx.wait_until(async move {
                let db = RoutedDb {
                    config: config.clone(),
                    ctx: None,
                    edge,
                    caller_token: None,
                    apikey: None,
                    min_xids: None,
                    trail: RefCell::new(Trail::default()),
                };
                if let Ok(answer) = handle(route, &api, &config, &db).await {
                    let _ = store(&url, answer).await;
                }
            });
        }
        return relabel(hit, if fresh { "hit" } else { "stale" });
    }

    let answer = handle(route, &api, &db.config.clone(), &db).await?;
    let mut response = response::into_worker(answer.clone(), false).map_err(glue_error)?;
    if answer.status == 200 {
        let url = url.to_owned();
        ctx.wait_until(async move {
            let _ = store(&url, answer).await;
        });
    }
    name_upstream(&mut response, &db.trail.borrow())?;
    response
        .headers_mut()
        .set("x-payhuk-cache", "miss")
        .map_err(glue_error)?;
    Ok(response)
}

/// `x-payhuk-upstream` and `Server-Timing` for the last upstream that answered.
fn name_upstream(response: &mut Response, trail: &Trail) -> Result<(), AppError> {
    if let Some((target, elapsed)) = &trail.last {
        let headers = response.headers_mut();
        headers
            .set("x-payhuk-upstream", &target.to_string())
            .map_err(glue_error)?;
        headers
            .set("server-timing", &server_timing(target, *elapsed))
            .map_err(glue_error)?;
    }
    Ok(())
}

async fn store(url: &str, answer: ApiResponse) -> worker::Result<()> {
    let max_age = (CACHE_FRESH_MS + CACHE_STALE_MS) / 1000;
    let answer = answer
        .with_header("cache-control", format!("public, max-age={max_age}"))
        .with_header(CACHED_AT, now_ms().to_string());
    Cache::default()
        .put(url, response::into_worker(answer, false)?)
        .await
}

/// A cached response with `x-payhuk-cache` set (cached headers are immutable).
fn relabel(mut cached: Response, label: &str) -> Result<Response, AppError> {
    let headers = Headers::new();
    for (name, value) in cached.headers().entries() {
        if name != CACHED_AT {
            headers.append(&name, &value).map_err(glue_error)?;
        }
    }
    headers.set("x-payhuk-cache", label).map_err(glue_error)?;
    let status = cached.status_code();
    let body = cached.cloned().map_err(glue_error)?.body().clone();
    Ok(ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .body(body))
}
