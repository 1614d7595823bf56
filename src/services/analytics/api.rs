use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::config::Config;
use crate::db::{Db, Role, rpc};
use crate::error::AppError;
use crate::http::ApiResponse;
use crate::routing::Access;
use crate::services::request::{ApiRequest, Problems};

pub const MAX_EVENTS: usize = 100;
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn check_event(i: usize, event: &Value, p: &mut Problems) -> Option<Map<String, Value>> {
    let field = |name: &str| format!("events[{i}].{name}");
    let Some(object) = event.as_object() else {
        p.add(format!("events[{i}]"), "must be an object");
        return None;
    };
    for key in object.keys() {
        p.check(
            ["name", "session_id", "path", "props", "store_id"].contains(&key.as_str()),
            field(key),
            "is not an event field",
        );
    }
    let name_ok = object.get("name").and_then(Value::as_str).is_some_and(|n| {
        !n.is_empty()
            && n.len() <= 64
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b))
    });
    p.check(
        name_ok,
        field("name"),
        "must be 1 to 64 of a-z 0-9 _ . : - starting with a letter",
    );
    p.check(
        object
            .get("session_id")
            .and_then(Value::as_str)
            // In characters, as the document and the table's check count them.
            .is_some_and(|s| (1..=128).contains(&s.chars().count())),
        field("session_id"),
        "must be 1 to 128 characters",
    );
    if let Some(path) = object.get("path") {
        p.check(
            path.as_str().is_some_and(|s| s.chars().count() <= 2048),
            field("path"),
            "must be text of at most 2048 characters",
        );
    }
    if let Some(props) = object.get("props") {
        p.check(
            props.is_object() && props.to_string().len() <= 8192,
            field("props"),
            "must be an object of at most 8 KiB",
        );
    }
    if let Some(store) = object.get("store_id") {
        p.check(
            store.is_null() || store.as_str().is_some_and(|s| Uuid::parse_str(s).is_ok()),
            field("store_id"),
            "must be a store id (uuid) or null",
        );
    }
    // PostgREST inserts a batch only when every object has the same keys.
    let mut row = Map::new();
    for key in ["name", "session_id", "path", "store_id"] {
        row.insert(key.into(), object.get(key).cloned().unwrap_or(Value::Null));
    }
    row.insert(
        "props".into(),
        object.get("props").cloned().unwrap_or_else(|| json!({})),
    );
    Some(row)
}

/// `POST /api/v1/analytics/events` `{events: [...]}` (1 to 100, 64 KiB at most) -> 201
/// once every event is stored; 429 with the wait when the client address has sent
/// `ANALYTICS_EVENTS_PER_MINUTE` events this minute (counted on the primary, so every
/// edge and isolate shares one count).
pub async fn ingest(
    req: &ApiRequest,
    config: &Config,
    db: &impl Db,
) -> Result<ApiResponse, AppError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        });
    }
    let body: Value = req.json()?;
    let mut p = Problems::default();
    let events = body
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    p.check(
        (1..=MAX_EVENTS).contains(&events.len()),
        "events",
        format!("must hold 1 to {MAX_EVENTS} events"),
    );
    let checked: Vec<Value> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| check_event(i, e, &mut p))
        .map(Value::Object)
        .collect();
    p.finish()?;
    let args = json!({
        "client": req.client_address(&config.trusted_proxies),
        "events": checked,
        "per_minute": config.analytics_events_per_minute,
    });
    let outcome: Ingested = rpc(
        db,
        "ingest_analytics_events",
        &args,
        Access::Write,
        Role::Service,
    )
    .await
    // A well-formed event naming a store that does not exist: nothing found, as for
    // an order or a quote naming an unknown product.
    .map_err(|e| {
        e.when_sqlstate(
            "23503",
            (404, "PHK444"),
            "events[].store_id names no store",
            "unknown_store",
        )
    })?;
    match outcome {
        Ingested::Stored { stored } => ApiResponse::json(201, &json!({"stored": stored})),
        Ingested::Wait { retry_after } => Err(AppError::TooManyRequests {
            reason: format!(
                "this client sent {} analytics events this minute",
                config.analytics_events_per_minute
            ),
            retry_after_secs: retry_after,
        }),
    }
}

/// `ingest_analytics_events`' answer.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Ingested {
    Stored { stored: u32 },
    Wait { retry_after: u32 },
}

fn instant(
    raw: Option<&str>,
    field: &str,
    p: &mut Problems,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let parsed = raw.and_then(|r| {
        chrono::DateTime::parse_from_rfc3339(r)
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok()
            .or_else(|| {
                crate::dates::parse_ymd(r)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            })
    });
    p.check(
        parsed.is_some(),
        field,
        "must be a date (YYYY-MM-DD) or an RFC 3339 time",
    );
    parsed
}

