//! Opening a payment at its provider: which providers this deployment can settle, the
//! return URL a client may ask for, and the provider's checkout recorded on the
//! payment (or the payment ended when the provider refuses it for good).

use serde_json::{Value, json};
use uuid::Uuid;

use super::amount::Currency;
use super::providers::{Intent, Provider, ProviderApi, Settings};
use crate::config::{AllowedOrigins, Config};
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

/// Why `url` may not be where a provider sends the customer back, if it may not: an
/// http(s) URL on the gateway's `PUBLIC_URL` or one of `ALLOWED_ORIGINS` (a payment page
/// must not become an open redirect).
pub fn return_url_problem(url: &str, config: &Config) -> Option<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Some("must be an absolute URL".into());
    };
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Some("must be an http:// or https:// URL".into());
    }
    if url.len() > 2000 {
        return Some("must be at most 2000 characters".into());
    }
    let origin = parsed.origin().ascii_serialization();
    let ours = config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .is_some_and(|u| u.origin().ascii_serialization() == origin);
    let allowed = match &config.allowed_origins {
        AllowedOrigins::Any => true,
        AllowedOrigins::List(list) => list.iter().any(|o| o.trim_end_matches('/') == origin),
    };
    (!ours && !allowed)
        .then(|| format!("{origin} is neither PUBLIC_URL nor one of ALLOWED_ORIGINS"))
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
        provider.checkout(settings, api, &intent).await
    } else {
        Err(AppError::Rejected {
            status: 422,
            code: "PHK422".into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::config_with;

    #[test]
    fn return_urls_stay_on_our_origins() {
        let config = config_with(&[
            ("PUBLIC_URL", "https://edge.payhuk.test"),
            ("ALLOWED_ORIGINS", "https://shop.payhuk.test"),
        ]);
        assert_eq!(
            return_url_problem("https://shop.payhuk.test/orders/1", &config),
            None
        );
        assert_eq!(
            return_url_problem("https://edge.payhuk.test/x", &config),
            None
        );
        assert!(return_url_problem("https://evil.test/", &config).is_some());
        assert!(return_url_problem("javascript:alert(1)", &config).is_some());
        assert!(return_url_problem("/relative", &config).is_some());
        assert!(return_url_problem("https://shop.payhuk.test.evil.test/", &config).is_some());
    }
}
