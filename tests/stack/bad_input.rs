//! A bad-input corpus sent through the running gateway (issue 10, part 2).
//!
//! Every case below is named and sent to every route it is relevant to (each route
//! `payhuk_edge::router::served_under("/api/v1")` lists, plus `/rest/v1` tables and RPCs),
//! as anon, as a signed-in customer and as a merchant. For every one:
//!
//! - never a 5xx, never a hang (each request has a 20 s budget, the gateway's upstream
//!   budget is 2 s);
//! - a 4xx answer with the JSON error `{code, message, details, hint}`, or one of the
//!   named outcomes of [`Expect`] where a 4xx would be the wrong answer (a literal search
//!   for `x';drop table` rightly finds nothing), or a refusal by the HTTP server itself
//!   before the worker runs, allowed only for the cases that say why;
//! - no response header carries anything the request tried to inject;
//! - and the database is the same afterwards: every table of `public` and `payhuk_auth`
//!   on the primary is fingerprinted before and after.
//!
//! Requests go out over raw TCP (HTTP/1.1, `Connection: close`) so malformed header
//! lines, bare CR/LF, conflicting framing and invalid UTF-8 reach the server exactly as
//! written; no client library normalises them. All failures are collected and reported
//! at once, with the case, the request and the answer.
//!
//! The bodies of the requests are built so that none could succeed even if the malformed
//! part were ignored (ids that name nothing, another merchant's store, a taken email,
//! no webhook signature); the exceptions are read-only (`POST /api/v1/shipping/quote`
//! with a valid cart, list reads), so a bad input that is wrongly accepted shows as a
//! 2xx there, and a write that slips through shows in the fingerprint.
//!
//! `/rest/v1` is PostgREST's API passed through, so PostgREST is the reference there: a
//! 2xx, or a 4xx whose body is not the JSON error, passes when PostgREST itself answers
//! the same to the same request sent to it directly (it ignores a `limit` it cannot
//! parse; its 404 for a nested path is `{}`). Those are counted and printed by name.
//!
//! A 5xx (or a closed connection, or a hang) is a failure of the case that got it,
//! reported with its request: never sent again to see whether it goes away. The
//! fingerprint assumes nothing else writes to the
//! primary meanwhile, as under `cargo xtask test`; when it differs, the rows written
//! during the run are listed, so a concurrent writer is recognisable.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payhuk_edge::auth::jwt::{Claims, sign_hs256};
use payhuk_edge::consistency;
use payhuk_edge::router::served_under;
use payhuk_stack_tests::{stack, user_token};
use serde_json::{Value, json};
use xtask::stack::Stack;
use xtask::topology;

// ---------------------------------------------------------------------------------
// Seeded ids (migrations/seed.sql)
// ---------------------------------------------------------------------------------

const AMINATA: &str = "22222222-2222-4222-8222-000000000001";
const KOFI: &str = "11111111-1111-4111-8111-000000000002";
const AWA_STORE: &str = "33333333-3333-4333-8333-000000000001";
const KOFI_STORE: &str = "33333333-3333-4333-8333-000000000002";
/// Awa's unpublished product: nobody but Awa sees or touches it.
const AWA_DRAFT: &str = "44444444-4444-4444-8444-000000000104";
/// Kofi's scarf (physical, 200 g): the valid cart of the read-only quote.
const SCARF: &str = "44444444-4444-4444-8444-000000000201";
/// Awa's digital guide.
const GUIDE: &str = "44444444-4444-4444-8444-000000000101";
/// A well-formed id that names nothing.
const NOWHERE: &str = "00000000-0000-4000-8000-00000000bad1";
/// Not one of the seeded accounts: refused logins must not lock out a real one.
const NOBODY_EMAIL: &str = "bad-input-corpus@payhuk.test";

const REQUEST_BUDGET: Duration = Duration::from_secs(20);
const THREADS: usize = 8;
const MIB: usize = 1024 * 1024;
/// `MAX_BODY_BYTES` in src/services/rest/service.rs (`/rest/v1` and every service).
const GATEWAY_BODY_LIMIT: usize = 8 * MIB;
/// `MAX_BODY_BYTES` in src/services/analytics/api.rs.
const ANALYTICS_BODY_LIMIT: usize = 64 * 1024;

// ---------------------------------------------------------------------------------
// The corpus: named cases
// ---------------------------------------------------------------------------------

/// SQL-injection strings, put into JSON text fields and search parameters.
const SQL_INJECTIONS: &[(&str, &str)] = &[
    ("quote then drop table", "x';drop table orders;--"),
    ("quoted tautology", "' or '1'='1"),
    (
        "union select of password hashes",
        "x' union select password_hash from payhuk_auth.credentials--",
    ),
    (
        "stacked delete in a comment",
        "1; delete from public.products where true /*",
    ),
    ("string concatenation with pg_sleep", "x'||pg_sleep(10)||'"),
    ("dollar quoting", "$$; drop table orders; $$"),
    ("backslash-escaped quote", "x\\'; drop table orders; --"),
    ("NUL character", "x\u{0}y"),
];

/// Numbers (as JSON tokens) that no numeric field of the API takes. Some are not JSON.
const BAD_NUMBERS: &[(&str, &str)] = &[
    ("negative", "-1"),
    ("one over i64::MAX", "9223372036854775808"),
    ("one under i64::MIN", "-9223372036854775809"),
    ("over u64::MAX", "18446744073709551616"),
    ("over f64::MAX (1e309)", "1e309"),
    ("under -f64::MAX (-1e309)", "-1e309"),
    ("tiny exponent", "1e-7"),
    ("fraction", "1.5"),
    ("number in a string", "\"1\""),
    ("boolean", "true"),
    ("array of a number", "[1]"),
    ("object", "{\"n\":1}"),
    ("hex literal (not JSON)", "0x10"),
    ("leading zero (not JSON)", "01"),
    ("leading plus (not JSON)", "+1"),
    ("Infinity (not JSON)", "Infinity"),
];

/// Numbers in query strings (already percent-encoded) that no numeric parameter takes.
const BAD_QUERY_NUMBERS: &[(&str, &str)] = &[
    ("negative", "-1"),
    ("one over i64::MAX", "9223372036854775808"),
    ("1e309", "1e309"),
    ("fraction", "1.5"),
    ("quoted", "%221%22"),
    ("hex", "0x10"),
    ("leading space", "%201"),
    ("trailing letters", "5abc"),
    ("SQL after the number", "1;drop%20table%20orders"),
    ("empty", ""),
    ("NUL after the number", "1%00"),
    ("fullwidth digit", "%EF%BC%91"),
];

/// PostgREST query strings that try to leave their place: appended to the control query
/// of the `GET /rest/v1` tables (`select=` and `order=` replace the control's). `{col}`
/// is a text column of the table. A literal that matches nothing may rightly answer
/// `[]`; rows only where PostgREST itself answers them (it reads a `select` it cannot
/// parse as `*` and drops an `order` it cannot parse); never a 5xx, a password hash,
/// or a changed table.
const FILTER_INJECTIONS: &[(&str, &str)] = &[
    (
        "quote then drop table in an eq filter",
        "{col}=eq.x%27;drop%20table%20orders;--",
    ),
    (
        "quoted tautology in an eq filter",
        "{col}=eq.x%27%20or%20%271%27=%271",
    ),
    (
        "statement inside an in-list",
        "{col}=in.(x%27);drop%20table%20orders;--)",
    ),
    ("unbalanced logic tree", "or=({col}.eq.x,and(id.eq.1)"),
    (
        "statement after a logic tree",
        "or=({col}.eq.x));drop%20table%20orders;--",
    ),
    ("function call in select", "select=pg_sleep(5)"),
    (
        "subquery in select",
        "select=(select%20password_hash%20from%20payhuk_auth.credentials)",
    ),
    (
        "cast with a statement tail in select",
        "select=id::text);drop%20table%20orders;--",
    ),
    (
        "embedding a table of another schema",
        "select=id,payhuk_auth.credentials(*)",
    ),
    ("statement in order", "order={col};drop%20table%20orders"),
    ("subquery in order", "order=(select%201)"),
    ("comment in order", "order={col}.desc--"),
    (
        "statement in a column name",
        "{col}%3Bdrop%20table%20orders=eq.x",
    ),
    ("NUL in a filter value", "{col}=eq.a%00b"),
    ("tsquery syntax error", "{col}=fts.%27%26%26%7C%7C%27"),
    ("catastrophic regex", "{col}=match.%5E(a%2B)%2B%24"),
    (
        "JSON path with a quote",
        "select={col}->>%27a%27%27;drop%27",
    ),
];

/// Invalid UTF-8 in a query parameter value.
const BAD_UTF8_QUERY: &[(&str, &str)] = &[
    ("invalid UTF-8 (%FF%FE)", "%FF%FE"),
    ("overlong UTF-8 (%C0%AF)", "%C0%AF"),
    ("lone continuation byte (%80)", "a%80b"),
];

