use futures::executor::block_on;
use payhuk_edge::auth::crypto;
use payhuk_edge::auth::crypto::native::{RustCrypto, new_es256_key};
use payhuk_edge::auth::jwks::{Jwk, KeySet};
use payhuk_edge::auth::jwt::{self, Alg, Claims};
use payhuk_stack_tests::{request, stack};
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
