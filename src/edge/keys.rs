//! The keys fetched from `JWT_JWKS_URL`, per isolate ([`RemoteKeys`] decides when): the
//! fetch goes through the one upstream client with its own deadline; a request that
//! finds another's fetch under way and nothing known waits for it on its own timer, as
//! for the health cache (Workers cancel I/O awaited across requests).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use worker::{Delay, Method};

use super::now_ms;
use super::upstream::{Call, exchange};
use crate::auth::jwks::KeySet;
use crate::auth::remote::{FetchPlan, RemoteKeys};
use crate::auth::request::FetchedKeys;
use crate::config::Config;
use crate::upstream::Deadline;

/// A JWKS fetch's deadline: a cold isolate's first foreign token waits on it.
const FETCH_TIMEOUT_MS: u64 = 2_000;
/// How often a request waiting on another's fetch looks for its keys.
const AWAIT_POLL_MS: u64 = 10;
/// A key set is a few keys; anything this large is not one.
const MAX_JWKS_BYTES: usize = 64 * 1024;

thread_local! {
    static REMOTE: RefCell<RemoteKeys> = RefCell::new(RemoteKeys::default());
}

pub struct EdgeKeys(pub Rc<Config>);

impl FetchedKeys for EdgeKeys {
    async fn for_kid(&self, kid: Option<&str>) -> Option<KeySet> {
        let url = self.0.jwks_url.as_deref()?;
        let ttl_ms = u64::from(self.0.jwks_ttl_seconds) * 1000;
        match REMOTE.with(|r| r.borrow_mut().plan(now_ms(), ttl_ms, FETCH_TIMEOUT_MS, kid)) {
            FetchPlan::Use => {}
            FetchPlan::Fetch => {
                let outcome = fetch(url).await;
                if let Err(why) = &outcome {
                    worker::console_error!("JWT_JWKS_URL {url}: {why}");
                }
                REMOTE.with(|r| r.borrow_mut().ingest(now_ms(), outcome));
            }
            FetchPlan::Await { until_ms } => {
                while REMOTE.with(|r| r.borrow().keys().is_none()) && now_ms() < until_ms {
                    Delay::from(Duration::from_millis(AWAIT_POLL_MS)).await;
                }
            }
        }
        REMOTE.with(|r| r.borrow().keys().cloned())
    }
}

async fn fetch(url: &str) -> Result<KeySet, String> {
    let deadline = Deadline::starting(now_ms(), FETCH_TIMEOUT_MS);
    let headers = [("accept".to_owned(), "application/json".to_owned())];
    let call = Call {
        method: Method::Get,
        url: url.to_owned(),
        headers: &headers,
        extra_headers: Vec::new(),
        body: None,
    };
    let reply = exchange("jwks", call, &deadline)
        .await
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!("answered {}", reply.status));
    }
    if reply.body.len() > MAX_JWKS_BYTES {
        return Err(format!("{} bytes is not a key set", reply.body.len()));
    }
    let text = std::str::from_utf8(&reply.body).map_err(|_| "not UTF-8".to_owned())?;
    KeySet::parse(text)
}
