//! Payments, shipping, downloads and analytics through the gateway, on the real stack.

use payhuk_edge::services::downloads::link::{Link, link_key};
use payhuk_edge::services::payments::webhook::sign;
use payhuk_stack_tests::{Reply, concurrently, stack, user_token, via_edge};
use serde_json::{Value, json};
use xtask::topology;

const FATOU: &str = "22222222-2222-4222-8222-000000000004";
const EMILY: &str = "22222222-2222-4222-8222-000000000005";
const AMINATA: &str = "22222222-2222-4222-8222-000000000001";
const KOFI: &str = "11111111-1111-4111-8111-000000000002";
const AWA: &str = "11111111-1111-4111-8111-000000000001";
const KOFI_STORE: &str = "33333333-3333-4333-8333-000000000002";
const SCARF: &str = "44444444-4444-4444-8444-000000000201";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), now_nanos())
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn now_secs() -> i64 {
    (now_nanos() / 1_000_000_000) as i64
}

fn call(
    as_user: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let bearer = format!("Bearer {}", user_token(as_user));
    let mut headers = vec![
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    via_edge(
        "iad1",
        method,
        path,
        &headers,
        body.map(|b| b.to_string()).as_deref(),
    )
}

/// A fresh order (of a fresh product at Kofi's, so no test drains another's stock)
/// and a pending payment for it with `provider`, as Fatou.
fn order_and_payment(stack: &xtask::stack::Stack, provider: &str) -> (Value, Value) {
    let product = stack
        .sql(
            "iad1",
            "insert into public.products (store_id, kind, name, price_minor, currency, stock, weight_grams, published) \
             values ('33333333-3333-4333-8333-000000000002', 'physical', 'Test cloth', 2500, 'EUR', null, 100, true) \
             returning id",
        )
        .unwrap();
    let order = call(
        FATOU,
        "POST",
        "/api/v1/orders",
        Some(json!({"items": [{"product_id": product, "quantity": 1}]})),
        &[("idempotency-key", unique("o").as_str())],
    );
    assert_eq!(order.status, 201, "{}", order.body);
    let order = order.json();
    let payment = call(
        FATOU,
        "POST",
        "/api/v1/payments",
        Some(json!({"order_id": order["id"], "provider": provider})),
        &[("idempotency-key", unique("p").as_str())],
    );
    assert_eq!(payment.status, 201, "{}", payment.body);
    (order, payment.json())
}

/// A `test` provider notification, signed at `timestamp` with `secret`.
fn webhook(body: &Value, timestamp: i64, secret: &str) -> Reply {
    let raw = body.to_string();
    let (name, value) = sign(raw.as_bytes(), secret.as_bytes(), timestamp);
    via_edge(
        "fra1",
        "POST",
        "/api/v1/payments/webhooks/test",
        &[(name, value.as_str()), ("content-type", "application/json")],
        Some(&raw),
    )
}

fn logs(stack: &xtask::stack::Stack, payment: &Value) -> String {
    stack
        .sql(
            "iad1",
            &format!(
                "select string_agg(event, ',' order by id) from public.transaction_logs where payment_id = '{}'",
                payment["id"].as_str().unwrap()
            ),
        )
        .unwrap()
}

#[test]
fn webhooks_are_verified_applied_once_and_refunds_bounded() {
    let stack = stack();
    let (order, payment) = order_and_payment(&stack, "test");
    assert_eq!(payment["status"], "pending");
    assert_eq!(
        payment["amount_minor"], order["total_minor"],
        "the amount is the order's"
    );
    let secret = topology::webhook_secret("test");
    let event = |id: &str| json!({"event_id": id, "status": "succeeded", "payment_id": payment["id"], "amount_minor": payment["amount_minor"]});

    // Forged: signed with another secret. Refused, nothing changes.
    let forged = webhook(&event("evt-forged"), now_secs(), "not-the-provider-secret");
    assert_eq!(
        (forged.status, forged.json()["hint"].as_str()),
        (401, Some("bad_signature"))
    );
    // Replayed: a real signature from ten minutes ago.
    let replayed = webhook(&event("evt-old"), now_secs() - 600, &secret);
    assert_eq!(
        (replayed.status, replayed.json()["hint"].as_str()),
        (401, Some("stale_timestamp"))
    );
    assert_eq!(logs(&stack, &payment), "created");

    // The same event ten times at once: applied once.
    let body = event(&unique("evt"));
    let replies = concurrently(10, move |_| webhook(&body, now_secs(), &secret));
    let outcomes: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "applied").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "duplicate").count(),
        9,
        "{outcomes:?}"
    );
    assert_eq!(logs(&stack, &payment), "created,provider.succeeded");
    let paid = call(
        FATOU,
        "GET",
        &format!("/api/v1/orders/{}", order["id"].as_str().unwrap()),
        None,
        &[],
    );
    assert_eq!(paid.json()["status"], "paid");

    // Refunds by Kofi (the store's merchant): never above the capture.
    let path = format!(
        "/api/v1/payments/{}/refunds",
        payment["id"].as_str().unwrap()
    );
    let captured = payment["amount_minor"].as_i64().unwrap();
    let too_much = call(
        KOFI,
        "POST",
        &path,
        Some(json!({"amount_minor": captured + 1})),
        &[],
    );
    assert_eq!(
        (too_much.status, too_much.json()["hint"].as_str()),
        (422, Some("refund_exceeds_capture"))
    );
    let not_hers = call(AWA, "POST", &path, Some(json!({"amount_minor": 1})), &[]);
    assert_eq!(not_hers.status, 404);
    let partial = call(
        KOFI,
        "POST",
        &path,
        Some(json!({"amount_minor": 100, "reason": "scratched"})),
        &[],
    );
    assert_eq!(
        (partial.status, partial.json()["status"].as_str()),
        (201, Some("succeeded"))
    );
    let rest = call(
        KOFI,
        "POST",
        &path,
        Some(json!({"amount_minor": captured - 100})),
        &[],
    );
    assert_eq!(rest.json()["status"], "refunded");
    assert_eq!(
        logs(&stack, &payment),
        "created,provider.succeeded,refund,refund",
        "one row per transition"
    );

    // The payment with its log, for its customer only.
    let seen = call(
        FATOU,
        "GET",
        &format!("/api/v1/payments/{}", payment["id"].as_str().unwrap()),
        None,
        &[],
    );
    assert_eq!(seen.status, 200);
    assert_eq!(seen.json()["transaction_logs"].as_array().unwrap().len(), 4);
    assert_eq!(
        call(
            EMILY,
            "GET",
            &format!("/api/v1/payments/{}", payment["id"].as_str().unwrap()),
            None,
            &[]
        )
        .status,
        404
    );
}

