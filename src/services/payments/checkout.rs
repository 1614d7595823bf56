//! Opening a payment at its provider: which providers this deployment can settle, the
//! return URL a client may ask for, and the provider's checkout recorded on the
//! payment (or the payment ended when the provider refuses it for good).

use serde_json::{Value, json};
use uuid::Uuid;

use super::amount::Currency;
use super::providers::{Intent, Provider, ProviderApi, Settings};
use crate::config::Config;
use crate::db::{Db, Role, rpc};
use crate::error::AppError;
use crate::routing::Access;

/// How a payment with this provider will settle.
pub enum Offer<'a> {
    /// Through the provider's checkout, by its adapter.
    Adapter(Provider, &'a Settings),
    /// The local stack's `test` provider: settled by notifications signed with
    /// `WEBHOOK_SECRET_TEST`, no checkout.
    Test,
}

/// The providers a client may pay with here, by name.
pub fn offered(config: &Config) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = config
        .payment_providers
        .iter()
        .map(|(p, _)| p.name())
        .collect();
    if config.webhook_secret("test").is_some() {
        names.push("test");
    }
    names
}

/// The offer for `name`, or 422 `provider_not_supported`: a payment that nothing here
/// could ever settle is never created.
pub fn offer<'a>(name: &str, config: &'a Config) -> Result<Offer<'a>, AppError> {
    if let Some(provider) = Provider::parse(name)
        && let Some(settings) = config.payment_provider(provider)
    {
        return Ok(Offer::Adapter(provider, settings));
    }
    if name == "test" && config.webhook_secret("test").is_some() {
        return Ok(Offer::Test);
    }
    let offered = offered(config);
    Err(AppError::Rejected {
        status: 422,
        code: "PHK422".into(),
        message: format!("`{name}` is not a payment provider this gateway can settle"),
        details: Some(if offered.is_empty() {
            "no provider is configured".to_owned()
        } else {
            format!("offered: {}", offered.join(", "))
        }),
        hint: Some("provider_not_supported".into()),
    })
}

/// A provider's validation of the checkout it was asked for is about the order (its
/// total, its customer), never about the request, which names only the order: 409, as
/// for a currency the provider does not take, so the client picks another provider.
fn cannot_take(provider: Provider, error: AppError) -> AppError {
    match error {
        AppError::Validation(problems) => AppError::Rejected {
            status: 409,
            code: "PHK409".into(),
            message: format!(
                "{} cannot take this order: {}",
                provider.name(),
                problems
                    .iter()
                    .map(|p| p.problem.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details: Some(serde_json::to_string(&problems).expect("problems serialize")),
            hint: Some("order_not_payable_with_provider".into()),
        },
        other => other,
    }
}

/// Creates the provider's checkout for the pending `payment` (as `create_payment`
/// answers it, with its `customer`'s e-mail and name) and records it; returns
/// the payment as recorded. A provider's refusal (4xx) ends the payment, so the order
/// can be paid otherwise; an outage (5xx) leaves it pending for a retry with the same
/// `Idempotency-Key`.
pub async fn open(
    provider: Provider,
    settings: &Settings,
    config: &Config,
    db: &impl Db,
    api: &impl ProviderApi,
    payment: &Value,
    return_url: Option<String>,
) -> Result<Value, AppError> {
    let field = |name: &str| {
        payment[name]
            .as_str()
            .ok_or_else(|| AppError::Internal(format!("create_payment gave no {name}")))
    };
    let payment_id = Uuid::parse_str(field("id")?)
        .map_err(|e| AppError::Internal(format!("payment id: {e}")))?;
    let currency = Currency::parse(field("currency")?).ok_or_else(|| {
        AppError::Internal(format!("no minor units known for {}", payment["currency"]))
    })?;
    let public = config.public_url.as_deref().ok_or_else(|| {
        AppError::Internal("config lets no provider in without PUBLIC_URL".into())
    })?;
    let intent = Intent {
        payment_id,
        amount_minor: payment["amount_minor"]
            .as_i64()
            .ok_or_else(|| AppError::Internal("create_payment gave no amount".into()))?,
        currency,
        description: format!("Payhuk order {}", field("order_id")?),
        customer_email: payment["customer"]["email"].as_str().map(str::to_owned),
        customer_name: payment["customer"]["name"].as_str().map(str::to_owned),
        return_url: return_url.unwrap_or_else(|| format!("{public}/api/v1/payments/{payment_id}")),
        notify_url: format!("{public}/api/v1/payments/webhooks/{}", provider.name()),
    };
    let checkout = if provider.accepts(currency) {
        provider
            .checkout(settings, api, &intent)
            .await
            .map_err(|e| cannot_take(provider, e))
    } else {
        // 409, not 422: the request is well formed; it is the order's currency, a fact
        // of the order the document cannot state, that this provider cannot take.
        Err(AppError::Rejected {
            status: 409,
            code: "PHK409".into(),
            message: format!("{} does not take {}", provider.name(), currency.code),
            details: None,
            hint: Some("currency_not_supported".into()),
        })
    };
    match checkout {
        Ok(checkout) => {
            let args = json!({
                "payment_id": payment_id,
                "provider_ref": checkout.provider_ref,
                "checkout_url": checkout.checkout_url,
                "ttl_seconds": config.payment_ttl_seconds,
            });
            rpc(db, "attach_checkout", &args, Access::Write, Role::Service).await
        }
        Err(refused) if refused.status() < 500 => {
            let args = json!({"payment_id": payment_id, "reason": refused.to_string()});
            let _: Value = rpc(db, "fail_checkout", &args, Access::Write, Role::Service).await?;
            Err(refused)
        }
        Err(outage) => Err(outage),
    }
}
