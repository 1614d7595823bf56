//! The security matrix, against the running stack:
//!
//! 1. token attacks (`alg: none`, wrong keys, header tricks, expiry, `nbf`/`iat`,
//!    audience, role escalation, tampered claims, malformed and huge tokens) on a
//!    representative set of routes: refused with 401 `PHK401` before any upstream call;
//! 2. every `/api/v1` route of the router and the main `/rest/v1` tables (GET, POST,
//!    PATCH, DELETE), each for anon, customer A, customer B, merchant A and merchant B,
//!    written as a table of expected outcomes (allowed and denied both asserted);
//!    every mismatch is collected and the test fails once with the whole list;
//! 3. signed download links: any tampering is 403 `tampered_link` and spends nothing;
//! 4. webhook replay: a redelivered event is a duplicate and changes nothing; stale or
//!    foreign signatures are 401;
//! 5. secrets (the JWT secret, the service-role key, webhook secrets, database and demo
//!    passwords) appear in no response this file sees and in no log of the stack.
//!
//! Every response goes through [`send`], which keeps it for the secrets check. Rows the
//! tests write are tagged with a per-run marker and deleted when the test ends, even if
//! it fails.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use payhuk_edge::auth::keys::derive_key;
use payhuk_edge::config::Config;
use payhuk_edge::consistency::token_key;
use payhuk_edge::region::HeaderLookup;
use payhuk_edge::router::served_under;
use payhuk_edge::services::downloads::link::{Link, link_key};
use payhuk_edge::services::payments::providers::signature::sign_timed;
use payhuk_edge::services::payments::webhook::sign;
use payhuk_stack_tests::{Reply, caught_up, eventually, request, stack};
use serde_json::{Value, json};
use xtask::stack::Stack;
use xtask::topology;

// Seeded ids (migrations/seed.sql).
const AWA: &str = "11111111-1111-4111-8111-000000000001";
const KOFI: &str = "11111111-1111-4111-8111-000000000002";
const AMINATA: &str = "22222222-2222-4222-8222-000000000001";
const JEAN: &str = "22222222-2222-4222-8222-000000000003";
const FATOU: &str = "22222222-2222-4222-8222-000000000004";
const AWA_STORE: &str = "33333333-3333-4333-8333-000000000001";
const KOFI_STORE: &str = "33333333-3333-4333-8333-000000000002";
/// Awa's digital guide: it has a file, Aminata's seeded order holds it.
const GUIDE: &str = "44444444-4444-4444-8444-000000000101";
const GUIDE_FILE: &str = "55555555-5555-4555-8555-000000000101";
const GUIDE_URL: &str = "https://storage.payhuk.test/awa/guide-ecommerce.pdf";
/// Awa's unpublished product.
const AWA_DRAFT: &str = "44444444-4444-4444-8444-000000000104";
const SCARF: &str = "44444444-4444-4444-8444-000000000201";
/// Aminata's paid order at Awa's store, its payment (two log rows) and a download.
const AMINATA_ORDER: &str = "77777777-7777-4777-8777-000000000001";
const AMINATA_PAYMENT: &str = "88888888-8888-4888-8888-000000000001";
/// Jean's order at Kofi's store and its shipment.
const JEAN_ORDER: &str = "77777777-7777-4777-8777-000000000002";
const JEAN_SHIPMENT: &str = "99999999-9999-4999-8999-000000000001";
const PASSWORD: &str = "payhuk-demo-password";
/// The issuer and audience of the access tokens the auth service issues.
const ISSUER: &str = "payhuk-edge";
const AUDIENCE: &str = "authenticated";

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// Every response this file has seen: status, headers and body as text.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A request to the gateway; the reply is kept for the secrets check. Sent once: a 5xx
/// is the answer the test judges, never retried away.
fn send(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let url = format!("{}{path}", topology::gateway_url());
    let reply = request(method, &url, headers, body);
    SEEN.lock().unwrap().push(format!(
        "{} {:?} {}",
        reply.status, reply.headers, reply.body
    ));
    reply
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A marker unique to this run: lowercase letters and digits, so it is also a valid
/// PostgREST alias and a PostgreSQL LIKE pattern without escapes.
fn run_marker(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{:x}", std::process::id(), nanos % 0xffff_ffff)
}

/// base64url without padding, as JWTs use it.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// HMAC-SHA256 of `message` with `secret`, base64url. (`derive_key` is exactly that
/// HMAC; it is reused here so the test needs no crypto crate of its own.)
fn hmac_b64(secret: &[u8], message: &str) -> String {
    b64url(&derive_key(secret, message))
}

/// A JWT with any header and claims bytes, signed HS256 with `secret`.
fn jwt_raw(header: &[u8], claims: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64url(header), b64url(claims));
    let signature = hmac_b64(secret, &input);
    format!("{input}.{signature}")
}

fn jwt(header: &Value, claims: &Value, secret: &[u8]) -> String {
    jwt_raw(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        secret,
    )
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn jwt_secret() -> &'static [u8] {
    topology::JWT_SECRET.as_bytes()
}

/// Claims shaped like the auth service's access tokens.
fn session_claims(sub: &str, email: &str, stores: &[&str], now: i64) -> Value {
    json!({"role": "authenticated", "iss": ISSUER, "sub": sub, "aud": AUDIENCE, "email": email,
           "store_ids": stores, "iat": now, "exp": now + 3600})
}

fn customer_a_token(now: i64) -> String {
    jwt(
        &hs256(),
        &session_claims(AMINATA, "aminata@payhuk.test", &[], now),
        jwt_secret(),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The error body in PostgREST's shape, `{code, message, details, hint}`, with the
/// request's id (`request_id`, the response's `x-request-id`) and nothing else.
fn error_body(reply: &Reply) -> Result<Value, String> {
    let value: Value = serde_json::from_str(&reply.body)
        .map_err(|_| format!("the error body is not JSON: {:?}", cut(&reply.body)))?;
    let mut keys: Vec<&str> = value
        .as_object()
        .ok_or("the error body is not an object")?
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    if keys != ["code", "details", "hint", "message", "request_id"] {
        return Err(format!("the error body has the keys {keys:?}"));
    }
    if value["request_id"].as_str() != reply.header("x-request-id") {
        return Err(format!(
            "the error body names request {} where the response says {:?}",
            value["request_id"],
            reply.header("x-request-id")
        ));
    }
    if !value["code"].is_string() || !value["message"].is_string() {
        return Err("code and message must be text".into());
    }
    Ok(value)
}

fn json_of(reply: &Reply) -> Result<Value, String> {
    serde_json::from_str(&reply.body).map_err(|_| format!("not JSON: {:?}", cut(&reply.body)))
}

fn cut(text: &str) -> String {
    text.chars().take(300).collect()
}

/// One value from SQL on the primary.
fn scalar(stack: &Stack, sql: &str) -> Result<String, String> {
    stack
        .sql("iad1", sql)
        .map_err(|e| format!("SQL failed: {e:#}"))
}

fn count_is(stack: &Stack, from_where: &str, expected: usize) -> Result<(), String> {
    let n = scalar(stack, &format!("select count(*) from {from_where}"))?;
    if n == expected.to_string() {
        Ok(())
    } else {
        Err(format!("{n} rows in {from_where}, expected {expected}"))
    }
}

/// Everything a test run tagged with `run` wrote, deleted in dependency order.
struct Cleanup<'a> {
    stack: &'a Stack,
    run: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let tag = format!("sec-{}%", self.run);
        let sql = format!(
            "create temp table sec_orders on commit drop as \
               select distinct i.order_id as id from public.order_items i \
               join public.products p on p.id = i.product_id where p.name like '{tag}'; \
             create temp table sec_payments on commit drop as \
               select id from public.payments where order_id in (select id from sec_orders); \
             delete from public.shipment_events where shipment_id in (select id from public.shipments \
               where order_id in (select id from sec_orders) or carrier like '{tag}'); \
             delete from public.shipments where order_id in (select id from sec_orders) or carrier like '{tag}'; \
             delete from public.digital_downloads where order_id in (select id from sec_orders); \
             delete from public.download_grants where order_id in (select id from sec_orders); \
             delete from public.transaction_logs where payment_id in (select id from sec_payments); \
             delete from public.payment_events where payment_id in (select id from sec_payments); \
             delete from public.payments where id in (select id from sec_payments); \
             delete from public.order_items where order_id in (select id from sec_orders); \
             delete from public.orders where id in (select id from sec_orders); \
             delete from public.product_files where file_name like '{tag}' \
               or product_id in (select id from public.products where name like '{tag}'); \
             delete from public.products where name like '{tag}'; \
             delete from public.stores where slug like '{tag}'; \
             delete from public.profiles where email like '{tag}'; \
             delete from public.analytics_events where session_id like '{tag}'; \
             delete from public.digital_downloads where user_agent like '{tag}'; \
             delete from public.idempotency_keys where key like '{tag}';"
        );
        if let Err(e) = self.stack.sql("iad1", &format!("begin; {sql} commit;")) {
            eprintln!("cleaning up after the security test {}: {e:#}", self.run);
        }
    }
}

/// The secrets of the local stack, by name.
fn secrets() -> Vec<(String, String)> {
    let service = topology::service_role_key();
    let service_signature = service.rsplit('.').next().unwrap().to_owned();
    let mut all = vec![
        ("JWT secret".to_owned(), topology::JWT_SECRET.to_owned()),
        ("service-role key".to_owned(), service),
        ("service-role key signature".to_owned(), service_signature),
        ("demo password".to_owned(), PASSWORD.to_owned()),
        (
            "authenticator password".to_owned(),
            topology::AUTHENTICATOR_PASSWORD.to_owned(),
        ),
        (
            "replicator password".to_owned(),
            topology::REPLICATOR_PASSWORD.to_owned(),
        ),
    ];
    for provider in ["test", "fedapay", "moneroo"] {
        all.push((
            format!("webhook secret of {provider}"),
            topology::webhook_secret(provider),
        ));
    }
    all
}

/// Which secrets `text` contains.
fn leaked_in(text: &str) -> Vec<String> {
    secrets()
        .into_iter()
        .filter(|(_, value)| text.contains(value.as_str()))
        .map(|(name, _)| name)
        .collect()
}

