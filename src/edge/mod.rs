//! The Workers glue: the fetch entry point and the adapters between `worker` types
//! and the pure modules. Request handling is a short list of named phases.

mod env;
mod response;
pub(crate) mod upstream;

use std::cell::OnceCell;
use std::rc::Rc;

use worker::{Context, Env, Request, Response, console_error, event};

use crate::config::{Config, ConfigErrors};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::region::{self, EdgeLocation, HeaderLookup};
use crate::router::{self, Route};
use crate::services::health;

thread_local! {
    /// Vars and secrets are fixed for an isolate's life, so they are parsed once.
    static CONFIG: OnceCell<Result<Rc<Config>, ConfigErrors>> = const { OnceCell::new() };
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    console_error_panic_hook::set_once();
    let head = req.method() == worker::Method::Head;
    let (edge, result) = handle(&req, &env).await;
    let mut response = result.unwrap_or_else(|err| {
        if let Some(line) = err.log_line() {
            console_error!("{} {}: {line}", req.method(), req.path());
        }
        ApiResponse::from(&err)
    });
    if let Some(edge) = edge {
        response = response.with_header("x-payhuk-region", edge.region.as_str());
    }
    response::into_worker(response, head)
}

async fn handle(req: &Request, env: &Env) -> (Option<EdgeLocation>, Result<ApiResponse, AppError>) {
    let config = match load_config(env) {
        Ok(config) => config,
        Err(errors) => return (None, Err(errors.into())),
    };
    let edge = match region::locate_edge(&RequestHeaders(req), &config) {
        Ok(edge) => edge,
        Err(err) => return (None, Err(err)),
    };
    let result = dispatch(req, &config, edge.clone()).await;
    (Some(edge), result)
}

async fn dispatch(
    req: &Request,
    config: &Config,
    edge: EdgeLocation,
) -> Result<ApiResponse, AppError> {
    let method = req.method();
    match router::resolve(method.as_ref(), &req.path())? {
        Route::Health => {
            let upstream = upstream::PostgrestUpstream::new(config.upstream_timeout_ms);
            health::api::get_health(config, edge, &upstream, now_rfc3339()).await
        }
    }
}

fn load_config(env: &Env) -> Result<Rc<Config>, ConfigErrors> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| Config::from_source(&env::EnvSource(env)).map(Rc::new))
            .clone()
    })
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct RequestHeaders<'a>(&'a Request);

impl HeaderLookup for RequestHeaders<'_> {
    fn header(&self, name: &str) -> Option<String> {
        self.0.headers().get(name).ok().flatten()
    }
}
