use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::providers::{Provider, ProviderApi};
use super::webhook::{Provider as WebhookProvider, WebhookError};
use super::{checkout, notification};
use crate::config::Config;
use crate::db::{Db, DbRequest, Role, rows, rpc};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::orders::service::idempotency_key;
use crate::services::request::{ApiRequest, Problems};

const COLUMNS: &str = "id,order_id,store_id,customer_id,provider,provider_ref,checkout_url,expires_at,status,amount_minor,currency,captured_minor,refunded_minor,created_at,updated_at,transaction_logs(event,from_status,to_status,amount_minor,created_at)";

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `POST /api/v1/payments` `{order_id, provider, return_url?}` with `Idempotency-Key`
/// -> 201 with a pending payment for the order's total and, for a provider with an
/// adapter, its `checkout_url` (200 when replayed). A provider this deployment cannot
/// settle is refused with 422 `provider_not_supported`, before anything is stored.
pub async fn create(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    providers: &impl ProviderApi,
) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let key = idempotency_key(req)?;
    let body: Value = req.json()?;
    let mut p = Problems::default();
    let order_id = body
        .get("order_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    p.check(order_id.is_some(), "order_id", "must be an order id (uuid)");
    let name = body.get("provider").and_then(Value::as_str).unwrap_or("");
    p.check(!name.is_empty(), "provider", "must name a payment provider");
    let return_url = match body.get("return_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) => match checkout::return_url_problem(url, config) {
            Some(problem) => {
                p.add("return_url", problem);
                None
            }
            None => Some(url.clone()),
        },
        Some(_) => {
            p.add("return_url", "must be a URL");
            None
        }
    };
    p.finish()?;
    let offer = checkout::offer(name, config)?;
    let canonical = json!({"order_id": order_id, "provider": name, "return_url": return_url});
    let args = json!({
        "idempotency_key": key,
        "request_hash": hex_sha256(canonical.to_string().as_bytes()),
        "order_id": order_id,
        "provider": name,
    });
    let mut payment: Value = rpc(db, "create_payment", &args, Access::Write, Role::Caller).await?;
    let replayed = payment
        .as_object_mut()
        .and_then(|o| o.remove("replayed"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if let checkout::Offer::Adapter(provider, settings) = offer
        && payment["status"] == "pending"
        && payment["checkout_url"].is_null()
    {
        let email = req
            .caller
            .as_ref()
            .and_then(|c| c.claims.as_ref())
            .and_then(|c| c.extra.get("email"))
            .and_then(Value::as_str);
        payment = checkout::open(
            provider, settings, config, db, providers, &payment, return_url, email,
        )
        .await?;
    }
    Ok(
        ApiResponse::json(if replayed { 200 } else { 201 }, &payment)?
            .with_header("idempotency-replayed", replayed.to_string()),
    )
}

/// `POST /api/v1/payments/{id}/cancel`: the customer gives up on a pending payment;
/// the order can be paid again at once.
pub async fn cancel(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let path = format!(
        "/api/v1/payments/{}/cancel",
        req.params.first().map_or("", String::as_str)
    );
    let id = req.id_param(0, &path)?;
    let payment: Value = rpc(
        db,
        "cancel_payment",
        &json!({"payment_id": id}),
        Access::Write,
        Role::Caller,
    )
    .await?;
    ApiResponse::json(200, &payment)
}

/// `POST /api/v1/payments/webhooks/{provider}`: a provider's notification. 401 unless
/// signed as the provider signs; confirmed with the provider's API where it says to;
/// applied at most once per event (a redelivery is acknowledged with `"outcome":
/// "duplicate"`); a success for another amount is logged and answered 422.
pub async fn webhook(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
    providers: &impl ProviderApi,
) -> Result<ApiResponse, AppError> {
    let name = req.params.first().map_or("", String::as_str);
    if let Some(provider) = Provider::parse(name)
        && let Some(settings) = config.payment_provider(provider)
    {
        return notification::receive(provider, settings, req, config, db, providers).await;
    }
    let not_enabled = || AppError::NotFound {
        path: format!("/api/v1/payments/webhooks/{name}"),
    };
    let provider = WebhookProvider::parse(name).ok_or_else(not_enabled)?;
    let secret = config
        .webhook_secret(provider.name())
        .ok_or_else(not_enabled)?;
    let refused = |reason: String, hint: &'static str| AppError::Rejected {
        status: 401,
        code: "PHK401".into(),
        message: reason,
        details: None,
        hint: Some(hint.into()),
    };
    provider
        .verify(
            req,
            &req.body,
            secret.expose().as_bytes(),
            req.now,
            i64::from(config.webhook_tolerance_seconds),
        )
        .map_err(|e| match e {
            WebhookError::BadSignature => refused(
                "the notification's signature is not valid".into(),
                "bad_signature",
            ),
            WebhookError::Stale { age_secs } => refused(stale_message(age_secs), "stale_timestamp"),
            WebhookError::Unreadable(why) => AppError::BadRequest {
                message: why,
                details: None,
            },
        })?;
    let note = provider.read(&req.body).map_err(|e| match e {
        WebhookError::Unreadable(why) => {
            AppError::Validation(vec![crate::error::FieldProblem::new("body", why)])
        }
        other => AppError::Internal(format!("reading a verified notification: {other:?}")),
    })?;
    let Some(status) = note.outcome.as_status() else {
        return ApiResponse::json(
            200,
            &json!({"outcome": "ignored", "event_id": note.event_id}),
        );
    };
    let args = json!({
        "provider": provider.name(),
        "event_id": note.event_id,
        "payment_id": note.payment_id,
        "status": status,
        "amount_minor": note.amount_minor,
        "payload": serde_json::from_slice::<Value>(&req.body).unwrap_or(Value::Null),
    });
    let result: Value = rpc(
        db,
        "apply_payment_event",
        &args,
        Access::Write,
        Role::Service,
    )
    .await?;
    ApiResponse::json(200, &result)
}

