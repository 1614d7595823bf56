use serde_json::{Map, Value};

use super::service::{
    COLUMNS, list_request, parse_list_query, validate_product, whole_numbers_as_integers,
};
use crate::db::{Db, DbRequest, Role, rows};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::page::Page;
use crate::services::request::ApiRequest;

const PATH: &str = "/api/v1/products";

fn not_found(req: &ApiRequest) -> AppError {
    AppError::NotFound {
        path: format!("{PATH}/{}", req.params.first().map_or("", String::as_str)),
    }
}

/// Row-level security's refusal, said for this endpoint.
fn own_store_only(err: AppError) -> AppError {
    match err {
        AppError::Rejected {
            status,
            code,
            details,
            ..
        } if code == "42501" => AppError::Rejected {
            status: if status == 401 { 401 } else { 403 },
            code,
            message: "you can only manage products of a store you own".into(),
            details,
            hint: Some("not_store_owner".into()),
        },
        other => other,
    }
}

/// The table's `products_check` (only a physical product has a weight) refusing a change
/// whose body was fine on its own: it conflicts with the product's stored kind (409).
fn weight_needs_physical(err: AppError) -> AppError {
    err.when_sqlstate(
        "23514",
        (409, "PHK409"),
        "only a physical product has a weight",
        "weight_needs_physical",
    )
}

/// `GET /api/v1/products` -> `{items, next_cursor}`.
pub async fn list(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let query = parse_list_query(req)?;
    let rows: Vec<Value> = db.send(list_request(&query)?).await?.json()?;
    ApiResponse::json(200, &Page::from_rows(rows, query.limit))
}

/// `GET /api/v1/products/{id}`.
pub async fn get(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    let id = req.id_param(0, PATH).map_err(|_| not_found(req))?;
    let builder = DbRequest::client()
        .from("products")
        .select(COLUMNS)
        .eq("id", id.to_string());
    let found: Vec<Value> = rows(db, builder, Access::Read, Role::Caller).await?;
    let product = found.into_iter().next().ok_or_else(|| not_found(req))?;
    ApiResponse::json(200, &product)
}

fn body_object(req: &ApiRequest) -> Result<Map<String, Value>, AppError> {
    match req.json::<Value>()? {
        Value::Object(map) => Ok(map),
        _ => Err(AppError::BadRequest {
            message: "the body must be a JSON object".into(),
            details: None,
        }),
    }
}

/// `POST /api/v1/products` (a merchant) -> 201 with the product.
pub async fn create(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let mut body = body_object(req)?;
    validate_product(&body, true)?;
    whole_numbers_as_integers(&mut body);
    let builder = DbRequest::client()
        .from("products")
        .insert(Value::Object(body).to_string())
        .select(COLUMNS);
    let found: Vec<Value> = rows(db, builder, Access::Write, Role::Caller)
        .await
        .map_err(own_store_only)?;
    let product = found
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal("insert returned no row".into()))?;
    ApiResponse::json(201, &product)
}

/// `PATCH /api/v1/products/{id}` (its store's merchant) -> 200 with the product; 404
/// when there is no such product or it is not theirs.
pub async fn update(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let id = req.id_param(0, PATH).map_err(|_| not_found(req))?;
    let mut body = body_object(req)?;
    validate_product(&body, false)?;
    whole_numbers_as_integers(&mut body);
    let builder = DbRequest::client()
        .from("products")
        .eq("id", id.to_string())
        .update(Value::Object(body).to_string())
        .select(COLUMNS);
    let found: Vec<Value> = rows(db, builder, Access::Write, Role::Caller)
        .await
        .map_err(own_store_only)
        .map_err(weight_needs_physical)?;
    let product = found.into_iter().next().ok_or_else(|| not_found(req))?;
    ApiResponse::json(200, &product)
}

/// `DELETE /api/v1/products/{id}` (its store's merchant) -> 204; 404 as for update.
pub async fn delete(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    req.user_id()?;
    let id = req.id_param(0, PATH).map_err(|_| not_found(req))?;
    let builder = DbRequest::client()
        .from("products")
        .eq("id", id.to_string())
        .delete()
        .select("id");
    let found: Vec<Value> = rows(db, builder, Access::Write, Role::Caller)
        .await
        .map_err(own_store_only)?;
    if found.is_empty() {
        return Err(not_found(req));
    }
    Ok(ApiResponse {
        status: 204,
        headers: vec![],
        body: vec![],
    })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use serde_json::json;

    use super::*;
    use crate::test_support::{ScriptedDb, signed_in};

    fn merchant(body: Value, params: &[&str]) -> ApiRequest {
        signed_in("11111111-1111-4111-8111-000000000001", body, params)
    }

    #[test]
    fn an_update_that_matches_nothing_is_404() {
        let db = ScriptedDb::default().answer("/products?", 200, json!([]));
        let req = merchant(
            json!({"price_minor": 100}),
            &["44444444-4444-4444-8444-000000000201"],
        );
        let err = block_on(update(&req, &db)).unwrap_err();
        assert_eq!(err.status(), 404);
        let sent = &db.seen.borrow()[0];
        assert_eq!(
            (sent.method.as_str(), sent.access, sent.role),
            ("PATCH", Access::Write, Role::Caller)
        );
    }

    #[test]
    fn a_weight_for_a_product_stored_as_digital_is_409() {
        let db = ScriptedDb::default().answer(
            "/products?",
            400,
            json!({"code": "23514", "message": "new row for relation \"products\" violates check constraint \"products_check\"", "details": null, "hint": null}),
        );
        let req = merchant(
            json!({"weight_grams": 5}),
            &["44444444-4444-4444-8444-000000000101"],
        );
        let err = block_on(update(&req, &db)).unwrap_err();
        assert_eq!(
            (err.status(), err.body().hint.as_deref()),
            (409, Some("weight_needs_physical"))
        );
    }

    #[test]
    fn rls_refusal_reads_as_own_store_only() {
        let db = ScriptedDb::default().answer(
            "/products",
            403,
            json!({"code": "42501", "message": "new row violates row-level security policy for table \"products\"", "details": null, "hint": null}),
        );
        let body = json!({"store_id": "33333333-3333-4333-8333-000000000002", "kind": "digital", "name": "x",
                          "price_minor": 1, "currency": "EUR"});
        let err = block_on(create(&merchant(body, &[]), &db)).unwrap_err();
        assert_eq!(
            (err.status(), err.body().hint.as_deref()),
            (403, Some("not_store_owner"))
        );
    }

    #[test]
    fn writes_need_a_user() {
        let db = ScriptedDb::default();
        let anon = ApiRequest {
            body: b"{}".to_vec(),
            ..Default::default()
        };
        assert_eq!(block_on(create(&anon, &db)).unwrap_err().status(), 401);
        assert!(db.seen.borrow().is_empty());
    }
}