#[test]
fn shipping_quotes_match_the_rate_table_and_shipments_need_a_paid_order() {
    let stack = stack();
    let quote = |country: &str, product: &str, quantity: u32| {
        via_edge(
            "fra1",
            "POST",
            "/api/v1/shipping/quote",
            &[("content-type", "application/json")],
            Some(
                &json!({"store_id": KOFI_STORE, "country": country,
                         "items": [{"product_id": product, "quantity": quantity}]})
                .to_string(),
            ),
        )
    };
    let first_price = |reply: &Reply| reply.json()["options"][0]["price_minor"].as_i64().unwrap();
    // West Africa: [0, 1000) g 800, [1000, 5000) g 1500. The scarf is 200 g.
    assert_eq!(first_price(&quote("GH", SCARF, 4)), 800, "800 g");
    assert_eq!(
        first_price(&quote("GH", SCARF, 5)),
        1500,
        "exactly 1000 g: the next bracket"
    );
    assert_eq!(first_price(&quote("SN", SCARF, 24)), 1500, "4800 g");
    assert_eq!(
        quote("SN", SCARF, 25).json()["options"],
        json!([]),
        "5000 g: beyond every bracket"
    );
    // Europe: flat 1200, free from 10000.
    let scarf_price = quote("FR", SCARF, 1).json()["subtotal_minor"]
        .as_i64()
        .unwrap();
    assert_eq!(first_price(&quote("FR", SCARF, 1)), 1200);
    let at_threshold = (10_000 + scarf_price - 1) / scarf_price;
    let free = quote("DE", SCARF, at_threshold as u32).json();
    assert_eq!(
        (
            free["options"][0]["price_minor"].as_i64(),
            free["options"][0]["free"].as_bool()
        ),
        (Some(0), Some(true))
    );
    let unserved = quote("JP", SCARF, 1);
    assert_eq!(
        (unserved.status, unserved.json()["hint"].as_str()),
        (409, Some("country_not_served"))
    );
    let bad = quote("Japan", SCARF, 0);
    assert_eq!(bad.status, 422);
    assert!(bad.json()["details"].as_str().unwrap().contains("country"));

    // Shipments: only for a paid order, by its store's merchant.
    let (order, payment) = order_and_payment(&stack, "test");
    let ship = |who: &str| {
        call(
            who,
            "POST",
            "/api/v1/shipments",
            Some(json!({"order_id": order["id"], "carrier": "DHL"})),
            &[],
        )
    };
    assert_eq!(ship(KOFI).json()["hint"], "order_not_paid");
    let secret = topology::webhook_secret("test");
    let paid = json!({"event_id": unique("evt"), "status": "succeeded", "payment_id": payment["id"], "amount_minor": payment["amount_minor"]});
    assert_eq!(webhook(&paid, now_secs(), &secret).status, 200);
    assert_eq!(ship(AWA).status, 404, "not her store");
    let shipment = ship(KOFI);
    assert_eq!(shipment.status, 201, "{}", shipment.body);
    let id = shipment.json()["id"].as_str().unwrap().to_owned();
    let delivered = call(
        KOFI,
        "POST",
        &format!("/api/v1/shipments/{id}/events"),
        Some(json!({"status": "delivered", "location": "Accra"})),
        &[],
    );
    assert_eq!(delivered.status, 201, "{}", delivered.body);
    let tracked = call(FATOU, "GET", &format!("/api/v1/shipments/{id}"), None, &[]).json();
    assert_eq!(tracked["status"], "delivered");
    assert_eq!(tracked["shipment_events"].as_array().unwrap().len(), 2);
    let fulfilled = call(
        FATOU,
        "GET",
        &format!("/api/v1/orders/{}", order["id"].as_str().unwrap()),
        None,
        &[],
    );
    assert_eq!(fulfilled.json()["status"], "fulfilled");
}

