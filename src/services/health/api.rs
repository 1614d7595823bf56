use super::service::{build_report, probe_all};
use crate::config::Config;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::region::EdgeLocation;
use crate::upstream::Upstream;

/// Always 200 when the gateway itself works: a dead region is news, not a failure.
pub async fn get_health<U: Upstream>(
    config: &Config,
    edge: EdgeLocation,
    upstream: &U,
    checked_at: String,
) -> Result<ApiResponse, AppError> {
    let probes = probe_all(upstream, &config.regions, config.service_role_key.expose()).await;
    let report = build_report(edge, checked_at, probes);
    Ok(ApiResponse::json(200, &report)?.with_header("cache-control", "no-store"))
}
