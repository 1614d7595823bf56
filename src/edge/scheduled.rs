//! The cron trigger (`[triggers] crons` in wrangler.toml), as the service role on the
//! primary, wherever the health probes find it: partition maintenance, retention
//! (`purge_expired`), then payments (expiry, and reconciliation with the providers' APIs).

use std::rc::Rc;

use serde_json::{Value, json};
use worker::{Env, ScheduleContext, ScheduledEvent, console_error, console_log, event};

use super::load_config;
use super::providers::EdgeProviders;
use super::routed::RoutedDb;
use crate::config::Config;
use crate::db::{Role, rpc};
use crate::error::AppError;
use crate::region::{EdgeLocation, EdgeSource};
use crate::routing::Access;
use crate::services::payments::reconcile;

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    console_error_panic_hook::set_once();
    let config = match load_config(&env) {
        Ok(config) => config,
        Err(errors) => {
            console_error!("cron {}: configuration invalid: {errors}", event.cron());
            return;
        }
    };
    let db = primary_db(&config);
    match maintain_partitions(&db).await {
        Ok(report) => console_log!("cron {}: partition maintenance: {report}", event.cron()),
        Err(err) => console_error!("cron {}: partition maintenance failed: {err}", event.cron()),
    }
    match service_rpc(&primary_db(&config), "purge_expired").await {
        Ok(report) => console_log!("cron {}: retention: {report}", event.cron()),
        Err(err) => console_error!("cron {}: retention failed: {err}", event.cron()),
    }
    // Each provider call gets the upstream budget of its own: the cron has no client
    // waiting, and one slow provider must not starve the others.
    let providers = EdgeProviders::EachCall {
        timeout_ms: u64::from(config.upstream_timeout_ms),
    };
    match reconcile::run(&config, &primary_db(&config), &providers).await {
        Ok(report) => console_log!(
            "cron {}: payments: {}",
            event.cron(),
            serde_json::to_string(&report).unwrap_or_default()
        ),
        Err(err) => console_error!("cron {}: payments failed: {err}", event.cron()),
    }
}

/// A fresh budget per use: each job's calls get the whole upstream budget.
fn primary_db(config: &Rc<Config>) -> RoutedDb<'static> {
    let home = config
        .region(config.default_region.as_str())
        .expect("config guarantees DEFAULT_REGION is configured");
    let edge = EdgeLocation {
        region: home.code.clone(),
        point: home.location,
        source: EdgeSource::Default,
        colo: None,
        city: None,
    };
    RoutedDb::background(config.clone(), edge)
}

async fn maintain_partitions(db: &RoutedDb<'_>) -> Result<Value, AppError> {
    service_rpc(db, "maintain_partitions").await
}

/// A maintenance function of the service role's, without arguments, on the primary.
async fn service_rpc(db: &RoutedDb<'_>, function: &str) -> Result<Value, AppError> {
    rpc(db, function, &json!({}), Access::Write, Role::Service).await
}
