//! The cron trigger (`[triggers] crons` in wrangler.toml): partition maintenance on the
//! primary, as the service role, wherever the health probes find the primary to be.

use std::rc::Rc;

use serde_json::{Value, json};
use worker::{Env, ScheduleContext, ScheduledEvent, console_error, console_log, event};

use super::load_config;
use super::routed::RoutedDb;
use crate::config::Config;
use crate::db::{Role, rpc};
use crate::error::AppError;
use crate::region::{EdgeLocation, EdgeSource};
use crate::routing::Access;

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
    match maintain_partitions(&config).await {
        Ok(report) => console_log!("cron {}: partition maintenance: {report}", event.cron()),
        Err(err) => console_error!("cron {}: partition maintenance failed: {err}", event.cron()),
    }
}

async fn maintain_partitions(config: &Rc<Config>) -> Result<Value, AppError> {
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
    let db = RoutedDb::background(config.clone(), edge);
    rpc(
        &db,
        "maintain_partitions",
        &json!({}),
        Access::Write,
        Role::Service,
    )
    .await
}
