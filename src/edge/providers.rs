//! Payment providers' APIs through the one upstream client: a request's calls share
//! its deadline; the cron's each get their own.

use worker::Method;

use super::now_ms;
use super::upstream::{Call, exchange};
use crate::error::AppError;
use crate::services::payments::providers::{ApiCall, ApiReply, ProviderApi};
use crate::upstream::Deadline;

pub enum EdgeProviders {
    /// Within a client request's deadline.
    Within(Deadline),
    /// Outside any request (the cron): this long for each call.
    EachCall { timeout_ms: u64 },
}

impl ProviderApi for EdgeProviders {
    async fn send(&self, provider: &str, call: ApiCall) -> Result<ApiReply, AppError> {
        let method = match call.method {
            "GET" => Method::Get,
            "POST" => Method::Post,
            other => {
                return Err(AppError::Internal(format!(
                    "{provider}: an adapter built a {other} call"
                )));
            }
        };
        let deadline = match self {
            EdgeProviders::Within(deadline) => *deadline,
            EdgeProviders::EachCall { timeout_ms } => Deadline::starting(now_ms(), *timeout_ms),
        };
        let reply = exchange(
            provider,
            Call {
                method,
                url: call.url,
                headers: &call.headers,
                extra_headers: Vec::new(),
                body: (!call.body.is_empty()).then_some(call.body.as_slice()),
            },
            &deadline,
        )
        .await?;
        Ok(ApiReply {
            status: reply.status,
            body: reply.body,
        })
    }
}
