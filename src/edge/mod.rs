//! The Workers glue: the fetch entry point and the adapters between `worker` types
//! and the pure modules. Request handling is a short list of named phases:
//! configuration, CORS preflight, edge location, route, dispatch, finish.

mod admission;
mod assets;
mod cluster;
mod env;
mod keys;
mod observe;
mod providers;
mod response;
mod rest;
mod routed;
mod scheduled;
mod services;
mod upstream;
mod webcrypto;

use std::cell::OnceCell;
use std::rc::Rc;

use worker::{Context, Date, Env, Request, Response, event};

use crate::config::{Config, ConfigErrors};
use crate::cors;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::observe::RequestScope;
use crate::region::{self, EdgeLocation, HeaderLookup, PlatformHints};
use crate::router::{self, Route};
use crate::services::{auth, health, openapi, status};
use webcrypto::WebCrypto;

thread_local! {
    /// Vars and secrets are fixed for an isolate's life, so they are parsed once.
    static CONFIG: OnceCell<Result<Rc<Config>, ConfigErrors>> = const { OnceCell::new() };
    /// Derived from the JWT secret once, not per request (an HMAC each time).
    static CONSISTENCY_KEY: OnceCell<[u8; 32]> = const { OnceCell::new() };
}

/// The key consistency tokens are signed with, for this isolate's configuration.
fn consistency_key(config: &Config) -> [u8; 32] {
    CONSISTENCY_KEY.with(|key| {
        *key.get_or_init(|| crate::consistency::token_key(config.jwt_secret.expose().as_bytes()))
    })
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    console_error_panic_hook::set_once();
    let scope = observe::begin(&req);
    let method = req.inner().method();
    let head = method == "HEAD";
    let (finish, result) = handle(&mut req, &env, &ctx, &scope).await;
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            if let Some(line) = err.log_line() {
                scope.record_error(line);
            }
            response::into_worker(ApiResponse::from(&err), head)?
        }
    };
    let headers = response.headers_mut();
    if let Some(edge) = &finish.edge {
        headers.set("x-payhuk-region", edge.region.as_str())?;
    }
    for (name, value) in finish.cors {
        headers.append(name, &value)?;
    }
    observe::finish(&scope, response, &method, finish.edge.as_ref(), &env)
}

