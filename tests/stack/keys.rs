use payhuk_stack_tests::{request, stack};
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
