//! A provider's notification: verified as the provider signs it (its adapter, or the
//! local `test` provider), confirmed with the provider's API where the provider says to
//! (or where the notification does not carry the state), then applied once.

use serde_json::{Value, json};

use super::amount::Currency;
use super::providers::{NotificationError, Outcome, PaymentRef, Provider, ProviderApi};
use super::webhook;
use crate::config::Config;
use crate::db::{Db, DbRequest, Role, rows, rpc};
use crate::error::{AppError, FieldProblem};
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::request::ApiRequest;

/// What `transaction_logs` keeps of a notification: JSON bodies as sent; form bodies
/// only by size (PayDunya's carry a hash of the account's master key).
fn kept_payload(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"form_bytes": body.len()}))
}

/// `POST /api/v1/payments/webhooks/{provider}` for a configured provider's adapter, or
/// the local `test` provider; 404 for any other name.
pub async fn receive(
    name: &str,
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    api: &impl ProviderApi,
) -> Result<ApiResponse, AppError> {
    let now = req.now;
    let tolerance = i64::from(config.webhook_tolerance_seconds);
    let adapter = Provider::parse(name)
        .and_then(|provider| Some((provider, config.payment_provider(provider)?)));
    let note = match (adapter, config.webhook_secret("test")) {
        (Some((provider, settings)), _) => {
            provider.notification(settings, req, &req.body, now, tolerance)
        }
        (None, Some(secret)) if name == "test" => {
            webhook::notification(req, &req.body, secret.expose().as_bytes(), now, tolerance)
        }
        _ => {
            return Err(AppError::NotFound {
                path: format!("/api/v1/payments/webhooks/{name}"),
            });
        }
    };
    let refused = |message: String, hint: &'static str| AppError::Rejected {
        status: 401,
        code: "PHK401".into(),
        message,
        details: None,
        hint: Some(hint.into()),
    };
    let note = note.map_err(|e| match e {
        NotificationError::BadSignature => refused(
            "the notification's signature is not valid".into(),
            "bad_signature",
        ),
        NotificationError::Stale { age_secs } => {
            refused(stale_message(age_secs), "stale_timestamp")
        }
        NotificationError::Unreadable(why) => {
            AppError::Validation(vec![FieldProblem::new("body", why)])
        }
    })?;
    let (outcome, amount_minor, event_id) = match adapter {
        Some((provider, settings)) if note.confirm => {
            let known = find(provider, &note.payment, db).await?;
            let status = provider
                .status(settings, api, &known.provider_ref, known.currency)
                .await?;
            // The same notice can precede different states (CinetPay sends one per
            // change, all alike): the state confirmed is part of the event.
            let event_id = match status.outcome.as_status() {
                Some(state) => format!("{}>{state}", note.event_id),
                None => note.event_id.clone(),
            };
            (status.outcome, Some(status.amount_minor), event_id)
        }
        _ => (note.outcome, note.amount_minor, note.event_id.clone()),
    };
    let Some(status) = outcome.as_status() else {
        return ApiResponse::json(
            200,
            &json!({"outcome": "ignored", "event_id": event_id, "state": state_name(&outcome)}),
        );
    };
    let (payment_id, provider_ref) = match &note.payment {
        PaymentRef::Payment(id) => (Some(*id), None),
        PaymentRef::Provider(reference) => (None, Some(reference.clone())),
    };
    let args = json!({
        "provider": name,
        "event_id": event_id,
        "payment_id": payment_id,
        "provider_ref": provider_ref,
        "status": status,
        "amount_minor": amount_minor,
        "payload": kept_payload(&req.body),
    });
    let result: Value = rpc(
        db,
        "apply_provider_event",
        &args,
        Access::Write,
        Role::Service,
    )
    .await?;
    if result["outcome"] == "amount_mismatch" {
        return Err(AppError::Rejected {
            status: 422,
            code: "PHK422".into(),
            message: "the notified amount is not the payment's".into(),
            details: None,
            hint: Some("amount_mismatch".into()),
        });
    }
    ApiResponse::json(200, &result)
}

/// `age_secs` is positive for a signature in the past, negative for one in the future.
fn stale_message(age_secs: i64) -> String {
    let when = if age_secs >= 0 {
        format!("{age_secs} s ago")
    } else {
        format!("{} s in the future", -age_secs)
    };
    format!("the notification was signed {when}, outside the tolerance")
}

fn state_name(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Pending => "pending",
        Outcome::Other(name) => name,
        Outcome::Succeeded | Outcome::Failed | Outcome::Cancelled => "",
    }
}

/// A payment as the provider knows it.
pub struct Known {
    pub provider_ref: String,
    pub currency: Currency,
}

/// The payment a notification names, of this provider: 404 `unknown_payment` otherwise.
pub async fn find(
    provider: Provider,
    payment: &PaymentRef,
    db: &impl Db,
) -> Result<Known, AppError> {
    let builder = DbRequest::client()
        .from("payments")
        .select("provider_ref,currency")
        .eq("provider", provider.name());
    let builder = match payment {
        PaymentRef::Payment(id) => builder.eq("id", id.to_string()),
        PaymentRef::Provider(reference) => builder.eq("provider_ref", reference),
    };
    let found = rows(db, builder, Access::Write, Role::Service).await?;
    let unknown = || AppError::Rejected {
        status: 404,
        code: "PT404".into(),
        message: "no such payment for this provider".into(),
        details: None,
        hint: Some("unknown_payment".into()),
    };
    let row = found.into_iter().next().ok_or_else(unknown)?;
    Ok(Known {
        provider_ref: row["provider_ref"].as_str().ok_or_else(unknown)?.to_owned(),
        currency: row["currency"]
            .as_str()
            .and_then(Currency::parse)
            .ok_or_else(|| AppError::Internal(format!("payment currency {}", row["currency"])))?,
    })
}

#[cfg(test)]
mod tests {
    use super::stale_message;

    #[test]
    fn a_stale_signature_says_which_way_it_is_off() {
        assert_eq!(
            stale_message(600),
            "the notification was signed 600 s ago, outside the tolerance"
        );
        assert_eq!(
            stale_message(-45),
            "the notification was signed 45 s in the future, outside the tolerance"
        );
    }
}