#[test]
fn download_links_allow_exactly_their_count_and_refuse_tampering_and_expiry() {
    let _stack = stack();
    let link = call(
        AMINATA,
        "POST",
        "/api/v1/downloads/links",
        Some(
            json!({"order_id": "77777777-7777-4777-8777-000000000001", "product_id": "44444444-4444-4444-8444-000000000101"}),
        ),
        &[],
    );
    assert_eq!(link.status, 201, "{}", link.body);
    let link = link.json();
    let k = link["max_downloads"].as_u64().unwrap() as usize;
    let url = link["url"].as_str().unwrap().to_owned();

    let replies = concurrently(3 * k, {
        let url = url.clone();
        move |_| via_edge("sfo1", "GET", &url, &[("user-agent", "payhuk-test")], None)
    });
    let succeeded: Vec<&Reply> = replies.iter().filter(|r| r.status == 302).collect();
    assert_eq!(succeeded.len(), k, "{replies:#?}");
    assert!(succeeded.iter().all(
        |r| r.header("location") == Some("https://storage.payhuk.test/awa/guide-ecommerce.pdf")
    ));
    for refused in replies.iter().filter(|r| r.status != 302) {
        assert_eq!(
            (refused.status, refused.json()["hint"].as_str()),
            (410, Some("link_exhausted"))
        );
    }

    let token = url.rsplit('/').next().unwrap();
    let mut tampered = token.to_owned().into_bytes();
    tampered[3] = if tampered[3] == b'a' { b'b' } else { b'a' };
    let tampered = via_edge(
        "sfo1",
        "GET",
        &format!("/api/v1/downloads/{}", String::from_utf8(tampered).unwrap()),
        &[],
        None,
    );
    assert_eq!(
        (tampered.status, tampered.json()["hint"].as_str()),
        (403, Some("tampered_link"))
    );

    let key = link_key(topology::JWT_SECRET.as_bytes());
    let grant = Link::decode(token, &key, 0).unwrap().grant_id;
    let expired = Link {
        grant_id: grant,
        expires_at: now_secs() - 1,
    }
    .encode(&key);
    let reply = via_edge(
        "sfo1",
        "GET",
        &format!("/api/v1/downloads/{expired}"),
        &[],
        None,
    );
    assert_eq!(
        (reply.status, reply.json()["hint"].as_str()),
        (410, Some("link_expired"))
    );

    // Not her order, no link.
    let other = call(
        FATOU,
        "POST",
        "/api/v1/downloads/links",
        Some(
            json!({"order_id": "77777777-7777-4777-8777-000000000001", "product_id": "44444444-4444-4444-8444-000000000101"}),
        ),
        &[],
    );
    assert_eq!(other.status, 404);
}

