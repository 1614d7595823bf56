use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::executor::block_on;
use payhuk_edge::auth::crypto;
use payhuk_edge::auth::crypto::native::{RustCrypto, new_es256_key, sign_rs256};
use payhuk_edge::auth::jwks::{Jwk, KeySet};
use payhuk_edge::auth::jwt::{self, Alg, Claims};
use payhuk_edge::auth::remote::MIN_FETCH_INTERVAL_MS;
use payhuk_stack_tests::{PlainWorkerd, request, stack};
use serde_json::json;
use xtask::topology;

fn key(name: &str) -> String {
    let rendered = xtask::keys::render();
    rendered
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} missing from `cargo xtask keys`:\n{rendered}"))
        .to_owned()
}

fn rpc_node_status(region_port: u16, bearer: Option<&str>) -> payhuk_stack_tests::Reply {
    let auth = bearer.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    request(
        "POST",
        &format!("http://127.0.0.1:{region_port}/rpc/node_status"),
        &headers,
        Some("{}"),
    )
}

#[test]
fn postgrest_accepts_the_printed_keys_with_their_roles() {
    let _stack = stack();
    let service = key("SERVICE_ROLE_KEY");
    let anon = key("ANON_KEY");
    for node in &topology::NODES {
        // service_role may ask node_status(); the answer is the node's own view.
        let reply = rpc_node_status(node.postgrest_port, Some(&service));
        assert_eq!(reply.status, 200, "{}: {}", node.region, reply.body);
        assert_eq!(
            reply.json()["in_recovery"],
            !node.starts_as_primary,
            "{}",
            node.region
        );

        // anon is accepted as a JWT (no 401 for the token) but lacks the privilege.
        let reply = rpc_node_status(node.postgrest_port, Some(&anon));
        assert_eq!(reply.status, 401, "{}: {}", node.region, reply.body);
        assert_eq!(
            reply.json()["code"],
            "42501",
            "permission denied, not a JWT error"
        );
    }

    // A key signed with another secret is refused as a JWT.
    let forged = payhuk_edge::auth::jwt::sign_hs256(
        &payhuk_edge::auth::jwt::Claims::new("service_role", "forger", 0, i64::from(i32::MAX)),
        b"not-the-local-secret-but-long-enough-000000",
    );
    let reply = rpc_node_status(topology::primary().postgrest_port, Some(&forged));
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["code"], "PGRST301", "{}", reply.body);
}

const RSA_KEY: &str = include_str!("../../src/auth/crypto/test-rsa-key.json");

fn signed(claims: &Claims, key: &Jwk) -> String {
    block_on(crypto::sign(claims, key, &RustCrypto)).unwrap()
}