/// `cursor=` values no page ever returned.
fn bad_cursors() -> Vec<(&'static str, String)> {
    vec![
        ("garbage", "not-a-cursor".to_owned()),
        ("empty", String::new()),
        ("base64 of not JSON", b64("hello world")),
        (
            "SQL in the time",
            b64(&format!(
                r#"{{"t":"2026-01-01' or '1'='1","id":"{NOWHERE}"}}"#
            )),
        ),
        (
            "SQL in the id",
            b64(r#"{"t":"2026-01-01T00:00:00Z","id":"x')) or true--"}"#),
        ),
        (
            "a time that is not a date",
            b64(&format!(r#"{{"t":"9999-99-99","id":"{NOWHERE}"}}"#)),
        ),
        (
            "a time past 16 digits",
            "12345678901234567.44444444444444448444000000000101".to_owned(),
        ),
        (
            "an id in capitals",
            "1795521600123456.44444444444444448444ABCDEF000101".to_owned(),
        ),
        ("10 KB", "A".repeat(10 * 1024)),
        ("invalid UTF-8", "%FF%FE".to_owned()),
    ]
}

/// Base64url without padding, as cursors were once written (src/services/page.rs).
fn b64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// `Idempotency-Key` values the order and payment routes refuse (1 to 255 visible ASCII).
fn bad_idempotency_keys() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        ("256 characters", vec![b'k'; 256]),
        ("with a space", b"a b".to_vec()),
        ("with a tab", b"a\tb".to_vec()),
        ("non-ASCII (UTF-8 bytes)", "cl\u{e9}".as_bytes().to_vec()),
        ("a lone 0xFF byte", b"k\xffk".to_vec()),
    ]
}

/// Read-your-writes tokens, by header and by cookie, that no write ever issued. The
/// gateway ignores an invalid one (README, read-your-writes): the answer must be the
/// control's, or a refusal.
fn bad_consistency() -> Vec<(&'static str, &'static str, String)> {
    let cookie = |v: &str| format!("{}={v}", consistency::COOKIE);
    vec![
        (
            "garbage token header",
            consistency::HEADER,
            "garbage".to_owned(),
        ),
        (
            "SQL in the token header",
            consistency::HEADER,
            "1' or '1'='1".to_owned(),
        ),
        (
            "10 KB token header",
            consistency::HEADER,
            "A".repeat(10 * 1024),
        ),
        ("garbage token cookie", "cookie", cookie("garbage")),
        (
            "quoted token cookie",
            "cookie",
            cookie("\"a.b.c\"; other=1"),
        ),
        ("malformed cookie header", "cookie", ";;=;=x; ;a".to_owned()),
    ]
}

/// `x-payhuk-edge-region` values naming no region: 400 `PHK400`.
const BAD_REGIONS: &[(&str, &str)] = &[
    ("unknown region", "zz9"),
    ("SQL in the region", "iad1' or '1'='1"),
    ("two regions", "iad1,sfo1"),
    ("empty region", ""),
];

/// Credentials that are not a JWT of this project: 401 whatever the route. They replace
/// the identity's own token, so they are sent once per route.
const BAD_CREDENTIALS: &[(&str, &str, &str)] = &[
    (
        "Basic credentials",
        "authorization",
        "Basic YWRtaW46YWRtaW4=",
    ),
    ("Bearer without a token", "authorization", "Bearer"),
    (
        "Bearer of three junk parts",
        "authorization",
        "Bearer x.y.z",
    ),
    ("Bearer with SQL", "authorization", "Bearer ' or '1'='1"),
    ("apikey garbage", "apikey", "garbage"),
];

/// Values of a `{}` path segment (already percent-encoded where needed).
fn bad_path_params() -> Vec<(&'static str, String)> {
    vec![
        ("SQL tautology", "1'%20or%20'1'='1".to_owned()),
        ("SQL statement", "1;drop%20table%20orders;--".to_owned()),
        ("not a uuid", "not-a-uuid".to_owned()),
        ("uuid with a SQL tail", format!("{NOWHERE}'--")),
        ("invalid UTF-8", "%FF%FE".to_owned()),
        ("NUL", "a%00b".to_owned()),
        ("encoded traversal", "..%2F..%2Fauth%2Fme".to_owned()),
        ("CR LF", "x%0D%0Ax-injected:%20yes".to_owned()),
        ("10 KB segment", "a".repeat(10 * 1024)),
    ]
}

/// Whole paths no route serves (GET), as anon, customer and merchant.
fn bad_paths() -> Vec<(&'static str, String)> {
    let many = |prefix: &str| format!("{prefix}{}", "a/".repeat(1000));
    vec![
        (
            "10 KB path under /api/v1",
            format!("/api/v1/products/x/{}", "a".repeat(10 * 1024)),
        ),
        (
            "10 KB path under /rest/v1",
            format!("/rest/v1/{}", "a".repeat(10 * 1024)),
        ),
        ("1000 segments under /api/v1", many("/api/v1/")),
        ("1000 segments under /rest/v1", many("/rest/v1/")),
        ("double slashes", "/api/v1//products//".to_owned()),
        (
            "invalid UTF-8 in a table name",
            "/rest/v1/%FFproducts".to_owned(),
        ),
        ("NUL in a table name", "/rest/v1/products%00".to_owned()),
        (
            "SQL in a table name",
            "/rest/v1/products;drop%20table%20orders".to_owned(),
        ),
        (
            "a table of another schema",
            "/rest/v1/payhuk_auth.credentials".to_owned(),
        ),
        (
            "encoded traversal under /rest/v1",
            "/rest/v1/products%2F..%2F..%2Fpayhuk_auth".to_owned(),
        ),
        (
            "CR LF in the path",
            "/api/v1/x%0D%0Ax-injected:%20yes".to_owned(),
        ),
        (
            "SQL in an RPC name",
            "/rest/v1/rpc/node_status();drop%20table%20orders;--".to_owned(),
        ),
    ]
}

/// Header lines the HTTP server may refuse before the worker runs (kj-http in workerd):
/// written verbatim after the request's own headers. When the server lets one through,
/// the answer must be the control's or a refusal.
const RAW_HEADER_LINES: &[(&str, &[u8])] = &[
    ("bare CR inside a header value", b"x-probe: a\rb\r\n"),
    (
        "bare LF inside a header value (a second header smuggled)",
        b"x-probe: a\nx-injected: yes\r\n",
    ),
    (
        "CR LF inside a reflected header (region then an injected line)",
        b"x-payhuk-edge-region: iad1\r\nx-injected: yes\r\n",
    ),
    ("obsolete line folding", b"x-probe: a\r\n folded\r\n"),
    ("NUL in a header value", b"x-probe: a\0b\r\n"),
    ("space in a header name", b"x probe: a\r\n"),
    ("non-ASCII header name", b"x-pr\xc3\xb6be: a\r\n"),
    ("header line without a colon", b"x-probe\r\n"),
];

/// A refusal by the HTTP server itself (workerd under wrangler), before the worker runs:
/// no `x-payhuk-region` header, a plain-text body. Allowed only for the cases that name
/// one, with these statuses (or a closed connection).
#[derive(Clone, Copy, Debug)]
struct ServerRefusal {
    why: &'static str,
    statuses: &'static [u16],
}

const SERVER_REFUSES_HEADER_SYNTAX: ServerRefusal = ServerRefusal {
    why: "workerd's HTTP parser refuses a malformed header line \
          (400 `ERROR: The headers sent by your client are not valid.`)",
    statuses: &[400],
};
const SERVER_REFUSES_HEADER_SIZE: ServerRefusal = ServerRefusal {
    why: "workerd refuses a header section over its limit (431 `ERROR: header too large.`)",
    statuses: &[431],
};
const SERVER_REFUSES_PATH_SIZE: ServerRefusal = ServerRefusal {
    why: "workerd refuses a request line over its limit",
    statuses: &[400, 414, 431],
};
/// workerd (kj-http) throws on a Content-Length that is not one number ("Uncaught
/// exception: kj/compat/http.c++: invalid Content-Length header value" in the gateway
/// log) and answers a bare 500 `Internal Server Error` before the worker runs: a
/// runtime bug the gateway cannot see, let alone fix (Cloudflare's front line refuses
/// such requests before they reach a Worker). Allowed, by name, for these cases only.
const SERVER_REFUSES_BAD_LENGTH: ServerRefusal = ServerRefusal {
    why: "workerd (kj-http) throws on an invalid Content-Length and answers a bare 500 \
          `Internal Server Error` before the worker runs (a runtime bug, see above)",
    statuses: &[400, 500],
};
const SERVER_REFUSES_SMUGGLING: ServerRefusal = ServerRefusal {
    why: "workerd refuses a request framed by both Content-Length and Transfer-Encoding",
    statuses: &[400],
};

/// Framing that contradicts itself (request smuggling), for routes with bodies: header
/// lines written verbatim (`{len}` is the body's length), then the control's body.
const RAW_FRAMING: &[(&str, &str, ServerRefusal)] = &[
    (
        "Content-Length and Transfer-Encoding together",
        "content-length: 5\r\ntransfer-encoding: chunked\r\n",
        SERVER_REFUSES_SMUGGLING,
    ),
    (
        "two different Content-Lengths",
        "content-length: {len}\r\ncontent-length: 1\r\n",
        SERVER_REFUSES_BAD_LENGTH,
    ),
    (
        "non-numeric Content-Length",
        "content-length: abc\r\n",
        SERVER_REFUSES_BAD_LENGTH,
    ),
    (
        "negative Content-Length",
        "content-length: -1\r\n",
        SERVER_REFUSES_BAD_LENGTH,
    ),
];

// ---------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A 4xx with the JSON error.
    Refused,
    /// Exactly this status, with the JSON error.
    Status(u16),
    /// Refused, or a 2xx that found nothing (`[]`, `{"items": []}`, an empty 204): a
    /// well-formed hostile value that matches no row.
    RefusedOrNothing,
    /// Refused, or the control's own 2xx: a header the gateway documents as ignored when
    /// invalid, or input equivalent to the control's (a key given twice with one value).
    RefusedOrAsControl,
}

