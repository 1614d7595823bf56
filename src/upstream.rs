//! Calls to a region's PostgREST, as a trait so services stay testable natively.
//! The Workers implementation is `edge::upstream::PostgrestUpstream`.

use crate::config::RegionConfig;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamReply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Wall time of the call, for `latency_ms` and `Server-Timing`.
    pub elapsed_ms: u64,
}

#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Upstream {
    /// POSTs `args` to `/rpc/<function>` on `region`'s PostgREST as `bearer`.
    /// Errors are already classified: unreachable (502) or timed out (504).
    async fn call_rpc(
        &self,
        region: &RegionConfig,
        function: &str,
        args: &serde_json::Value,
        bearer: &str,
    ) -> Result<UpstreamReply, AppError>;
}
