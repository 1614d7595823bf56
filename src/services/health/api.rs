use super::model::RegionHealth;
use super::service::{Probe, build_report, partition_warnings, probe_all};
use crate::config::Config;
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::region::EdgeLocation;
use crate::upstream::Upstream;

/// Always 200 when the gateway itself works: a dead region is news, not a failure.
/// `ingest` turns the probes into regions' health (and keeps them for routing);
/// the warnings are read from the probes first, as routing has no use for them.
pub async fn get_health<U: Upstream>(
    config: &Config,
    edge: EdgeLocation,
    upstream: &U,
    checked_at: String,
    ingest: impl FnOnce(Vec<Probe>) -> Vec<RegionHealth>,
) -> Result<ApiResponse, AppError> {
    let probes = probe_regions(config, upstream).await;
    let warnings = partition_warnings(&probes);
    let report = build_report(edge, checked_at, ingest(probes), warnings);
    Ok(ApiResponse::json(200, &report)?.with_header("cache-control", "no-store"))
}

/// Every region probed now.
pub async fn probe_regions<U: Upstream>(config: &Config, upstream: &U) -> Vec<Probe> {
    probe_all(upstream, &config.regions, config.service_role_key.expose()).await
}
