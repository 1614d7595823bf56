use std::collections::HashSet;

use crate::consistency::{self, ConsistencyToken, TokenError};
use crate::region::HeaderLookup;
use crate::routing::Access;

pub const PREFIX: &str = "/rest/v1";

/// Largest request body forwarded (bodies are kept for retrying reads on another node).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// GET and HEAD read; so does `POST /rpc/<fn>` for a function listed read-only.
/// Everything else writes.
pub fn classify(method: &str, subpath: &str, read_only_rpcs: &[String]) -> Access {
    match method {
        "GET" | "HEAD" => Access::Read,
        "POST" => match subpath.strip_prefix("/rpc/") {
            Some(function) if read_only_rpcs.iter().any(|f| f == function) => Access::Read,
            _ => Access::Write,
        },
        _ => Access::Write,
    }
}

/// The upstream URL for `/rest/v1<subpath>?<query>`.
pub fn upstream_url(base: &str, subpath: &str, query: Option<&str>) -> String {
    match query.filter(|q| !q.is_empty()) {
        Some(q) => format!("{base}{subpath}?{q}"),
        None => format!("{base}{subpath}"),
    }
}

/// Request headers PostgREST (and Supabase's API gateway) act on. Authorization is
/// set from the verified token; nothing else of the client's is forwarded.
const FORWARDED_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "accept-profile",
    "apikey",
    "content-profile",
    "content-type",
    "prefer",
    "range",
    "range-unit",
];

pub fn forwarded_request_headers(headers: &impl HeaderLookup) -> Vec<(&'static str, String)> {
    FORWARDED_REQUEST_HEADERS
        .iter()
        .filter_map(|name| headers.header(name).map(|v| (*name, v)))
        .collect()
}

/// Response headers never passed back: hop-by-hop ones (RFC 9110 7.6.1), those the
/// runtime sets itself, and the internal transaction id.
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "server",
    "date",
    consistency::WRITE_XID_HEADER,
];

pub fn passed_response_headers(upstream: &[(String, String)]) -> Vec<(String, String)> {
    // Headers named in `Connection` are hop-by-hop too.
    let named_by_connection: HashSet<String> = upstream
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|h| h.trim().to_ascii_lowercase()))
        .collect();
    upstream
        .iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            !DROPPED_RESPONSE_HEADERS.contains(&lower.as_str())
                && !named_by_connection.contains(&lower)
        })
        .cloned()
        .collect()
}

/// The client's consistency token, from the header or else the cookie. An invalid one
/// is reported so it can be ignored visibly (and its cookie cleared).
pub fn presented_token(
    headers: &impl HeaderLookup,
    key: &[u8; 32],
    now: i64,
) -> Option<Result<ConsistencyToken, TokenError>> {
    let raw = headers.header(consistency::HEADER).or_else(|| {
        headers.header("cookie").and_then(|cookies| {
            consistency::cookie_value(&cookies, consistency::COOKIE).map(str::to_owned)
        })
    })?;
    Some(ConsistencyToken::decode(&raw, key, now))
}

/// The transaction id a write's response reports, if any.
pub fn write_xid(upstream: &[(String, String)]) -> Option<u64> {
    upstream
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(consistency::WRITE_XID_HEADER))
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// Which node served a request (`primary:iad1`, `replica:fra1`); a cached answer keeps
/// the one that computed it.
pub const UPSTREAM_HEADER: &str = "x-payhuk-upstream";
/// How many upstream calls a request took (0 for a cached answer): each is a round
/// trip to a region, an ocean crossing from a far city.
pub const UPSTREAM_CALLS_HEADER: &str = "x-payhuk-upstream-calls";

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::consistency::token_key;

    #[test]
    fn reads_and_writes() {
        let ro = vec!["search_products".to_owned()];
        assert_eq!(classify("GET", "/products", &ro), Access::Read);
        assert_eq!(classify("HEAD", "/products", &ro), Access::Read);
        assert_eq!(classify("GET", "/rpc/node_status", &ro), Access::Read);
        assert_eq!(classify("POST", "/rpc/search_products", &ro), Access::Read);
        assert_eq!(classify("POST", "/rpc/place_order", &ro), Access::Write);
        assert_eq!(
            classify("POST", "/rpc/search_products_v2", &ro),
            Access::Write
        );
        for method in ["POST", "PATCH", "PUT", "DELETE"] {
            assert_eq!(
                classify(method, "/products", &ro),
                Access::Write,
                "{method}"
            );
        }
    }

    #[test]
    fn urls_keep_path_and_query_verbatim() {
        assert_eq!(
            upstream_url(
                "http://127.0.0.1:3002",
                "/products",
                Some("select=id,name&price_minor=gt.100&order=name.desc")
            ),
            "http://127.0.0.1:3002/products?select=id,name&price_minor=gt.100&order=name.desc"
        );
        assert_eq!(
            upstream_url("https://x.supabase.co/rest/v1", "/rpc/f", Some("")),
            "https://x.supabase.co/rest/v1/rpc/f"
        );
    }

    #[test]
    fn only_postgrest_headers_go_upstream() {
        let headers = HashMap::from([
            ("prefer", "return=representation".to_owned()),
            ("range", "0-9".to_owned()),
            ("cookie", "secret=1".to_owned()),
            ("connection", "keep-alive".to_owned()),
            ("x-payhuk-min-xid", "1".to_owned()),
            ("authorization", "Bearer x".to_owned()),
        ]);
        let mut names: Vec<_> = forwarded_request_headers(&headers)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        assert_eq!(names, ["prefer", "range"]);
    }

    #[test]
    fn hop_by_hop_and_internal_response_headers_are_dropped() {
        let upstream: Vec<(String, String)> = [
            ("Content-Type", "application/json"),
            ("Content-Range", "0-9/*"),
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("X-Secret-Hop", "1"),
            ("Transfer-Encoding", "chunked"),
            ("x-payhuk-xid", "742"),
            ("Preference-Applied", "return=representation"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
        let names: Vec<String> = passed_response_headers(&upstream)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            ["Content-Type", "Content-Range", "Preference-Applied"]
        );
        assert_eq!(write_xid(&upstream), Some(742));
    }

    #[test]
    fn token_from_header_or_cookie() {
        let key = token_key(b"rest-test-secret-that-is-long-enough-000");
        let raw = ConsistencyToken::after_write(None, 9, 0, 60).encode(&key);
        let by_header = HashMap::from([("x-payhuk-consistency", raw.clone())]);
        assert_eq!(
            presented_token(&by_header, &key, 1).unwrap().unwrap().xids,
            [9]
        );
        let by_cookie = HashMap::from([(
            "cookie",
            format!("theme=dark; payhuk_consistency={raw}; x=y"),
        )]);
        assert_eq!(
            presented_token(&by_cookie, &key, 1).unwrap().unwrap().xids,
            [9]
        );
        let tampered = HashMap::from([("x-payhuk-consistency", raw.replace("v1.9.", "v1.8."))]);
        assert_eq!(
            presented_token(&tampered, &key, 1).unwrap(),
            Err(TokenError::BadSignature)
        );
        assert!(presented_token(&HashMap::<&str, String>::new(), &key, 1).is_none());
    }
}