// ---------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anon,
    Customer,
    Merchant,
}

const EVERYONE: [Who; 3] = [Who::Anon, Who::Customer, Who::Merchant];

struct Tokens {
    customer: String,
    merchant: String,
}

impl Tokens {
    fn new() -> Self {
        // A merchant's token carries its stores, as the auth service issues them
        // (src/services/auth/service.rs, `access_token`).
        let mut claims = Claims::new("authenticated", "payhuk-test", 0, 4_000_000_000);
        claims.sub = Some(KOFI.to_owned());
        claims.extra.insert("store_ids".into(), json!([KOFI_STORE]));
        Tokens {
            customer: user_token(AMINATA),
            merchant: sign_hs256(&claims, topology::JWT_SECRET.as_bytes()),
        }
    }

    fn bearer(&self, who: Who) -> Option<String> {
        match who {
            Who::Anon => None,
            Who::Customer => Some(format!("Bearer {}", self.customer)),
            Who::Merchant => Some(format!("Bearer {}", self.merchant)),
        }
    }
}

// ---------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------

/// Which numbers a numeric field takes besides the universally bad ones.
#[derive(Clone, Copy)]
struct Takes {
    /// 0 is refused too.
    zero_refused: bool,
    /// The first number over the field's maximum, if it has one.
    over_max: Option<&'static str>,
}

const POSITIVE_1000: Takes = Takes {
    zero_refused: true,
    over_max: Some("1001"),
};
const POSITIVE: Takes = Takes {
    zero_refused: true,
    over_max: None,
};
const NON_NEGATIVE: Takes = Takes {
    zero_refused: false,
    over_max: None,
};
const INT32: Takes = Takes {
    zero_refused: false,
    over_max: Some("2147483648"),
};
const PAGE_SIZE: Takes = Takes {
    zero_refused: true,
    over_max: Some("101"),
};

