use serde_json::{Map, Value};
use uuid::Uuid;

use crate::db::{DbRequest, Role};
use crate::error::AppError;
use crate::routing::Access;
use crate::services::page::{Cursor, page_params};
use crate::services::request::{ApiRequest, Problems, text_within, whole_number};

/// The highest price (the database's `products_price_bounded`): no order line or total
/// can overflow at it.
pub const MAX_PRICE_MINOR: i64 = 1_000_000_000_000;
pub const COLUMNS: &str = "id,store_id,kind,name,description,price_minor,currency,stock,weight_grams,published,created_at,updated_at";
pub const KINDS: [&str; 3] = ["physical", "digital", "service"];

/// A checked `GET /api/v1/products` query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub store: Option<Uuid>,
    pub kind: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub q: Option<String>,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

fn minor_units(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|v| *v >= 0)
}

pub fn parse_list_query(req: &ApiRequest) -> Result<ListQuery, AppError> {
    let mut p = Problems::default();
    let store = req.query("store").and_then(|raw| {
        let id = Uuid::parse_str(raw).ok();
        p.check(id.is_some(), "store", "must be a store id (uuid)");
        id
    });
    let kind = req.query("kind").map(str::to_owned);
    if let Some(kind) = &kind {
        p.check(
            KINDS.contains(&kind.as_str()),
            "kind",
            "must be physical, digital or service",
        );
    }
    let mut price = |name: &str| {
        req.query(name).and_then(|raw| {
            let v = minor_units(raw);
            p.check(
                v.is_some(),
                name,
                "must be a whole, non-negative amount in minor units",
            );
            v
        })
    };
    let (min_price, max_price) = (price("min_price"), price("max_price"));
    // A range with min_price above max_price is empty: a page of nothing, not an error
    // (no JSON Schema can say one parameter must not exceed another).
    let q = req
        .query("q")
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if let Some(q) = &q {
        p.check(
            q.chars().count() <= 100,
            "q",
            "must be at most 100 characters",
        );
    }
    let (limit, cursor) = page_params(req, &mut p);
    p.finish()?;
    Ok(ListQuery {
        store,
        kind,
        min_price,
        max_price,
        q,
        limit,
        cursor,
    })
}

/// The PostgREST query: newest first, one row more than a page to know if there is a
/// next one. Row-level security decides what the caller may see (anon: published).
pub fn list_request(query: &ListQuery) -> Result<DbRequest, AppError> {
    let mut builder = DbRequest::client()
        .from("products")
        .select(COLUMNS)
        .order("created_at.desc,id.desc")
        .limit(query.limit + 1);
    if let Some(store) = query.store {
        builder = builder.eq("store_id", store.to_string());
    }
    if let Some(kind) = &query.kind {
        builder = builder.eq("kind", kind);
    }
    if let Some(min) = query.min_price {
        builder = builder.gte("price_minor", min.to_string());
    }
    if let Some(max) = query.max_price {
        builder = builder.lte("price_minor", max.to_string());
    }
    if let Some(q) = &query.q {
        builder = builder.wfts("search_vector", q, Some("simple"));
    }
    builder = Cursor::after(query.cursor.as_ref(), builder);
    DbRequest::from_builder(builder, Access::Read, Role::Caller)
}

/// Writes the whole-number fields as integers (`5.0` -> `5`): the database's integer
/// columns refuse `5.0`, JSON Schema's `integer` allows it. Run after validation.
pub fn whole_numbers_as_integers(body: &mut Map<String, Value>) {
    for key in ["price_minor", "stock", "weight_grams"] {
        if let Some(v) = body.get_mut(key)
            && let Some(n) = whole_number(v)
        {
            *v = Value::from(n);
        }
    }
}