/// No response seen so far carries a secret.
fn assert_no_secret_in_responses() {
    let seen = SEEN.lock().unwrap();
    let leaks: Vec<String> = seen
        .iter()
        .filter_map(|r| {
            let leaked = leaked_in(r);
            (!leaked.is_empty()).then(|| format!("{leaked:?} in {}", cut(r)))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "secrets in {} of {} responses:\n{}",
        leaks.len(),
        seen.len(),
        leaks.join("\n")
    );
}

fn post_json(path: &str, token: Option<&str>, body: &Value, extra: &[(&str, &str)]) -> Reply {
    let auth = token.map(bearer);
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    headers.extend_from_slice(extra);
    send("POST", path, &headers, Some(&body.to_string()))
}

fn login(email: &str) -> Value {
    eventually(
        &format!("a login as {email}"),
        Duration::from_secs(30),
        || {
            let reply = post_json(
                "/api/v1/auth/login",
                None,
                &json!({"email": email, "password": PASSWORD}),
                &[],
            );
            match reply.status {
                200 => Some(reply.json()),
                // Another test's failed logins can lock this client out for a moment.
                429 => None,
                other => panic!("login {email}: {other} {}", reply.body),
            }
        },
    )
}

/// A test-provider notification, signed at `timestamp` with `secret`.
fn test_webhook(raw: &str, timestamp: i64, secret: &str) -> Reply {
    let (name, value) = sign(raw.as_bytes(), secret.as_bytes(), timestamp);
    send(
        "POST",
        "/api/v1/payments/webhooks/test",
        &[(name, value.as_str()), ("content-type", "application/json")],
        Some(raw),
    )
}

/// An order of a fresh product of Awa's (tagged with `run`) by `customer`, and a pending
/// `test` payment for it.
fn order_and_payment(stack: &Stack, run: &str, customer: &str, name: &str) -> (Value, Value) {
    let product = scalar(
        stack,
        &format!(
            "insert into public.products (store_id, kind, name, price_minor, currency, published) \
             values ('{AWA_STORE}', 'digital', 'sec-{run}-{name}', 1000, 'XOF', true) returning id"
        ),
    )
    .unwrap();
    let token = jwt(
        &hs256(),
        &session_claims(customer, "customer@payhuk.test", &[], now_secs()),
        jwt_secret(),
    );
    let order = post_json(
        "/api/v1/orders",
        Some(&token),
        &json!({"items": [{"product_id": product, "quantity": 1}]}),
        &[("idempotency-key", &format!("sec-{run}-{name}-order"))],
    );
    assert_eq!(order.status, 201, "{}", order.body);
    let order = order.json();
    let payment = post_json(
        "/api/v1/payments",
        Some(&token),
        &json!({"order_id": order["id"], "provider": "test"}),
        &[("idempotency-key", &format!("sec-{run}-{name}-payment"))],
    );
    assert_eq!(payment.status, 201, "{}", payment.body);
    (order, payment.json())
}

// ---------------------------------------------------------------------------------
// 1. Token attacks
// ---------------------------------------------------------------------------------

/// A representative route, with a marker PostgREST would log if the request reached it.
struct Probe {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<String>,
    extra: Vec<(&'static str, String)>,
    /// Whether the marker is in the URL PostgREST logs (otherwise the proof that nothing
    /// went upstream is the missing `x-payhuk-upstream` and the database).
    logged: bool,
}

fn probes(marker: &str) -> Vec<Probe> {
    vec![
        Probe {
            name: "public read GET /api/v1/products",
            method: "GET",
            path: format!("/api/v1/products?q={marker}&limit=1"),
            body: None,
            extra: vec![],
            logged: true,
        },
        Probe {
            name: "customer read GET /api/v1/orders",
            method: "GET",
            path: "/api/v1/orders?limit=1".into(),
            body: None,
            extra: vec![],
            logged: false,
        },
        Probe {
            name: "account read GET /api/v1/auth/me",
            method: "GET",
            path: "/api/v1/auth/me".into(),
            body: None,
            extra: vec![],
            logged: false,
        },
        Probe {
            // An unknown product: with a valid token it reaches PostgREST and is a 404.
            name: "write POST /api/v1/orders",
            method: "POST",
            path: "/api/v1/orders".into(),
            body: Some(
                json!({"items": [{"product_id": "00000000-0000-4000-8000-00000000dead", "quantity": 1}]})
                    .to_string(),
            ),
            extra: vec![
                ("idempotency-key", marker.to_owned()),
                ("content-type", "application/json".into()),
            ],
            logged: false,
        },
        Probe {
            name: "/rest/v1 read GET /rest/v1/orders",
            method: "GET",
            path: format!("/rest/v1/orders?select={marker}:id&limit=1"),
            body: None,
            extra: vec![],
            logged: true,
        },
        Probe {
            name: "/rest/v1 write POST /rest/v1/analytics_events",
            method: "POST",
            path: format!("/rest/v1/analytics_events?select={marker}:id"),
            body: Some(json!({"name": "sec_attack", "session_id": marker}).to_string()),
            extra: vec![
                ("content-type", "application/json".into()),
                ("prefer", "return=representation".into()),
            ],
            logged: true,
        },
    ]
}

fn probe(p: &Probe, credential: Option<(&str, &str)>) -> Reply {
    let mut headers: Vec<(&str, &str)> = p.extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
    if let Some(c) = credential {
        headers.push(c);
    }
    send(p.method, &p.path, &headers, p.body.as_deref())
}

/// 401 `PHK401` in PostgREST's shape, said in `WWW-Authenticate`, from the edge.
fn refused_at_the_edge(reply: &Reply) -> Result<(), String> {
    if reply.status != 401 {
        return Err(format!(
            "status {} (expected 401): {}",
            reply.status,
            cut(&reply.body)
        ));
    }
    let body = error_body(reply)?;
    if body["code"] != "PHK401" {
        return Err(format!("code {} (expected PHK401)", body["code"]));
    }
    match reply.header("www-authenticate") {
        Some(v) if v.contains("error=\"invalid_token\"") => {}
        other => return Err(format!("WWW-Authenticate is {other:?}")),
    }
    if let Some(upstream) = reply.header("x-payhuk-upstream") {
        return Err(format!("it reached PostgREST ({upstream})"));
    }
    Ok(())
}

fn postgrest_logs(stack: &Stack) -> String {
    topology::NODES
        .iter()
        .map(|node| {
            let file = xtask::postgrest::service(&stack.dirs, node).log_file;
            String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Headers for the unit-level audience check.
struct Lookup(Vec<(&'static str, String)>);

impl HeaderLookup for Lookup {
    fn header(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// The gateway's local configuration as `cargo xtask up` writes it.
fn local_gateway_vars() -> HashMap<String, String> {
    topology::gateway_env()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn forged_expired_and_malformed_tokens_are_refused_at_the_edge() {
    let stack = stack();
    let run = run_marker("t");
    let now = now_secs();
    let a = session_claims(AMINATA, "aminata@payhuk.test", &[], now);
    let valid = customer_a_token(now);
    let parts: Vec<&str> = valid.split('.').collect();
    let (head, sig) = (parts[0], parts[2]);
    let wrong_key = b"not-the-project-secret-but-long-enough-0000".as_slice();
    let with = |changes: Value| {
        let mut claims = a.clone();
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let unsigned = |header: Value, claims: &Value| {
        format!(
            "{}.{}.",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        )
    };
    // Aminata's claims, HMAC-SHA512 with the project secret (made with Python's hmac,
    // expires 2050): a correct HS512 signature, refused because only HS256 is accepted.
    const HS512: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYXV0aGVudGljYXRlZCIsImlzcyI6InBheWh1ay1lZGdlIiwic3ViIjoiMjIyMjIyMjItMjIyMi00MjIyLTgyMjItMDAwMDAwMDAwMDAxIiwiZXhwIjoyNTI0NjA4MDAwLCJhdWQiOiJhdXRoZW50aWNhdGVkIn0.CjdNz-vgRzqe0GG3vHKatjapfqaEWm6VwSyopIukohaB50eg7JaExMnyIHWogJVDAS936JLKeSGpmjBqF4Btlw";
    let huge = with(json!({"pad": "x".repeat(64 * 1024)}));

    let b = |t: String| ("authorization", bearer(&t));
    let attacks: Vec<(&str, (&str, String))> = vec![
        ("alg none", b(unsigned(json!({"alg": "none"}), &a))),
        (
            "alg None",
            b(unsigned(json!({"alg": "None", "typ": "JWT"}), &a)),
        ),
        ("alg NONE", b(unsigned(json!({"alg": "NONE"}), &a))),
        (
            "alg none keeping a valid signature",
            b(format!(
                "{}.{}.{sig}",
                b64url(br#"{"alg":"none"}"#),
                parts[1]
            )),
        ),
        ("HS256 with a wrong key", b(jwt(&hs256(), &a, wrong_key))),
        ("HS256 with an empty key", b(jwt(&hs256(), &a, b""))),
        (
            "RS256 header, HMAC with the secret (alg confusion)",
            b(jwt(
                &json!({"alg": "RS256", "typ": "JWT"}),
                &a,
                jwt_secret(),
            )),
        ),
        ("HS512, correctly signed", b(HS512.to_owned())),
        (
            "alg hs256 in lower case",
            b(jwt(&json!({"alg": "hs256"}), &a, jwt_secret())),
        ),
        ("no alg", b(jwt(&json!({"typ": "JWT"}), &a, jwt_secret()))),
        (
            "alg twice (HS256 then none)",
            b(jwt_raw(
                br#"{"alg":"HS256","alg":"none"}"#,
                a.to_string().as_bytes(),
                jwt_secret(),
            )),
        ),
        (
            "embedded jwk with the attacker's key",
            b(jwt(
                &json!({"alg": "HS256", "jwk": {"kty": "oct", "k": b64url(wrong_key)}}),
                &a,
                wrong_key,
            )),
        ),
        (
            "kid pointing at /dev/null, empty key",
            b(jwt(
                &json!({"alg": "HS256", "kid": "../../../../../../dev/null"}),
                &a,
                b"",
            )),
        ),
        // The refusal names the algorithm in `WWW-Authenticate`: a header value
        // must never carry the client's raw bytes.
        (
            "CR LF in alg",
            b(jwt(
                &json!({"alg": "HS256\r\nSet-Cookie: pwned=1"}),
                &a,
                jwt_secret(),
            )),
        ),
        (
            "NUL in alg",
            b(jwt(&json!({"alg": "HS256\u{0}"}), &a, jwt_secret())),
        ),
        (
            "expired a minute ago",
            b(jwt(&hs256(), &with(json!({"exp": now - 60})), jwt_secret())),
        ),
        (
            "expired long ago",
            b(jwt(&hs256(), &with(json!({"exp": 1})), jwt_secret())),
        ),
        (
            "service_role claimed, wrong key",
            b(jwt(
                &hs256(),
                &with(json!({"role": "service_role"})),
                wrong_key,
            )),
        ),
        (
            "service_role claimed under the customer's signature",
            b(format!(
                "{head}.{}.{sig}",
                b64url(with(json!({"role": "service_role"})).to_string().as_bytes())
            )),
        ),
        (
            "sub changed to customer B under A's signature",
            b(format!(
                "{head}.{}.{sig}",
                b64url(with(json!({"sub": JEAN})).to_string().as_bytes())
            )),
        ),
        (
            "store_ids added under the customer's signature",
            b(format!(
                "{head}.{}.{sig}",
                b64url(
                    with(json!({"store_ids": [AWA_STORE, KOFI_STORE]}))
                        .to_string()
                        .as_bytes()
                )
            )),
        ),
        (
            "exp extended under the customer's signature",
            b(format!(
                "{head}.{}.{sig}",
                b64url(
                    with(json!({"exp": now + 10 * 365 * 86400}))
                        .to_string()
                        .as_bytes()
                )
            )),
        ),
        ("signature stripped", b(format!("{head}.{}.", parts[1]))),
        ("two segments", b(format!("{head}.{}", parts[1]))),
        ("four segments", b(format!("{valid}.{sig}"))),
        ("header not base64", b(format!("{{{{!!.{}.{sig}", parts[1]))),
        ("payload not base64", b(format!("{head}.%%%%.{sig}"))),
        (
            "signature not base64",
            b(format!("{head}.{}.***", parts[1])),
        ),
        ("signature padded", b(format!("{valid}="))),
        (
            "payload not JSON, correctly signed",
            b(jwt_raw(
                hs256().to_string().as_bytes(),
                b"not json at all",
                jwt_secret(),
            )),
        ),
        (
            "claims without a role, correctly signed",
            b(jwt(
                &hs256(),
                &json!({"sub": AMINATA, "exp": now + 3600}),
                jwt_secret(),
            )),
        ),
        (
            "exp as text, correctly signed",
            b(jwt(
                &hs256(),
                &with(json!({"exp": (now + 3600).to_string()})),
                jwt_secret(),
            )),
        ),
        (
            "a 64 KiB token, wrong key",
            b(jwt(&hs256(), &huge, wrong_key)),
        ),
        ("not a JWT", b("not-a-token".to_owned())),
        ("empty bearer", ("authorization", "Bearer".to_owned())),
        (
            "Basic scheme",
            ("authorization", "Basic YW1pbmF0YTpwYXlodWs=".to_owned()),
        ),
        (
            "alg none as apikey",
            ("apikey", unsigned(json!({"alg": "none"}), &a)),
        ),
        (
            "service_role with a wrong key as apikey",
            (
                "apikey",
                jwt(&hs256(), &with(json!({"role": "service_role"})), wrong_key),
            ),
        ),
    ];

    let mut failures = Vec::new();
    let mut markers = Vec::new();
    let mut requests = 0;
    for (i, (attack, (header, value))) in attacks.iter().enumerate() {
        let marker = format!("{run}a{i}z");
        for p in probes(&marker) {
            let reply = probe(&p, Some((*header, value.as_str())));
            requests += 1;
            if let Err(why) = refused_at_the_edge(&reply) {
                failures.push(format!("{attack} on {}: {why}", p.name));
            }
            if p.logged {
                markers.push((format!("{attack} on {}", p.name), marker.clone()));
            }
        }
    }

    // Correct signatures that PostgREST refuses: not yet valid (`nbf`), issued in the
    // future (`iat`). jwt.rs checks neither; whatever the gateway does, such a token must
    // never be served.
    for (attack, claims) in [
        ("nbf an hour ahead", with(json!({"nbf": now + 3600}))),
        ("iat an hour ahead", with(json!({"iat": now + 3600}))),
    ] {
        let token = bearer(&jwt(&hs256(), &claims, jwt_secret()));
        for p in probes(&format!("{run}nbf")) {
            let reply = probe(&p, Some(("authorization", token.as_str())));
            requests += 1;
            if reply.status != 401 || error_body(&reply).is_err() {
                failures.push(format!(
                    "{attack} on {}: {} {} (a token not yet valid must be refused with 401)",
                    p.name,
                    reply.status,
                    cut(&reply.body)
                ));
            }
        }
    }

    // Correctly signed tokens naming a database role other than the API roles: PostgREST
    // cannot switch to them, and says why with the exact refusal PostgreSQL gives; the
    // gateway's own account route serves the customer the `sub` names, no more.
    for (role, status, code) in [
        ("postgres", 403, "42501"),
        ("supabase_admin", 400, "22023"),
        ("no_such_role", 400, "22023"),
        // It may switch to it, but the API's pre-request hook is not its to run.
        ("authenticator", 403, "42501"),
    ] {
        let token = bearer(&jwt(&hs256(), &with(json!({"role": role})), jwt_secret()));
        let marker = format!("{run}r{role}").replace('_', "");
        for p in probes(&marker) {
            let reply = probe(&p, Some(("authorization", token.as_str())));
            requests += 1;
            let verdict = if p.path == "/api/v1/auth/me" {
                match (reply.status, json_of(&reply)) {
                    (200, Ok(me)) if me["user_id"] == AMINATA => Ok(()),
                    _ => Err("expected 200 with the sub's own account".to_owned()),
                }
            } else {
                match (reply.status, error_body(&reply)) {
                    (s, Ok(body)) if s == status && body["code"] == code => Ok(()),
                    _ => Err(format!("expected {status} {code}")),
                }
            };
            if let Err(why) = verdict {
                failures.push(format!(
                    "role {role} on {}: {} {} ({why})",
                    p.name,
                    reply.status,
                    cut(&reply.body)
                ));
            }
        }
    }

    // A correctly signed customer token that claims stores, an admin flag and a
    // service role in its metadata: the database decides, the claims grant nothing.
    let claims = with(
        json!({"store_ids": [AWA_STORE, KOFI_STORE], "is_admin": true,
                             "app_metadata": {"role": "service_role"}, "user_role": "admin"}),
    );
    let escalated = bearer(&jwt(&hs256(), &claims, jwt_secret()));
    let auth = [("authorization", escalated.as_str())];
    for (what, reply, expected) in [
        (
            "GET Kofi's store orders",
            send(
                "GET",
                &format!("/api/v1/stores/{KOFI_STORE}/orders"),
                &auth,
                None,
            ),
            404,
        ),
        (
            "GET Awa's store orders",
            send(
                "GET",
                &format!("/api/v1/stores/{AWA_STORE}/orders"),
                &auth,
                None,
            ),
            404,
        ),
        (
            "GET Jean's order",
            send("GET", &format!("/api/v1/orders/{JEAN_ORDER}"), &auth, None),
            404,
        ),
        (
            "PATCH Awa's draft",
            send(
                "PATCH",
                &format!("/api/v1/products/{AWA_DRAFT}"),
                &[auth[0], ("content-type", "application/json")],
                Some(r#"{"published": false}"#),
            ),
            404,
        ),
        (
            "GET Kofi's sales",
            send(
                "GET",
                &format!(
                    "/api/v1/analytics/sales?store={KOFI_STORE}&from=2026-01-01&to=2026-02-01"
                ),
                &auth,
                None,
            ),
            404,
        ),
    ] {
        requests += 1;
        if reply.status != expected {
            failures.push(format!(
                "escalated claims, {what}: {} {} (expected {expected})",
                reply.status,
                cut(&reply.body)
            ));
        }
    }
    for (table, what) in [
        ("orders", "select=customer_id,store_id&limit=500"),
        ("product_files", "select=id"),
    ] {
        let reply = send("GET", &format!("/rest/v1/{table}?{what}"), &auth, None);
        requests += 1;
        let rows = json_of(&reply)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        let own = rows.iter().all(|r| r["customer_id"] == AMINATA);
        let fine = reply.status == 200 && own && (table == "orders" || rows.is_empty());
        if !fine {
            failures.push(format!(
                "escalated claims, GET /rest/v1/{table}: {} {} rows, not all hers or not empty",
                reply.status,
                rows.len()
            ));
        }
    }

    // Audience. The local stack sets JWT_AUDIENCE (and PostgREST's jwt-aud) only if
    // gateway_env says so; otherwise the stack checks what the code does when it is set.
    let other_aud = bearer(&jwt(
        &hs256(),
        &with(json!({"aud": "another-app"})),
        jwt_secret(),
    ));
    let reply = send(
        "GET",
        "/api/v1/orders?limit=1",
        &[("authorization", other_aud.as_str())],
        None,
    );
    requests += 1;
    let vars = local_gateway_vars();
    if vars.contains_key("JWT_AUDIENCE") {
        if let Err(why) = refused_at_the_edge(&reply) {
            failures.push(format!("a token for another audience: {why}"));
        }
    } else {
        assert_eq!(
            reply.status, 200,
            "no JWT_AUDIENCE locally: a token for another audience is accepted: {}",
            reply.body
        );
        let mut with_audience = vars.clone();
        with_audience.insert("JWT_AUDIENCE".into(), AUDIENCE.into());
        let config = Config::from_source(&with_audience).unwrap_or_else(|e| panic!("{e}"));
        let auth = |t: &str| {
            futures::executor::block_on(payhuk_edge::auth::request::authenticate(
                &Lookup(vec![("authorization", bearer(t))]),
                &config,
                &payhuk_edge::auth::request::NoFetchedKeys,
                &payhuk_edge::auth::crypto::native::RustCrypto,
                now,
            ))
        };
        let other = jwt(&hs256(), &with(json!({"aud": "another-app"})), jwt_secret());
        let err = auth(&other).expect_err("another audience is refused");
        assert_eq!(err.status(), 401);
        assert_eq!(err.body().code, "PHK401");
        assert!(
            err.headers()
                .iter()
                .any(|(n, v)| *n == "www-authenticate" && v.contains("invalid_token"))
        );
        let listed = jwt(
            &hs256(),
            &with(json!({"aud": ["another-app", AUDIENCE]})),
            jwt_secret(),
        );
        assert!(auth(&listed).is_ok(), "a list holding the audience");
        assert!(auth(&valid).is_ok(), "the auth service's own tokens");
    }

    // The same probes with a valid token reach PostgREST: the checks above can fail.
    let marker = format!("{run}ok");
    for p in probes(&marker) {
        let reply = probe(&p, Some(("authorization", bearer(&valid).as_str())));
        requests += 1;
        assert!(
            reply.header("x-payhuk-upstream").is_some(),
            "{} with a valid token went upstream: {} {}",
            p.name,
            reply.status,
            reply.body
        );
    }
    eventually(
        "the valid token's markers in PostgREST's logs",
        Duration::from_secs(10),
        || (postgrest_logs(&stack).matches(marker.as_str()).count() >= 3).then_some(()),
    );
    let logs = postgrest_logs(&stack);
    for (what, marker) in &markers {
        if logs.contains(marker.as_str()) {
            failures.push(format!(
                "{what}: reached PostgREST (marker {marker} logged)"
            ));
        }
    }
    for (table, column) in [
        ("public.analytics_events", "session_id"),
        ("public.idempotency_keys", "key"),
    ] {
        if let Err(why) = count_is(&stack, &format!("{table} where {column} like '{run}%'"), 0) {
            failures.push(format!("a refused token wrote to the database: {why}"));
        }
    }

    println!(
        "{} token attacks, {requests} requests, {} failures",
        attacks.len(),
        failures.len()
    );
    assert_no_secret_in_responses();
    assert!(
        failures.is_empty(),
        "{} token checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// 2. The matrix
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anon,
    /// Aminata: owns the seeded order at Awa's store.
    CustomerA,
    /// Jean: owns the seeded order at Kofi's store.
    CustomerB,
    /// Awa: owns store …0001.
    MerchantA,
    /// Kofi: owns store …0002.
    MerchantB,
}

const EVERYONE: [Who; 5] = [
    Who::Anon,
    Who::CustomerA,
    Who::CustomerB,
    Who::MerchantA,
    Who::MerchantB,
];

impl Who {
    fn index(self) -> usize {
        self as usize
    }

    fn slug(self) -> &'static str {
        ["anon", "custa", "custb", "mercha", "merchb"][self.index()]
    }

    /// The user the principal's token names.
    fn user(self) -> Option<&'static str> {
        [None, Some(AMINATA), Some(JEAN), Some(AWA), Some(KOFI)][self.index()]
    }

    /// The account the principal's login and refresh cells use (anon: Aminata's).
    fn account(self) -> &'static str {
        self.user().unwrap_or(AMINATA)
    }

    fn email(self) -> &'static str {
        [
            "aminata@payhuk.test",
            "aminata@payhuk.test",
            "jean@payhuk.test",
            "awa@payhuk.test",
            "kofi@payhuk.test",
        ][self.index()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Served with this status; the row's check or after says what was served.
    Allowed(u16),
    /// Refused with this status and an error body in PostgREST's shape.
    Denied(u16),
    /// A `/rest/v1` answer with this status and a JSON array of exactly this many rows
    /// (0: what row-level security lets this principal see or touch is nothing).
    Rows(u16, usize),
    /// A `/rest/v1` answer with this status and at least one row; the row's check says
    /// whose they are.
    Many(u16),
}

use Expect::{Allowed, Denied, Many, Rows};

impl Expect {
    fn allowed(self) -> bool {
        matches!(self, Allowed(_) | Many(_)) || matches!(self, Rows(_, n) if n > 0)
    }

    /// Whether the status and shape alone say what was served: anything else needs the
    /// row's check of the data (whose, how many).
    fn speaks_for_itself(self) -> bool {
        matches!(self, Denied(_) | Rows(..))
    }

    fn verdict(self, reply: &Reply) -> Result<(), String> {
        let status = match self {
            Allowed(s) | Denied(s) | Rows(s, _) | Many(s) => s,
        };
        if reply.status != status {
            return Err(format!("status {}", reply.status));
        }
        let rows = || -> Result<usize, String> {
            let value = json_of(reply)?;
            Ok(value.as_array().ok_or("not a JSON array")?.len())
        };
        match self {
            Allowed(_) => Ok(()),
            Denied(_) => error_body(reply).map(|_| ()),
            Rows(_, expected) => match rows()? {
                n if n == expected => Ok(()),
                n => Err(format!("{n} rows")),
            },
            Many(_) => match rows()? {
                0 => Err("no rows".into()),
                _ => Ok(()),
            },
        }
    }
}

const fn ok(status: u16) -> Expect {
    Allowed(status)
}

const fn no(status: u16) -> Expect {
    Denied(status)
}

const SOME: Expect = Rows(200, 1);
const NONE: Expect = Rows(200, 0);
const MADE: Expect = Rows(201, 1);
const MANY: Expect = Many(200);
/// PostgreSQL's permission denied: 401 for anon, 403 for a signed-in user (PostgREST).
const LOCKED: [Expect; 5] = [no(401), no(403), no(403), no(403), no(403)];

struct Req {
    path: String,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
}

fn at(path: impl Into<String>) -> Req {
    Req {
        path: path.into(),
        body: None,
        headers: vec![],
    }
}

impl Req {
    fn json(mut self, body: Value) -> Req {
        self.body = Some(body.to_string());
        self
    }

    fn raw(mut self, body: String) -> Req {
        self.body = Some(body);
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Req {
        self.headers.push((name, value.into()));
        self
    }
}

type Check<'a> = Box<dyn Fn(Who, &Reply) -> Result<(), String> + 'a>;
type After<'a> = Box<dyn Fn(Who, bool, &Stack) -> Result<(), String> + 'a>;

/// One route for the five principals: the expected outcomes in the order of
/// [`EVERYONE`] (anon, customer A, customer B, merchant A, merchant B).
struct Row<'a> {
    method: &'static str,
    route: String,
    expect: [Expect; 5],
    request: Box<dyn Fn(Who) -> Req + 'a>,
    /// On the reply of an allowed cell.
    check: Option<Check<'a>>,
    /// On the database after any cell: `allowed` says whether the cell was.
    after: Option<After<'a>>,
}

fn row<'a>(
    method: &'static str,
    route: impl Into<String>,
    expect: [Expect; 5],
    request: impl Fn(Who) -> Req + 'a,
) -> Row<'a> {
    Row {
        method,
        route: route.into(),
        expect,
        request: Box::new(request),
        check: None,
        after: None,
    }
}

impl<'a> Row<'a> {
    fn check(mut self, check: impl Fn(Who, &Reply) -> Result<(), String> + 'a) -> Self {
        self.check = Some(Box::new(check));
        self
    }

    fn after(mut self, after: impl Fn(Who, bool, &Stack) -> Result<(), String> + 'a) -> Self {
        self.after = Some(Box::new(after));
        self
    }
}

/// What the matrix works on, made fresh for each run and tagged `sec-<run>-…`.
struct Fixtures {
    run: String,
    /// Awa's published product the matrix orders.
    buy: String,
    patch_api: String,
    patch_rest: String,
    /// One product (store, file) per principal to delete, so each try is on a row that exists.
    victims_api: Vec<String>,
    victims_rest: Vec<String>,
    victim_stores: Vec<String>,
    victim_files: Vec<String>,
    /// Aminata's order of `buy`, awaiting payment.
    pending_order: String,
    /// Aminata's order of `buy`, paid through a test-provider webhook.
    paid_order: String,
    paid_order_created_at: String,
    paid_payment: String,
    paid_amount: i64,
    /// Aminata's pending payment of another order, which only she may cancel.
    open_payment: String,
    /// Awa's shipment of the paid order.
    shipment: String,
    /// Download links (paths) of Aminata's seeded order, one per principal.
    links: Vec<String>,
    /// The download grants this run made on that seeded order, deleted at the end.
    grants: std::cell::RefCell<Vec<String>>,
    /// Access tokens of the signed-in principals (anon: none).
    access: Vec<Option<String>>,
    refresh: Vec<String>,
    logout: Vec<String>,
    sales_from: String,
    sales_to: String,
    /// The seeded payment's log rows before the matrix, which nothing may change.
    aminata_logs: String,
}

impl Fixtures {
    fn tag(&self, name: &str) -> String {
        format!("sec-{}-{name}", self.run)
    }

    fn credentials(&self, who: Who, rest: bool) -> Vec<(&'static str, String)> {
        match &self.access[who.index()] {
            Some(token) => vec![("authorization", bearer(token))],
            None if rest => vec![("apikey", topology::anon_key())],
            None => vec![],
        }
    }

    fn create(stack: &Stack, run: &str) -> Fixtures {
        let tag = |n: &str| format!("sec-{run}-{n}");
        let victims = |prefix: &str| {
            EVERYONE
                .iter()
                .map(|w| format!("{prefix}-{}", w.slug()))
                .collect::<Vec<_>>()
        };
        let mut names = vec!["buy".to_owned(), "patch-api".into(), "patch-rest".into()];
        names.extend(victims("del-api"));
        names.extend(victims("del-rest"));
        let values: Vec<String> = names
            .iter()
            .map(|n| {
                format!(
                    "('{AWA_STORE}', 'digital', '{}', 1000, 'XOF', {})",
                    tag(n),
                    n == "buy"
                )
            })
            .collect();
        let products = keyed(
            stack,
            &format!(
                "insert into public.products (store_id, kind, name, price_minor, currency, published) \
                 values {} returning name || ' ' || id",
                values.join(", ")
            ),
        );
        let product = |n: &str| products[&tag(n)].clone();
        let patch_rest = product("patch-rest");
        let store_values: Vec<String> = victims("store")
            .iter()
            .map(|n| format!("('{AWA}', '{}', '{}')", tag(n), tag(n)))
            .collect();
        let stores = keyed(
            stack,
            &format!(
                "insert into public.stores (owner_id, name, slug) values {} returning slug || ' ' || id",
                store_values.join(", ")
            ),
        );
        let file_values: Vec<String> = victims("file")
            .iter()
            .map(|n| {
                format!(
                    "('{patch_rest}', 'https://storage.payhuk.test/sec/{n}', '{}')",
                    tag(n)
                )
            })
            .collect();
        let files = keyed(
            stack,
            &format!(
                "insert into public.product_files (product_id, storage_url, file_name) values {} \
                 returning file_name || ' ' || id",
                file_values.join(", ")
            ),
        );

        // Sessions: the principals' access tokens, and refresh tokens for the refresh and
        // logout cells (anon's are Aminata's).
        let mut access = vec![None];
        let mut refresh = Vec::new();
        let mut logout = Vec::new();
        for who in EVERYONE {
            let first = login(who.email());
            let second = login(who.email());
            if who != Who::Anon {
                access.push(Some(first["access_token"].as_str().unwrap().to_owned()));
            }
            refresh.push(first["refresh_token"].as_str().unwrap().to_owned());
            logout.push(second["refresh_token"].as_str().unwrap().to_owned());
        }
        let aminata = access[Who::CustomerA.index()].clone().unwrap();
        let awa = access[Who::MerchantA.index()].clone().unwrap();

        let place = |key: &str| {
            let reply = post_json(
                "/api/v1/orders",
                Some(&aminata),
                &json!({"items": [{"product_id": product("buy"), "quantity": 1}]}),
                &[("idempotency-key", &tag(key))],
            );
            assert_eq!(reply.status, 201, "fixture order: {}", reply.body);
            reply.json()
        };
        let pending = place("pending");
        let paid = place("paid");
        let payment = post_json(
            "/api/v1/payments",
            Some(&aminata),
            &json!({"order_id": paid["id"], "provider": "test"}),
            &[("idempotency-key", &tag("payment"))],
        );
        assert_eq!(payment.status, 201, "fixture payment: {}", payment.body);
        let payment = payment.json();
        let event = json!({"event_id": tag("paid"), "status": "succeeded",
                           "payment_id": payment["id"], "amount_minor": payment["amount_minor"]});
        let applied = test_webhook(
            &event.to_string(),
            now_secs(),
            &topology::webhook_secret("test"),
        );
        assert_eq!(applied.status, 200, "fixture webhook: {}", applied.body);
        assert_eq!(applied.json()["outcome"], "applied");
        let to_cancel = place("to-cancel");
        let open = post_json(
            "/api/v1/payments",
            Some(&aminata),
            &json!({"order_id": to_cancel["id"], "provider": "test"}),
            &[("idempotency-key", &tag("open-payment"))],
        );
        assert_eq!(open.status, 201, "fixture open payment: {}", open.body);
        let shipment = post_json(
            "/api/v1/shipments",
            Some(&awa),
            &json!({"order_id": paid["id"], "carrier": tag("fixture")}),
            &[],
        );
        assert_eq!(shipment.status, 201, "fixture shipment: {}", shipment.body);
        let links: Vec<String> = EVERYONE
            .iter()
            .map(|_| {
                let link = post_json(
                    "/api/v1/downloads/links",
                    Some(&aminata),
                    &json!({"order_id": AMINATA_ORDER, "product_id": GUIDE}),
                    &[],
                );
                assert_eq!(link.status, 201, "fixture link: {}", link.body);
                link.json()["url"].as_str().unwrap().to_owned()
            })
            .collect();
        let range = scalar(
            stack,
            "select to_char(now() - interval '30 days', 'YYYY-MM-DD') || ' ' || \
                    to_char(now() + interval '1 day', 'YYYY-MM-DD')",
        )
        .unwrap();
        let (from, to) = range.split_once(' ').unwrap();
        // Reads of what was just written may go to either replica.
        caught_up(stack, "sfo1");
        caught_up(stack, "fra1");

        Fixtures {
            run: run.to_owned(),
            buy: product("buy"),
            patch_api: product("patch-api"),
            patch_rest,
            victims_api: victims("del-api").iter().map(|n| product(n)).collect(),
            victims_rest: victims("del-rest").iter().map(|n| product(n)).collect(),
            victim_stores: victims("store")
                .iter()
                .map(|n| stores[&tag(n)].clone())
                .collect(),
            victim_files: victims("file")
                .iter()
                .map(|n| files[&tag(n)].clone())
                .collect(),
            pending_order: pending["id"].as_str().unwrap().to_owned(),
            paid_order: paid["id"].as_str().unwrap().to_owned(),
            paid_order_created_at: paid["created_at"].as_str().unwrap().to_owned(),
            paid_payment: payment["id"].as_str().unwrap().to_owned(),
            paid_amount: payment["amount_minor"].as_i64().unwrap(),
            open_payment: open.json()["id"].as_str().unwrap().to_owned(),
            shipment: shipment.json()["id"].as_str().unwrap().to_owned(),
            grants: std::cell::RefCell::new(links.iter().map(|l| grant_of(l)).collect()),
            links,
            access,
            refresh,
            logout,
            sales_from: from.to_owned(),
            sales_to: to.to_owned(),
            aminata_logs: aminata_logs(stack),
        }
    }
}

/// The seeded payment's log rows, as text.
fn aminata_logs(stack: &Stack) -> String {
    scalar(
        stack,
        &format!(
            "select string_agg(id || ':' || event || ':' || coalesce(to_status, ''), ',' order by id) \
             from public.transaction_logs where payment_id = '{AMINATA_PAYMENT}'"
        ),
    )
    .unwrap_or_default()
}

/// The grant id in a download link (`/api/v1/downloads/<token>`).
fn grant_of(url: &str) -> String {
    let token = url.rsplit('/').next().unwrap();
    Link::decode(token, &link_key(jwt_secret()), 0)
        .map(|l| l.grant_id.to_string())
        .unwrap_or_default()
}

/// `name id` lines from SQL as a map.
fn keyed(stack: &Stack, sql: &str) -> HashMap<String, String> {
    scalar(stack, sql)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn items(reply: &Reply) -> Result<Vec<Value>, String> {
    json_of(reply)?["items"]
        .as_array()
        .cloned()
        .ok_or_else(|| "no items".to_owned())
}

fn field_is(value: &Value, field: &str, expected: &str) -> Result<(), String> {
    if value[field] == expected {
        Ok(())
    } else {
        Err(format!("{field} is {} (expected {expected})", value[field]))
    }
}

/// `after`: a value on the primary equals `marker` exactly when the cell was allowed.
fn changed_iff_allowed(
    stack: &Stack,
    allowed: bool,
    sql: &str,
    marker: &str,
) -> Result<(), String> {
    let value = scalar(stack, sql)?;
    if (value == marker) == allowed {
        Ok(())
    } else if allowed {
        Err(format!("the change did not happen: {value:?}"))
    } else {
        Err(format!(
            "a refused request changed the row: {value:?} (by {marker:?})"
        ))
    }
}

fn exists_unless_allowed(stack: &Stack, allowed: bool, from_where: &str) -> Result<(), String> {
    count_is(stack, from_where, usize::from(!allowed))
}

fn api_rows(fx: &Fixtures) -> Vec<Row<'_>> {
    let a401 = no(401);
    vec![
        row("GET", "/api/v1/openapi.json", [ok(200); 5], |_| {
            at("/api/v1/openapi.json")
        })
        .check(|_, r| field_is(&json_of(r)?, "openapi", "3.1.0")),
        row("HEAD", "/api/v1/openapi.json", [ok(200); 5], |_| {
            at("/api/v1/openapi.json")
        })
        .check(|_, r| match (r.body.is_empty(), r.header("content-type")) {
            (true, Some(t)) if t.starts_with("application/json") => Ok(()),
            (empty, t) => Err(format!("empty body {empty}, content-type {t:?}")),
        }),
        // Signing up, in, refreshing and out are open: a token changes nothing.
        row("POST", "/api/v1/auth/signup", [ok(201); 5], |who| {
            at("/api/v1/auth/signup").json(json!({
                "email": format!("{}@payhuk.test", fx.tag(&format!("signup-{}", who.slug()))),
                "password": "a good long password"}))
        })
        .check(|who, r| {
            let email = format!("{}@payhuk.test", fx.tag(&format!("signup-{}", who.slug())));
            field_is(&json_of(r)?["user"], "email", &email)
        }),
        row("POST", "/api/v1/auth/login", [ok(200); 5], |who| {
            at("/api/v1/auth/login").json(json!({"email": who.email(), "password": PASSWORD}))
        })
        .check(|who, r| field_is(&json_of(r)?["user"], "user_id", who.account())),
        row("POST", "/api/v1/auth/refresh", [ok(200); 5], |who| {
            at("/api/v1/auth/refresh")
                .json(json!({"refresh_token": fx.refresh[who.index()]}))
        })
        .check(|who, r| field_is(&json_of(r)?["user"], "user_id", who.account())),
        row("POST", "/api/v1/auth/logout", [ok(204); 5], |who| {
            at("/api/v1/auth/logout").json(json!({"refresh_token": fx.logout[who.index()]}))
        })
        // Logging out ends that session's refresh token: it no longer refreshes.
        .after(|who, _, _| {
            let reply = post_json(
                "/api/v1/auth/refresh",
                None,
                &json!({"refresh_token": fx.logout[who.index()]}),
                &[],
            );
            match reply.status {
                401 => Ok(()),
                other => Err(format!("the logged-out token refreshes: {other}")),
            }
        }),
        row(
            "GET",
            "/api/v1/auth/me",
            [a401, ok(200), ok(200), ok(200), ok(200)],
            |_| at("/api/v1/auth/me"),
        )
        .check(|who, r| field_is(&json_of(r)?, "user_id", who.account())),
        // The catalogue: published products for all, drafts for their merchant only.
        row("GET", "/api/v1/products", [ok(200); 5], |_| {
            at(format!("/api/v1/products?store={AWA_STORE}&limit=100"))
        })
        .check(|who, r| {
            let items = items(r)?;
            let draft = items.iter().any(|p| p["id"] == AWA_DRAFT);
            if draft != (who == Who::MerchantA) {
                return Err(format!("Awa's draft listed: {draft}"));
            }
            if items.iter().any(|p| p["store_id"] != AWA_STORE) {
                return Err("another store's product in the page".into());
            }
            Ok(())
        }),
        row(
            "POST",
            "/api/v1/products",
            [a401, no(403), no(403), ok(201), no(403)],
            |who| {
                at("/api/v1/products").json(json!({"store_id": AWA_STORE, "kind": "digital",
                    "name": fx.tag(&format!("api-post-{}", who.slug())), "price_minor": 1,
                    "currency": "XOF"}))
            },
        )
        .after(|who, allowed, stack| {
            let name = fx.tag(&format!("api-post-{}", who.slug()));
            count_is(
                stack,
                &format!("public.products where name = '{name}'"),
                usize::from(allowed),
            )
        }),
        row(
            "GET",
            "/api/v1/products/{}",
            [no(404), no(404), no(404), ok(200), no(404)],
            |_| at(format!("/api/v1/products/{AWA_DRAFT}")),
        )
        .check(|_, r| field_is(&json_of(r)?, "id", AWA_DRAFT)),
        row(
            "PATCH",
            "/api/v1/products/{}",
            [a401, no(404), no(404), ok(200), no(404)],
            |who| {
                at(format!("/api/v1/products/{}", fx.patch_api))
                    .json(json!({"name": fx.tag(&format!("api-patch-{}", who.slug()))}))
            },
        )
        .after(|who, allowed, stack| {
            changed_iff_allowed(
                stack,
                allowed,
                &format!(
                    "select name from public.products where id = '{}'",
                    fx.patch_api
                ),
                &fx.tag(&format!("api-patch-{}", who.slug())),
            )
        }),
        row(
            "DELETE",
            "/api/v1/products/{}",
            [a401, no(404), no(404), ok(204), no(404)],
            |who| at(format!("/api/v1/products/{}", fx.victims_api[who.index()])),
        )
        .after(|who, allowed, stack| {
            exists_unless_allowed(
                stack,
                allowed,
                &format!(
                    "public.products where id = '{}'",
                    fx.victims_api[who.index()]
                ),
            )
        }),
        // Orders: one's own; a store's for its merchant.
        row(
            "GET",
            "/api/v1/orders",
            [a401, ok(200), ok(200), ok(200), ok(200)],
            |_| at("/api/v1/orders?limit=100"),
        )
        .check(|who, r| {
            let items = items(r)?;
            if items.iter().any(|o| o["customer_id"] != who.account()) {
                return Err("someone else's order listed".into());
            }
            if matches!(who, Who::CustomerA | Who::CustomerB) && items.is_empty() {
                return Err("her own orders are missing".into());
            }
            Ok(())
        }),
        row(
            "POST",
            "/api/v1/orders",
            [a401, ok(201), ok(201), ok(201), ok(201)],
            |who| {
                at("/api/v1/orders")
                    .json(json!({"items": [{"product_id": fx.buy, "quantity": 1}]}))
                    .header("idempotency-key", fx.tag(&format!("order-{}", who.slug())))
            },
        )
        .check(|who, r| field_is(&json_of(r)?, "customer_id", who.account())),
        row(
            "GET",
            "/api/v1/orders/{}",
            [a401, ok(200), no(404), ok(200), no(404)],
            |_| at(format!("/api/v1/orders/{AMINATA_ORDER}")),
        )
        .check(|_, r| field_is(&json_of(r)?, "id", AMINATA_ORDER)),
        row(
            "GET",
            "/api/v1/stores/{}/orders",
            [a401, no(404), no(404), ok(200), no(404)],
            |_| at(format!("/api/v1/stores/{AWA_STORE}/orders?limit=50")),
        )
        .check(|_, r| {
            let items = items(r)?;
            if items.is_empty() || items.iter().any(|o| o["store_id"] != AWA_STORE) {
                return Err(format!("{} orders, not all Awa's", items.len()));
            }
            Ok(())
        }),
        // Payments: for one's own order; refunds by the store's merchant.
        row(
            "POST",
            "/api/v1/payments",
            [a401, ok(201), no(404), no(404), no(404)],
            |who| {
                at("/api/v1/payments")
                    .json(json!({"order_id": fx.pending_order, "provider": "test"}))
                    .header(
                        "idempotency-key",
                        fx.tag(&format!("payment-{}", who.slug())),
                    )
            },
        )
        .check(|_, r| field_is(&json_of(r)?, "order_id", &fx.pending_order))
        .after(|_, allowed, stack| {
            // Customer A's payment is the only one the order ever gets.
            let n = scalar(
                stack,
                &format!(
                    "select count(*) from public.payments where order_id = '{}'",
                    fx.pending_order
                ),
            )?;
            match (allowed, n.as_str()) {
                (true, "1") | (false, "0" | "1") => Ok(()),
                _ => Err(format!("{n} payments for the order")),
            }
        }),
        // A provider's notification is signed, not authenticated by a token; news about
        // a settled payment is acknowledged and ignored.
        row(
            "POST",
            "/api/v1/payments/webhooks/{}",
            [ok(200); 5],
            |who| {
                let raw = json!({"event_id": fx.tag(&format!("event-{}", who.slug())),
                                 "status": "succeeded", "payment_id": fx.paid_payment,
                                 "amount_minor": fx.paid_amount})
                .to_string();
                let (name, value) = sign(
                    raw.as_bytes(),
                    topology::webhook_secret("test").as_bytes(),
                    now_secs(),
                );
                at("/api/v1/payments/webhooks/test")
                    .raw(raw)
                    .header(name, value)
            },
        )
        .check(|_, r| field_is(&json_of(r)?, "outcome", "ignored")),
        // Providers ping their notification URL before posting: anyone may, nothing moves.
        row(
            "GET",
            "/api/v1/payments/webhooks/{}",
            [ok(200); 5],
            |_| at("/api/v1/payments/webhooks/cinetpay"),
        )
        .check(|_, r| field_is(&json_of(r)?, "provider", "cinetpay")),
        row(
            "GET",
            "/api/v1/payments/{}",
            [a401, ok(200), no(404), ok(200), no(404)],
            |_| at(format!("/api/v1/payments/{AMINATA_PAYMENT}")),
        )
        .check(|_, r| {
            let payment = json_of(r)?;
            field_is(&payment, "id", AMINATA_PAYMENT)?;
            match payment["transaction_logs"].as_array() {
                Some(logs) if !logs.is_empty() => Ok(()),
                _ => Err("no transaction_logs".into()),
            }
        }),
        // Only its customer ends a pending payment; to anyone else it does not exist.
        row(
            "POST",
            "/api/v1/payments/{}/cancel",
            [a401, ok(200), no(404), no(404), no(404)],
            |_| at(format!("/api/v1/payments/{}/cancel", fx.open_payment)),
        )
        .check(|_, r| field_is(&json_of(r)?, "status", "cancelled"))
        .after(|_, allowed, stack| {
            let status = scalar(
                stack,
                &format!(
                    "select status from public.payments where id = '{}'",
                    fx.open_payment
                ),
            )?;
            match (allowed, status.as_str()) {
                (true, "cancelled") | (false, "pending" | "cancelled") => Ok(()),
                _ => Err(format!("the payment is {status}")),
            }
        }),
        row(
            "POST",
            "/api/v1/payments/{}/refunds",
            [a401, no(404), no(404), ok(201), no(404)],
            |who| {
                at(format!("/api/v1/payments/{}/refunds", fx.paid_payment)).json(
                    json!({"amount_minor": 1, "reason": fx.tag(&format!("refund-{}", who.slug()))}),
                )
            },
        )
        .after(|who, allowed, stack| {
            let reason = fx.tag(&format!("refund-{}", who.slug()));
            count_is(
                stack,
                &format!(
                    "public.transaction_logs where payment_id = '{}' and payload->>'reason' = '{reason}'",
                    fx.paid_payment
                ),
                usize::from(allowed),
            )
        }),
        // Shipping: quotes are public; shipments are the store merchant's.
        row("POST", "/api/v1/shipping/quote", [ok(200); 5], |_| {
            at("/api/v1/shipping/quote").json(json!({"store_id": KOFI_STORE, "country": "GH",
                "items": [{"product_id": SCARF, "quantity": 1}]}))
        })
        .check(|_, r| {
            let quote = json_of(r)?;
            field_is(&quote, "country", "GH")?;
            // Kofi's scarf is priced in euros.
            field_is(&quote, "currency", "EUR")
        }),
        row(
            "POST",
            "/api/v1/shipments",
            [a401, no(404), no(404), ok(201), no(404)],
            |who| {
                at("/api/v1/shipments").json(json!({"order_id": fx.paid_order,
                    "carrier": fx.tag(&format!("api-ship-{}", who.slug()))}))
            },
        )
        .after(|who, allowed, stack| {
            let carrier = fx.tag(&format!("api-ship-{}", who.slug()));
            count_is(
                stack,
                &format!("public.shipments where carrier = '{carrier}'"),
                usize::from(allowed),
            )
        }),
        row(
            "GET",
            "/api/v1/shipments/{}",
            [a401, ok(200), no(404), ok(200), no(404)],
            |_| at(format!("/api/v1/shipments/{}", fx.shipment)),
        )
        .check(|_, r| field_is(&json_of(r)?, "id", &fx.shipment)),
        row(
            "POST",
            "/api/v1/shipments/{}/events",
            [a401, no(404), no(404), ok(201), no(404)],
            |who| {
                at(format!("/api/v1/shipments/{}/events", fx.shipment)).json(
                    json!({"status": "in_transit",
                           "location": fx.tag(&format!("event-{}", who.slug()))}),
                )
            },
        )
        .after(|who, allowed, stack| {
            let location = fx.tag(&format!("event-{}", who.slug()));
            count_is(
                stack,
                &format!("public.shipment_events where location = '{location}'"),
                usize::from(allowed),
            )
        }),
        // Downloads: a link for one's own paid order; the link itself is the credential.
        row(
            "POST",
            "/api/v1/downloads/links",
            [a401, ok(201), no(404), no(404), no(404)],
            |_| {
                at("/api/v1/downloads/links")
                    .json(json!({"order_id": AMINATA_ORDER, "product_id": GUIDE}))
            },
        )
        .check(|_, r| {
            let url = json_of(r)?["url"].as_str().unwrap_or_default().to_owned();
            if !url.contains("/api/v1/downloads/") {
                return Err(format!("the link is {url:?}"));
            }
            fx.grants.borrow_mut().push(grant_of(&url));
            Ok(())
        }),
        row("GET", "/api/v1/downloads/{}", [ok(302); 5], |who| {
            at(fx.links[who.index()].clone()).header("user-agent", fx.tag("download"))
        })
        .check(|_, r| match r.header("location") {
            Some(GUIDE_URL) => Ok(()),
            other => Err(format!("location {other:?}")),
        }),
        // Analytics: anyone may send events; sales are the store merchant's.
        row("POST", "/api/v1/analytics/events", [ok(201); 5], |who| {
            at("/api/v1/analytics/events").json(json!({"events": [
                {"name": "sec_matrix", "session_id": fx.tag(&format!("events-{}", who.slug()))}]}))
        })
        .check(|_, r| match json_of(r)?["stored"].as_u64() {
            Some(1) => Ok(()),
            other => Err(format!("stored {other:?}")),
        })
        .after(|who, _, stack| {
            let session = fx.tag(&format!("events-{}", who.slug()));
            count_is(
                stack,
                &format!("public.analytics_events where session_id = '{session}'"),
                1,
            )
        }),
        row(
            "GET",
            "/api/v1/analytics/sales",
            [a401, no(404), no(404), ok(200), no(404)],
            |_| {
                at(format!(
                    "/api/v1/analytics/sales?store={AWA_STORE}&from={}&to={}&granularity=day",
                    fx.sales_from, fx.sales_to
                ))
            },
        )
        .check(|_, r| field_is(&json_of(r)?, "store_id", AWA_STORE)),
    ]
}

const REST_TABLES: [&str; 11] = [
    "products",
    "orders",
    "order_items",
    "payments",
    "transaction_logs",
    "shipments",
    "digital_downloads",
    "analytics_events",
    "profiles",
    "stores",
    "product_files",
];

fn rest_rows(fx: &Fixtures) -> Vec<Row<'_>> {
    let get = |table: &str, query: String, expect: [Expect; 5]| {
        let path = format!("/rest/v1/{table}?{query}");
        row("GET", format!("/rest/v1/{table}"), expect, move |_| {
            at(path.clone())
        })
    };
    let write = |method: &'static str, table: &str, query: String, expect: [Expect; 5]| {
        let path = format!("/rest/v1/{table}?{query}");
        row(method, format!("/rest/v1/{table}"), expect, move |_| {
            at(path.clone()).header("prefer", "return=representation")
        })
    };
    let only = |who: Who, yes: Expect, otherwise: Expect| {
        let mut all = [otherwise; 5];
        all[who.index()] = yes;
        all
    };
    let merchant_a = |yes: Expect| only(Who::MerchantA, yes, NONE);
    // Exactly `n` rows for Aminata and Awa (her order is at Awa's store), none for others.
    let customer_and_merchant_a = |n: usize| [NONE, Rows(200, n), NONE, Rows(200, n), NONE];
    // What a principal may see of orders and payments: their own, or their store's.
    let own_or_store = |who: Who, r: &Reply| -> Result<(), String> {
        let rows = json_of(r)?.as_array().cloned().unwrap_or_default();
        let store = match who {
            Who::MerchantA => AWA_STORE,
            Who::MerchantB => KOFI_STORE,
            _ => "-",
        };
        let foreign = rows
            .iter()
            .filter(|r| r["customer_id"] != who.account() && r["store_id"] != store)
            .count();
        if foreign == 0 {
            Ok(())
        } else {
            Err(format!(
                "{foreign} of {} rows are someone else's",
                rows.len()
            ))
        }
    };
    let seeded_order = format!("(id = '{AMINATA_ORDER}')");

    vec![
        // Reads: row-level security filters, it does not refuse.
        get(
            "products",
            format!("select=id&id=eq.{AWA_DRAFT}"),
            merchant_a(SOME),
        ),
        get(
            "orders",
            format!("select=id&id=eq.{AMINATA_ORDER}"),
            customer_and_merchant_a(1),
        ),
        get(
            "orders",
            "select=customer_id,store_id&limit=1000".into(),
            [NONE, MANY, MANY, MANY, MANY],
        )
        .check(own_or_store),
        get(
            "order_items",
            // Her two seeded lines.
            format!("select=id&order_id=eq.{AMINATA_ORDER}"),
            customer_and_merchant_a(2),
        ),
        get(
            "payments",
            format!("select=id&id=eq.{AMINATA_PAYMENT}"),
            customer_and_merchant_a(1),
        ),
        get(
            "payments",
            "select=customer_id,store_id&limit=1000".into(),
            [NONE, MANY, MANY, MANY, MANY],
        )
        .check(own_or_store),
        get(
            "transaction_logs",
            // Created, then succeeded.
            format!("select=id&payment_id=eq.{AMINATA_PAYMENT}"),
            customer_and_merchant_a(2),
        ),
        get(
            "shipments",
            format!("select=id&id=eq.{JEAN_SHIPMENT}"),
            [NONE, NONE, SOME, NONE, SOME],
        ),
        get(
            "digital_downloads",
            format!("select=id&order_id=eq.{AMINATA_ORDER}&limit=1"),
            customer_and_merchant_a(1),
        ),
        get(
            "analytics_events",
            format!("select=id&store_id=eq.{AWA_STORE}&limit=1"),
            merchant_a(SOME),
        ),
        get(
            "profiles",
            format!("select=id&id=eq.{AMINATA}"),
            only(Who::CustomerA, SOME, NONE),
        ),
        get("stores", format!("select=id&id=eq.{AWA_STORE}"), [SOME; 5]),
        get(
            "product_files",
            format!("select=id&product_id=eq.{GUIDE}"),
            merchant_a(SOME),
        ),
        // Inserts: a merchant into their own store; orders, payments, logs, downloads
        // and analytics by nobody (the service role writes them).
        write(
            "POST",
            "products",
            "select=id".into(),
            [no(401), no(403), no(403), MADE, no(403)],
        )
        .with_body(|who| {
            json!({"store_id": AWA_STORE, "kind": "digital", "price_minor": 1, "currency": "XOF",
                   "name": fx.tag(&format!("rest-post-{}", who.slug()))})
        })
        .after(|who, allowed, stack| {
            let name = fx.tag(&format!("rest-post-{}", who.slug()));
            count_is(
                stack,
                &format!("public.products where name = '{name}'"),
                usize::from(allowed),
            )
        }),
        write("POST", "orders", "select=id".into(), LOCKED).with_body(|_| {
            json!({"store_id": AWA_STORE, "customer_id": AMINATA, "currency": "XOF",
                   "subtotal_minor": 1, "total_minor": 1})
        }),
        write("POST", "order_items", "select=id".into(), LOCKED).with_body(|_| {
            json!({"order_id": fx.paid_order, "order_created_at": fx.paid_order_created_at,
                   "product_id": GUIDE, "quantity": 1, "unit_price_minor": 1, "line_total_minor": 1})
        }),
        write("POST", "payments", "select=id".into(), LOCKED).with_body(|who| {
            json!({"order_id": fx.paid_order, "order_created_at": fx.paid_order_created_at,
                   "store_id": AWA_STORE, "customer_id": who.account(), "provider": "test",
                   "status": "succeeded", "amount_minor": 1, "currency": "XOF", "captured_minor": 1})
        }),
        write("POST", "transaction_logs", "select=id".into(), LOCKED).with_body(|_| {
            json!({"payment_id": fx.paid_payment, "event": fx.tag("forged-log"),
                   "to_status": "refunded", "amount_minor": 1})
        }),
        write(
            "POST",
            "shipments",
            "select=id".into(),
            [no(401), no(403), no(403), MADE, no(403)],
        )
        .with_body(|who| {
            json!({"order_id": fx.paid_order, "order_created_at": fx.paid_order_created_at,
                   "store_id": AWA_STORE, "carrier": fx.tag(&format!("rest-ship-{}", who.slug()))})
        }),
        write("POST", "digital_downloads", "select=id".into(), LOCKED).with_body(|_| {
            json!({"product_file_id": GUIDE_FILE, "order_id": AMINATA_ORDER,
                   "order_created_at": "2026-01-01T00:00:00Z", "customer_id": AMINATA,
                   "store_id": AWA_STORE})
        }),
        write("POST", "analytics_events", "select=id".into(), LOCKED).with_body(|_| {
            json!({"name": "sec_forged", "session_id": fx.tag("rest-events")})
        }),
        // Aminata's own profile passes row-level security and is then a duplicate (409);
        // anyone else's insert of her id is refused by row-level security.
        write(
            "POST",
            "profiles",
            "select=id".into(),
            [no(401), no(409), no(403), no(403), no(403)],
        )
        .with_body(|_| json!({"id": AMINATA, "email": "aminata@payhuk.test"})),
        write(
            "POST",
            "stores",
            "select=id".into(),
            [no(401), no(403), no(403), MADE, no(403)],
        )
        .with_body(|who| {
            let slug = fx.tag(&format!("rest-store-{}", who.slug()));
            json!({"owner_id": AWA, "name": slug, "slug": slug})
        }),
        write(
            "POST",
            "product_files",
            "select=id".into(),
            [no(401), no(403), no(403), MADE, no(403)],
        )
        .with_body(|who| {
            json!({"product_id": fx.patch_rest, "storage_url": "https://evil.payhuk.test/file",
                   "file_name": fx.tag(&format!("rest-file-{}", who.slug()))})
        }),
        // Updates: only the owner's rows change; the audit trail never does.
        write(
            "PATCH",
            "products",
            format!("id=eq.{}", fx.patch_rest),
            merchant_a(SOME),
        )
        .with_body(|who| json!({"name": fx.tag(&format!("rest-patch-{}", who.slug()))}))
        .after(|who, allowed, stack| {
            changed_iff_allowed(
                stack,
                allowed,
                &format!(
                    "select name from public.products where id = '{}'",
                    fx.patch_rest
                ),
                &fx.tag(&format!("rest-patch-{}", who.slug())),
            )
        }),
        write("PATCH", "orders", format!("id=eq.{AMINATA_ORDER}"), LOCKED)
            .with_body(|_| json!({"status": "cancelled"}))
            .after(move |_, _, stack| {
                count_is(
                    stack,
                    &format!("public.orders where {seeded_order} and status = 'paid'"),
                    1,
                )
            }),
        write(
            "PATCH",
            "order_items",
            format!("order_id=eq.{AMINATA_ORDER}"),
            LOCKED,
        )
        .with_body(|_| json!({"quantity": 99}))
        .after(|_, _, stack| {
            count_is(
                stack,
                &format!("public.order_items where order_id = '{AMINATA_ORDER}' and quantity = 99"),
                0,
            )
        }),
        write("PATCH", "payments", format!("id=eq.{AMINATA_PAYMENT}"), LOCKED)
            .with_body(|_| json!({"status": "refunded", "refunded_minor": 30000}))
            .after(|_, _, stack| {
                count_is(
                    stack,
                    &format!(
                        "public.payments where id = '{AMINATA_PAYMENT}' and status = 'succeeded' and refunded_minor = 0"
                    ),
                    1,
                )
            }),
        write(
            "PATCH",
            "transaction_logs",
            format!("payment_id=eq.{AMINATA_PAYMENT}"),
            LOCKED,
        )
        .with_body(|_| json!({"to_status": "refunded"}))
        .after(|_, _, stack| {
            count_is(
                stack,
                &format!(
                    "public.transaction_logs where payment_id = '{AMINATA_PAYMENT}' and to_status = 'refunded'"
                ),
                0,
            )
        }),
        // anon holds no UPDATE on shipments at all (clients may update the carrier and
        // the tracking number, and RLS says whose).
        write(
            "PATCH",
            "shipments",
            format!("id=eq.{}", fx.shipment),
            [no(401), NONE, NONE, SOME, NONE],
        )
        .with_body(|who| json!({"carrier": fx.tag(&format!("rest-carrier-{}", who.slug()))}))
        .after(|who, allowed, stack| {
            changed_iff_allowed(
                stack,
                allowed,
                &format!(
                    "select carrier from public.shipments where id = '{}'",
                    fx.shipment
                ),
                &fx.tag(&format!("rest-carrier-{}", who.slug())),
            )
        }),
        write(
            "PATCH",
            "digital_downloads",
            format!("order_id=eq.{AMINATA_ORDER}"),
            LOCKED,
        )
        .with_body(|_| json!({"user_agent": fx.tag("forged-agent")})),
        write(
            "PATCH",
            "analytics_events",
            format!("store_id=eq.{AWA_STORE}&session_id=eq.sess-demo-1"),
            LOCKED,
        )
        .with_body(|_| json!({"path": "/forged"})),
        // The owner writes the values already there; anyone else tries a marker.
        write(
            "PATCH",
            "profiles",
            format!("id=eq.{AMINATA}"),
            only(Who::CustomerA, SOME, NONE),
        )
        .with_body(|who| {
            let name = if who == Who::CustomerA {
                "Aminata Sow".to_owned()
            } else {
                fx.tag(&format!("profile-{}", who.slug()))
            };
            json!({"display_name": name})
        })
        .after(|_, _, stack| {
            count_is(
                stack,
                &format!("public.profiles where id = '{AMINATA}' and display_name = 'Aminata Sow'"),
                1,
            )
        }),
        write(
            "PATCH",
            "stores",
            format!("id=eq.{AWA_STORE}"),
            merchant_a(SOME),
        )
        .with_body(|who| {
            let name = if who == Who::MerchantA {
                "Awa Digital".to_owned()
            } else {
                fx.tag(&format!("store-{}", who.slug()))
            };
            json!({"name": name})
        })
        .after(|_, _, stack| {
            count_is(
                stack,
                &format!("public.stores where id = '{AWA_STORE}' and name = 'Awa Digital'"),
                1,
            )
        }),
        write(
            "PATCH",
            "product_files",
            format!("id=eq.{GUIDE_FILE}"),
            merchant_a(SOME),
        )
        .with_body(|who| {
            let url = if who == Who::MerchantA {
                GUIDE_URL.to_owned()
            } else {
                format!("https://evil.payhuk.test/{}", who.slug())
            };
            json!({"storage_url": url})
        })
        .after(|_, _, stack| {
            count_is(
                stack,
                &format!("public.product_files where id = '{GUIDE_FILE}' and storage_url = '{GUIDE_URL}'"),
                1,
            )
        }),
        // Deletes: a merchant's own products, stores and files; nothing else by anyone.
        write_each("DELETE", "products", merchant_a(SOME), |who| {
            format!("id=eq.{}", fx.victims_rest[who.index()])
        })
        .after(|who, allowed, stack| {
            exists_unless_allowed(
                stack,
                allowed,
                &format!(
                    "public.products where id = '{}'",
                    fx.victims_rest[who.index()]
                ),
            )
        }),
        write("DELETE", "orders", format!("id=eq.{AMINATA_ORDER}"), LOCKED),
        write(
            "DELETE",
            "order_items",
            format!("order_id=eq.{AMINATA_ORDER}"),
            LOCKED,
        ),
        write(
            "DELETE",
            "payments",
            format!("id=eq.{AMINATA_PAYMENT}"),
            LOCKED,
        ),
        write(
            "DELETE",
            "transaction_logs",
            format!("payment_id=eq.{AMINATA_PAYMENT}"),
            LOCKED,
        )
        .after(|_, _, stack| {
            let now = aminata_logs(stack);
            if now == fx.aminata_logs {
                Ok(())
            } else {
                Err(format!("the logs changed: {now}"))
            }
        }),
        // No delete policy on shipments or profiles: filtered to nothing, for everyone.
        write("DELETE", "shipments", format!("id=eq.{}", fx.shipment), [NONE; 5]).after(
            |_, _, stack| count_is(stack, &format!("public.shipments where id = '{}'", fx.shipment), 1),
        ),
        write(
            "DELETE",
            "digital_downloads",
            format!("order_id=eq.{AMINATA_ORDER}"),
            LOCKED,
        ),
        write(
            "DELETE",
            "analytics_events",
            format!("store_id=eq.{AWA_STORE}&session_id=eq.sess-demo-1"),
            LOCKED,
        ),
        write("DELETE", "profiles", format!("id=eq.{AMINATA}"), [NONE; 5]),
        write_each("DELETE", "stores", merchant_a(SOME), |who| {
            format!("id=eq.{}", fx.victim_stores[who.index()])
        })
        .after(|who, allowed, stack| {
            exists_unless_allowed(
                stack,
                allowed,
                &format!(
                    "public.stores where id = '{}'",
                    fx.victim_stores[who.index()]
                ),
            )
        }),
        write_each("DELETE", "product_files", merchant_a(SOME), |who| {
            format!("id=eq.{}", fx.victim_files[who.index()])
        })
        .after(|who, allowed, stack| {
            exists_unless_allowed(
                stack,
                allowed,
                &format!(
                    "public.product_files where id = '{}'",
                    fx.victim_files[who.index()]
                ),
            )
        }),
    ]
}

/// A `/rest/v1` write whose filter depends on the principal.
fn write_each<'a>(
    method: &'static str,
    table: &str,
    expect: [Expect; 5],
    query: impl Fn(Who) -> String + 'a,
) -> Row<'a> {
    let table = table.to_owned();
    row(method, format!("/rest/v1/{table}"), expect, move |who| {
        at(format!("/rest/v1/{table}?{}", query(who))).header("prefer", "return=representation")
    })
}

impl<'a> Row<'a> {
    /// The same request with a JSON body made for each principal.
    fn with_body(mut self, body: impl Fn(Who) -> Value + 'a) -> Self {
        let request = self.request;
        self.request = Box::new(move |who| request(who).json(body(who)));
        self
    }
}

/// Runs every cell of `rows`; returns how many ran, and adds each mismatch to `failures`.
fn run_rows(stack: &Stack, fx: &Fixtures, rows: &[Row<'_>], failures: &mut Vec<String>) -> usize {
    let mut cells = 0;
    for row in rows {
        let rest = row.route.starts_with("/rest/v1");
        for who in EVERYONE {
            let req = (row.request)(who);
            let mut headers = fx.credentials(who, rest);
            headers.extend(req.headers);
            if req.body.is_some() {
                headers.push(("content-type", "application/json".into()));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let reply = send(row.method, &req.path, &headers, req.body.as_deref());
            cells += 1;
            let expect = row.expect[who.index()];
            let mut problems = Vec::new();
            if expect.allowed()
                && !expect.speaks_for_itself()
                && row.check.is_none()
                && row.after.is_none()
            {
                problems.push("the matrix checks only the status of this allowed cell".into());
            }
            match expect.verdict(&reply) {
                Ok(()) => {
                    if expect.allowed()
                        && let Some(check) = &row.check
                        && let Err(why) = check(who, &reply)
                    {
                        problems.push(why);
                    }
                }
                Err(why) => problems.push(why),
            }
            if let Some(after) = &row.after
                && let Err(why) = after(who, expect.allowed(), stack)
            {
                problems.push(format!("afterwards: {why}"));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} {} as {:?} ({}): expected {expect:?}, got {} {}: {}",
                    row.method,
                    row.route,
                    who,
                    req.path,
                    reply.status,
                    cut(&reply.body),
                    problems.join("; ")
                ));
            }
        }
    }
    cells
}

#[test]
fn every_route_for_every_principal_allows_the_owner_and_denies_the_others() {
    let stack = stack();
    let run = run_marker("m");
    let _cleanup = Cleanup {
        stack: &stack,
        run: run.clone(),
    };
    let started = std::time::Instant::now();
    let fx = Fixtures::create(&stack, &run);

    let api = api_rows(&fx);
    let rest = rest_rows(&fx);

    // The table covers the router: every /api/v1 route, once, and nothing else.
    let mut served: Vec<String> = served_under("/api/v1")
        .into_iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    let mut tabled: Vec<String> = api
        .iter()
        .map(|r| format!("{} {}", r.method, r.route))
        .collect();
    served.sort();
    tabled.sort();
    assert_eq!(tabled, served, "the matrix and the router disagree");
    for table in REST_TABLES {
        for method in ["GET", "POST", "PATCH", "DELETE"] {
            assert!(
                rest.iter()
                    .any(|r| r.method == method && r.route == format!("/rest/v1/{table}")),
                "no {method} /rest/v1/{table} in the matrix"
            );
        }
    }

    let mut failures = Vec::new();
    let api_cells = run_rows(&stack, &fx, &api, &mut failures);
    let rest_cells = run_rows(&stack, &fx, &rest, &mut failures);
    println!(
        "matrix: {} /api/v1 routes x 5 = {api_cells} cells, {} /rest/v1 rows x 5 = {rest_cells} cells, \
         {} failures, {:.1} s",
        api.len(),
        rest.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    // A 404 for someone else's row is the 404 for no row at all: no existence oracle.
    let missing = "00000000-0000-4000-8000-00000000beef";
    for (who, method, template, id, body) in [
        (
            Who::CustomerB,
            "GET",
            "/api/v1/orders/{}",
            AMINATA_ORDER,
            None,
        ),
        (
            Who::MerchantB,
            "GET",
            "/api/v1/orders/{}",
            AMINATA_ORDER,
            None,
        ),
        (
            Who::CustomerB,
            "GET",
            "/api/v1/payments/{}",
            AMINATA_PAYMENT,
            None,
        ),
        (
            Who::MerchantB,
            "GET",
            "/api/v1/shipments/{}",
            fx.shipment.as_str(),
            None,
        ),
        (
            Who::MerchantB,
            "GET",
            "/api/v1/products/{}",
            AWA_DRAFT,
            None,
        ),
        (
            Who::MerchantB,
            "GET",
            "/api/v1/stores/{}/orders",
            AWA_STORE,
            None,
        ),
        (
            Who::MerchantB,
            "PATCH",
            "/api/v1/products/{}",
            fx.patch_api.as_str(),
            Some(r#"{"description": "x"}"#),
        ),
        (
            Who::MerchantB,
            "POST",
            "/api/v1/payments/{}/refunds",
            fx.paid_payment.as_str(),
            Some(r#"{"amount_minor": 1}"#),
        ),
    ] {
        let ask = |id: &str| {
            let mut headers = fx.credentials(who, false);
            headers.push(("content-type", "application/json".into()));
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            send(method, &template.replace("{}", id), &headers, body)
        };
        let (theirs, nothing) = (ask(id), ask(missing));
        // Each answer names its own request; everything else must be the same.
        let unnamed = |reply: &Reply| match reply.header("x-request-id") {
            Some(request) => reply.body.replace(request, "<request>"),
            None => reply.body.clone(),
        };
        if (theirs.status, unnamed(&theirs).replace(id, missing))
            != (nothing.status, unnamed(&nothing))
        {
            failures.push(format!(
                "{method} {template} as {who:?}: someone else's row answers {} {}, no row answers {} {}",
                theirs.status,
                cut(&theirs.body),
                nothing.status,
                cut(&nothing.body)
            ));
        }
    }

    let grants: Vec<String> = fx
        .grants
        .borrow()
        .iter()
        .filter(|g| !g.is_empty())
        .map(|g| format!("'{g}'"))
        .collect();
    if let Err(e) = stack.sql(
        "iad1",
        &format!(
            "delete from public.download_grants where id in ({})",
            grants.join(", ")
        ),
    ) {
        eprintln!("deleting the matrix's download grants: {e:#}");
    }
    // The one refund merchant A made.
    assert_eq!(
        scalar(
            &stack,
            &format!(
                "select refunded_minor from public.payments where id = '{}'",
                fx.paid_payment
            )
        )
        .unwrap(),
        "1"
    );
    assert_no_secret_in_responses();
    assert!(
        failures.is_empty(),
        "{} of {} cells disagree with the matrix:\n{}",
        failures.len(),
        api_cells + rest_cells,
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// 3. Download links
// ---------------------------------------------------------------------------------

#[test]
fn tampered_download_links_are_refused_and_spend_nothing() {
    let stack = stack();
    let marker = run_marker("d");
    let token = customer_a_token(now_secs());
    let new_link = || {
        let reply = post_json(
            "/api/v1/downloads/links",
            Some(&token),
            &json!({"order_id": AMINATA_ORDER, "product_id": GUIDE}),
            &[],
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let (a, b) = (new_link(), new_link());
    let key = link_key(jwt_secret());
    let grant_a = Link::decode(&a, &key, 0).unwrap();
    let grant_b = Link::decode(&b, &key, 0).unwrap();
    let used = |grant: &Link| {
        scalar(
            &stack,
            &format!(
                "select downloads_used from public.download_grants where id = '{}'",
                grant.grant_id
            ),
        )
        .unwrap()
    };
    let (a_payload, a_sig) = a.rsplit_once('.').unwrap();
    let (b_payload, b_sig) = b.rsplit_once('.').unwrap();
    let (a_grant, a_expires) = a_payload.split_once('.').unwrap();
    let (b_grant, _) = b_payload.split_once('.').unwrap();
    let flip = |token: &str, at: usize| {
        let mut bytes = token.as_bytes().to_vec();
        bytes[at] = match bytes[at] {
            b'1' => b'2',
            b'a' => b'b',
            _ if bytes[at].is_ascii_digit() => b'1',
            _ => b'a',
        };
        String::from_utf8(bytes).unwrap()
    };
    let later: i64 = a_expires.parse::<i64>().unwrap() + 30 * 86400;
    let signed_with = |k: &[u8; 32]| grant_a.encode(k);

    let cases: Vec<(&str, String)> = vec![
        ("a character of the grant id changed", flip(&a, 3)),
        (
            "a character of the expiry changed",
            flip(&a, a_grant.len() + 3),
        ),
        (
            "a character of the signature changed",
            flip(&a, a.len() - 5),
        ),
        (
            "a's payload with b's signature",
            format!("{a_payload}.{b_sig}"),
        ),
        (
            "b's payload with a's signature",
            format!("{b_payload}.{a_sig}"),
        ),
        (
            "b's grant id under a's expiry and signature",
            format!("{b_grant}.{a_expires}.{a_sig}"),
        ),
        (
            "a later expiry under a's signature",
            format!("{a_grant}.{later}.{a_sig}"),
        ),
        (
            "the grant id in upper case",
            format!("{}.{a_expires}.{a_sig}", a_grant.to_uppercase()),
        ),
        ("truncated by one character", a[..a.len() - 1].to_owned()),
        ("the signature cut off", format!("{a_payload}.")),
        ("the payload alone", a_payload.to_owned()),
        ("the grant id alone", a_grant.to_owned()),
        ("the signature padded", format!("{a}=")),
        ("an extra segment", format!("{a}.{a_sig}")),
        (
            "signed with a key from another secret",
            signed_with(&link_key(b"not-the-project-secret-but-long-enough-0000")),
        ),
        (
            "signed with the consistency-token key",
            signed_with(&token_key(jwt_secret())),
        ),
        (
            "signed with the JWT secret itself",
            format!("{a_payload}.{}", hmac_b64(jwt_secret(), a_payload)),
        ),
        (
            "re-encoded for b's grant with an unknown key",
            Link {
                grant_id: grant_b.grant_id,
                expires_at: later,
            }
            .encode(&link_key(b"an-attacker-guess-at-the-secret-000000")),
        ),
    ];

    let mut failures = Vec::new();
    for (what, tampered) in &cases {
        assert_ne!(*tampered, a, "{what} must differ from the link");
        let reply = send(
            "GET",
            &format!("/api/v1/downloads/{tampered}"),
            &[("user-agent", marker.as_str())],
            None,
        );
        let verdict = (|| {
            if reply.status != 403 {
                return Err(format!("status {}", reply.status));
            }
            let body = error_body(&reply)?;
            if body["code"] != "PHK403" || body["hint"] != "tampered_link" {
                return Err(format!("code {} hint {}", body["code"], body["hint"]));
            }
            if reply.header("location").is_some() || reply.header("x-payhuk-upstream").is_some() {
                return Err("it went to the database or redirected".into());
            }
            Ok(())
        })();
        if let Err(why) = verdict {
            failures.push(format!("{what} ({tampered}): {why}: {}", cut(&reply.body)));
        }
    }
    // Nothing was spent or logged by the refused links.
    assert_eq!((used(&grant_a), used(&grant_b)), ("0".into(), "0".into()));
    count_is(
        &stack,
        &format!("public.digital_downloads where user_agent = '{marker}'"),
        0,
    )
    .unwrap();

    // The genuine link works, and is counted: the checks above can fail.
    let genuine = send(
        "GET",
        &format!("/api/v1/downloads/{a}"),
        &[("user-agent", marker.as_str())],
        None,
    );
    assert_eq!(
        (genuine.status, genuine.header("location")),
        (302, Some(GUIDE_URL)),
        "{}",
        genuine.body
    );
    assert_eq!((used(&grant_a), used(&grant_b)), ("1".into(), "0".into()));
    count_is(
        &stack,
        &format!("public.digital_downloads where user_agent = '{marker}'"),
        1,
    )
    .unwrap();

    if let Err(e) = stack.sql(
        "iad1",
        &format!(
            "delete from public.digital_downloads where user_agent = '{marker}'; \
             delete from public.download_grants where id in ('{}', '{}')",
            grant_a.grant_id, grant_b.grant_id
        ),
    ) {
        eprintln!("deleting the test's download grants: {e:#}");
    }
    assert_no_secret_in_responses();
    assert!(
        failures.is_empty(),
        "{} of {} tampered links were not refused:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// 4. Webhook replay
// ---------------------------------------------------------------------------------

#[test]
fn a_replayed_webhook_is_a_duplicate_and_stale_or_foreign_signatures_are_refused() {
    let stack = stack();
    let run = run_marker("w");
    let _cleanup = Cleanup {
        stack: &stack,
        run: run.clone(),
    };
    let (_, payment) = order_and_payment(&stack, &run, FATOU, "webhook");
    let payment_id = payment["id"].as_str().unwrap().to_owned();
    let secret = topology::webhook_secret("test");
    let event = json!({"event_id": format!("sec-{run}-evt"), "status": "succeeded",
                       "payment_id": payment_id, "amount_minor": payment["amount_minor"]});
    let raw = event.to_string();
    let state = || {
        scalar(
            &stack,
            &format!(
                "select p.status || ' ' || p.captured_minor || ' ' || p.refunded_minor || ' ' || p.updated_at || ' ' || o.status \
                 || ' [' || (select string_agg(l.event || ':' || l.id, ',' order by l.id) \
                             from public.transaction_logs l where l.payment_id = p.id) || ']' \
                 from public.payments p join public.orders o on o.id = p.order_id where p.id = '{payment_id}'"
            ),
        )
        .unwrap()
    };

    // The first delivery applies.
    let t0 = now_secs();
    let (header, signature) = sign(raw.as_bytes(), secret.as_bytes(), t0);
    let deliver = |signature: &str, body: &str| {
        send(
            "POST",
            "/api/v1/payments/webhooks/test",
            &[(header, signature), ("content-type", "application/json")],
            Some(body),
        )
    };
    let first = deliver(&signature, &raw);
    assert_eq!(
        (first.status, first.json()["outcome"].as_str()),
        (200, Some("applied")),
        "{}",
        first.body
    );
    let after_first = state();
    assert!(
        after_first.starts_with("succeeded ") && after_first.contains(" paid ["),
        "{after_first}"
    );
    assert_eq!(
        after_first.matches("provider.succeeded").count(),
        1,
        "{after_first}"
    );

    // The very same bytes again, and the same event re-signed now (a provider's
    // redelivery): acknowledged as duplicates, nothing changes.
    let replay = deliver(&signature, &raw);
    assert_eq!(
        (replay.status, replay.json()["outcome"].as_str()),
        (200, Some("duplicate")),
        "{}",
        replay.body
    );
    let resigned = test_webhook(&raw, now_secs(), &secret);
    assert_eq!(
        (resigned.status, resigned.json()["outcome"].as_str()),
        (200, Some("duplicate")),
        "{}",
        resigned.body
    );
    // Another event about the settled payment: acknowledged, ignored.
    let other = json!({"event_id": format!("sec-{run}-evt2"), "status": "failed",
                       "payment_id": payment_id, "amount_minor": 0})
    .to_string();
    let ignored = test_webhook(&other, now_secs(), &secret);
    assert_eq!(
        (ignored.status, ignored.json()["outcome"].as_str()),
        (200, Some("ignored")),
        "{}",
        ignored.body
    );

    // Refused: 401 in PostgREST's shape, with the reason in `hint`.
    let stale_at = now_secs() - 600;
    let (_, stale) = sign(raw.as_bytes(), secret.as_bytes(), stale_at);
    let stale_sig = stale.rsplit_once("v1=").unwrap().1.to_owned();
    let (_, future) = sign(raw.as_bytes(), secret.as_bytes(), now_secs() + 600);
    let foreign = |provider: &str| {
        sign(
            raw.as_bytes(),
            topology::webhook_secret(provider).as_bytes(),
            now_secs(),
        )
        .1
    };
    let edited = raw.replace("\"succeeded\"", "\"cancelled\"");
    assert_ne!(edited, raw);
    let refused: Vec<(&str, String, String, &str)> = vec![
        (
            "the same event signed ten minutes ago",
            stale.clone(),
            raw.clone(),
            "stale_timestamp",
        ),
        (
            "the same event signed ten minutes ahead",
            future,
            raw.clone(),
            "stale_timestamp",
        ),
        (
            // Two timestamps: malformed, whichever one the signature is over.
            "a fresh t prepended to a stale signature",
            format!("t={},{stale}", now_secs()),
            raw.clone(),
            "bad_signature",
        ),
        (
            "a fresh t appended to a stale signature",
            format!("{stale},t={}", now_secs()),
            raw.clone(),
            "bad_signature",
        ),
        (
            "signed with FedaPay's secret",
            foreign("fedapay"),
            raw.clone(),
            "bad_signature",
        ),
        (
            "signed with Moneroo's secret",
            foreign("moneroo"),
            raw.clone(),
            "bad_signature",
        ),
        (
            "the body edited under the original signature",
            signature.clone(),
            edited,
            "bad_signature",
        ),
        ("no signature", String::new(), raw.clone(), "bad_signature"),
    ];
    let mut failures = Vec::new();
    for (what, header_value, body, hint) in &refused {
        let reply = deliver(header_value, body);
        let verdict = (|| {
            if reply.status != 401 {
                return Err(format!("status {}", reply.status));
            }
            let body = error_body(&reply)?;
            if body["code"] != "PHK401" || body["hint"] != *hint {
                return Err(format!(
                    "code {} hint {} (expected {hint})",
                    body["code"], body["hint"]
                ));
            }
            Ok(())
        })();
        if let Err(why) = verdict {
            failures.push(format!("{what}: {why}: {}", cut(&reply.body)));
        }
        // The answer never helps a forger: no expected signature, no secret.
        let (_, expected_now) = sign(body.as_bytes(), secret.as_bytes(), now_secs());
        let expected_now = expected_now.rsplit_once("v1=").unwrap().1.to_owned();
        let everything = format!("{:?} {}", reply.headers, reply.body);
        for (name, value) in [
            ("the expected signature", expected_now.as_str()),
            ("the stale signature", stale_sig.as_str()),
            ("the secret", secret.as_str()),
        ] {
            if everything.contains(value) && !header_value.contains(value) {
                failures.push(format!("{what}: the answer contains {name}"));
            }
        }
    }
    // FedaPay's own route refuses the test provider's secret in its format.
    let fedapay_body = json!({"name": "transaction.approved", "object": "transaction",
        "entity": {"id": 1, "amount": payment["amount_minor"], "custom_metadata": {"payhuk_payment_id": payment_id}}})
    .to_string();
    let feda_value = sign_timed("s", fedapay_body.as_bytes(), secret.as_bytes(), now_secs());
    let crossed = send(
        "POST",
        "/api/v1/payments/webhooks/fedapay",
        &[
            ("x-fedapay-signature", feda_value.as_str()),
            ("content-type", "application/json"),
        ],
        Some(&fedapay_body),
    );
    if crossed.status != 401 {
        failures.push(format!(
            "FedaPay's route with the test secret: {} {}",
            crossed.status, crossed.body
        ));
    }

    assert_eq!(
        state(),
        after_first,
        "the payment, its order or its logs changed after the first delivery"
    );
    assert_eq!(
        scalar(
            &stack,
            &format!(
                "select count(*) from public.payment_events where payment_id = '{payment_id}'"
            )
        )
        .unwrap(),
        "2",
        "one row per distinct event (the applied and the ignored one)"
    );
    assert_no_secret_in_responses();
    assert!(
        failures.is_empty(),
        "{} webhook checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// 5. Secrets
// ---------------------------------------------------------------------------------

#[test]
fn secrets_never_appear_in_responses_or_logs() {
    let stack = stack();
    let run = run_marker("s");
    let _cleanup = Cleanup {
        stack: &stack,
        run: run.clone(),
    };
    let mut failures = Vec::new();

    // A login answers with a session, never with the password.
    let session = login("aminata@payhuk.test");
    if session.to_string().contains(PASSWORD) {
        failures.push("the login response echoes the password".to_owned());
    }
    let wrong = format!("sec-{run}-wrong-password");
    let refused = post_json(
        "/api/v1/auth/login",
        None,
        &json!({"email": format!("sec-{run}-nobody@payhuk.test"), "password": wrong}),
        &[],
    );
    assert_eq!(refused.status, 401, "{}", refused.body);
    let new_password = format!("sec-{run}-a-new-long-password");
    let signup = post_json(
        "/api/v1/auth/signup",
        None,
        &json!({"email": format!("sec-{run}-new@payhuk.test"), "password": new_password}),
        &[],
    );
    assert_eq!(signup.status, 201, "{}", signup.body);
    let too_long = format!("sec-{run}-{}", "p".repeat(80));
    let invalid = post_json(
        "/api/v1/auth/signup",
        None,
        &json!({"email": "not an email", "password": too_long}),
        &[],
    );
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    for (what, reply, password) in [
        ("a wrong login", &refused, &wrong),
        ("a signup", &signup, &new_password),
        ("a refused signup", &invalid, &too_long),
    ] {
        if format!("{:?} {}", reply.headers, reply.body).contains(password.as_str()) {
            failures.push(format!("{what} echoes the password"));
        }
    }

    // A bad webhook signature is not answered with the right one.
    let raw = json!({"event_id": format!("sec-{run}"), "status": "succeeded",
                     "payment_id": AMINATA_PAYMENT, "amount_minor": 1})
    .to_string();
    let t = now_secs();
    let (_, right) = sign(
        raw.as_bytes(),
        topology::webhook_secret("test").as_bytes(),
        t,
    );
    let right = right.rsplit_once("v1=").unwrap().1.to_owned();
    let forged = send(
        "POST",
        "/api/v1/payments/webhooks/test",
        &[
            (
                "x-payhuk-signature",
                &format!("t={t},v1={}", "0".repeat(64)),
            ),
            ("content-type", "application/json"),
        ],
        Some(&raw),
    );
    assert_eq!(forged.status, 401, "{}", forged.body);
    if format!("{:?} {}", forged.headers, forged.body).contains(&right) {
        failures.push("a bad webhook signature's answer holds the expected signature".into());
    }

    // Pages and errors that could carry configuration.
    for (method, path, headers) in [
        ("GET", "/health", vec![]),
        ("GET", "/status", vec![]),
        ("GET", "/api/v1/openapi.json", vec![]),
        ("GET", "/no/such/route", vec![]),
        ("DELETE", "/api/v1/auth/me", vec![]),
        (
            "GET",
            "/health",
            vec![("x-payhuk-edge-region", "mars1".to_owned())],
        ),
        (
            "GET",
            "/rest/v1/no_such_table",
            vec![("apikey", topology::anon_key())],
        ),
        (
            "POST",
            "/rest/v1/rpc/node_status",
            vec![("apikey", topology::anon_key())],
        ),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        send(method, path, &headers, None);
    }

    assert_no_secret_in_responses();

    // The stack's logs: the gateway (wrangler and workerd), each PostgREST, each PostgreSQL.
    let logs = stack.dirs.logs();
    let mut files = vec![logs.join("gateway.log")];
    for node in &topology::NODES {
        files.push(xtask::postgrest::service(&stack.dirs, node).log_file);
        files.push(stack.dirs.pg_log(node.region));
    }
    if let Ok(entries) = std::fs::read_dir(logs.join("wrangler")) {
        files.extend(entries.flatten().map(|e| e.path()));
    }
    let mut scanned = 0;
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        scanned += 1;
        let text = String::from_utf8_lossy(&bytes);
        for name in leaked_in(&text) {
            failures.push(format!("{name} in {}", file.display()));
        }
    }
    assert!(
        scanned >= 4,
        "found only {scanned} of the stack's logs: {files:?}"
    );
    println!(
        "{} responses and {scanned} log files scanned for {} secrets",
        SEEN.lock().unwrap().len(),
        secrets().len()
    );
    assert!(
        failures.is_empty(),
        "secrets exposed:\n{}",
        failures.join("\n")
    );
}