struct Route {
    method: &'static str,
    /// The path as the router declares it, `{}` for the parameter.
    pattern: &'static str,
    /// The control's `{}`.
    param: String,
    /// The control's query string, without `?`.
    query: String,
    headers: Vec<(&'static str, String)>,
    /// The control's body: one that fails (or, on read-only routes, changes nothing).
    body: Option<Value>,
    body_limit: usize,
    /// JSON pointers of numeric fields.
    numbers: Vec<(&'static str, Takes)>,
    /// JSON pointers of text fields.
    texts: Vec<&'static str>,
    /// Numeric query parameters (`/api/v1`), or `name=eq.` style prefixes (`/rest/v1`).
    query_numbers: Vec<(&'static str, Takes)>,
    /// Text query parameters and what a hostile value may get.
    query_texts: Vec<(&'static str, Expect)>,
    /// Where invalid UTF-8 goes in the query (a parameter the route reads), if anywhere.
    utf8_param: Option<&'static str>,
    /// Reads `cursor=`.
    paged: bool,
    /// Reads `Idempotency-Key`.
    idempotent: bool,
    /// A `GET /rest/v1` table: the filter injections apply; its text column.
    filter_column: Option<&'static str>,
    /// Why a well-formed request here may rightly answer 2xx with nothing.
    finds_nothing: Option<&'static str>,
}

impl Route {
    fn new(method: &'static str, pattern: &'static str) -> Self {
        Route {
            method,
            pattern,
            param: NOWHERE.to_owned(),
            query: String::new(),
            headers: Vec::new(),
            body: None,
            body_limit: GATEWAY_BODY_LIMIT,
            numbers: Vec::new(),
            texts: Vec::new(),
            query_numbers: Vec::new(),
            query_texts: Vec::new(),
            utf8_param: None,
            paged: false,
            idempotent: false,
            filter_column: None,
            finds_nothing: None,
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.pattern)
    }

    fn is_rest(&self) -> bool {
        self.pattern.starts_with("/rest/v1")
    }

    fn param(mut self, param: &str) -> Self {
        self.param = param.to_owned();
        self
    }

    fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn numbers(mut self, fields: &[(&'static str, Takes)]) -> Self {
        self.numbers = fields.to_vec();
        self
    }

    fn texts(mut self, fields: &[&'static str]) -> Self {
        self.texts = fields.to_vec();
        self
    }

    fn path(&self, param: &str) -> String {
        self.pattern.replace("{}", param)
    }

    fn target(&self, param: &str, query: &str) -> String {
        if query.is_empty() {
            self.path(param)
        } else {
            format!("{}?{query}", self.path(param))
        }
    }

    /// The control request of this route for `who`.
    fn wire(&self, who: Who, tokens: &Tokens) -> Wire {
        let mut wire = Wire::new(self.method, self.target(&self.param, &self.query));
        for (name, value) in &self.headers {
            wire.set(name, value.as_bytes());
        }
        if let Some(bearer) = tokens.bearer(who) {
            wire.set("authorization", bearer.as_bytes());
        }
        if let Some(body) = &self.body {
            wire.set("content-type", b"application/json");
            wire.body = Some(Arc::new(body.to_string().into_bytes()));
        }
        wire
    }
}

/// The routes under test: every `/api/v1` route the router serves, and `/rest/v1`.
fn routes() -> Vec<Route> {
    let order_items = json!({"items": [{"product_id": NOWHERE, "quantity": 1}]});
    vec![
        // Auth: a taken email, an empty password, tokens that were never issued.
        Route::new("POST", "/api/v1/auth/signup")
            .body(
                json!({"email": "kofi@payhuk.test", "password": "bad-input corpus password",
                         "display_name": "Bad Input"}),
            )
            .texts(&["/email", "/display_name"]),
        Route::new("POST", "/api/v1/auth/login")
            .body(json!({"email": NOBODY_EMAIL, "password": ""}))
            .texts(&["/email", "/password"]),
        Route::new("POST", "/api/v1/auth/refresh")
            .body(json!({"refresh_token": "bad-input-corpus-never-issued"}))
            .texts(&["/refresh_token"]),
        Route {
            finds_nothing: Some(
                "logging out a refresh token that was never issued is a no-op 204 by design",
            ),
            ..Route::new("POST", "/api/v1/auth/logout")
                .body(json!({"refresh_token": "bad-input-corpus-never-issued"}))
                .texts(&["/refresh_token"])
        },
        Route::new("GET", "/api/v1/auth/me"),
        // Products.
        Route {
            query_numbers: vec![
                ("limit", PAGE_SIZE),
                ("min_price", NON_NEGATIVE),
                ("max_price", NON_NEGATIVE),
            ],
            query_texts: vec![
                ("q", Expect::RefusedOrNothing),
                ("kind", Expect::Refused),
                ("store", Expect::Refused),
            ],
            utf8_param: Some("q"),
            paged: true,
            ..Route::new("GET", "/api/v1/products").query(&format!("store={KOFI_STORE}&limit=5"))
        },
        Route::new("POST", "/api/v1/products")
            .body(
                json!({"store_id": AWA_STORE, "kind": "physical", "name": "Bad input",
                         "description": "bad input corpus", "price_minor": 100, "currency": "XOF",
                         "stock": 1, "weight_grams": 10, "published": false}),
            )
            .numbers(&[
                ("/price_minor", NON_NEGATIVE),
                ("/stock", INT32),
                ("/weight_grams", INT32),
            ])
            .texts(&["/name", "/description", "/currency", "/kind", "/store_id"]),
        Route::new("GET", "/api/v1/products/{}"),
        Route::new("PATCH", "/api/v1/products/{}")
            .param(AWA_DRAFT)
            .body(json!({"name": "Bad input", "price_minor": 100, "stock": 1}))
            .numbers(&[("/price_minor", NON_NEGATIVE), ("/stock", INT32)])
            .texts(&["/name"]),
        Route::new("DELETE", "/api/v1/products/{}").param(AWA_DRAFT),
        // Orders.
        Route {
            query_numbers: vec![("limit", PAGE_SIZE)],
            utf8_param: Some("cursor"),
            paged: true,
            ..Route::new("GET", "/api/v1/orders").query("limit=5")
        },
        Route {
            idempotent: true,
            ..Route::new("POST", "/api/v1/orders")
                .header("idempotency-key", "bad-input-corpus")
                .body(order_items.clone())
                .numbers(&[("/items/0/quantity", POSITIVE_1000)])
                .texts(&["/items/0/product_id"])
        },
        Route::new("GET", "/api/v1/orders/{}"),
        Route {
            query_numbers: vec![("limit", PAGE_SIZE)],
            utf8_param: Some("cursor"),
            paged: true,
            ..Route::new("GET", "/api/v1/stores/{}/orders")
                .param(KOFI_STORE)
                .query("limit=5")
        },
        // Payments.
        Route {
            idempotent: true,
            ..Route::new("POST", "/api/v1/payments")
                .header("idempotency-key", "bad-input-corpus")
                .body(json!({"order_id": NOWHERE, "provider": "test"}))
                .texts(&["/order_id", "/provider"])
        },
        // Unsigned: 401 before anything else.
        Route::new("POST", "/api/v1/payments/webhooks/{}")
            .param("test")
            .body(
                json!({"event_id": "bad-input-corpus", "status": "succeeded",
                         "payment_id": NOWHERE, "amount_minor": 100}),
            )
            .numbers(&[("/amount_minor", NON_NEGATIVE)])
            .texts(&["/event_id", "/status", "/payment_id"]),
        Route::new("GET", "/api/v1/payments/webhooks/{}").param("cinetpay"),
        Route::new("GET", "/api/v1/payments/{}"),
        Route::new("POST", "/api/v1/payments/{}/cancel"),
        Route::new("POST", "/api/v1/payments/{}/refunds")
            .body(json!({"amount_minor": 100, "reason": "bad input corpus"}))
            .numbers(&[("/amount_minor", POSITIVE)])
            .texts(&["/reason"]),
        // Shipping: the quote is read-only, so its control is a valid cart (200).
        Route::new("POST", "/api/v1/shipping/quote")
            .body(json!({"store_id": KOFI_STORE, "country": "GH",
                         "items": [{"product_id": SCARF, "quantity": 1}]}))
            .numbers(&[("/items/0/quantity", POSITIVE_1000)])
            .texts(&["/country", "/store_id", "/items/0/product_id"]),
        Route::new("POST", "/api/v1/shipments")
            .body(json!({"order_id": NOWHERE, "carrier": "DHL", "tracking_number": "T1"}))
            .texts(&["/order_id", "/carrier", "/tracking_number"]),
        Route::new("GET", "/api/v1/shipments/{}"),
        Route::new("POST", "/api/v1/shipments/{}/events")
            .body(
                json!({"status": "in_transit", "location": "Accra", "note": "bad input",
                         "occurred_at": "2026-01-01T00:00:00Z"}),
            )
            .texts(&["/status", "/location", "/note", "/occurred_at"]),
        // Downloads.
        Route::new("POST", "/api/v1/downloads/links")
            .body(json!({"order_id": NOWHERE, "product_id": GUIDE}))
            .texts(&["/order_id", "/product_id"]),
        Route::new("GET", "/api/v1/downloads/{}").param("bad-input.corpus.link"),
        // Analytics: a store that does not exist, so the insert fails (404).
        Route {
            body_limit: ANALYTICS_BODY_LIMIT,
            ..Route::new("POST", "/api/v1/analytics/events")
                .body(
                    json!({"events": [{"name": "page_view", "session_id": "bad-input-corpus",
                                         "path": "/x", "store_id": NOWHERE, "props": {"k": "v"}}]}),
                )
                .texts(&["/events/0/name", "/events/0/session_id", "/events/0/path"])
        },
        Route {
            query_texts: vec![
                ("granularity", Expect::Refused),
                ("from", Expect::Refused),
                ("store", Expect::Refused),
            ],
            utf8_param: Some("granularity"),
            ..Route::new("GET", "/api/v1/analytics/sales").query(&format!(
                "store={KOFI_STORE}&from=2026-01-01&to=2026-02-01&granularity=day"
            ))
        },
        // /rest/v1: PostgREST's API through the gateway.
        Route {
            query_numbers: vec![
                ("limit", PAGE_SIZE),
                ("offset", NON_NEGATIVE),
                ("price_minor=eq.", NON_NEGATIVE),
            ],
            utf8_param: Some("name=eq."),
            filter_column: Some("name"),
            ..Route::new("GET", "/rest/v1/products")
                .query("select=id,name&published=eq.true&limit=5")
        },
        Route {
            query_numbers: vec![("limit", PAGE_SIZE), ("total_minor=eq.", NON_NEGATIVE)],
            utf8_param: Some("status=eq."),
            filter_column: Some("status"),
            ..Route::new("GET", "/rest/v1/orders").query("select=id,status&limit=5")
        },
        // Into Awa's store: refused by row-level security for everyone but Awa.
        Route::new("POST", "/rest/v1/products")
            .header("prefer", "return=minimal")
            .body(
                json!({"store_id": AWA_STORE, "kind": "physical", "name": "Bad input",
                         "price_minor": 100, "currency": "XOF", "stock": 1}),
            )
            .numbers(&[("/price_minor", NON_NEGATIVE), ("/stock", INT32)])
            .texts(&["/name", "/currency", "/kind"]),
        Route {
            finds_nothing: Some(
                "row-level security hides Awa's product from everyone else: PostgREST \
                 updates no row and answers 200 []",
            ),
            ..Route::new("PATCH", "/rest/v1/products")
                .query(&format!("id=eq.{AWA_DRAFT}"))
                .header("prefer", "return=representation")
                .body(json!({"name": "Bad input", "price_minor": 100, "stock": 1}))
                .numbers(&[("/price_minor", NON_NEGATIVE), ("/stock", INT32)])
                .texts(&["/name"])
        },
        Route {
            finds_nothing: Some(
                "row-level security hides Awa's product from everyone else: PostgREST \
                 deletes no row and answers 200 []",
            ),
            ..Route::new("DELETE", "/rest/v1/products")
                .query(&format!("id=eq.{AWA_DRAFT}"))
                .header("prefer", "return=representation")
        },
        Route::new("POST", "/rest/v1/rpc/place_order")
            .body(
                json!({"idempotency_key": "bad-input-corpus", "request_hash": "x",
                         "items": [{"product_id": NOWHERE, "quantity": 1}]}),
            )
            .numbers(&[("/items/0/quantity", POSITIVE_1000)])
            .texts(&["/idempotency_key", "/request_hash"]),
        // For the service role only.
        Route::new("POST", "/rest/v1/rpc/auth_check_password")
            .body(json!({"email": "kofi@payhuk.test", "password": "x"}))
            .texts(&["/email", "/password"]),
        // Written by the service role only.
        Route::new("POST", "/rest/v1/analytics_events")
            .body(
                json!([{"name": "page_view", "session_id": "bad-input-corpus",
                          "store_id": NOWHERE}]),
            )
            .texts(&["/0/name", "/0/session_id"]),
    ]
}

// ---------------------------------------------------------------------------------
// Requests on the wire
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// `Content-Length` when there is a body.
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The case writes its own framing headers in `raw`; the body follows as is.
    Manual,
}

#[derive(Clone)]
struct Wire {
    method: String,
    /// Path and query, exactly as sent.
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    /// Header lines written verbatim after `headers`, each with its own line ending.
    raw: Vec<u8>,
    body: Option<Arc<Vec<u8>>>,
    framing: Framing,
}

impl Wire {
    fn new(method: &str, target: String) -> Self {
        Wire {
            method: method.to_owned(),
            target,
            headers: Vec::new(),
            raw: Vec::new(),
            body: None,
            framing: Framing::Length,
        }
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_vec()));
    }

    fn unset(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(Arc::new(body));
        self
    }

    fn bytes(&self, host: &str) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n",
            self.method, self.target
        )
        .into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let body = self.body.as_deref().map(Vec::as_slice);
        match (self.framing, body) {
            (Framing::Length, Some(body)) => {
                out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes())
            }
            (Framing::Chunked, Some(_)) => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
            _ => {}
        }
        out.extend_from_slice(&self.raw);
        out.extend_from_slice(b"\r\n");
        match (self.framing, body) {
            (Framing::Chunked, Some(body)) => {
                for chunk in body.chunks(64 * 1024) {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            (_, Some(body)) => out.extend_from_slice(body),
            _ => {}
        }
        out
    }

    /// One line for a report: method, target, headers and body, shortened.
    fn summary(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| match v.strip_prefix(b"Bearer ey") {
                Some(_) => format!("{n}: Bearer <token>"),
                None => format!("{n}: {}", excerpt(v, 60)),
            })
            .collect();
        let mut line = format!("{} {}", self.method, excerpt(self.target.as_bytes(), 160));
        if !headers.is_empty() {
            line.push_str(&format!(" [{}]", headers.join("; ")));
        }
        if !self.raw.is_empty() {
            line.push_str(&format!(" raw[{}]", excerpt(&self.raw, 100)));
        }
        if let Some(body) = &self.body {
            line.push_str(&format!(
                " body({} bytes{}): {}",
                body.len(),
                if self.framing == Framing::Chunked {
                    ", chunked"
                } else {
                    ""
                },
                excerpt(body, 120)
            ));
        }
        line
    }
}

#[derive(Clone, Debug)]
enum Answer {
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// The connection ended without a complete HTTP response.
    Closed(String),
    /// No complete answer within the budget.
    Hung,
}

impl Answer {
    fn status(&self) -> Option<u16> {
        match self {
            Answer::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn summary(&self) -> String {
        match self {
            Answer::Http { status, body, .. } => format!("{status} {}", excerpt(body, 300)),
            Answer::Closed(why) => format!("no answer: {why}"),
            Answer::Hung => format!("no answer within {REQUEST_BUDGET:?} (a hang)"),
        }
    }
}

/// Sends `wire` to `addr` over a fresh connection and reads the whole answer.
fn send(addr: &str, wire: &Wire) -> Answer {
    let deadline = Instant::now() + REQUEST_BUDGET;
    let mut stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => return Answer::Closed(format!("connect: {e}")),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    let _ = stream.set_write_timeout(Some(REQUEST_BUDGET));
    let _ = stream.set_nodelay(true);
    // The server may answer (413) before it has read the whole body, and then stop
    // reading: the body is written from another thread while this one reads the
    // answer, and the socket is shut down once the answer is in.
    let bytes = wire.bytes(addr);
    let writer = stream
        .try_clone()
        .map(|mut w| std::thread::spawn(move || w.write_all(&bytes).err().map(|e| e.to_string())));
    let answer = read_answer(&mut stream, &wire.method, deadline);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let write_error = match writer {
        Ok(handle) => handle.join().ok().flatten(),
        Err(e) => Some(format!("no writer: {e}")),
    };
    match answer {
        Answer::Closed(why) => Answer::Closed(match write_error {
            Some(e) => format!("{why} (the request was not fully written: {e})"),
            None => why,
        }),
        other => other,
    }
}

fn read_answer(stream: &mut TcpStream, method: &str, deadline: Instant) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some(parsed) = parse_response(&buf, method, false) {
            return parsed;
        }
        if Instant::now() >= deadline {
            return Answer::Hung;
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                return parse_response(&buf, method, true)
                    .unwrap_or_else(|| Answer::Closed("closed without a response".to_owned()));
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                return parse_response(&buf, method, true)
                    .unwrap_or_else(|| Answer::Closed(format!("read: {e}")));
            }
        }
    }
}

/// A complete response in `buf`, `None` while more is needed (or, at EOF, never).
fn parse_response(buf: &[u8], method: &str, eof: bool) -> Option<Answer> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = match status_line.split(' ').nth(1).and_then(|s| s.parse().ok()) {
        Some(s) => s,
        None => return Some(Answer::Closed(format!("not HTTP: {status_line}"))),
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &buf[end + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let done = |body: Vec<u8>| {
        Some(Answer::Http {
            status,
            headers: headers.clone(),
            body,
        })
    };
    if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return done(Vec::new());
    }
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let Some(line_end) = rest[at..].windows(2).position(|w| w == b"\r\n") else {
                return eof.then(|| done(body)).flatten();
            };
            let size_text = String::from_utf8_lossy(&rest[at..at + line_end]);
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            at += line_end + 2;
            if size == 0 {
                return done(body);
            }
            if rest.len() < at + size + 2 {
                return eof.then(|| done(body)).flatten();
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
    }
    if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() >= length {
            return done(rest[..length].to_vec());
        }
        return eof.then(|| done(rest.to_vec())).flatten();
    }
    eof.then(|| done(rest.to_vec())).flatten()
}

fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { '·' } else { c })
        .collect();
    if text.chars().count() > max {
        format!("{}…", text.chars().take(max).collect::<String>())
    } else {
        text
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `query` with every `name=` pair replaced by `pair` (appended).
fn with_pair(query: &str, name: &str, pair: &str) -> String {
    let key = name.split('=').next().unwrap_or(name);
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(key))
        .collect();
    pairs.push(pair);
    pairs.join("&")
}

// ---------------------------------------------------------------------------------
// Building the probes
// ---------------------------------------------------------------------------------

struct Probe {
    case: String,
    route: String,
    who: Who,
    wire: Wire,
    expect: Expect,
    /// How the HTTP server may refuse this one before the worker runs, if it may.
    server_may_refuse: Option<ServerRefusal>,
    /// A `/rest/v1` request: PostgREST's own answer is the reference (see [`judge`]).
    rest: bool,
    /// Index of the control of its route and identity in `controls`, if it has one.
    control: Option<usize>,
}

/// A placeholder a JSON token replaces after serialising.
const SLOT: &str = "\u{1}bad-input-slot\u{1}";

/// The route's body with the value at `pointer` replaced by the raw bytes `token`.
fn body_with(route: &Route, pointer: &str, token: &[u8]) -> Option<Vec<u8>> {
    let mut body = route.body.clone()?;
    *body.pointer_mut(pointer)? = Value::String(SLOT.to_owned());
    let text = body.to_string();
    let slot = serde_json::to_string(SLOT).expect("slot serializes");
    let at = text.find(&slot)?;
    let mut out = text.as_bytes()[..at].to_vec();
    out.extend_from_slice(token);
    out.extend_from_slice(&text.as_bytes()[at + slot.len()..]);
    Some(out)
}

/// The route's body, or for a text-less route the body with one more text field.
fn body_with_text(route: &Route, token: &[u8]) -> Vec<u8> {
    route
        .texts
        .first()
        .and_then(|p| body_with(route, p, token))
        .unwrap_or_else(|| {
            let text = route
                .body
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default();
            let mut out = b"{\"probe\":".to_vec();
            out.extend_from_slice(token);
            out.extend_from_slice(b",");
            out.extend_from_slice(text.strip_prefix('{').unwrap_or("}").as_bytes());
            out
        })
}

/// The body with its first object's first member written twice (the same value).
fn with_duplicate_key(body: &Value) -> Option<String> {
    fn dup(object: &serde_json::Map<String, Value>) -> Option<String> {
        let (key, value) = object.iter().next()?;
        let mut members: Vec<String> = object
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
            .collect();
        members.push(format!("{}:{value}", Value::String(key.clone())));
        Some(format!("{{{}}}", members.join(",")))
    }
    match body {
        Value::Object(o) => dup(o),
        Value::Array(items) => {
            let first = dup(items.first()?.as_object()?)?;
            let rest: Vec<String> = items[1..].iter().map(Value::to_string).collect();
            Some(format!(
                "[{}]",
                std::iter::once(first)
                    .chain(rest)
                    .collect::<Vec<_>>()
                    .join(",")
            ))
        }
        _ => None,
    }
}

fn oversized(limit: usize) -> Arc<Vec<u8>> {
    let mut body = b"{\"pad\":\"".to_vec();
    body.resize(limit + 1 - 2, b'a');
    body.extend_from_slice(b"\"}");
    assert_eq!(body.len(), limit + 1);
    Arc::new(body)
}

struct Corpus {
    probes: Vec<Probe>,
    /// One control per route and identity: the route's own request, unmodified.
    controls: Vec<(String, Who, Wire)>,
}

