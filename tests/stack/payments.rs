//! Payments at their providers, on the real stack: the gateway's adapters against the
//! sandbox (`tests/sandbox/providers.mjs`), which speaks each provider's published API,
//! settles checkouts as the customer chooses and signs notifications as the provider
//! does. The sandbox's own conformance, with the providers' SDKs where they publish
//! one, is `tests/js/providers-sandbox.test.mjs`.

use std::process::Command;

use payhuk_edge::services::payments::providers::Provider;
use payhuk_stack_tests::{Reply, request, stack, user_token, via_edge};
use serde_json::{Value, json};
use xtask::topology;

const FATOU: &str = "22222222-2222-4222-8222-000000000004";
const EMILY: &str = "22222222-2222-4222-8222-000000000005";
/// The merchant of Awa Digital.
const AWA: &str = "11111111-1111-4111-8111-000000000001";
const AWA_STORE: &str = "33333333-3333-4333-8333-000000000001";
/// Awa Digital's e-book, 5000 XOF: no stock to run out of.
const EBOOK_XOF: &str = "44444444-4444-4444-8444-000000000101";
/// Kofi's Kente scarf, 45.00 EUR.
const SCARF_EUR: &str = "44444444-4444-4444-8444-000000000201";
const PROVIDERS: [&str; 4] = ["fedapay", "moneroo", "paydunya", "cinetpay"];

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// As `user`, at the primary's edge (what follows a write reads it back there).
fn call(user: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let bearer = format!("Bearer {}", user_token(user));
    let key = unique("idem");
    via_edge(
        "iad1",
        method,
        path,
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
            ("idempotency-key", key.as_str()),
        ],
        body.map(|b| b.to_string()).as_deref(),
    )
}

fn order(product: &str) -> Value {
    let placed = call(
        FATOU,
        "POST",
        "/api/v1/orders",
        Some(json!({"items": [{"product_id": product, "quantity": 1}]})),
    );
    assert_eq!(placed.status, 201, "{}", placed.body);
    placed.json()
}

fn pay(order: &Value, provider: &str) -> Reply {
    call(
        FATOU,
        "POST",
        "/api/v1/payments",
        Some(json!({"order_id": order["id"], "provider": provider})),
    )
}

/// The customer at the provider's checkout page: pays, declines or gives up.
fn at_checkout(checkout_url: &str, outcome: &str) -> Value {
    let reply = request(
        "POST",
        checkout_url,
        &[("content-type", "application/json")],
        Some(&json!({"outcome": outcome}).to_string()),
    );
    assert_eq!(reply.status, 200, "{checkout_url}: {}", reply.body);
    reply.json()
}

fn sandbox(method: &str, path: &str, body: Option<Value>) -> Reply {
    request(
        method,
        &format!("{}/_control/{path}", topology::sandbox_url()),
        &[("content-type", "application/json")],
        body.map(|b| b.to_string()).as_deref(),
    )
}

fn payment(id: &str) -> Value {
    let reply = call(FATOU, "GET", &format!("/api/v1/payments/{id}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn events(payment: &Value) -> Vec<String> {
    payment["transaction_logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event"].as_str().unwrap().to_owned())
        .collect()
}

fn order_status(stack: &xtask::stack::Stack, order: &Value) -> String {
    stack
        .sql(
            "iad1",
            &format!(
                "select status from public.orders where id = '{}'",
                order["id"].as_str().unwrap()
            ),
        )
        .unwrap()
}

/// The sandbox itself against the providers' own SDKs (FedaPay's and PayDunya's npm
/// packages) and documented signatures: it starts its own sandbox and merchant, so it
/// needs no stack, and it runs here with the tests that rely on the sandbox.
#[test]
fn the_sandbox_speaks_as_the_providers_sdks_expect() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("node")
        .arg("--test")
        .arg("tests/js/providers-sandbox.test.mjs")
        .current_dir(&root)
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "providers-sandbox.test.mjs failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("# pass 5"), "all 5 ran:\n{report}");
}

