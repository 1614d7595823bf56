//! The cron's side of payments: pending payments past their time expire, and payments
//! whose notification may have been lost are settled from what the provider's API says.

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::amount::Currency;
use super::providers::{Provider, ProviderApi};
use crate::config::Config;
use crate::db::{Db, Role, rpc};
use crate::error::AppError;
use crate::routing::Access;

/// Payments asked about in one run: each is one call to its provider.
pub const BATCH: u32 = 50;

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub expired: i64,
    pub checked: u32,
    pub applied: u32,
    /// Providers that failed to answer, or answered what could not be read.
    pub errors: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Open {
    id: Uuid,
    provider: String,
    provider_ref: String,
    currency: String,
}

pub async fn run(
    config: &Config,
    db: &impl Db,
    api: &impl ProviderApi,
) -> Result<Report, AppError> {
    let mut report = Report {
        expired: rpc(
            db,
            "expire_payments",
            &json!({}),
            Access::Write,
            Role::Service,
        )
        .await?,
        ..Report::default()
    };
    let open: Vec<Open> = rpc(
        db,
        "payments_to_reconcile",
        &json!({"max_rows": BATCH}),
        Access::Write,
        Role::Service,
    )
    .await?;
    for payment in open {
        let Some(provider) = Provider::parse(&payment.provider) else {
            continue;
        };
        let Some(settings) = config.payment_provider(provider) else {
            continue;
        };
        let Some(currency) = Currency::parse(&payment.currency) else {
            continue;
        };
        report.checked += 1;
        let status = match provider
            .status(settings, api, &payment.provider_ref, currency)
            .await
        {
            Ok(status) => status,
            Err(err) => {
                report
                    .errors
                    .push(format!("{} {}: {err}", provider.name(), payment.id));
                continue;
            }
        };
        let Some(outcome) = status.outcome.as_status() else {
            continue;
        };
        // One event per state the provider reported, so asking again changes nothing.
        let args = json!({
            "provider": provider.name(),
            "event_id": format!("reconcile:{}:{outcome}", payment.provider_ref),
            "payment_id": payment.id,
            "provider_ref": null,
            "status": outcome,
            "amount_minor": status.amount_minor,
            "payload": {"source": "reconciliation", "currency": status.currency},
        });
        match rpc::<Value>(
            db,
            "apply_provider_event",
            &args,
            Access::Write,
            Role::Service,
        )
        .await
        {
            Ok(result) if result["outcome"] == "applied" => report.applied += 1,
            Ok(_) => {}
            Err(err) => report
                .errors
                .push(format!("{} {}: {err}", provider.name(), payment.id)),
        }
    }
    Ok(report)
}
