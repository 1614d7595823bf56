use std::pin::pin;
use std::time::Duration;

use futures::future::{Either, select};
use postgrest::Postgrest;
use worker::{Date, Delay};

use crate::config::RegionConfig;
use crate::error::AppError;
use crate::upstream::{Upstream, UpstreamReply};

/// Calls PostgREST through the `postgrest` crate (reqwest's fetch backend on wasm),
/// bounded by the configured time budget.
pub struct PostgrestUpstream {
    timeout_ms: u32,
}

impl PostgrestUpstream {
    pub fn new(timeout_ms: u32) -> Self {
        PostgrestUpstream { timeout_ms }
    }
}

impl Upstream for PostgrestUpstream {
    async fn call_rpc(
        &self,
        region: &RegionConfig,
        function: &str,
        args: &serde_json::Value,
        bearer: &str,
    ) -> Result<UpstreamReply, AppError> {
        let upstream = region.code.to_string();
        let started = Date::now().as_millis();
        let call = async {
            let response = Postgrest::new(region.postgrest_url.as_str())
                .rpc(function, args.to_string())
                .auth(bearer)
                .execute()
                .await
                .map_err(|e| AppError::UpstreamUnreachable {
                    upstream: upstream.clone(),
                    cause: e.to_string(),
                })?;
            let status = response.status().as_u16();
            let body = response
                .bytes()
                .await
                .map_err(|e| AppError::UpstreamBadResponse {
                    upstream: upstream.clone(),
                    cause: format!("reading the body: {e}"),
                })?;
            Ok(UpstreamReply {
                status,
                body: body.to_vec(),
                elapsed_ms: Date::now().as_millis().saturating_sub(started),
            })
        };
        let budget = Delay::from(Duration::from_millis(u64::from(self.timeout_ms)));
        match select(pin!(call), pin!(budget)).await {
            Either::Left((result, _)) => result,
            Either::Right(_) => Err(AppError::UpstreamTimeout {
                upstream: region.code.to_string(),
                after_ms: u64::from(self.timeout_ms),
            }),
        }
    }
}
