use payhuk_stack_tests::{concurrently, postgrest_rpc, stack, user_token};

const CUSTOMERS: [&str; 5] = [
    "22222222-2222-4222-8222-000000000001",
    "22222222-2222-4222-8222-000000000002",
    "22222222-2222-4222-8222-000000000003",
    "22222222-2222-4222-8222-000000000004",
    "22222222-2222-4222-8222-000000000005",
];

#[test]
fn concurrent_orders_never_drive_stock_below_zero() {
    let stack = stack();
    let stock = 5;
    let product = stack
        .sql(
            "iad1",
            &format!(
                "insert into public.products (store_id, kind, name, price_minor, currency, stock, weight_grams, published) \
                 values ('33333333-3333-4333-8333-000000000002', 'physical', 'Last units', 2500, 'EUR', {stock}, 100, true) \
                 returning id"
            ),
        )
        .unwrap();

    // Twenty customers' requests race for five units, through PostgREST as each user.
    let racing = product.clone();
    let replies = concurrently(20, move |i| {
        postgrest_rpc(
            "iad1",
            "place_order",
            &user_token(CUSTOMERS[i % CUSTOMERS.len()]),
            &order_body(&format!("last-units-{racing}-{i}"), &racing, 1),
        )
    });

    let placed = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(placed, stock, "{replies:#?}");
    for refused in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(refused.status, 409, "{refused:?}");
        assert_eq!(refused.json()["hint"], "insufficient_stock");
    }
    let left = stack
        .sql(
            "iad1",
            &format!("select stock from public.products where id = '{product}'"),
        )
        .unwrap();
    assert_eq!(left, "0");
    let lines = stack
        .sql(
            "iad1",
            &format!("select count(*) || ' ' || sum(quantity) from public.order_items where product_id = '{product}'"),
        )
        .unwrap();
    assert_eq!(lines, format!("{stock} {stock}"));
}

#[test]
fn place_order_through_postgrest_prices_from_the_database() {
    let _stack = stack();
    let token = user_token(CUSTOMERS[0]);
    let key = format!("priced-{}", std::process::id());
    let body = order_body(&key, KENTE_XOF, 2).replace("}]", r#", "unit_price_minor": 1}]"#);
    let reply = postgrest_rpc("iad1", "place_order", &token, &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let order = reply.json();
    assert_eq!(order["currency"], "XOF");
    assert_eq!(
        order["total_minor"], 10_000,
        "2 x 5000 XOF, whatever the client says"
    );

    // A standby refuses writes: orders are only placed on the primary.
    let reply = postgrest_rpc(
        "fra1",
        "place_order",
        &token,
        &order_body(&key, KENTE_XOF, 1),
    );
    // PostgREST's read-write transaction is refused during recovery.
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["code"], "0A000", "{}", reply.body);

    // Anonymous callers may not order.
    let anon = xtask::topology::anon_key();
    let reply = postgrest_rpc(
        "iad1",
        "place_order",
        &anon,
        &order_body(&key, KENTE_XOF, 1),
    );
    assert_eq!(reply.status, 401, "{}", reply.body);
}

#[test]
fn create_order_is_not_an_entry_point() {
    let _stack = stack();
    // Called directly it would place an order with no idempotency key: a retried lost
    // answer would order twice. Only place_order, which keeps the key, may call it.
    let items = format!(r#"{{"items": [{{"product_id": "{KENTE_XOF}", "quantity": 1}}]}}"#);
    let reply = postgrest_rpc("iad1", "create_order", &user_token(CUSTOMERS[0]), &items);
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.json()["code"], "42501", "{}", reply.body);
    let anon = xtask::topology::anon_key();
    let reply = postgrest_rpc("iad1", "create_order", &anon, &items);
    assert_eq!(reply.status, 401, "{}", reply.body);
}

const KENTE_XOF: &str = "44444444-4444-4444-8444-000000000101";

/// `place_order`'s arguments: the request hash only has to be SHA-256 shaped, since a
/// key is never replayed with another request here.
fn order_body(key: &str, product: &str, quantity: u32) -> String {
    format!(
        r#"{{"idempotency_key": "{key}", "request_hash": "{hash}", "items": [{{"product_id": "{product}", "quantity": {quantity}}}]}}"#,
        hash = "0".repeat(64)
    )
}
