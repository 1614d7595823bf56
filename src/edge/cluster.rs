//! The isolate's health cache: what the routing policy decides from. Refreshed inline
//! only when missing or too old; otherwise off the request path (`ctx.wait_until`).

use std::cell::RefCell;
use std::rc::Rc;

use worker::Context;

use super::now_ms;
use super::upstream::PostgrestUpstream;
use crate::config::Config;
use crate::region::RegionCode;
use crate::routing::{Freshness, HealthCache, NodeView};
use crate::services::health::api::probe_regions;
use crate::services::health::model::RegionHealth;
use crate::services::health::service::Probe;

thread_local! {
    static CACHE: RefCell<Option<HealthCache>> = const { RefCell::new(None) };
}

fn with_cache<T>(config: &Config, f: impl FnOnce(&mut HealthCache) -> T) -> T {
    CACHE.with(|cell| {
        let mut cache = cell.borrow_mut();
        f(cache.get_or_insert_with(|| HealthCache::new(u64::from(config.health_ttl_ms))))
    })
}

/// The nodes as the policy should see them now. A stale view is refreshed in the
/// background through `ctx`, or inline when there is none to schedule with.
pub async fn nodes(config: &Rc<Config>, ctx: Option<&Context>) -> Vec<NodeView> {
    let now = now_ms();
    match (with_cache(config, |c| c.freshness(now)), ctx) {
        (Freshness::Fresh, _) => {}
        (Freshness::Stale, Some(ctx)) => {
            if with_cache(config, |c| c.begin_refresh(now)) {
                let config = config.clone();
                ctx.wait_until(async move { refresh(&config).await });
            }
        }
        (Freshness::Stale, None) | (Freshness::Missing, _) => refresh(config).await,
    }
    with_cache(config, |c| c.nodes(&config.regions, now_ms()))
}

async fn refresh(config: &Config) {
    let upstream = PostgrestUpstream::new(config.upstream_timeout_ms);
    let probes = probe_regions(config, &upstream).await;
    ingest(config, probes);
}

/// Fresh probes in, each region's health out (and kept for routing).
pub fn ingest(config: &Config, probes: Vec<Probe>) -> Vec<RegionHealth> {
    let now = now_ms();
    with_cache(config, |c| c.ingest(now, probes))
}

pub fn mark_down(config: &Config, region: &RegionCode) {
    let now = now_ms();
    with_cache(config, |c| c.mark_down(region, now));
}
