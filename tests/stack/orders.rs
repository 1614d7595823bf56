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
    let body = format!(r#"{{"items": [{{"product_id": "{product}", "quantity": 1}}]}}"#);
    let replies = concurrently(20, move |i| {
        postgrest_rpc(
            "iad1",
            "create_order",
            &user_token(CUSTOMERS[i % CUSTOMERS.len()]),
            &body,
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
fn create_order_through_postgrest_prices_from_the_database() {
    let _stack = stack();
    let token = user_token(CUSTOMERS[0]);
    let reply = postgrest_rpc(
        "iad1",
        "create_order",
        &token,
        r#"{"items": [{"product_id": "44444444-4444-4444-8444-000000000101", "quantity": 2, "unit_price_minor": 1}]}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let order = reply.json();
    assert_eq!(order["currency"], "XOF");
    assert_eq!(
        order["total_minor"], 10_000,
        "2 x 5000 XOF, whatever the client says"
    );

    // A replica refuses writes: create_order only works on the primary.
    let reply = postgrest_rpc(
        "fra1",
        "create_order",
        &token,
        r#"{"items": [{"product_id": "44444444-4444-4444-8444-000000000101", "quantity": 1}]}"#,
    );
    assert_ne!(reply.status, 200, "{}", reply.body);

    // Anonymous callers may not order.
    let anon = xtask::topology::anon_key();
    let reply = postgrest_rpc("iad1", "create_order", &anon, r#"{"items": []}"#);
    assert_eq!(reply.status, 401, "{}", reply.body);
}
