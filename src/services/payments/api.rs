use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::providers::ProviderApi;
use super::{checkout, notification, return_url};
use crate::config::Config;
use crate::db::{Db, DbRequest, Role, rows, rpc};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::orders::service::idempotency_key;
use crate::services::request::{ApiRequest, Problems, whole_number};

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
        Some(Value::String(url)) => match return_url::Rule::from_config(config).problem(url) {
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
        payment = checkout::open(
            provider, settings, config, db, providers, &payment, return_url,
        )
        .await?;
    }
    // The customer's own contact details were for the provider.
    if let Some(fields) = payment.as_object_mut() {
        fields.remove("customer");
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

/// `GET /api/v1/payments/webhooks/{provider}`: providers check that their notification
/// URL answers before they post to it (CinetPay: "must be available to accommodate HTTP
/// requests of type GET and POST and return 200 OK"). 200 for a provider offered here,
/// 404 otherwise; nothing is read or written.
pub fn webhook_ping(req: &ApiRequest, config: &Config) -> Result<ApiResponse, AppError> {
    let name = req.params.first().map_or("", String::as_str);
    if !checkout::offered(config).contains(&name) {
        return Err(AppError::NotFound {
            path: format!("/api/v1/payments/webhooks/{name}"),
        });
    }
    ApiResponse::json(200, &json!({"provider": name, "notifications": "POST"}))
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
    notification::receive(name, req, config, db, providers).await
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
        .eq("id", id.to_string())
        // The log in the order it happened (identity breaks ties within a transaction).
        .order_with_options("created_at", Some("transaction_logs"), true, false)
        .order_with_options("id", Some("transaction_logs"), true, false);
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
        .and_then(whole_number)
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