impl Corpus {
    fn build(routes: &[Route], tokens: &Tokens) -> Corpus {
        let mut corpus = Corpus {
            probes: Vec::new(),
            controls: Vec::new(),
        };
        let big_gateway = oversized(GATEWAY_BODY_LIMIT);
        let big_analytics = oversized(ANALYTICS_BODY_LIMIT);
        for route in routes {
            for who in EVERYONE {
                let control = corpus.controls.len();
                corpus
                    .controls
                    .push((route.label(), who, route.wire(who, tokens)));
                let mut add =
                    |case: String, wire: Wire, expect: Expect, server: Option<ServerRefusal>| {
                        corpus.probes.push(Probe {
                            case,
                            route: route.label(),
                            who,
                            wire,
                            expect,
                            server_may_refuse: server,
                            rest: route.is_rest(),
                            control: Some(control),
                        })
                    };
                let base = || route.wire(who, tokens);
                // What a well-formed hostile value may get on this route.
                let hostile = if route.finds_nothing.is_some() {
                    Expect::RefusedOrNothing
                } else {
                    Expect::Refused
                };

                if let Some(body) = &route.body {
                    let text = body.to_string();
                    let malformed: Vec<(&str, Vec<u8>)> = vec![
                        (
                            "truncated in the middle",
                            text.as_bytes()[..text.len() / 2].to_vec(),
                        ),
                        ("trailing garbage", format!("{text} garbage").into_bytes()),
                        (
                            "two documents back to back",
                            format!("{text}{text}").into_bytes(),
                        ),
                        (
                            "NaN as a value",
                            text.replacen('{', "{\"probe\":NaN,", 1).into_bytes(),
                        ),
                        (
                            "Infinity as a value",
                            text.replacen('{', "{\"probe\":Infinity,", 1).into_bytes(),
                        ),
                        ("single quotes", text.replace('"', "'").into_bytes()),
                        (
                            "a JavaScript comment",
                            format!("/* x */{text}").into_bytes(),
                        ),
                        (
                            "10,000 nested arrays",
                            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
                        ),
                        (
                            "10,000 nested objects",
                            format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000))
                                .into_bytes(),
                        ),
                        ("an empty body", Vec::new()),
                        (
                            "invalid UTF-8 in a string",
                            body_with_text(route, b"\"\xff\xfe bad\""),
                        ),
                        (
                            "overlong UTF-8 in a string",
                            body_with_text(route, b"\"\xc0\xaf\""),
                        ),
                        (
                            "a lone UTF-16 surrogate escape",
                            body_with_text(route, b"\"\\ud800\""),
                        ),
                    ];
                    for (name, bytes) in malformed {
                        add(
                            format!("malformed JSON: {name}"),
                            base().with_body(bytes),
                            Expect::Refused,
                            None,
                        );
                    }
                    let wrong_type: Vec<(&str, &str)> = vec![
                        ("an empty array", "[]"),
                        ("an empty object", "{}"),
                        ("a string", "\"x\""),
                        ("null", "null"),
                        ("a number", "42"),
                    ];
                    for (name, json) in wrong_type {
                        add(
                            format!("JSON of the wrong shape: {name}"),
                            base().with_body(json.as_bytes().to_vec()),
                            hostile,
                            None,
                        );
                    }
                    if let Some(dup) = with_duplicate_key(body) {
                        add(
                            "duplicate keys (one value twice)".into(),
                            base().with_body(dup.into_bytes()),
                            Expect::RefusedOrAsControl,
                            None,
                        );
                    }
                    let mb = format!("\"{}\"", "a".repeat(MIB)).into_bytes();
                    add(
                        "a 1 MB string in a text field".into(),
                        base().with_body(body_with_text(route, &mb)),
                        hostile,
                        None,
                    );
                    add(
                        "an escaped NUL (\\u0000) in a text field".into(),
                        base().with_body(body_with_text(route, b"\"a\\u0000b\"")),
                        hostile,
                        None,
                    );

                    // Over the size limit, declared and chunked.
                    let big = if route.body_limit == ANALYTICS_BODY_LIMIT {
                        big_analytics.clone()
                    } else {
                        big_gateway.clone()
                    };
                    let mut over = base();
                    over.body = Some(big.clone());
                    add(
                        format!(
                            "body over the {} byte limit (Content-Length)",
                            route.body_limit
                        ),
                        over.clone(),
                        Expect::Status(413),
                        None,
                    );
                    over.framing = Framing::Chunked;
                    add(
                        format!(
                            "body over the {} byte limit (chunked, no length)",
                            route.body_limit
                        ),
                        over,
                        Expect::Status(413),
                        None,
                    );

                    // Content types: the control's body under another type.
                    let multipart = format!(
                        "--XBOUNDARY\r\ncontent-disposition: form-data; name=\"json\"\r\n\
                         content-type: application/json\r\n\r\n{text}\r\n--XBOUNDARY--\r\n"
                    );
                    let latin1 = body_with_text(route, b"\"caf\xe9\"");
                    let types: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
                        ("text/plain", Some("text/plain"), text.clone().into_bytes()),
                        (
                            "multipart/form-data with the JSON as a part",
                            Some("multipart/form-data; boundary=XBOUNDARY"),
                            multipart.into_bytes(),
                        ),
                        (
                            "form-urlencoded with a JSON-looking body",
                            Some("application/x-www-form-urlencoded"),
                            text.clone().into_bytes(),
                        ),
                        ("no Content-Type", None, text.clone().into_bytes()),
                        (
                            "application/xml",
                            Some("application/xml"),
                            b"<order><items/></order>".to_vec(),
                        ),
                        (
                            "JSON declared Latin-1, with a Latin-1 byte",
                            Some("application/json; charset=iso-8859-1"),
                            latin1,
                        ),
                    ];
                    for (name, content_type, bytes) in types {
                        let mut wire = base().with_body(bytes);
                        match content_type {
                            Some(t) => wire.set("content-type", t.as_bytes()),
                            None => wire.unset("content-type"),
                        }
                        add(
                            format!("wrong content type: {name}"),
                            wire,
                            Expect::Refused,
                            None,
                        );
                    }

                    for (pointer, takes) in &route.numbers {
                        let mut values: Vec<(&str, &str)> = BAD_NUMBERS.to_vec();
                        if takes.zero_refused {
                            values.extend([("zero", "0"), ("negative zero", "-0")]);
                        }
                        if let Some(over) = takes.over_max {
                            values.push(("one over the maximum", over));
                        }
                        for (name, token) in values {
                            if let Some(bytes) = body_with(route, pointer, token.as_bytes()) {
                                add(
                                    format!("number {pointer} = {token} ({name})"),
                                    base().with_body(bytes),
                                    hostile,
                                    None,
                                );
                            }
                        }
                    }
                    for pointer in &route.texts {
                        for (name, injection) in SQL_INJECTIONS {
                            let token = Value::String((*injection).to_owned()).to_string();
                            if let Some(bytes) = body_with(route, pointer, token.as_bytes()) {
                                add(
                                    format!("SQL injection in {pointer}: {name}"),
                                    base().with_body(bytes),
                                    hostile,
                                    None,
                                );
                            }
                        }
                    }
                    // HTTP syntax: the server parses it before any route or identity
                    // matters, so once per route, as anon (as below).
                    for (name, line, refusal) in RAW_FRAMING.iter().filter(|_| who == Who::Anon) {
                        let mut wire = base();
                        wire.framing = Framing::Manual;
                        wire.raw = line.replace("{len}", &text.len().to_string()).into_bytes();
                        wire.body = Some(Arc::new(text.clone().into_bytes()));
                        add(
                            format!("framing: {name}"),
                            wire,
                            Expect::RefusedOrAsControl,
                            Some(*refusal),
                        );
                    }
                }

                // Query strings.
                for (param, takes) in &route.query_numbers {
                    let mut values: Vec<(&str, &str)> = BAD_QUERY_NUMBERS.to_vec();
                    if takes.zero_refused {
                        values.push(("zero", "0"));
                    }
                    if let Some(over) = takes.over_max {
                        values.push(("one over the maximum", over));
                    }
                    for (name, raw) in values {
                        let pair = if param.ends_with('.') {
                            format!("{param}{raw}")
                        } else {
                            format!("{param}={raw}")
                        };
                        let mut wire = base();
                        wire.target =
                            route.target(&route.param, &with_pair(&route.query, param, &pair));
                        add(
                            format!("query number {pair} ({name})"),
                            wire,
                            Expect::Refused,
                            None,
                        );
                    }
                }
                for (param, expect) in &route.query_texts {
                    for (name, injection) in SQL_INJECTIONS {
                        let pair = format!("{param}={}", enc(injection));
                        let mut wire = base();
                        wire.target =
                            route.target(&route.param, &with_pair(&route.query, param, &pair));
                        add(
                            format!("SQL injection in ?{param}: {name}"),
                            wire,
                            *expect,
                            None,
                        );
                    }
                }
                if let Some(param) = route.utf8_param {
                    for (name, raw) in BAD_UTF8_QUERY {
                        let pair = if param.ends_with('.') {
                            format!("{param}{raw}")
                        } else {
                            format!("{param}={raw}")
                        };
                        let mut wire = base();
                        wire.target =
                            route.target(&route.param, &with_pair(&route.query, param, &pair));
                        add(
                            format!("query {name} in {param}"),
                            wire,
                            Expect::Refused,
                            None,
                        );
                    }
                }
                if route.paged {
                    for (name, cursor) in bad_cursors() {
                        let mut wire = base();
                        wire.target = route.target(
                            &route.param,
                            &with_pair(&route.query, "cursor", &format!("cursor={cursor}")),
                        );
                        add(format!("bad cursor: {name}"), wire, Expect::Refused, None);
                    }
                }
                if let Some(column) = route.filter_column {
                    for (name, filter) in FILTER_INJECTIONS {
                        let mut wire = base();
                        let filter = filter.replace("{col}", column);
                        let key = filter.split('=').next().unwrap_or_default();
                        let query = if ["select", "order"].contains(&key) {
                            with_pair(&route.query, key, &filter)
                        } else {
                            format!("{}&{filter}", route.query)
                        };
                        wire.target = route.target(&route.param, &query);
                        add(
                            format!("PostgREST injection: {name}"),
                            wire,
                            Expect::RefusedOrNothing,
                            None,
                        );
                    }
                }

                // Path parameters.
                if route.pattern.contains("{}") {
                    for (name, param) in bad_path_params() {
                        let mut wire = base();
                        wire.target = route.target(&param, &route.query);
                        add(
                            format!("path parameter: {name}"),
                            wire,
                            Expect::Refused,
                            None,
                        );
                    }
                }