/// `GET /api/v1/payments/{id}` -> the payment and its log (its customer or merchant).
pub async fn get(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let path = format!(
        "/api/v1/payments/{}",
        req.params.first().map_or("", String::as_str)
    );
    let id = req.id_param(0, &path)?;
    let builder = DbRequest::client()
        .from("payments")
        .select(COLUMNS)
        .eq("id", id.to_string());
    let found = rows(db, builder, Access::Read, Role::Caller).await?;
    let payment = found
        .into_iter()
        .next()
        .ok_or(AppError::NotFound { path })?;
    ApiResponse::json(200, &payment)
}

/// `POST /api/v1/payments/{id}/refunds` `{amount_minor, reason?}` (the store's merchant).
pub async fn refund(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let path = format!(
        "/api/v1/payments/{}/refunds",
        req.params.first().map_or("", String::as_str)
    );
    let id = req.id_param(0, &path)?;
    let body: Value = req.json()?;
    let mut p = Problems::default();
    let amount = body
        .get("amount_minor")
        .and_then(Value::as_i64)
        .filter(|a| *a > 0);
    p.check(
        amount.is_some(),
        "amount_minor",
        "must be a whole, positive amount in minor units",
    );
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(reason) = &reason {
        p.check(
            reason.chars().count() <= 500,
            "reason",
            "must be at most 500 characters",
        );
    }
    p.finish()?;
    let args = json!({"payment_id": id, "amount_minor": amount, "reason": reason});
    let payment: Value = rpc(db, "refund_payment", &args, Access::Write, Role::Caller).await?;
    ApiResponse::json(201, &payment)
}

/// `age_secs` is positive for a signature in the past, negative for one in the future.
pub(super) fn stale_message(age_secs: i64) -> String {
    let when = if age_secs >= 0 {
        format!("{age_secs} s ago")
    } else {
        format!("{} s in the future", -age_secs)
    };
    format!("the notification was signed {when}, outside the tolerance")
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
