use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::AppError;
use crate::services::request::{ApiRequest, Problems, whole_number};

pub const COLUMNS: &str = "id,store_id,customer_id,status,currency,subtotal_minor,shipping_minor,total_minor,created_at,updated_at,order_items(product_id,quantity,unit_price_minor,line_total_minor)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderBody {
    pub items: Vec<serde_json::Value>,
}

/// One checked line: what is sent to the database, and what the request hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub product_id: Uuid,
    pub quantity: u32,
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub fn idempotency_key(req: &ApiRequest) -> Result<String, AppError> {
    let key = req.header("idempotency-key").map(str::trim).unwrap_or("");
    let mut p = Problems::default();
    p.check(
        !key.is_empty(),
        "Idempotency-Key",
        "header is required to place an order",
    );
    p.check(
        key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()),
        "Idempotency-Key",
        "must be 1 to 255 visible ASCII characters",
    );
    p.finish()?;
    Ok(key.to_owned())
}

/// Checks the lines, naming each bad field (`items[2].quantity`). Prices are not
/// taken from the client: a line is a product and a quantity.
pub fn lines(body: &PlaceOrderBody) -> Result<Vec<Line>, AppError> {
    let mut p = Problems::default();
    p.check(
        (1..=100).contains(&body.items.len()),
        "items",
        "must hold 1 to 100 lines",
    );
    let mut lines = Vec::new();
    for (i, item) in body.items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            p.add(
                format!("items[{i}]"),
                "must be an object {product_id, quantity}",
            );
            continue;
        };
        for key in object.keys() {
            p.check(
                key == "product_id" || key == "quantity",
                format!("items[{i}].{key}"),
                "is not accepted (prices come from the catalogue)",
            );
        }
        let product_id = object
            .get("product_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok());
        p.check(
            product_id.is_some(),
            format!("items[{i}].product_id"),
            "must be a product id (uuid)",
        );
        let quantity = object
            .get("quantity")
            .and_then(whole_number)
            .filter(|q| (1..=1000).contains(q));
        p.check(
            quantity.is_some(),
            format!("items[{i}].quantity"),
            "must be a whole number from 1 to 1000",
        );
        if let (Some(product_id), Some(quantity)) = (product_id, quantity) {
            lines.push(Line {
                product_id,
                quantity: quantity as u32,
            });
        }
    }
    p.finish()?;
    Ok(lines)
}

/// The database's refusals of a well-formed cart because of what its products are
/// (`mixed_stores`, `mixed_currencies`) or where it goes (`country_not_served`): the
/// request conflicts with the catalogue's state, 409 like `insufficient_stock`; no
/// schema can state them, so they are not validation (422).
pub fn catalogue_conflict(err: AppError) -> AppError {
    match err {
        AppError::Rejected {
            status: 422,
            code,
            message,
            details,
            hint,
        } if matches!(
            hint.as_deref(),
            Some("mixed_stores" | "mixed_currencies" | "country_not_served")
        ) =>
        {
            AppError::Rejected {
                status: 409,
                code,
                message,
                details,
                hint,
            }
        }
        other => other,
    }
}

/// What the idempotency key is bound to: the checked lines, in the order given.
pub fn request_hash(lines: &[Line]) -> String {
    let canonical = serde_json::to_vec(lines).expect("lines serialize");
    Sha256::digest(canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::problem_fields;

    fn body(items: serde_json::Value) -> PlaceOrderBody {
        serde_json::from_value(json!({ "items": items })).unwrap()
    }

    #[test]
    fn a_whole_quantity_written_as_a_float_is_a_whole_number() {
        // JSON Schema's `integer` counts 2.0 as 2; so do we.
        let ok = lines(&body(
            json!([{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 2.0}]),
        ))
        .unwrap();
        assert_eq!(ok[0].quantity, 2);
        let bad = lines(&body(
            json!([{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 2.5}]),
        ));
        assert_eq!(bad.unwrap_err().status(), 422);
    }

    #[test]
    fn the_catalogue_s_refusals_are_conflicts_and_others_pass() {
        let refused = |hint: &str| AppError::Rejected {
            status: 422,
            code: "PT422".into(),
            message: "m".into(),
            details: None,
            hint: Some(hint.into()),
        };
        for hint in ["mixed_stores", "mixed_currencies", "country_not_served"] {
            assert_eq!(catalogue_conflict(refused(hint)).status(), 409, "{hint}");
        }
        assert_eq!(catalogue_conflict(refused("other")).status(), 422);
    }

    #[test]
    fn lines_are_checked_field_by_field() {
        let ok = lines(&body(
            json!([{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 2}]),
        ))
        .unwrap();
        assert_eq!(ok[0].quantity, 2);
        let err = lines(&body(json!([
            {"product_id": "nope", "quantity": 0},
            {"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1, "unit_price_minor": 1},
            "junk"
        ])))
        .unwrap_err();
        let fields = problem_fields(&err);
        assert_eq!(
            fields,
            [
                "items[0].product_id",
                "items[0].quantity",
                "items[1].unit_price_minor",
                "items[2]"
            ]
        );
        assert!(lines(&body(json!([]))).is_err());
    }

    #[test]
    fn the_hash_binds_key_to_request() {
        let a = lines(&body(
            json!([{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 2}]),
        ))
        .unwrap();
        let b = lines(&body(
            json!([{"quantity": 2, "product_id": "44444444-4444-4444-8444-000000000201"}]),
        ))
        .unwrap();
        let c = lines(&body(
            json!([{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 3}]),
        ))
        .unwrap();
        assert_eq!(
            request_hash(&a),
            request_hash(&b),
            "key order in JSON does not matter"
        );
        assert_ne!(request_hash(&a), request_hash(&c));
        assert_eq!(request_hash(&a).len(), 64);
    }

    #[test]
    fn idempotency_keys() {
        let req = |key: Option<&str>| ApiRequest {
            headers: key
                .map(|k| ("idempotency-key".to_owned(), k.to_owned()))
                .into_iter()
                .collect(),
            ..Default::default()
        };
        assert_eq!(idempotency_key(&req(Some("order-1"))).unwrap(), "order-1");
        assert_eq!(idempotency_key(&req(None)).unwrap_err().status(), 422);
        assert!(idempotency_key(&req(Some("has space"))).is_err());
        assert!(idempotency_key(&req(Some(&"k".repeat(256)))).is_err());
    }
}