#[test]
fn analytics_ingest_is_limited_per_client_address_and_acknowledges_only_what_it_stored() {
    let stack = stack();
    let limit = topology::LOCAL_ANALYTICS_EVENTS_PER_MINUTE as usize;
    let session = unique("limited");
    let batch = |session: &str| {
        let events: Vec<Value> = (0..100)
            .map(|_| json!({"name": "page_view", "session_id": session}))
            .collect();
        json!({ "events": events }).to_string()
    };
    // Addresses from TEST-NET-2, one per run, so earlier runs' counts do not matter.
    let address = format!("198.51.100.{}", std::process::id() % 250 + 1);
    let send = |address: &str, session: &str| {
        via_edge(
            "fra1",
            "POST",
            "/api/v1/analytics/events",
            &[
                ("content-type", "application/json"),
                ("cf-connecting-ip", address),
            ],
            Some(&batch(session)),
        )
    };
    // Until the limit answers; a minute boundary crossed on the way allows at most twice
    // the limit.
    let mut accepted = 0;
    let refused = loop {
        let reply = send(&address, &session);
        match reply.status {
            201 => accepted += 100,
            429 => break reply,
            _ => panic!("analytics batch: {} {}", reply.status, reply.body),
        }
        assert!(
            accepted <= 2 * limit,
            "{accepted} events accepted from one address, the limit is {limit} a minute"
        );
    };
    assert!(accepted >= limit, "refused after {accepted} of {limit}");
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", refused.headers));
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(refused.json()["code"], "PHK429", "{}", refused.body);
    let stored = stack
        .sql(
            "iad1",
            &format!("select count(*) from public.analytics_events where session_id = '{session}'"),
        )
        .unwrap();
    assert_eq!(
        stored,
        accepted.to_string(),
        "stored exactly what was acknowledged"
    );

    // Another address is not held back by this one.
    let other = send(
        &format!("203.0.113.{}", std::process::id() % 250 + 1),
        &unique("other"),
    );
    assert_eq!(other.status, 201, "{}", other.body);
}

#[test]
fn analytics_are_stored_and_sales_equal_the_sql_aggregate() {
    let stack = stack();
    let session = unique("sess");
    let events = json!({"events": [
        {"name": "page_view", "session_id": session, "path": "/kofi-crafts", "store_id": KOFI_STORE},
        {"name": "add_to_cart", "session_id": session, "props": {"product_id": SCARF}, "store_id": KOFI_STORE}
    ]});
    let stored = via_edge(
        "fra1",
        "POST",
        "/api/v1/analytics/events",
        &[("content-type", "application/json")],
        Some(&events.to_string()),
    );
    assert_eq!(
        (stored.status, stored.json()["stored"].as_u64()),
        (201, Some(2)),
        "{}",
        stored.body
    );
    let in_db = stack
        .sql(
            "iad1",
            &format!("select count(*) from public.analytics_events where session_id = '{session}'"),
        )
        .unwrap();
    assert_eq!(in_db, "2", "acknowledged means stored");

    let range = stack
        .sql("iad1", "select to_char(now() - interval '700 days', 'YYYY-MM-DD') || ' ' || to_char(now() + interval '1 day', 'YYYY-MM-DD')")
        .unwrap();
    let (from, to) = range.split_once(' ').unwrap();
    let report = call(
        KOFI,
        "GET",
        &format!(
            "/api/v1/analytics/sales?store={KOFI_STORE}&from={from}&to={to}&granularity=month"
        ),
        None,
        &[],
    );
    assert_eq!(report.status, 200, "{}", report.body);
    let (orders, revenue) =
        report.json()["periods"]
            .as_array()
            .unwrap()
            .iter()
            .fold((0, 0), |(o, r), p| {
                (
                    o + p["orders"].as_i64().unwrap(),
                    r + p["revenue_minor"].as_i64().unwrap(),
                )
            });
    let expected = stack
        .sql(
            "iad1",
            &format!(
                "select count(*) || ' ' || coalesce(sum(total_minor), 0) from public.orders \
                 where store_id = '{KOFI_STORE}' and created_at >= '{from}' and created_at < '{to}' \
                 and status in ('paid', 'fulfilled')"
            ),
        )
        .unwrap();
    assert_eq!(format!("{orders} {revenue}"), expected);
    let weekly = call(
        KOFI,
        "GET",
        &format!("/api/v1/analytics/sales?store={KOFI_STORE}&from={from}&to={to}&granularity=week"),
        None,
        &[],
    );
    let weekly_revenue: i64 = weekly.json()["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["revenue_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(weekly_revenue, revenue, "the same total by week");

    let not_hers = call(
        AWA,
        "GET",
        &format!("/api/v1/analytics/sales?store={KOFI_STORE}&from={from}&to={to}"),
        None,
        &[],
    );
    assert_eq!(not_hers.status, 404);
    let bad = call(
        KOFI,
        "GET",
        &format!("/api/v1/analytics/sales?store={KOFI_STORE}&from=soon&to={to}&granularity=hour"),
        None,
        &[],
    );
    assert_eq!(bad.status, 422);
}
