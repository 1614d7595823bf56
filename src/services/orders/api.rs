use serde_json::{Value, json};

use super::service::{
    COLUMNS, PlaceOrderBody, catalogue_conflict, idempotency_key, lines, request_hash,
};
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
    let mut order: Value = rpc(db, "place_order", &args, Access::Write, Role::Caller)
        .await
        .map_err(catalogue_conflict)?;
    let replayed = order
        .as_object_mut()
        .and_then(|o| o.remove("replayed"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok(ApiResponse::json(if replayed { 200 } else { 201 }, &order)?
        .with_header("idempotency-replayed", replayed.to_string()))
}

/// One page of orders where `column` is `value`, read as the caller.
async fn page_of_orders(
    req: &ApiRequest,
    db: &impl Db,
    column: &str,
    value: String,
) -> Result<ApiResponse, AppError> {
    let (limit, cursor) = checked_page_params(req)?;
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

fn checked_page_params(req: &ApiRequest) -> Result<(usize, Option<Cursor>), AppError> {
    let mut p = Problems::default();
    let page = page_params(req, &mut p);
    p.finish()?;
    Ok(page)
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
    let lookup = |bounds: Option<&(String, String)>| {
        let builder = DbRequest::client()
            .from("orders")
            .select(COLUMNS)
            .eq("id", id.to_string());
        match bounds {
            Some((from, to)) => builder.gte("created_at", from).lt("created_at", to),
            None => builder,
        }
    };
    // The id's millisecond names the month: one partition read, not every month's.
    let bounds = crate::ids::created_at_bounds(&id);
    let mut found: Vec<Value> =
        rows(db, lookup(bounds.as_ref()), Access::Read, Role::Caller).await?;
    // A row older than ids made with created_at, or an id from elsewhere that only
    // looks like version 7, may lie outside it: a miss is asked again, unbounded.
    if found.is_empty() && bounds.is_some() {
        found = rows(db, lookup(None), Access::Read, Role::Caller).await?;
    }
    let order = found
        .into_iter()
        .next()
        .ok_or(AppError::NotFound { path })?;
    ApiResponse::json(200, &order)
}

/// `GET /api/v1/stores/{id}/orders` -> the store's orders, for its owner only (404
/// for anyone else, as if the store had none to show).
pub async fn list_for_store(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let path = format!(
        "/api/v1/stores/{}/orders",
        req.params.first().map_or("", String::as_str)
    );
    let store = req.id_param(0, &path)?;
    let (limit, cursor) = checked_page_params(req)?;
    // One call: `store_orders` checks the store is the caller's (PT404 if not, rather
    // than the caller's own orders there as a customer) and reads the page after it.
    let args = json!({
        "store_id": store,
        "page_size": limit + 1,
        "after_created_at": cursor.as_ref().map(|c| &c.t),
        "after_id": cursor.as_ref().map(|c| &c.id),
    });
    let builder = DbRequest::client()
        .rpc("store_orders", args.to_string())
        .select(COLUMNS);
    let found = rows(db, builder, Access::Read, Role::Caller)
        .await
        .map_err(|e| match e.status() {
            404 => AppError::NotFound { path },
            _ => e,
        })?;
    ApiResponse::json(200, &Page::from_rows(found, limit))
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
    fn a_stores_orders_are_one_call_and_404_for_another_store() {
        let store = "33333333-3333-4333-8333-000000000002";
        let cursor = Cursor {
            t: "2026-11-30T23:59:59.500000+00:00".into(),
            id: "55555555-5555-4555-8555-000000000009".into(),
        };
        let mut req = customer(json!(null), &[], &[store]);
        req.query = vec![
            ("limit".into(), "2".into()),
            ("cursor".into(), cursor.encode().expect("a cursor")),
        ];
        let db = ScriptedDb::default().answer(
            "/rpc/store_orders",
            200,
            json!([
                {"id": "55555555-5555-4555-8555-000000000008", "created_at": "2026-11-30T23:00:00+00:00"},
                {"id": "55555555-5555-4555-8555-000000000007", "created_at": "2026-11-30T22:00:00+00:00"},
                {"id": "55555555-5555-4555-8555-000000000006", "created_at": "2026-11-30T21:00:00+00:00"}
            ]),
        );
        let response = block_on(list_for_store(&req, &db)).unwrap();
        let page: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        assert!(page["next_cursor"].is_string(), "a third row means more");
        let seen = db.seen.borrow();
        assert_eq!(seen.len(), 1, "one round trip");
        assert_eq!((seen[0].access, seen[0].role), (Access::Read, Role::Caller));
        let sent: Value = serde_json::from_slice(seen[0].body.as_ref().unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({"store_id": store, "page_size": 3, "after_created_at": cursor.t,
                   "after_id": cursor.id})
        );

        let refused = ScriptedDb::default().answer(
            "/rpc/store_orders",
            404,
            json!({"code": "PT404", "message": "no store of yours has this id", "details": null, "hint": "unknown_store"}),
        );
        let err = block_on(list_for_store(&req, &refused)).unwrap_err();
        assert_eq!(err.status(), 404);
        assert_eq!(
            err.body().message,
            format!("nothing found at /api/v1/stores/{store}/orders")
        );
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

    #[test]
    fn an_order_by_a_v7_id_is_read_from_its_month_only() {
        // Made 2027-03-01T00:00:00.123Z.
        let id = "01a3fe63-087b-7000-8000-000000000000";
        let db = ScriptedDb::default().answer("/orders?", 200, json!([{"id": id}]));
        block_on(get(&customer(json!(null), &[], &[id]), &db)).unwrap();
        let seen = db.seen.borrow();
        assert_eq!(seen.len(), 1, "found in its month: one request");
        let url = &seen[0].path_and_query;
        assert!(
            url.contains("created_at=gte.2027-03-01T00%3A00%3A00.123Z"),
            "{url}"
        );
        assert!(
            url.contains("created_at=lt.2027-03-01T00%3A00%3A00.124Z"),
            "{url}"
        );
    }

    #[test]
    fn a_miss_in_the_id_s_month_is_asked_again_unbounded() {
        let id = "01a3fe63-087b-7000-8000-000000000000";
        let builder = DbRequest::client()
            .from("orders")
            .select(COLUMNS)
            .eq("id", id);
        let unbounded = DbRequest::from_builder(builder, Access::Read, Role::Caller)
            .unwrap()
            .path_and_query;
        // The bounded ask is the unbounded one plus its created_at filters.
        let bounded: &'static str = Box::leak(format!("{unbounded}&").into_boxed_str());
        let db = ScriptedDb::default()
            .answer(bounded, 200, json!([]))
            .answer("/orders?", 200, json!([{"id": id}]));
        let found = block_on(get(&customer(json!(null), &[], &[id]), &db)).unwrap();
        assert_eq!(found.status, 200);
        let seen = db.seen.borrow();
        assert_eq!(seen.len(), 2);
        assert!(
            !seen[1].path_and_query.contains("created_at="),
            "{}",
            seen[1].path_and_query
        );
    }

    #[test]
    fn an_id_of_another_version_is_read_unbounded_at_once() {
        let id = "55555555-5555-4555-8555-000000000008";
        let db = ScriptedDb::default().answer("/orders?", 200, json!([]));
        let missing = block_on(get(&customer(json!(null), &[], &[id]), &db));
        assert!(matches!(missing, Err(AppError::NotFound { .. })));
        let seen = db.seen.borrow();
        assert_eq!(seen.len(), 1);
        assert!(
            !seen[0].path_and_query.contains("created_at="),
            "{}",
            seen[0].path_and_query
        );
    }
}