/// Checks a product body: every field on create, the given ones on update.
pub fn validate_product(body: &Map<String, Value>, creating: bool) -> Result<(), AppError> {
    let mut p = Problems::default();
    const FIELDS: [&str; 9] = [
        "store_id",
        "kind",
        "name",
        "description",
        "price_minor",
        "currency",
        "stock",
        "weight_grams",
        "published",
    ];
    for key in body.keys() {
        p.check(
            FIELDS.contains(&key.as_str()),
            key.clone(),
            "is not a product field",
        );
    }
    if !creating {
        p.check(!body.is_empty(), "body", "must change at least one field");
        p.check(
            !body.contains_key("store_id"),
            "store_id",
            "cannot be changed",
        );
    }
    let required = |p: &mut Problems, key: &str| {
        if creating && !body.contains_key(key) {
            p.add(key, "is required");
        }
    };
    for key in ["store_id", "kind", "name", "price_minor", "currency"] {
        required(&mut p, key);
    }
    if let Some(v) = body.get("store_id") {
        p.check(
            v.as_str().is_some_and(|s| Uuid::parse_str(s).is_ok()),
            "store_id",
            "must be a store id (uuid)",
        );
    }
    if let Some(v) = body.get("kind") {
        p.check(
            v.as_str().is_some_and(|k| KINDS.contains(&k)),
            "kind",
            "must be physical, digital or service",
        );
    }
    if let Some(v) = body.get("name") {
        p.check(
            v.as_str().is_some_and(|s| text_within(s, 200)),
            "name",
            "must be 1 to 200 characters, not blank",
        );
    }
    if let Some(v) = body.get("description") {
        p.check(
            v.as_str().is_some_and(|s| s.chars().count() <= 10_000),
            "description",
            "must be at most 10000 characters",
        );
    }
    if let Some(v) = body.get("price_minor") {
        p.check(
            whole_number(v).is_some_and(|n| (0..=MAX_PRICE_MINOR).contains(&n)),
            "price_minor",
            "must be a whole amount in minor units from 0 to 1000000000000",
        );
    }
    if let Some(v) = body.get("currency") {
        p.check(
            v.as_str()
                .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())),
            "currency",
            "must be an ISO 4217 code such as XOF",
        );
    }
    if let Some(v) = body.get("stock") {
        p.check(
            v.is_null() || whole_number(v).is_some_and(|n| (0..=i64::from(i32::MAX)).contains(&n)),
            "stock",
            "must be a whole number of units, or null for unlimited",
        );
    }
    if let Some(v) = body.get("weight_grams") {
        p.check(
            v.is_null() || whole_number(v).is_some_and(|n| (0..=i64::from(i32::MAX)).contains(&n)),
            "weight_grams",
            "must be a whole number of grams, or null",
        );
    }
    // The table's check: only a physical product has a weight.
    if let (Some(kind), Some(weight)) = (body.get("kind"), body.get("weight_grams")) {
        p.check(
            kind == "physical" || weight.is_null(),
            "weight_grams",
            "must be null unless kind is physical",
        );
    }
    if let Some(v) = body.get("published") {
        p.check(v.is_boolean(), "published", "must be true or false");
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::problem_fields;

    fn req(query: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            query: query
                .iter()
                .map(|(a, b)| ((*a).into(), (*b).into()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn list_queries_become_postgrest_filters() {
        let query = parse_list_query(&req(&[
            ("store", "33333333-3333-4333-8333-000000000002"),
            ("kind", "physical"),
            ("min_price", "1000"),
            ("max_price", "5000"),
            ("q", "kente scarf"),
            ("limit", "5"),
        ]))
        .unwrap();
        let request = list_request(&query).unwrap();
        assert_eq!(request.access, Access::Read);
        let url = request.path_and_query;
        for part in [
            "store_id=eq.33333333-3333-4333-8333-000000000002",
            "kind=eq.physical",
            "price_minor=gte.1000",
            "price_minor=lte.5000",
            "search_vector=wfts%28simple%29.kente+scarf",
            "order=created_at.desc%2Cid.desc",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
        assert!(
            request.headers.contains(&("range".into(), "0-5".into())),
            "a page and one more row"
        );
    }

    #[test]
    fn bad_list_queries_name_every_field() {
        let err = parse_list_query(&req(&[
            ("store", "nope"),
            ("kind", "gadget"),
            ("min_price", "-1"),
            ("max_price", "2.5"),
            ("limit", "1000"),
        ]))
        .unwrap_err();
        assert_eq!(err.body().message, "5 fields are invalid");
        // An empty range is a query for nothing, not an error.
        let empty = parse_list_query(&req(&[("min_price", "10"), ("max_price", "5")])).unwrap();
        assert_eq!((empty.min_price, empty.max_price), (Some(10), Some(5)));
    }

    #[test]
    fn whole_numbers_written_as_floats_are_taken_and_sent_as_integers() {
        let mut body =
            json!({"store_id": "33333333-3333-4333-8333-000000000001", "kind": "physical",
                              "name": "Mug", "price_minor": 2000.0, "currency": "XOF",
                              "stock": 3.0, "weight_grams": 537.0})
            .as_object()
            .unwrap()
            .clone();
        assert!(validate_product(&body, true).is_ok());
        whole_numbers_as_integers(&mut body);
        assert_eq!(
            (&body["price_minor"], &body["stock"], &body["weight_grams"]),
            (&json!(2000), &json!(3), &json!(537))
        );
        assert_eq!(body["price_minor"].to_string(), "2000");
    }

    #[test]
    fn product_bodies() {
        let ok = json!({"store_id": "33333333-3333-4333-8333-000000000001", "kind": "digital", "name": "Ebook",
                        "price_minor": 2000, "currency": "XOF", "stock": null});
        assert!(validate_product(ok.as_object().unwrap(), true).is_ok());
        let missing = json!({"name": "x"});
        let err = validate_product(missing.as_object().unwrap(), true).unwrap_err();
        assert_eq!(err.body().message, "4 fields are invalid");
        let bad = json!({"price_minor": 19.99, "currency": "eur", "colour": "red", "store_id": "33333333-3333-4333-8333-000000000001"});
        let err = validate_product(bad.as_object().unwrap(), false).unwrap_err();
        let fields = problem_fields(&err);
        assert_eq!(fields, ["colour", "store_id", "price_minor", "currency"]);
        assert!(
            validate_product(json!({}).as_object().unwrap(), false).is_err(),
            "an empty patch"
        );
        // Prices stop where an order of them could overflow.
        for (price, valid) in [
            (json!(MAX_PRICE_MINOR), true),
            (json!(MAX_PRICE_MINOR + 1), false),
            (json!(i64::MAX), false),
            (json!(-1), false),
        ] {
            let body = json!({"price_minor": price});
            assert_eq!(
                validate_product(body.as_object().unwrap(), false).is_ok(),
                valid,
                "{price}"
            );
        }
    }
}