/// `GET /api/v1/analytics/sales?store=&from=&to=&granularity=day|week|month` -> paid
/// orders and revenue per period over [from, to), for the store's merchant only.
pub async fn sales(req: &ApiRequest, db: &impl Db) -> Result<ApiResponse, AppError> {
    // Signed in: the database function checks the store is the caller's.
    req.user_id()?;
    let mut p = Problems::default();
    let store = req.query("store").and_then(|s| Uuid::parse_str(s).ok());
    p.check(store.is_some(), "store", "must be a store id (uuid)");
    let from = instant(req.query("from"), "from", &mut p);
    let to = instant(req.query("to"), "to", &mut p);
    // `to` at or before `from` is an empty interval: a report with no periods. Any span
    // is served: the report holds only periods with sales, so its size is bounded by the
    // store's history, not by the range asked.
    let granularity = req.query("granularity").unwrap_or("day");
    p.check(
        ["day", "week", "month"].contains(&granularity),
        "granularity",
        "must be day, week or month",
    );
    p.finish()?;
    let (store, from, to) = (
        store.expect("checked"),
        from.expect("checked"),
        to.expect("checked"),
    );

    // One call: `store_sales` answers 404 (PT404) for a store that is not the caller's.
    let args = json!({"store_id": store, "from_at": from.to_rfc3339(), "to_at": to.to_rfc3339(),
                      "granularity": granularity});
    let periods: Value = rpc(db, "store_sales", &args, Access::Read, Role::Caller)
        .await
        .map_err(|e| match e.status() {
            404 => AppError::NotFound {
                path: format!("/api/v1/analytics/sales?store={store}"),
            },
            _ => e,
        })?;
    ApiResponse::json(
        200,
        &json!({"store_id": store, "from": from.to_rfc3339(), "to": to.to_rfc3339(),
                "granularity": granularity, "periods": periods}),
    )
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::test_support::{ScriptedDb, config, config_with, json_content_type, problem_fields};

    fn events(events: Value) -> ApiRequest {
        ApiRequest {
            body: json!({ "events": events }).to_string().into_bytes(),
            headers: json_content_type(),
            ..Default::default()
        }
    }

    #[test]
    fn events_are_checked_one_by_one() {
        let db = ScriptedDb::default();
        let req = events(json!([
            {"name": "page_view", "session_id": "s1", "path": "/"},
            {"name": "Bad Name", "session_id": "", "props": [1], "colour": "red"}
        ]));
        let err = block_on(ingest(&req, &config(), &db)).unwrap_err();
        assert_eq!(
            problem_fields(&err),
            [
                "events[1].colour",
                "events[1].name",
                "events[1].session_id",
                "events[1].props"
            ]
        );
        assert!(
            db.seen.borrow().is_empty(),
            "nothing stored when anything is wrong"
        );
        let too_many = events(Value::Array(vec![
            json!({"name": "x", "session_id": "s"});
            MAX_EVENTS + 1
        ]));
        assert_eq!(
            block_on(ingest(&too_many, &config(), &db))
                .unwrap_err()
                .status(),
            422
        );
    }

    #[test]
    fn sales_are_one_read_as_the_caller_and_another_store_is_404() {
        let query = [
            ("store", "33333333-3333-4333-8333-000000000002"),
            ("from", "2026-01-01"),
            ("to", "2026-02-01"),
        ];
        let req = |query: &[(&str, &str)]| {
            let mut req = crate::test_support::signed_in(
                "11111111-1111-4111-8111-000000000002",
                Value::Null,
                &[],
            );
            req.query = query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            req
        };
        let db = ScriptedDb::default().answer(
            "/rpc/store_sales",
            200,
            json!([{"period": "2026-01-01T00:00:00", "currency": "EUR", "orders": 2, "revenue_minor": 5000}]),
        );
        let response = block_on(sales(&req(&query), &db)).unwrap();
        assert_eq!(response.status, 200);
        let seen = db.seen.borrow();
        let calls: Vec<(&str, Access, Role)> = seen
            .iter()
            .map(|r| (r.path_and_query.as_str(), r.access, r.role))
            .collect();
        assert_eq!(calls, [("/rpc/store_sales", Access::Read, Role::Caller)]);

        let not_hers = ScriptedDb::default().answer(
            "/rpc/store_sales",
            404,
            json!({"code": "PT404", "message": "no store of yours has this id", "details": null, "hint": "unknown_store"}),
        );
        let err = block_on(sales(&req(&query), &not_hers)).unwrap_err();
        assert_eq!(err.status(), 404, "{err}");
    }

    #[test]
    fn a_batch_is_one_call_as_the_service_role_counted_for_the_client() {
        let db =
            ScriptedDb::default().answer("/rpc/ingest_analytics_events", 200, json!({"stored": 2}));
        let mut req =
            events(json!([{"name": "a", "session_id": "s"}, {"name": "b", "session_id": "s"}]));
        req.headers
            .push(("cf-connecting-ip".into(), "203.0.113.9".into()));
        let config = config_with(&[("ANALYTICS_EVENTS_PER_MINUTE", "300")]);
        let response = block_on(ingest(&req, &config, &db)).unwrap();
        assert_eq!(response.status, 201);
        let seen = db.seen.borrow();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].access, seen[0].role),
            (Access::Write, Role::Service)
        );
        let args: Value = serde_json::from_slice(seen[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(args["client"], "203.0.113.9");
        assert_eq!(args["per_minute"], 300);
        assert_eq!(args["events"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn over_the_limit_is_429_with_the_wait() {
        let db = ScriptedDb::default().answer(
            "/rpc/ingest_analytics_events",
            200,
            json!({"retry_after": 17}),
        );
        let req = events(json!([{"name": "a", "session_id": "s"}]));
        let err = block_on(ingest(&req, &config(), &db)).unwrap_err();
        assert_eq!(err.status(), 429);
        assert!(
            matches!(
                err,
                AppError::TooManyRequests {
                    retry_after_secs: 17,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_event_naming_no_store_is_404() {
        let db = ScriptedDb::default().answer(
            "/rpc/ingest_analytics_events",
            409,
            json!({"code": "23503", "message": "insert or update on table violates foreign key constraint", "details": null, "hint": null}),
        );
        let req = ApiRequest {
            headers: vec![("content-type".into(), "application/json".into())],
            body: json!({"events": [{"name": "a", "session_id": "s",
                                      "store_id": "22222222-2222-4222-8222-000000000005"}]})
            .to_string()
            .into_bytes(),
            ..Default::default()
        };
        let err = block_on(ingest(&req, &config(), &db)).unwrap_err();
        assert_eq!(
            (err.status(), err.body().hint.as_deref()),
            (404, Some("unknown_store"))
        );
    }
}