/// Every provider: the payment opens a checkout at the provider, the customer pays
/// there, the provider's signed notification (confirmed with its API where it says
/// to) moves the payment and the order, and a redelivery changes nothing.
#[test]
fn every_provider_takes_an_order_from_placed_to_paid_through_its_checkout() {
    let stack = stack();
    for provider in PROVIDERS {
        let order = order(EBOOK_XOF);
        let opened = pay(&order, provider);
        assert_eq!(opened.status, 201, "{provider}: {}", opened.body);
        let opened = opened.json();
        let checkout_url = opened["checkout_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            checkout_url.starts_with(&topology::sandbox_url()),
            "{provider}: a checkout at the provider: {opened}"
        );
        assert_eq!(opened["status"], "pending");
        assert_eq!(order_status(&stack, &order), "pending");

        let paid = at_checkout(&checkout_url, "approved");
        assert_eq!(
            paid["notified"], 200,
            "{provider}: the gateway took the notification: {paid}"
        );
        let id = opened["id"].as_str().unwrap();
        let settled = payment(id);
        assert_eq!(settled["status"], "succeeded", "{provider}: {settled}");
        assert_eq!(settled["captured_minor"], 5000, "{provider}");
        assert_eq!(
            events(&settled),
            ["created", "checkout", "provider.succeeded"],
            "{provider}"
        );
        assert_eq!(order_status(&stack, &order), "paid", "{provider}");
        // What was bought can be had: the e-book's download link.
        let link = call(
            FATOU,
            "POST",
            "/api/v1/downloads/links",
            Some(json!({"order_id": order["id"], "product_id": EBOOK_XOF})),
        );
        assert_eq!(link.status, 201, "{provider}: {}", link.body);

        // The provider delivers the same notification again.
        let reference = settled["provider_ref"].as_str().unwrap();
        let again = sandbox("POST", &format!("{provider}/{reference}/notify"), None);
        assert_eq!(again.status, 200, "{provider}: {}", again.body);
        assert_eq!(again.json()["notified"], 200, "{provider}: {}", again.body);
        assert_eq!(events(&payment(id)).len(), 3, "{provider}: applied once");
    }
}

/// Amounts in a currency with minor units reach the provider in its units and come
/// back exact: 45.00 EUR through Moneroo (decimals in major units) is 4500.
#[test]
fn a_two_decimal_currency_settles_without_a_mismatch() {
    let _stack = stack();
    let order = order(SCARF_EUR);
    let opened = pay(&order, "moneroo");
    assert_eq!(opened.status, 201, "{}", opened.body);
    let opened = opened.json();
    assert_eq!(opened["amount_minor"], 4500);
    let paid = at_checkout(opened["checkout_url"].as_str().unwrap(), "approved");
    assert_eq!(paid["notified"], 200, "{paid}");
    let settled = payment(opened["id"].as_str().unwrap());
    assert_eq!(settled["status"], "succeeded", "{settled}");
    assert_eq!(settled["captured_minor"], 4500);
}

/// A provider with no adapter is refused before anything is stored; a provider that
/// cannot take the order's total ends the attempt and leaves the order payable.
#[test]
fn a_provider_that_cannot_settle_is_refused_at_checkout() {
    let stack = stack();
    let ebook = order(EBOOK_XOF);
    for name in ["wave", "orange_money", "card", "stripe"] {
        let refused = pay(&ebook, name);
        assert_eq!(refused.status, 422, "{name}: {}", refused.body);
        assert_eq!(refused.json()["hint"], "provider_not_supported", "{name}");
        assert!(
            refused.json()["details"]
                .as_str()
                .unwrap()
                .contains("fedapay")
        );
    }
    let count = stack
        .sql(
            "iad1",
            &format!(
                "select count(*) from public.payments where order_id = '{}'",
                ebook["id"].as_str().unwrap()
            ),
        )
        .unwrap();
    assert_eq!(count, "0", "nothing was stored");
    let opened = pay(&ebook, "fedapay");
    assert_eq!(opened.status, 201, "{}", opened.body);

    // A total CinetPay cannot charge (XOF in multiples of 5) is a fact of the order, not
    // of the request: 409, the attempt ends, and another provider takes the order.
    let created = call(
        AWA,
        "POST",
        "/api/v1/products",
        Some(
            json!({"store_id": AWA_STORE, "kind": "digital", "name": unique("odd price"),
                    "price_minor": 5001, "currency": "XOF", "published": true}),
        ),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let odd = order(created.json()["id"].as_str().unwrap());
    let refused = pay(&odd, "cinetpay");
    assert_eq!(refused.status, 409, "{}", refused.body);
    let refused = refused.json();
    assert_eq!(refused["hint"], "order_not_payable_with_provider");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("multiples of 5"),
        "{refused}"
    );
    let opened = pay(&odd, "fedapay");
    assert_eq!(opened.status, 201, "{}", opened.body);
}

