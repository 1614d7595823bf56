//! Request classification: the route table (`router::resolve`, `router::methods_at`),
//! `/rest/v1` read/write classification with read-only RPC detection
//! (`rest::service::classify`), the upstream URL, which request headers go upstream
//! and which response headers come back, the written transaction id, and CORS
//! (`cors::preflight`, `cors::response_headers`).
//!
//! Input: `<method>\n<path>\n<query>\n<read-only rpcs, comma-separated>\n<origin>\n
//! <preflight method>\n<preflight headers>\n<header lines, "name: value">`
//! (the header lines are used both as the client's request headers and as an
//! upstream's response headers).
//!
//! Invariants: 404 and 405 agree with `methods_at`; a route's parameters are
//! non-empty single segments; only GET, HEAD and a listed `POST /rpc/<fn>` are reads;
//! no client header but PostgREST's goes upstream (never `cookie` or `authorization`);
//! no hop-by-hop header or internal xid comes back; CORS never allows credentials with
//! `*`, never echoes an origin that is not listed, and never echoes CR or LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhuk_edge::config::AllowedOrigins;
use payhuk_edge::cors::{self, Preflight};
use payhuk_edge::router::{self, Route};
use payhuk_edge::routing::Access;
use payhuk_edge::services::rest::service::{
    PREFIX, classify, forwarded_request_headers, passed_response_headers, upstream_url, write_xid,
};
use payhuk_edge_fuzz::{Headers, fields, text};

const LISTED_ORIGIN: &str = "https://shop.example";
const FORWARDED: [&str; 8] = [
    "accept",
    "accept-profile",
    "apikey",
    "content-profile",
    "content-type",
    "prefer",
    "range",
    "range-unit",
];
const HOP_BY_HOP: [&str; 13] = [
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
    "x-payhuk-xid",
];

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 8);
    let [
        method,
        path,
        query,
        rpcs,
        origin,
        ask_method,
        ask_headers,
        lines,
    ] = [0, 1, 2, 3, 4, 5, 6, 7].map(|i| text(f[i]));
    let rpcs: Vec<String> = rpcs.split(',').map(str::to_owned).collect();
    let headers = Headers::parse(&lines, '\n');

    route(&method, &path, &query, &rpcs);
    preflight(&path, &origin, &ask_method, &ask_headers);

    let forwarded = forwarded_request_headers(&headers);
    for (name, value) in &forwarded {
        assert!(FORWARDED.contains(name), "{name} forwarded");
        assert_eq!(
            Some(value),
            headers
                .0
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        );
    }

    let upstream = headers.0.clone();
    let named_by_connection: Vec<String> = upstream
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|h| h.trim().to_ascii_lowercase()))
        .collect();
    let passed = passed_response_headers(&upstream);
    for (name, _) in &passed {
        let lower = name.to_ascii_lowercase();
        assert!(!HOP_BY_HOP.contains(&lower.as_str()), "{name} passed back");
        assert!(!named_by_connection.contains(&lower), "{name} passed back");
    }
    assert!(passed.iter().all(|p| upstream.contains(p)));
    if let Some(xid) = write_xid(&upstream) {
        assert!(
            upstream
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("x-payhuk-xid")
                    && v.trim().parse::<u64>() == Ok(xid))
        );
    }
});

fn route(method: &str, path: &str, query: &str, rpcs: &[String]) {
    let allowed = router::methods_at(path);
    match router::resolve(method, path) {
        Ok(matched) => {
            assert!(allowed.as_ref().is_some_and(|m| m.contains(&method)));
            for p in &matched.params {
                assert!(!p.is_empty() && !p.contains('/'), "parameter {p:?}");
            }
            if matched.route == Route::Rest {
                rest(method, path, query, rpcs);
            }
        }
        Err(err) => match err.status() {
            404 => assert!(allowed.is_none()),
            405 => {
                let allowed = allowed.expect("405 for a path that is served");
                assert!(!allowed.contains(&method));
                let allow = err.headers();
                assert_eq!(allow, vec![("allow", allowed.join(", "))]);
            }
            other => panic!("the router answered {other}"),
        },
    }
}

/// As `edge::rest::forward` does.
fn rest(method: &str, path: &str, query: &str, rpcs: &[String]) {
    let subpath = match path.strip_prefix(PREFIX).unwrap_or("") {
        "" => "/".to_owned(),
        rest => rest.to_owned(),
    };
    let access = classify(method, &subpath, rpcs);
    match method {
        "GET" | "HEAD" => assert_eq!(access, Access::Read),
        "POST" => assert_eq!(
            access == Access::Read,
            subpath
                .strip_prefix("/rpc/")
                .is_some_and(|f| rpcs.iter().any(|r| r == f)),
            "{subpath}"
        ),
        _ => assert_eq!(access, Access::Write),
    }
    let base = "http://127.0.0.1:3001";
    let url = upstream_url(base, &subpath, Some(query));
    if query.is_empty() {
        assert_eq!(url, format!("{base}{subpath}"));
    } else {
        assert_eq!(url, format!("{base}{subpath}?{query}"));
    }
}

fn preflight(path: &str, origin: &str, method: &str, asked: &str) {
    let list = AllowedOrigins::List(vec![LISTED_ORIGIN.to_owned()]);
    for allowed in [&list, &AllowedOrigins::Any] {
        let request = Preflight {
            origin,
            method,
            headers: Some(asked),
        };
        match cors::preflight(allowed, path, &request) {
            Ok(answer) => {
                assert_eq!(answer.status, 204);
                let allow_origin = answer
                    .header("access-control-allow-origin")
                    .expect("an answer names the origin");
                let credentials = answer.header("access-control-allow-credentials");
                match allowed {
                    AllowedOrigins::Any => {
                        assert_eq!(allow_origin, "*");
                        assert_eq!(credentials, None);
                    }
                    AllowedOrigins::List(_) => {
                        assert_eq!(allow_origin, LISTED_ORIGIN);
                        assert_eq!(credentials, Some("true"));
                    }
                }
                let methods = router::methods_at(path).expect("answered for a served path");
                assert!(methods.contains(&method.trim()));
                for (name, value) in &answer.headers {
                    assert!(
                        !value.contains(['\r', '\n']) && !name.contains(['\r', '\n']),
                        "{name}: {value:?}"
                    );
                }
            }
            Err(err) => assert!([403, 404, 405].contains(&err.status()), "{err:?}"),
        }
        let headers = cors::response_headers(allowed, Some(origin));
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        match allowed {
            AllowedOrigins::Any => {
                assert_eq!(get("access-control-allow-origin"), Some("*"));
                assert_eq!(get("access-control-allow-credentials"), None);
            }
            AllowedOrigins::List(_) => {
                let echoed = get("access-control-allow-origin");
                assert!(echoed.is_none() || echoed == Some(LISTED_ORIGIN));
            }
        }
    }
}
