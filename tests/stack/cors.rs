//! Browsers on other origins: CORS answered by the gateway itself, exact origins only.

use payhuk_stack_tests::{PostgrestStopped, gateway, stack};
use xtask::topology;

const EVIL: &str = "https://evil.example";

fn preflight(origin: &str, path: &str, method: &str, headers: &str) -> payhuk_stack_tests::Reply {
    gateway(
        "OPTIONS",
        path,
        &[
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", headers),
        ],
    )
}

#[test]
fn a_preflight_is_answered_at_the_edge_even_with_every_upstream_down() {
    let stack = stack();
    let shop = topology::storefront_origin();
    // No PostgREST anywhere: an answer can only come from the gateway itself.
    let _down = ["iad1", "sfo1", "fra1"].map(|r| PostgrestStopped::new(&stack, r));
    for (path, method, methods) in [
        ("/api/v1/orders", "POST", "GET, POST"),
        (
            "/rest/v1/products",
            "PATCH",
            "GET, HEAD, POST, PATCH, PUT, DELETE",
        ),
    ] {
        let reply = preflight(
            &shop,
            path,
            method,
            "authorization, content-type, idempotency-key",
        );
        assert_eq!(reply.status, 204, "{path}: {}", reply.body);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(shop.as_str())
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(reply.header("access-control-allow-methods"), Some(methods));
        assert_eq!(
            reply.header("access-control-allow-headers"),
            Some("authorization, content-type, idempotency-key")
        );
        assert_eq!(reply.header("x-payhuk-upstream"), None);
    }
}

#[test]
fn a_preflight_from_an_origin_not_allowed_is_refused_with_json() {
    let reply = preflight(EVIL, "/api/v1/orders", "POST", "content-type");
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.json()["code"], "PHK430");
}

#[test]
fn responses_name_the_allowed_origin_and_expose_the_gateways_headers() {
    let shop = topology::storefront_origin();
    let reply = gateway("GET", "/api/v1/products", &[("origin", &shop)]);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(shop.as_str())
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    let exposed = reply.header("access-control-expose-headers").unwrap();
    for name in [
        "x-payhuk-upstream",
        "x-payhuk-consistency",
        "x-payhuk-region",
        "server-timing",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert!(reply.header("vary").unwrap().contains("Origin"));

    // Errors too, so a frontend can read them.
    let reply = gateway("GET", "/api/v1/orders", &[("origin", &shop)]);
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(shop.as_str())
    );

    // Another origin is served (curl is not a browser) but gets no CORS grant.
    let reply = gateway("GET", "/api/v1/products", &[("origin", EVIL)]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("access-control-allow-credentials"), None);
}
