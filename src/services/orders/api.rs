use serde_json::{Value, json};

use super::service::{COLUMNS, PlaceOrderBody, idempotency_key, lines, request_hash};
use crate::db::{Db, DbRequest, Role, rows, rpc};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::page::{Cursor, Page, page_params};
use crate::services::request::{ApiRequest, Problems};

/// `POST /api/v1/orders` with `Idempotency-Key` -> 201 with the order; the same key and
/// lines again -> 200 with the same order; the same key with other lines -> 409.
pub async fn place(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let key = idempotency_key(req)?;
    let body: PlaceOrderBody = req.json()?;
    let lines = lines(&body)?;
    let args =
        json!({"idempotency_key": key, "request_hash": request_hash(&lines), "items": lines});
    let mut order: Value = rpc(db, "place_order", &args, Access::Write, Role::Caller).await?;
    let replayed = order
        .as_object_mut()
        .and_then(|o| o.remove("replayed"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok(ApiResponse::json(if replayed { 200 } else { 201 }, &order)?
        .with_header("idempotency-replayed", replayed.to_string()))
}

async fn page_of_orders(
    req: &ApiRequest,
    db: &impl Db,
    column: &str,
    value: String,
) -> Result<ApiResponse, AppError> {
    let mut p = Problems::default();
    let (limit, cursor) = page_params(req, &mut p);
    p.finish()?;
    let builder = DbRequest::client()
        .from("orders")
        .select(COLUMNS)
        .eq(column, value)
        .order("created_at.desc,id.desc")
        .limit(limit + 1);
    let builder = Cursor::after(cursor.as_ref(), builder);
    let found: Vec<Value> = rows(db, builder, Access::Read, Role::Caller).await?;
    ApiResponse::json(200, &Page::from_rows(found, limit))
}

/// `GET /api/v1/orders` -> the caller's own orders, newest first.
pub async fn list_mine(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let user = req.user_id()?;
    page_of_orders(req, db, "customer_id", user.to_string()).await
}

/// `GET /api/v1/orders/{id}` -> one order the caller may see (theirs, or their
/// store's), else 404.
pub async fn get(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let path = format!(
        "/api/v1/orders/{}",
        req.params.first().map_or("", String::as_str)
    );
    let id = req.id_param(0, &path)?;
    let builder = DbRequest::client()
        .from("orders")
        .select(COLUMNS)
        .eq("id", id.to_string());
    let found: Vec<Value> = rows(db, builder, Access::Read, Role::Caller).await?;
    let order = found
        .into_iter()
        .next()
        .ok_or(AppError::NotFound { path })?;
    ApiResponse::json(200, &order)
}

/// `GET /api/v1/stores/{id}/orders` -> the store's orders, for its owner only (404
/// for anyone else, as if the store had none to show).
pub async fn list_for_store(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let user = req.user_id()?;
    let path = format!(
        "/api/v1/stores/{}/orders",
        req.params.first().map_or("", String::as_str)
    );
    let store = req.id_param(0, &path)?;
    let builder = DbRequest::client()
        .from("stores")
        .select("id")
        .eq("id", store.to_string())
        .eq("owner_id", user.to_string());
    // Both at once, one round trip: the page is read as the caller (row-level security
    // applies) and only answered when the store is theirs.
    let (owned, page) = futures::future::join(
        rows(db, builder, Access::Read, Role::Caller),
        page_of_orders(req, db, "store_id", store.to_string()),
    )
    .await;
    if owned?.is_empty() {
        return Err(AppError::NotFound { path });
    }
    page
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::test_support::{ScriptedDb, signed_in};

    fn customer(body: Value, headers: &[(&str, &str)], params: &[&str]) -> ApiRequest {
        let mut req = signed_in("22222222-2222-4222-8222-000000000001", body, params);
        req.headers.extend(
            headers
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned())),
        );
        req
    }

    #[test]
    fn placing_is_201_and_a_replay_is_200() {
        let items = json!({"items": [{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1}]});
        let req = customer(items, &[("idempotency-key", "k-1")], &[]);
        let first = ScriptedDb::default().answer(
            "/rpc/place_order",
            200,
            json!({"id": "o", "replayed": false}),
        );
        let response = block_on(place(&req, &first)).unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(
            serde_json::from_slice::<Value>(&response.body).unwrap(),
            json!({"id": "o"})
        );
        let sent: Value =
            serde_json::from_slice(first.seen.borrow()[0].body.as_ref().unwrap()).unwrap();
        assert_eq!(sent["idempotency_key"], "k-1");
        assert_eq!(sent["request_hash"].as_str().unwrap().len(), 64);

        let again = ScriptedDb::default().answer(
            "/rpc/place_order",
            200,
            json!({"id": "o", "replayed": true}),
        );
        let response = block_on(place(&req, &again)).unwrap();
        assert_eq!(
            (response.status, response.header("idempotency-replayed")),
            (200, Some("true"))
        );
    }

    #[test]
    fn another_stores_orders_are_404_whatever_the_page_held() {
        // The caller's own orders as a customer of that store pass row-level security:
        // the page is asked for at the same time as the ownership, never answered.
        let db = ScriptedDb::default()
            .answer("/stores?", 200, json!([]))
            .answer("/orders?", 200, json!([{"id": "mine-as-a-customer"}]));
        let req = customer(json!(null), &[], &["33333333-3333-4333-8333-000000000002"]);
        let err = block_on(list_for_store(&req, &db)).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(!err.body().message.contains("mine-as-a-customer"));
        let seen = db.seen.borrow();
        assert_eq!(seen.len(), 2, "both at once, one round trip");
        assert!(seen.iter().all(|r| r.role == Role::Caller));
    }

    #[test]
    fn my_orders_filter_on_me_newest_first() {
        let db = ScriptedDb::default().answer("/orders?", 200, json!([]));
        let req = customer(json!(null), &[], &[]);
        let response = block_on(list_mine(&req, &db)).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&response.body).unwrap(),
            json!({"items": [], "next_cursor": null})
        );
        let url = db.seen.borrow()[0].path_and_query.clone();
        assert!(
            url.contains("customer_id=eq.22222222-2222-4222-8222-000000000001"),
            "{url}"
        );
        assert!(url.contains("order=created_at.desc%2Cid.desc"), "{url}");
    }
}
