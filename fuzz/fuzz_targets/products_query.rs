//! `GET /api/v1/products?...`: the query string as the Workers glue reads it
//! (`url::form_urlencoded`, what `Url::query_pairs` uses), `parse_list_query`, the
//! PostgREST request `list_request` builds from it, and `products::api::list` over a
//! database answering the given rows (`Page::from_rows`, the next cursor).
//!
//! Input: `<query string>\n<rows JSON the database answers>`.
//!
//! Invariants: an accepted query is within its documented bounds; it always builds a
//! PostgREST request; that request's query string carries only the filters the API
//! documents, each once, with the client's values intact (no filter injection through
//! `q`, `kind`, `store` or the cursor); a page never holds more rows than its limit
//! and its next cursor decodes.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use payhuk_edge::routing::Access;
use payhuk_edge::services::page::{Cursor, MAX_PAGE_SIZE};
use payhuk_edge::services::products::api::list;
use payhuk_edge::services::products::service::{KINDS, list_request, parse_list_query};
use payhuk_edge::services::request::ApiRequest;
use payhuk_edge_fuzz::{NOW, ScriptedDb, fields};

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 2);
    let req = ApiRequest {
        query: url::form_urlencoded::parse(f[0])
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        now: NOW,
        ..Default::default()
    };

    if let Ok(query) = parse_list_query(&req) {
        assert!((1..=MAX_PAGE_SIZE).contains(&query.limit));
        if let Some(kind) = &query.kind {
            assert!(KINDS.contains(&kind.as_str()));
        }
        if let (Some(lo), Some(hi)) = (query.min_price, query.max_price) {
            assert!(0 <= lo && lo <= hi);
        }
        if let Some(q) = &query.q {
            assert!(!q.is_empty() && q.chars().count() <= 100 && q.trim() == q);
        }
        let request = list_request(&query).expect("an accepted query builds a request");
        assert_eq!(
            (request.method.as_str(), request.access),
            ("GET", Access::Read)
        );
        let (path, upstream_query) = request
            .path_and_query
            .split_once('?')
            .expect("the request has a query");
        assert_eq!(path, "/products");
        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(upstream_query.as_bytes()) {
            seen.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        let one = |name: &str| -> Option<String> {
            let values = seen.get(name)?;
            assert_eq!(
                values.len(),
                1,
                "{name} given twice: {}",
                request.path_and_query
            );
            values.first().cloned()
        };
        for name in seen.keys() {
            assert!(
                [
                    "select",
                    "order",
                    "store_id",
                    "kind",
                    "price_minor",
                    "search_vector",
                    "or"
                ]
                .contains(&name.as_str()),
                "unexpected filter {name:?} in {}",
                request.path_and_query
            );
        }
        assert!(one("select").is_some() && one("order").is_some());
        assert_eq!(one("store_id"), query.store.map(|s| format!("eq.{s}")));
        assert_eq!(one("kind"), query.kind.as_ref().map(|k| format!("eq.{k}")));
        assert_eq!(
            one("search_vector"),
            query.q.as_ref().map(|q| format!("wfts(simple).{q}"))
        );
        assert_eq!(
            one("or"),
            query
                .cursor
                .as_ref()
                .map(|c| format!("({})", c.or_filter()))
        );
        let mut prices = seen.get("price_minor").cloned().unwrap_or_default();
        prices.sort();
        let mut expected: Vec<String> = query
            .min_price
            .map(|v| format!("gte.{v}"))
            .into_iter()
            .chain(query.max_price.map(|v| format!("lte.{v}")))
            .collect();
        expected.sort();
        assert_eq!(prices, expected);
    }

    // The handler end to end, over a database answering the rows given.
    let db = ScriptedDb::new(200, f[1]);
    match futures::executor::block_on(list(&req, &db)) {
        Ok(response) => {
            assert_eq!(response.status, 200);
            let query = parse_list_query(&req).expect("the handler accepted it");
            let page: serde_json::Value =
                serde_json::from_slice(&response.body).expect("a page is JSON");
            let items = page["items"].as_array().expect("a page has items");
            assert!(items.len() <= query.limit);
            if let Some(next) = page["next_cursor"].as_str() {
                assert!(Cursor::decode(next).is_some() || !plausible_last(items));
            }
        }
        Err(err) => assert!((400..600).contains(&err.status()), "{err:?}"),
    }
});

/// Whether the last row's `created_at` and `id` would make a cursor the API accepts
/// (rows come from the database, which the fuzzer plays here).
fn plausible_last(items: &[serde_json::Value]) -> bool {
    items.last().is_some_and(|last| {
        let t = last["created_at"].as_str().unwrap_or("");
        let id = last["id"].as_str().unwrap_or("");
        t.len() <= 40
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b"-:.+TZ ".contains(&b))
            && uuid::Uuid::parse_str(id).is_ok()
    })
}