                // Headers.
                if route.idempotent {
                    for (name, key) in bad_idempotency_keys() {
                        let mut wire = base();
                        wire.set("idempotency-key", &key);
                        add(
                            format!("Idempotency-Key: {name}"),
                            wire,
                            Expect::Refused,
                            None,
                        );
                    }
                }
                for (name, header, value) in bad_consistency() {
                    let mut wire = base();
                    wire.set(header, value.as_bytes());
                    add(
                        format!("consistency: {name}"),
                        wire,
                        Expect::RefusedOrAsControl,
                        None,
                    );
                }
                for (name, region) in BAD_REGIONS {
                    let mut wire = base();
                    wire.set("x-payhuk-edge-region", region.as_bytes());
                    add(
                        format!("x-payhuk-edge-region: {name}"),
                        wire,
                        Expect::Status(400),
                        None,
                    );
                }
                if who == Who::Anon {
                    for (name, header, value) in BAD_CREDENTIALS {
                        let mut wire = base();
                        wire.set(header, value.as_bytes());
                        add(
                            format!("credentials: {name}"),
                            wire,
                            Expect::Status(401),
                            None,
                        );
                    }
                }
                let mut padded = base();
                padded.set("x-padding", "p".repeat(16 * 1024).as_bytes());
                add(
                    "a 16 KB header value".into(),
                    padded,
                    Expect::RefusedOrAsControl,
                    None,
                );
                // HTTP syntax and sizes the server parses before any route or identity
                // matters: once per route, as anon. (A 431 takes workerd one second.)
                if who == Who::Anon {
                    let mut huge = base();
                    huge.set("x-padding", "p".repeat(128 * 1024).as_bytes());
                    add(
                        "a 128 KB header value".into(),
                        huge,
                        Expect::RefusedOrAsControl,
                        Some(SERVER_REFUSES_HEADER_SIZE),
                    );
                    let mut many = base();
                    for i in 0..500 {
                        many.headers.push((format!("x-many-{i}"), b"v".to_vec()));
                    }
                    add(
                        "500 headers".into(),
                        many,
                        Expect::RefusedOrAsControl,
                        Some(SERVER_REFUSES_HEADER_SIZE),
                    );
                    for (name, line) in RAW_HEADER_LINES {
                        let mut wire = base();
                        wire.raw = line.to_vec();
                        add(
                            format!("header syntax: {name}"),
                            wire,
                            Expect::RefusedOrAsControl,
                            Some(SERVER_REFUSES_HEADER_SYNTAX),
                        );
                    }
                }
                if route.is_rest() {
                    let mut wire = base();
                    wire.set("accept-profile", b"payhuk_auth");
                    add(
                        "PostgREST: Accept-Profile of a private schema".into(),
                        wire,
                        Expect::Refused,
                        None,
                    );
                    let mut wire = base();
                    wire.set("accept", b"application/x-evil");
                    add(
                        "PostgREST: an Accept nobody serves".into(),
                        wire,
                        Expect::Refused,
                        None,
                    );
                    if route.body.is_some() {
                        let mut wire = base();
                        wire.set("content-profile", b"payhuk_auth");
                        add(
                            "PostgREST: Content-Profile of a private schema".into(),
                            wire,
                            Expect::Refused,
                            None,
                        );
                    }
                }
            }
        }
        corpus
    }

    /// Paths no route serves, and the logins whose email or password is an injection.
    fn add_global(&mut self, tokens: &Tokens) {
        for who in EVERYONE {
            for (name, path) in bad_paths() {
                let mut wire = Wire::new("GET", path.clone());
                if let Some(bearer) = tokens.bearer(who) {
                    wire.set("authorization", bearer.as_bytes());
                }
                self.probes.push(Probe {
                    case: format!("path: {name}"),
                    route: "GET (no route)".into(),
                    who,
                    wire,
                    expect: Expect::Refused,
                    server_may_refuse: (path.len() > 8 * 1024).then_some(SERVER_REFUSES_PATH_SIZE),
                    rest: path.starts_with("/rest/v1"),
                    control: None,
                });
            }
            // Well-formed logins whose email or password is an injection: refused as
            // wrong credentials (401), or 429 once the client's failures add up. They
            // reach the database, and are recorded as failed logins by design.
            for (name, email, password) in [
                (
                    "email-shaped tautology",
                    "x'or'1'='1@payhuk.test",
                    "whatever password",
                ),
                (
                    "email-shaped comment",
                    "bad-input'--@payhuk.test",
                    "whatever password",
                ),
                ("password tautology", NOBODY_EMAIL, "' or '1'='1"),
            ] {
                let mut wire = Wire::new("POST", "/api/v1/auth/login".into()).with_body(
                    json!({"email": email, "password": password})
                        .to_string()
                        .into_bytes(),
                );
                wire.set("content-type", b"application/json");
                if let Some(bearer) = tokens.bearer(who) {
                    wire.set("authorization", bearer.as_bytes());
                }
                self.probes.push(Probe {
                    case: format!("login SQL injection: {name}"),
                    route: "POST /api/v1/auth/login".into(),
                    who,
                    wire,
                    expect: Expect::Refused,
                    server_may_refuse: None,
                    rest: false,
                    control: None,
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Judging an answer
// ---------------------------------------------------------------------------------

enum Verdict {
    /// As expected; `Some` names the allowed outcome when it is not a plain refusal.
    Pass(Option<String>),
    Fail(String),
}

/// The `{code, message, details, hint}` error, or why not.
fn error_shaped(body: &[u8]) -> Result<(), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let object = value.as_object().ok_or("the body is not a JSON object")?;
    for key in ["code", "message", "details", "hint"] {
        if !object.contains_key(key) {
            return Err(format!("the error has no `{key}`"));
        }
    }
    if !object["code"].is_string() || !object["message"].is_string() {
        return Err("`code` and `message` are not strings".into());
    }
    Ok(())
}

/// A 2xx that found nothing: `[]`, `{"items": []}`, or an empty 204.
fn found_nothing(status: u16, body: &[u8]) -> bool {
    if status == 204 {
        return body.iter().all(u8::is_ascii_whitespace);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(rows)) => rows.is_empty(),
        Ok(Value::Object(o)) => o
            .get("items")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty),
        _ => false,
    }
}

struct Judge {
    postgrest: String,
    controls: Vec<Answer>,
}

impl Judge {
    /// What PostgREST itself answers to a `/rest/v1` request, sent to the primary's
    /// PostgREST directly with the same headers and body.
    fn direct(&self, wire: &Wire) -> Answer {
        let mut direct = wire.clone();
        direct.target = wire
            .target
            .strip_prefix("/rest/v1")
            .unwrap_or(&wire.target)
            .to_owned();
        if direct.target.is_empty() || direct.target.starts_with('?') {
            direct.target.insert(0, '/');
        }
        send(&self.postgrest, &direct)
    }

    fn judge(&self, probe: &Probe, answer: &Answer) -> Verdict {
        let (status, headers, body) = match answer {
            Answer::Http {
                status,
                headers,
                body,
            } => (*status, headers, body),
            Answer::Closed(why) => {
                return match probe.server_may_refuse {
                    Some(refusal) => Verdict::Pass(Some(format!(
                        "server refusal (connection closed): {}",
                        refusal.why
                    ))),
                    None => Verdict::Fail(format!("connection closed without an answer: {why}")),
                };
            }
            Answer::Hung => return Verdict::Fail(answer.summary()),
        };
        if let Some((name, value)) = headers
            .iter()
            .find(|(n, v)| n.contains("injected") || v.to_ascii_lowercase().contains("injected"))
        {
            return Verdict::Fail(format!(
                "the response carries an injected header: {name}: {value}"
            ));
        }
        // The worker stamps every answer with the edge region; the HTTP server's own
        // refusals (before the worker runs) have no such header and a plain-text body.
        let from_worker = headers.iter().any(|(n, _)| n == "x-payhuk-region");
        if let (false, Some(refusal)) = (from_worker, probe.server_may_refuse)
            && refusal.statuses.contains(&status)
            && serde_json::from_slice::<Value>(body).is_err()
        {
            return Verdict::Pass(Some(format!(
                "server refusal ({status} {}): {}",
                excerpt(body, 60),
                refusal.why
            )));
        }
        if status >= 500 {
            return Verdict::Fail(format!("{status}: a server error for a bad input"));
        }
        // bcrypt hashes (payhuk_auth.credentials): what the injections try to read.
        if body.windows(4).any(|w| w == b"$2a$" || w == b"$2b$") {
            return Verdict::Fail(format!("{status}: the answer carries a password hash"));
        }
        if !(200..500).contains(&status) || (300..400).contains(&status) {
            return Verdict::Fail(format!("{status}: neither a refusal nor an answer"));
        }
        if let Expect::Status(want) = probe.expect
            && status != want
        {
            return Verdict::Fail(format!("{status}, expected {want}"));
        }
        if status >= 400 {
            return match error_shaped(body) {
                Ok(()) => Verdict::Pass(None),
                Err(why) if probe.rest => {
                    // PostgREST's own errors pass through unchanged: the same body from
                    // PostgREST itself is its answer, not the gateway's.
                    match self.direct(&probe.wire) {
                        Answer::Http {
                            status: s, body: b, ..
                        } if s == status && &b == body => Verdict::Pass(Some(format!(
                            "PostgREST's own {status} body passed through unchanged: {}",
                            excerpt(body, 60)
                        ))),
                        other => Verdict::Fail(format!(
                            "{status} without the JSON error ({why}); PostgREST itself: {}",
                            other.summary()
                        )),
                    }
                }
                Err(why) => Verdict::Fail(format!("{status} without the JSON error: {why}")),
            };
        }
        // A 2xx.
        let control = probe.control.and_then(|c| self.controls[c].status());
        match probe.expect {
            Expect::RefusedOrNothing if found_nothing(status, body) => {
                return Verdict::Pass(Some(
                    "a well-formed hostile value found nothing (2xx, empty)".into(),
                ));
            }
            Expect::RefusedOrAsControl if control == Some(status) => {
                return Verdict::Pass(Some("ignored: answered as the control request".into()));
            }
            _ => {}
        }
        if probe.rest {
            // `/rest/v1` is PostgREST's API, passed through: where PostgREST itself
            // accepts an input (it ignores a `limit` or an `order` it cannot parse, and
            // a `select` it cannot parse reads as `*`), the gateway passing that on is
            // right. That nothing was executed shows in the fingerprint and in the
            // absence of password hashes and timeouts.
            if let Answer::Http { status: s, .. } = self.direct(&probe.wire)
                && s == status
            {
                return Verdict::Pass(Some(format!(
                    "PostgREST's own {status} for the same request (sent to it directly)"
                )));
            }
        }
        Verdict::Fail(format!("{status}: the bad input was accepted"))
    }
}

// ---------------------------------------------------------------------------------
// The database fingerprint
// ---------------------------------------------------------------------------------

/// Tables left out of the fingerprint, and why.
const NOT_FINGERPRINTED: &[(&str, &str)] = &[(
    "payhuk_auth.login_failures",
    // The lockout counts refused logins per account and per client (README,
    // LOGIN_MAX_FAILURES_*): a well-formed login with wrong credentials is recorded
    // there by design, and the corpus sends some (SQL in the email or password).
    "a refused login is recorded by design",
)];

fn fingerprinted_tables(stack: &Stack) -> Vec<String> {
    let listed = stack
        .sql(
            "iad1",
            "select format('%I.%I', n.nspname, c.relname) from pg_catalog.pg_class c \
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
             where n.nspname in ('public', 'payhuk_auth') and c.relkind in ('r', 'p') \
             and not c.relispartition order by 1",
        )
        .expect("listing the tables");
    listed
        .lines()
        .map(str::to_owned)
        .filter(|t| !NOT_FINGERPRINTED.iter().any(|(skip, _)| skip == t))
        .collect()
}

/// Per table: the row count and two sums of 64-bit halves of each row's md5. The sums
/// do not depend on row order and need constant memory, where `md5(string_agg(...))`
/// would build one string of the whole table (`cargo xtask bench` seeds ten million
/// orders; PostgreSQL caps a string at 1 GB). A changed, added or removed row changes
/// them.
fn fingerprint(stack: &Stack, tables: &[String]) -> BTreeMap<String, String> {
    let query = tables
        .iter()
        .map(|t| {
            format!(
                "select '{t}', count(*), \
                 coalesce(sum(('x' || left(md5(r::text), 16))::bit(64)::bigint::numeric), 0), \
                 coalesce(sum(('x' || right(md5(r::text), 16))::bit(64)::bigint::numeric), 0) \
                 from {t} r"
            )
        })
        .collect::<Vec<_>>()
        .join(" union all ");
    stack
        .sql("iad1", &query)
        .expect("fingerprinting the tables")
        .lines()
        .filter_map(|line| line.split_once('|'))
        .map(|(t, rest)| (t.to_owned(), rest.to_owned()))
        .collect()
}

/// The next transaction id on the primary: rows written later have a newer `xmin`.
fn next_xid(stack: &Stack) -> u64 {
    stack
        .sql(
            "iad1",
            "select pg_snapshot_xmax(pg_current_snapshot())::text",
        )
        .expect("the next transaction id")
        .parse::<u64>()
        .expect("an xid8")
}

/// Rows of `table` written since `since` (what a changed fingerprint is made of).
fn rows_written_since(stack: &Stack, table: &str, since: u64) -> String {
    stack
        .sql(
            "iad1",
            &format!(
                "select left(r::text, 300) from {table} r \
                 where r.xmin::text::bigint >= {} limit 5",
                since % (1 << 32)
            ),
        )
        .unwrap_or_else(|e| format!("({e:#})"))
}

// ---------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------

/// Sends every wire on `threads` threads; the answers come back in order.
fn send_all<'a, T: Sync>(
    items: &'a [T],
    addr: &str,
    threads: usize,
    wire: impl Fn(&'a T) -> &'a Wire + Sync,
) -> Vec<Answer> {
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<Option<Answer>>> = Mutex::new(vec![None; items.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let answer = send(addr, wire(item));
                    answers.lock().unwrap()[i] = Some(answer);
                }
            });
        }
    });
    answers
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|a| a.expect("every request answered"))
        .collect()
}