/// A customer who declines, or gives up, can pay again: cancelled at the gateway or
/// expired, the order takes a new payment.
#[test]
fn declined_cancelled_and_expired_payments_leave_the_order_payable() {
    let stack = stack();
    let order = order(EBOOK_XOF);
    let first = pay(&order, "fedapay").json();
    let declined = at_checkout(first["checkout_url"].as_str().unwrap(), "declined");
    assert_eq!(declined["notified"], 200, "{declined}");
    assert_eq!(payment(first["id"].as_str().unwrap())["status"], "failed");

    let second = pay(&order, "cinetpay").json();
    assert_eq!(second["status"], "pending", "{second}");
    let busy = pay(&order, "moneroo");
    assert_eq!(busy.status, 409, "{}", busy.body);
    assert_eq!(busy.json()["hint"], "payment_exists");
    let path = format!("/api/v1/payments/{}/cancel", second["id"].as_str().unwrap());
    assert_eq!(call(EMILY, "POST", &path, None).status, 404, "not hers");
    let cancelled = call(FATOU, "POST", &path, None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert_eq!(call(FATOU, "POST", &path, None).status, 409, "once");

    let third = pay(&order, "moneroo").json();
    assert_eq!(third["status"], "pending", "{third}");
    // Past its time (PAYMENT_TTL_SECONDS), it no longer holds the order.
    stack
        .sql(
            "iad1",
            &format!(
                "update public.payments set expires_at = now() - interval '1 second' where id = '{}'",
                third["id"].as_str().unwrap()
            ),
        )
        .unwrap();
    let fourth = pay(&order, "paydunya");
    assert_eq!(fourth.status, 201, "{}", fourth.body);
    assert_eq!(payment(third["id"].as_str().unwrap())["status"], "expired");
    let paid = at_checkout(fourth.json()["checkout_url"].as_str().unwrap(), "approved");
    assert_eq!(paid["notified"], 200, "{paid}");
    assert_eq!(order_status(&stack, &order), "paid");
}

/// Webhooks get lost: the cron asks the provider about open payments and settles them
/// from its answer, once.
#[test]
fn the_cron_settles_a_payment_whose_notification_was_lost() {
    let stack = stack();
    let mut opened = Vec::new();
    for provider in PROVIDERS {
        let order = order(EBOOK_XOF);
        let payment = pay(&order, provider);
        assert_eq!(payment.status, 201, "{provider}: {}", payment.body);
        let payment = payment.json();
        let reference = payment["provider_ref"].as_str().unwrap().to_owned();
        let settled = sandbox(
            "POST",
            &format!("{provider}/{reference}/settle"),
            Some(json!({"outcome": "approved", "notify": false})),
        );
        assert_eq!(settled.status, 200, "{provider}: {}", settled.body);
        opened.push((provider, order, payment));
    }
    let cron = || {
        let reply = request(
            "GET",
            &format!(
                "{}/cdn-cgi/handler/scheduled?cron=0+*/6+*+*+*",
                topology::gateway_url()
            ),
            &[],
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    cron();
    for (provider, order, opened) in &opened {
        let settled = payment(opened["id"].as_str().unwrap());
        assert_eq!(settled["status"], "succeeded", "{provider}: {settled}");
        assert_eq!(order_status(&stack, order), "paid", "{provider}");
    }
    cron();
    for (provider, _, opened) in &opened {
        let logs = events(&payment(opened["id"].as_str().unwrap()));
        assert_eq!(
            logs,
            ["created", "checkout", "provider.succeeded"],
            "{provider}: once"
        );
    }
}

/// A customer who paid another amount than the payment's (a tampered page, a
/// provider's error) settles nothing: every provider's success for 4000 XOF of a 5000
/// XOF payment is refused, logged with the amount, and the payment stays open.
#[test]
fn a_success_for_another_amount_is_refused_and_logged() {
    let stack = stack();
    for provider in PROVIDERS {
        let order = order(EBOOK_XOF);
        let opened = pay(&order, provider);
        assert_eq!(opened.status, 201, "{provider}: {}", opened.body);
        let opened = opened.json();
        let reference = opened["provider_ref"].as_str().unwrap();
        let settled = sandbox(
            "POST",
            &format!("{provider}/{reference}/settle"),
            Some(json!({"outcome": "approved", "amount": 4000})),
        );
        assert_eq!(settled.status, 200, "{provider}: {}", settled.body);
        assert_eq!(
            settled.json()["notified"],
            422,
            "{provider}: refused: {}",
            settled.body
        );
        let after = payment(opened["id"].as_str().unwrap());
        assert_eq!(after["status"], "pending", "{provider}: {after}");
        let logged: Vec<&Value> = after["transaction_logs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["event"] == "provider.amount_mismatch")
            .collect();
        assert_eq!(logged.len(), 1, "{provider}: {after}");
        assert_eq!(logged[0]["amount_minor"], 4000, "{provider}");
        assert_eq!(order_status(&stack, &order), "pending", "{provider}");
    }
}

/// Providers check the notification URL with a GET before they post (CinetPay's docs
/// require a 200): every configured provider answers; one not offered is 404.
#[test]
fn notification_urls_answer_a_providers_ping() {
    let _stack = stack();
    for provider in PROVIDERS {
        let reply = via_edge(
            "iad1",
            "GET",
            &format!("/api/v1/payments/webhooks/{provider}"),
            &[],
            None,
        );
        assert_eq!(reply.status, 200, "{provider}: {}", reply.body);
        assert_eq!(reply.json()["provider"], provider);
    }
    let reply = via_edge("iad1", "GET", "/api/v1/payments/webhooks/stripe", &[], None);
    assert_eq!(reply.status, 404, "{}", reply.body);
}

/// A notification not signed as the provider signs is refused and changes nothing.
#[test]
fn notifications_not_signed_by_the_provider_are_refused() {
    let _stack = stack();
    let order = order(EBOOK_XOF);
    let opened = pay(&order, "fedapay").json();
    let body = json!({"name": "transaction.approved", "object": "transaction",
                      "entity": {"id": 1, "status": "approved", "amount": 5000,
                                 "custom_metadata": {"payhuk_payment_id": opened["id"]}}})
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (provider, headers) in [
        (
            "fedapay",
            vec![(
                "x-fedapay-signature",
                format!("t={now},s={}", "ab".repeat(32)),
            )],
        ),
        ("moneroo", vec![("x-moneroo-signature", "ab".repeat(32))]),
        ("fedapay", vec![]),
    ] {
        let mut sent: Vec<(&str, &str)> = vec![("content-type", "application/json")];
        sent.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let reply = via_edge(
            "iad1",
            "POST",
            &format!("/api/v1/payments/webhooks/{provider}"),
            &sent,
            Some(&body),
        );
        assert_eq!(reply.status, 401, "{provider}: {}", reply.body);
    }
    let paydunya = "data%5Bhash%5D=00&data%5Bstatus%5D=completed&data%5Binvoice%5D%5Btoken%5D=x";
    let reply = via_edge(
        "iad1",
        "POST",
        "/api/v1/payments/webhooks/paydunya",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(paydunya),
    );
    assert_eq!(reply.status, 401, "{}", reply.body);
    let cinetpay = format!(
        "cpm_site_id={}&cpm_trans_id={}&cpm_amount=5000&cpm_currency=XOF",
        topology::provider_credential(Provider::CinetPay, "SITE_ID"),
        opened["id"].as_str().unwrap()
    );
    for token in [None, Some("ab".repeat(32))] {
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(token) = &token {
            headers.push(("x-token", token.as_str()));
        }
        let reply = via_edge(
            "iad1",
            "POST",
            "/api/v1/payments/webhooks/cinetpay",
            &headers,
            Some(&cinetpay),
        );
        assert_eq!(reply.status, 401, "cinetpay {token:?}: {}", reply.body);
    }
    assert_eq!(payment(opened["id"].as_str().unwrap())["status"], "pending");
}
