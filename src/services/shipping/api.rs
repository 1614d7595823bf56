use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::{Db, DbRequest, Role, rows, rpc};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::orders::service::{PlaceOrderBody, catalogue_conflict, lines};
use crate::services::request::{ApiRequest, Problems, text_within};

pub const SHIPMENT_STATUSES: [&str; 6] = [
    "label_created",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "exception",
    "returned",
];

fn uuid_field(body: &Value, field: &str, p: &mut Problems) -> Option<Uuid> {
    let id = body
        .get(field)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    p.check(id.is_some(), field, "must be an id (uuid)");
    id
}

fn text_field(
    body: &Value,
    field: &str,
    max: usize,
    required: bool,
    p: &mut Problems,
) -> Option<String> {
    match body.get(field) {
        None | Some(Value::Null) => {
            p.check(!required, field, "is required");
            None
        }
        Some(v) => {
            // Checked as sent (the document's lengths), stored trimmed.
            let text = v.as_str().filter(|t| text_within(t, max)).map(str::trim);
            p.check(
                text.is_some(),
                field,
                format!("must be text of 1 to {max} characters"),
            );
            text.map(str::to_owned)
        }
    }
}

/// `POST /api/v1/shipping/quote` `{store_id, country, items}` -> the options and their
/// prices for this cart.
pub async fn quote(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let body: Value = req.json()?;
    let mut p = Problems::default();
    let store = uuid_field(&body, "store_id", &mut p);
    let country = body
        .get("country")
        .and_then(Value::as_str)
        .map(|c| c.trim().to_ascii_uppercase());
    p.check(
        country
            .as_deref()
            .is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())),
        "country",
        "must be an ISO 3166-1 alpha-2 code such as SN",
    );
    let cart = PlaceOrderBody {
        items: body
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    let items = lines(&cart);
    if let Err(AppError::Validation(problems)) = &items {
        for problem in problems {
            p.add(problem.field.clone(), problem.problem.clone());
        }
    }
    p.finish()?;
    let items = items?;
    let args = json!({"store_id": store, "country": country, "items": items});
    let quote: Value = rpc(db, "shipping_quote", &args, Access::Read, Role::Caller)
        .await
        .map_err(catalogue_conflict)?;
    ApiResponse::json(200, &quote)
}

/// `POST /api/v1/shipments` `{order_id, carrier, tracking_number?}` (the store's
/// merchant, for a paid order) -> 201.
pub async fn create(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let body: Value = req.json()?;
    let mut p = Problems::default();
    let order = uuid_field(&body, "order_id", &mut p);
    let carrier = text_field(&body, "carrier", 80, true, &mut p);
    let tracking = text_field(&body, "tracking_number", 120, false, &mut p);
    p.finish()?;
    let args = json!({"order_id": order, "carrier": carrier, "tracking_number": tracking});
    let shipment: Value = rpc(db, "create_shipment", &args, Access::Write, Role::Caller).await?;
    ApiResponse::json(201, &shipment)
}

/// `POST /api/v1/shipments/{id}/events` `{status, location?, note?, occurred_at?}`.
pub async fn add_event(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let path = format!(
        "/api/v1/shipments/{}/events",
        req.params.first().map_or("", String::as_str)
    );
    let id = req.id_param(0, &path)?;
    let body: Value = req.json()?;
    let mut p = Problems::default();
    let status = body.get("status").and_then(Value::as_str);
    p.check(
        status.is_some_and(|s| SHIPMENT_STATUSES.contains(&s)),
        "status",
        format!("must be one of {}", SHIPMENT_STATUSES.join(", ")),
    );
    let location = text_field(&body, "location", 200, false, &mut p);
    let note = text_field(&body, "note", 1000, false, &mut p);
    let occurred_at = match body.get("occurred_at") {
        Some(raw) => {
            let parsed = raw
                .as_str()
                .and_then(|raw| chrono::DateTime::parse_from_rfc3339(raw).ok());
            p.check(parsed.is_some(), "occurred_at", "must be an RFC 3339 time");
            // In UTC: PostgreSQL refuses offsets beyond 15:59, RFC 3339 allows 23:59.
            parsed.map(|t| t.with_timezone(&chrono::Utc).to_rfc3339())
        }
        None => Some(
            chrono::DateTime::from_timestamp(req.now, 0)
                .unwrap_or_default()
                .to_rfc3339(),
        ),
    };
    p.finish()?;
    let args = json!({"shipment_id": id, "status": status, "occurred_at": occurred_at,
                      "location": location, "note": note});
    let event: Value = rpc(db, "add_shipment_event", &args, Access::Write, Role::Caller).await?;
    ApiResponse::json(201, &event)
}

/// `GET /api/v1/shipments/{id}` -> the shipment and its events (customer or merchant).
pub async fn get(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let path = format!(
        "/api/v1/shipments/{}",
        req.params.first().map_or("", String::as_str)
    );
    let id = req.id_param(0, &path)?;
    let builder = DbRequest::client()
        .from("shipments")
        .select("*,shipment_events(status,location,note,occurred_at)")
        .eq("id", id.to_string());
    let found = rows(db, builder, Access::Read, Role::Caller).await?;
    let shipment = found
        .into_iter()
        .next()
        .ok_or(AppError::NotFound { path })?;
    ApiResponse::json(200, &shipment)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use serde_json::json;

    use super::*;
    use crate::test_support::{ScriptedDb, problem_fields, signed_in};

    #[test]
    fn an_event_time_that_is_not_rfc_3339_text_is_refused_before_any_call() {
        let shipment = "01a2479f-7177-7678-a937-bce50dfc1144";
        for occurred_at in [
            json!({}),
            json!(1_700_000_000),
            json!(null),
            json!("yesterday"),
        ] {
            let req = signed_in(
                "11111111-1111-4111-8111-000000000002",
                json!({"status": "in_transit", "occurred_at": occurred_at}),
                &[shipment],
            );
            let db = ScriptedDb::default();
            let err = block_on(add_event(&req, &db)).unwrap_err();
            assert_eq!(problem_fields(&err), ["occurred_at"], "{occurred_at}");
            assert!(db.seen.borrow().is_empty());
        }
    }
}