/// What every response gets once it is made, error or not.
#[derive(Default)]
struct Finish {
    edge: Option<EdgeLocation>,
    cors: Vec<(&'static str, String)>,
}

async fn handle(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    scope: &RequestScope,
) -> (Finish, Result<Response, AppError>) {
    let mut finish = Finish::default();
    let config = match load_config(env) {
        Ok(config) => config,
        Err(errors) => return (finish, Err(errors.into())),
    };
    let origin = req.headers().get("origin").ok().flatten();
    if let Some(answer) = answer_preflight(req, &config, origin.as_deref()) {
        return (finish, answer);
    }
    finish.cors = cors::response_headers(&config.allowed_origins, origin.as_deref());
    let edge =
        match region::locate_edge(&RequestHeaders(req), &platform_hints(req, &config), &config) {
            Ok(edge) => edge,
            Err(err) => return (finish, Err(err)),
        };
    let result = dispatch(req, env, &config, &edge, ctx, scope).await;
    finish.edge = Some(edge);
    (finish, result)
}

/// A CORS preflight (`OPTIONS` with an origin and `Access-Control-Request-Method`) is
/// answered at the edge; any other request goes on.
fn answer_preflight(
    req: &Request,
    config: &Config,
    origin: Option<&str>,
) -> Option<Result<Response, AppError>> {
    if req.method() != worker::Method::Options {
        return None;
    }
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let method = header("access-control-request-method")?;
    let asked_headers = header("access-control-request-headers");
    let request = cors::Preflight {
        origin: origin?,
        method: &method,
        headers: asked_headers.as_deref(),
    };
    Some(
        cors::preflight(&config.allowed_origins, &req.path(), &request)
            .and_then(|answer| response::into_worker(answer, false).map_err(glue_error)),
    )
}

async fn dispatch(
    req: &mut Request,
    env: &Env,
    config: &Rc<Config>,
    edge: &EdgeLocation,
    ctx: &Context,
    scope: &RequestScope,
) -> Result<Response, AppError> {
    let head = req.method() == worker::Method::Head;
    let url = req.url().map_err(glue_error)?;
    crate::http::check_request_target(url.path(), url.query())?;
    // The method as sent: workers-rs reads a name it does not know (`QUERY`) as GET.
    let matched = router::resolve(&req.inner().method(), &req.path())?;
    if let Some(pattern) = router::pattern_of(matched.route) {
        scope.set_route(pattern);
    }
    match matched.route {
        Route::Health => {
            let now = (now_ms() / 1000) as i64;
            let keys = keys::EdgeKeys(config.clone());
            let audience =
                health::api::audience(&RequestHeaders(req), config, &keys, &WebCrypto, now).await?;
            let snapshot =
                cluster::snapshot(config, ctx)
                    .await
                    .ok_or_else(|| AppError::Unavailable {
                        reason: "the first probe of the regions has not answered yet".into(),
                        retry_after_secs: 1,
                    })?;
            let reply = health::api::report(audience, edge.clone(), snapshot)?;
            response::into_worker(reply, head).map_err(glue_error)
        }
        Route::Status => {
            let page = assets::text(env, status::ASSET).await?;
            response::into_worker(status::page(&page)?, head).map_err(glue_error)
        }
        Route::StatusHistory => {
            let now = (now_ms() / 1000) as i64;
            let keys = keys::EdgeKeys(config.clone());
            let audience =
                health::api::audience(&RequestHeaders(req), config, &keys, &WebCrypto, now).await?;
            let reply = status::history(audience, &observe::history())?;
            response::into_worker(reply, head).map_err(glue_error)
        }
        Route::OpenApi => {
            let base = assets::text(env, openapi::ASSET).await?;
            response::into_worker(openapi::document(config, &base)?, head).map_err(glue_error)
        }
        Route::Jwks => response::into_worker(auth::api::jwks(config)?, head).map_err(glue_error),
        Route::Rest => rest::forward(req, &url, config, edge, ctx, scope).await,
        _ => services::serve(req, &url, &matched, config, edge, ctx, scope).await,
    }
}

fn load_config(env: &Env) -> Result<Rc<Config>, ConfigErrors> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| Config::from_source(&env::EnvSource(env)).map(Rc::new))
            .clone()
    })
}

/// `request.cf`, read without the worker crate's unwraps: a runtime that has no `cf`
/// (plain workerd) or a partial one must cost the location hint, not the isolate.
fn platform_hints(req: &Request, config: &Config) -> PlatformHints {
    use worker::js_sys::Reflect;
    use worker::wasm_bindgen::JsValue;
    if !config.use_cf_location {
        return PlatformHints::default();
    }
    let cf = Reflect::get(
        AsRef::<JsValue>::as_ref(req.inner()),
        &JsValue::from_str("cf"),
    )
    .unwrap_or(JsValue::UNDEFINED);
    if !cf.is_object() {
        return PlatformHints::default();
    }
    let text = |key: &str| {
        Reflect::get(&cf, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    let degrees = |key: &str| text(key).and_then(|v| v.parse::<f64>().ok());
    PlatformHints {
        cf_colo: text("colo"),
        cf_coordinates: degrees("latitude").zip(degrees("longitude")),
    }
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

/// A failure of the Workers runtime itself.
fn glue_error(err: worker::Error) -> AppError {
    AppError::Internal(format!("workers runtime: {err}"))
}

struct RequestHeaders<'a>(&'a Request);

impl HeaderLookup for RequestHeaders<'_> {
    fn header(&self, name: &str) -> Option<String> {
        self.0.headers().get(name).ok().flatten()
    }
}
