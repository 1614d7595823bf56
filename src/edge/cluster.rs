//! The isolate's health cache: what the routing policy decides from. One probe round
//! at a time per isolate (`HealthCache::plan`): a stale view is refreshed off the
//! request path (`ctx.wait_until`); with none yet, one request probes and the others
//! wait for its snapshot, each on its own timer, so no request awaits another
//! request's I/O (Workers cancel that once the other request ends).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use worker::{Context, Delay};

use super::now_ms;
use super::upstream::RpcClient;
use crate::config::Config;
use crate::region::RegionCode;
use crate::routing::{Evidence, HealthCache, NodeView, RefreshPlan};
use crate::services::health::api::probe_regions;
use crate::services::health::model::HealthSnapshot;
use crate::services::health::service::Probe;

/// How often a request waiting on another's probe round looks for its snapshot.
const AWAIT_POLL_MS: u64 = 10;

thread_local! {
    static CACHE: RefCell<Option<HealthCache>> = const { RefCell::new(None) };
}

fn with_cache<T>(config: &Config, f: impl FnOnce(&mut HealthCache) -> T) -> T {
    CACHE.with(|cell| {
        let mut cache = cell.borrow_mut();
        f(cache.get_or_insert_with(|| {
            HealthCache::new(
                u64::from(config.health_ttl_ms),
                u64::from(config.health_probe_timeout_ms),
            )
        }))
    })
}

/// Probes first when the isolate's snapshot asks for it (see [`RefreshPlan`]).
async fn refreshed(config: &Rc<Config>, ctx: Option<&Context>) {
    match with_cache(config, |c| c.plan(now_ms())) {
        RefreshPlan::Use => {}
        RefreshPlan::UseAndRefresh => match ctx {
            Some(ctx) => {
                let config = config.clone();
                ctx.wait_until(async move { refresh(&config).await });
            }
            // Already off the request path (a background task, the cron): inline.
            None => refresh(config).await,
        },
        RefreshPlan::ProbeNow => refresh(config).await,
        RefreshPlan::AwaitRound { until_ms } => {
            while !with_cache(config, |c| c.has_snapshot()) && now_ms() < until_ms {
                Delay::from(Duration::from_millis(AWAIT_POLL_MS)).await;
            }
        }
    }
}

/// The last probe round, as `/health` shows it; `None` while the isolate's first round
/// has not come back in time.
pub async fn snapshot(config: &Rc<Config>, ctx: &Context) -> Option<HealthSnapshot> {
    refreshed(config, Some(ctx)).await;
    with_cache(config, |c| c.snapshot())
}

/// The nodes as the policy should see them now.
pub async fn nodes(config: &Rc<Config>, ctx: Option<&Context>) -> Vec<NodeView> {
    refreshed(config, ctx).await;
    let mut views = with_cache(config, |c| c.nodes(&config.regions));
    if !config.latency_routing {
        for view in &mut views {
            view.measured_rtt_ms = None;
        }
    }
    views
}

async fn refresh(config: &Config) {
    let started = now_ms();
    let upstream = RpcClient::new(config.health_probe_timeout_ms);
    let probes = probe_regions(config, &upstream).await;
    ingest(config, started, probes);
}

/// Probes of a round started at `round_started_ms` in, kept for routing and `/health`.
fn ingest(config: &Config, round_started_ms: u64, probes: Vec<Probe>) {
    let now = now_ms();
    let regions = with_cache(config, |c| c.ingest(round_started_ms, now, probes));
    super::observe::record_round(&regions);
}

/// A request found `region` failing.
pub fn record_failure(config: &Config, region: &RegionCode, evidence: Evidence) {
    let now = now_ms();
    with_cache(config, |c| c.record_failure(region, evidence, now));
}

/// A read allowed to wait at `region` for the client's write was served there
/// (`caught_up`) or refused.
pub fn record_replay_wait(config: &Config, region: &RegionCode, caught_up: bool) {
    let now = now_ms();
    with_cache(config, |c| c.record_replay_wait(region, caught_up, now));
}

/// Whether waiting at `region` for clients' writes has been in vain lately.
pub fn replay_waits_in_vain(config: &Config, region: &RegionCode) -> bool {
    let now = now_ms();
    with_cache(config, |c| c.replay_waits_in_vain(region, now))
}

/// A request got an answer from `region` that was not a gateway failure.
pub fn record_answer(config: &Config, region: &RegionCode) {
    with_cache(config, |c| c.record_answer(region));
}