struct Failure {
    probe: usize,
    answer: Answer,
    why: String,
}

#[test]
fn bad_input_gets_a_4xx_json_error_never_a_5xx_and_changes_nothing() {
    let started = Instant::now();
    let stack = stack();
    let gateway = topology::gateway_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let postgrest = format!("127.0.0.1:{}", topology::primary().postgrest_port);
    let tokens = Tokens::new();
    let routes = routes();
    let mut failures: Vec<String> = Vec::new();

    // Every /api/v1 route the router serves is in the corpus.
    for (method, pattern) in served_under("/api/v1") {
        if pattern == "/api/v1/openapi.json" {
            continue; // a static document: no input to be bad
        }
        if !routes
            .iter()
            .any(|r| r.method == method && r.pattern == pattern)
        {
            failures.push(format!(
                "{method} {pattern} is served but not in the bad-input corpus: add it to routes()"
            ));
        }
    }

    let mut corpus = Corpus::build(&routes, &tokens);
    corpus.add_global(&tokens);
    let tables = fingerprinted_tables(&stack);
    let since = next_xid(&stack);
    let before = fingerprint(&stack, &tables);

    // The controls first: what each route answers each identity without the bad part.
    let controls = send_all(&corpus.controls, &gateway, THREADS, |(_, _, w)| w);
    for ((route, who, wire), answer) in corpus.controls.iter().zip(&controls) {
        if !matches!(answer.status(), Some(s) if s < 500) {
            failures.push(format!(
                "control {route} as {who:?}: {}\n    request: {}",
                answer.summary(),
                wire.summary()
            ));
        }
    }
    let judge = Judge {
        postgrest,
        controls,
    };

    let answers = send_all(&corpus.probes, &gateway, THREADS, |p| &p.wire);
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failed: Vec<Failure> = Vec::new();
    for (i, (probe, answer)) in corpus.probes.iter().zip(&answers).enumerate() {
        match judge.judge(probe, answer) {
            Verdict::Pass(Some(outcome)) => named.entry(outcome).or_default().push(format!(
                "{} / {} / {:?}",
                probe.case, probe.route, probe.who
            )),
            Verdict::Pass(None) => {}
            Verdict::Fail(why) => failed.push(Failure {
                probe: i,
                answer: answer.clone(),
                why,
            }),
        }
    }

    // A 5xx, a closed connection or a hang is a failure of the case that got it: never
    // sent again to see whether it goes away.
    let probes_done = started.elapsed();
    let confirmed = failed;

    let after = fingerprint(&stack, &tables);
    for table in &tables {
        if before.get(table) != after.get(table) {
            failures.push(format!(
                "{table} changed: (rows, hash sums) {} -> {}; \
                 rows written during the corpus:\n      {}",
                before.get(table).map_or("-", String::as_str),
                after.get(table).map_or("-", String::as_str),
                rows_written_since(&stack, table, since).replace('\n', "\n      ")
            ));
        }
    }

    for failure in &confirmed {
        let probe = &corpus.probes[failure.probe];
        failures.push(format!(
            "[{}] {} as {:?}: {}\n    request: {}\n    answer:  {}",
            probe.case,
            probe.route,
            probe.who,
            failure.why,
            probe.wire.summary(),
            failure.answer.summary()
        ));
    }

    let named_cases: std::collections::BTreeSet<&str> =
        corpus.probes.iter().map(|p| p.case.as_str()).collect();
    eprintln!(
        "bad-input corpus: {} requests: {} probes ({} named cases over {} routes plus paths \
         no route serves, as anon, customer and merchant) and {} controls, in {:.1?} \
         (all sent by {probes_done:.1?})",
        corpus.probes.len() + corpus.controls.len(),
        corpus.probes.len(),
        named_cases.len(),
        routes.len(),
        corpus.controls.len(),
        started.elapsed()
    );
    eprintln!("allowed outcomes other than a plain 4xx JSON error:");
    for (outcome, cases) in &named {
        eprintln!("  {} x {outcome}", cases.len());
        for case in cases.iter().take(3) {
            eprintln!("      e.g. {case}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad-input failures (of {} requests):\n\n{}",
        failures.len(),
        corpus.probes.len() + corpus.controls.len(),
        failures.join("\n\n")
    );
}