/// Sessions are ES256 with the key the gateway publishes; the same token reads under
/// row-level security through the gateway and at every PostgREST (whose `jwt-secret` is
/// the key set); a token from another key (the same `kid`, as a foreign project might
/// use) or an unknown one is refused by both.
#[test]
fn sessions_are_signed_with_the_published_key_and_other_keys_are_refused() {
    let _stack = stack();
    let gateway = topology::gateway_url();
    let published = request(
        "GET",
        &format!("{gateway}/auth/v1/.well-known/jwks.json"),
        &[],
        None,
    );
    assert_eq!(published.status, 200, "{}", published.body);
    assert!(!published.body.contains("\"d\""), "{}", published.body);
    assert!(!published.body.contains("\"k\""), "{}", published.body);
    let keys = KeySet::parse(&published.body).unwrap();
    let ours: Jwk = serde_json::from_str(topology::SIGNING_KEY).unwrap();
    assert_eq!(keys.keys, vec![ours.public().unwrap()]);

    let login = request(
        "POST",
        &format!("{gateway}/api/v1/auth/login"),
        &[("content-type", "application/json")],
        Some(
            &json!({"email": topology::DEMO_CUSTOMER_EMAIL, "password": topology::DEMO_PASSWORD})
                .to_string(),
        ),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    let parsed = jwt::parse(&token).unwrap();
    assert_eq!(
        (parsed.alg, parsed.kid.as_deref()),
        (Alg::Es256, ours.kid.as_deref())
    );
    let now = parsed.claims.iat.unwrap();
    let claims = block_on(crypto::verify(&token, &keys, &RustCrypto, now)).unwrap();
    let me = claims.sub.clone().unwrap();

    let orders_at = |base: &str, token: &str| {
        request(
            "GET",
            &format!("{base}/orders?select=customer_id&limit=50"),
            &[
                ("apikey", &topology::anon_key()),
                ("authorization", &format!("Bearer {token}")),
            ],
            None,
        )
    };
    let mut bases = vec![format!("{gateway}/rest/v1")];
    bases.extend(topology::NODES.iter().map(topology::postgrest_url));
    for base in &bases {
        let reply = orders_at(base, &token);
        assert_eq!(reply.status, 200, "{base}: {}", reply.body);
        let rows = reply.json();
        let rows = rows.as_array().unwrap();
        assert!(!rows.is_empty(), "{base}: the demo customer has orders");
        assert!(
            rows.iter().all(|r| r["customer_id"] == me.as_str()),
            "{base}"
        );
    }

    let foreign = new_es256_key(ours.kid.as_deref().unwrap()).unwrap();
    let mut unknown = new_es256_key("another-project").unwrap();
    let forged = signed(&claims, &foreign);
    let stranger = signed(&claims, &unknown);
    unknown.kid = None;
    let unnamed = signed(&claims, &unknown);
    for token in [&forged, &stranger, &unnamed] {
        for base in &bases {
            let reply = orders_at(base, token);
            assert_eq!(reply.status, 401, "{base}: {}", reply.body);
        }
        let reply = request(
            "GET",
            &format!("{gateway}/api/v1/auth/me"),
            &[("authorization", &format!("Bearer {token}"))],
            None,
        );
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
}

/// A key set served over HTTP, as a Supabase project publishes its keys; the test
/// changes it and counts the fetches.
struct KeyServer {
    url: String,
    body: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl KeyServer {
    fn start(body: String) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/auth/v1/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let body = Arc::new(Mutex::new(body));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (body.clone(), fetches.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        KeyServer { url, body, fetches }
    }

    fn publish(&self, keys: &[&Jwk]) {
        let set = KeySet {
            keys: keys.iter().map(|k| k.public().unwrap()).collect(),
        };
        *self.body.lock().unwrap() = serde_json::to_string(&set).unwrap();
    }
}

/// `JWT_JWKS_URL`: tokens of a project whose keys the gateway fetches are accepted and
/// reach PostgREST (which does not know those keys) re-signed, so row-level security
/// sees the same user; a key published later is fetched when a token names it; a
/// forged token naming a fetched key is refused.
#[test]
fn keys_fetched_from_a_jwks_url_verify_tokens_and_rotate_without_a_redeploy() {
    let stack = stack();
    const EMILY: &str = "22222222-2222-4222-8222-000000000005";
    let a = new_es256_key("project-a").unwrap();
    let b = new_es256_key("project-b").unwrap();
    let server = KeyServer::start(String::new());
    server.publish(&[&a]);
    let _gateway = PlainWorkerd::start(
        &stack,
        &[
            ("JWT_JWKS_URL", &server.url),
            ("JWT_JWKS_TTL_SECONDS", "600"),
        ],
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut claims = Claims::new(
        "authenticated",
        "https://project.supabase.co/auth/v1",
        now,
        now + 600,
    );
    claims.sub = Some(EMILY.into());
    claims.extra.insert("aud".into(), "authenticated".into());
    let orders = |token: &str| {
        request(
            "GET",
            &format!(
                "http://127.0.0.1:{}/rest/v1/orders?select=customer_id&limit=20",
                xtask::workerd::PORT
            ),
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
    };

    let reply = orders(&signed(&claims, &a));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rows = reply.json();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty(), "the demo customer has orders");
    assert!(rows.iter().all(|r| r["customer_id"] == EMILY), "{rows:?}");
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1);

    // Project B is not published yet; a fetch for it just happened (or was not allowed).
    let b_token = signed(&claims, &b);
    assert_eq!(orders(&b_token).status, 401);
    // B is published with an RSA key beside it, as a project moving to RS256 would.
    let rsa: Jwk = serde_json::from_str(RSA_KEY).unwrap();
    server.publish(&[&a, &b, &rsa]);
    let before = server.fetches.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(MIN_FETCH_INTERVAL_MS + 500));
    let reply = orders(&b_token);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        server.fetches.load(Ordering::SeqCst),
        before + 1,
        "one fetch for the new kid"
    );

    // RS256, verified by the runtime's WebCrypto inside workerd, under the same RLS.
    let input = jwt::signing_input(&claims, Alg::Rs256, rsa.kid.as_deref());
    let rs256 = jwt::assemble(&input, &sign_rs256(RSA_KEY, input.as_bytes()).unwrap());
    let reply = orders(&rs256);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rows = reply.json();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["customer_id"] == EMILY),
        "{rows:?}"
    );
    assert_eq!(server.fetches.load(Ordering::SeqCst), before + 1);
    // The same claims under RS256 with a tampered signature, and under an HS256 header
    // naming the RSA key (HMAC keyed with the public key), are refused.
    // (a character inside the signature: the last one carries padding bits)
    let at = rs256.len() - 10;
    let flipped = if &rs256[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &rs256[..at], &rs256[at + 1..]);
    assert_eq!(orders(&tampered).status, 401);
    let confused = jwt::sign_hs256_as(
        &claims,
        rsa.bytes("n").unwrap().as_slice(),
        Some("test-rsa"),
    );
    assert_eq!(orders(&confused).status, 401);

    // Another key calling itself project-a.
    let impostor = new_es256_key("project-a").unwrap();
    assert_eq!(orders(&signed(&claims, &impostor)).status, 401);
    // The gateway's published set is still its own key only.
    let published = request(
        "GET",
        &format!(
            "http://127.0.0.1:{}/auth/v1/.well-known/jwks.json",
            xtask::workerd::PORT
        ),
        &[],
        None,
    );
    assert!(!published.body.contains("project-a"), "{}", published.body);
}
