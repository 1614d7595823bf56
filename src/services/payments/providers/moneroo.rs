//! Moneroo (a payment orchestrator over mobile money, cards and banks across Africa):
//! a payment initialized through the API, paid on Moneroo's hosted checkout, notified
//! by signed webhooks that are only a hint: the API's verify call is the word.
//!
//! | what | how |
//! |---|---|
//! | auth | `Authorization: Bearer <SECRET_KEY>` (sandbox and live keys, one base) |
//! | base | `https://api.moneroo.io` |
//! | checkout | `POST /v1/payments/initialize` `{amount, currency, description, return_url, customer: {email}, metadata}` -> `{message, data: {id, checkout_url}}` |
//! | status | `GET /v1/payments/{id}/verify` -> `{message, data: {id, status, amount, currency, metadata, ...}}` |
//! | refund | none for payments ([`refund`]) |
//! | currencies | of ours: `XOF`, `XAF`, `USD`, `GHS`, `NGN`, `EUR` (the methods list); amounts are integers in major units |
//! | notification | `X-Moneroo-Signature: <hex>`, HMAC-SHA256 of the raw body with the webhook's secret; no timestamp |
//! | notification body | `{event, data: {id, amount, currency, status, ...}}`: partial, "fetch the latest status" |
//!
//! States (`data.status`, and the `payment.*` event names):
//!
//! | Moneroo | [`Outcome`] |
//! |---|---|
//! | `initiated` (event `payment.initiated`), `pending` | `Pending` |
//! | `success` (event `payment.success`) | `Succeeded` |
//! | `failed` (event `payment.failed`) | `Failed` |
//! | `cancelled` (event `payment.cancelled`) | `Cancelled` |
//! | anything else | `Other(name)` |
//!
//! Sources:
//! - <https://docs.moneroo.io/introduction/authentication> (Bearer secret key; base URL),
//! - <https://docs.moneroo.io/introduction/responses-format> and
//!   <https://docs.moneroo.io/introduction/errors> (`{message, data, errors}`; codes),
//! - <https://docs.moneroo.io/payments/standard-integration> (the initialize call, its
//!   fields and example reply; `metadata` takes string values only),
//! - <https://docs.moneroo.io/payments/transaction-verification> (verify, its example
//!   reply with `currency` as an object) and
//!   <https://docs.moneroo.io/payments/retrieve-payment> (`amount: 100.0`, `currency`
//!   as a code),
//! - <https://docs.moneroo.io/payments/status> (the five states),
//! - <https://docs.moneroo.io/payments/available-methods> (currencies, by method),
//! - <https://docs.moneroo.io/introduction/webhooks> (events, example body, the
//!   signature, "Always Re-query", duplicates),
//! - `MonerooHQ/moneroo-php` `src/Payment.php`, `src/Payment/Status.php`,
//!   `src/Traits/Request.php` (paths, states, headers, 200/201 as success).
//!
//! Readings where the sources are silent or disagree, conservative on purpose:
//! - `amount` is documented as an integer (payments and payouts alike) and the examples
//!   are in major units (`100` USD is `$100.00`). Whole major units only are sent:
//!   12.34 EUR is refused with a 422 before any call, never rounded or truncated.
//! - `customer.first_name` and `last_name` are documented as required, and [`Intent`]
//!   has no name: only `customer.email` is sent (required here too), and Moneroo is left
//!   to accept or refuse that.
//! - EUR appears in the methods list only through `crypto_eur`.
//! - The docs name no idempotency key: none is sent; no per-payment webhook URL either
//!   (webhooks are set in the dashboard).
//! - Refunds: the docs show none for payments. Payouts exist ("refunds, rebates, ...")
//!   but need a payout method and the recipient's number, which a refund request does
//!   not carry, so refunds are not offered.
//! - The example webhook bodies have no `metadata`, and Moneroo says they are partial:
//!   the payment is named by our metadata when present, else by `data.id`; `confirm` is
//!   always set. Events are `<event>:<data.id>` (one of each per payment).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::signature::hmac_matches;
use super::{
    ApiCall, Checkout, Intent, Notification, NotificationError, Outcome, PaymentRef, ProviderApi,
    Refund, Settings, Status, bad_reply, checked_ref, checkout_url_ok, json_reply, whole_units,
};
use crate::error::{AppError, FieldProblem};
use crate::region::HeaderLookup;
use crate::services::payments::amount::{Currency, from_major_json};

pub const CREDENTIALS: &[&str] = &["SECRET_KEY", "WEBHOOK_SECRET"];
pub const API_BASE: &str = "https://api.moneroo.io";
pub const CURRENCIES: &[&str] = &["XOF", "XAF", "USD", "GHS", "NGN", "EUR"];

const PROVIDER: &str = "moneroo";
const SIGNATURE_HEADER: &str = "x-moneroo-signature";
/// Our payment id inside `metadata`.
const PAYMENT_KEY: &str = "payhuk_payment_id";
/// Longest event id this adapter hands on (they are stored and compared).
const MAX_EVENT_ID: usize = 200;

/// Moneroo requires `first_name` and `last_name`: the profile's display name split at
/// its first space; without one, the e-mail's local part stands for both (what the
/// customer gave us, never an invented name).
fn customer(email: Option<&str>, name: Option<&str>) -> Value {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let fallback = email.and_then(|e| e.split('@').next()).unwrap_or_default();
    let (first, last) = match name.map(|n| n.split_once(' ').unwrap_or((n, n))) {
        Some((first, last)) => (first, last.trim()),
        None => (fallback, fallback),
    };
    json!({"email": email, "first_name": first, "last_name": last})
}

/// Initializes the payment; `data.checkout_url` is where the customer pays.
pub async fn checkout(
    s: &Settings,
    api: &impl ProviderApi,
    intent: &Intent,
) -> Result<Checkout, AppError> {
    let email = intent
        .customer_email
        .as_deref()
        .filter(|e| !e.trim().is_empty());
    let amount = amount_to_send(intent.amount_minor, intent.currency, email.is_some())?;
    let body = json!({
        "amount": amount,
        "currency": intent.currency.code,
        "description": intent.description,
        "return_url": intent.return_url,
        "customer": customer(email, intent.customer_name.as_deref()),
        "metadata": {PAYMENT_KEY: intent.payment_id.to_string()},
    });
    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "POST",
                url: format!("{}/v1/payments/initialize", s.api_base),
                headers: json_headers(s),
                body: body.to_string().into_bytes(),
            },
        )
        .await?;
    let v = json_reply(PROVIDER, &reply, "initializing a payment")?;
    let data = v
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| bad_reply(PROVIDER, "an initialized payment without data", &reply))?;
    let id = data
        .get("id")
        .and_then(plain_id)
        .ok_or_else(|| bad_reply(PROVIDER, "an initialized payment without an id", &reply))?;
    let checkout_url = data
        .get("checkout_url")
        .and_then(Value::as_str)
        .filter(|u| checkout_url_ok(u, s))
        .ok_or_else(|| {
            bad_reply(
                PROVIDER,
                "an initialized payment without an https checkout_url",
                &reply,
            )
        })?;
    Ok(Checkout {
        provider_ref: id,
        checkout_url: checkout_url.to_owned(),
    })
}

/// Verifies `X-Moneroo-Signature` over the raw body and reads the event. Moneroo signs
/// no timestamp: a replay is caught by the event id, and the outcome is only acted on
/// after [`status`] (`confirm`).
pub fn notification(
    s: &Settings,
    h: &impl HeaderLookup,
    body: &[u8],
) -> Result<Notification, NotificationError> {
    let secret = s.credential("WEBHOOK_SECRET").as_bytes();
    if secret.is_empty() {
        return Err(NotificationError::BadSignature);
    }
    let signature = h
        .header(SIGNATURE_HEADER)
        .ok_or(NotificationError::BadSignature)?;
    if !hmac_matches(secret, body, signature.trim()) {
        return Err(NotificationError::BadSignature);
    }
    read_event(body)
}

/// The payment's state at Moneroo, from its verify call.
pub async fn status(
    s: &Settings,
    api: &impl ProviderApi,
    provider_ref: &str,
    _currency: Currency,
) -> Result<Status, AppError> {
    check_ref(provider_ref)?;
    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "GET",
                url: format!("{}/v1/payments/{provider_ref}/verify", s.api_base),
                headers: auth_headers(s),
                body: Vec::new(),
            },
        )
        .await?;
    let v = json_reply(PROVIDER, &reply, "verifying a payment")?;
    let data = v
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| bad_reply(PROVIDER, "a verified payment without data", &reply))?;
    if let Some(id) = data.get("id").and_then(plain_id)
        && id != provider_ref
    {
        return Err(bad_reply(
            PROVIDER,
            &format!("asked for payment {provider_ref}, got {id}"),
            &reply,
        ));
    }
    let state = data
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_reply(PROVIDER, "a payment without a status", &reply))?;
    let code = currency_code(data)
        .ok_or_else(|| bad_reply(PROVIDER, "a payment without a currency", &reply))?;
    let currency = Currency::parse(code)
        .ok_or_else(|| bad_reply(PROVIDER, &format!("a payment in `{code}`"), &reply))?;
    let amount = data
        .get("amount")
        .ok_or_else(|| bad_reply(PROVIDER, "a payment without an amount", &reply))?;
    let amount_minor = from_major_json(amount, currency)
        .map_err(|e| bad_reply(PROVIDER, &format!("the payment's amount: {e}"), &reply))?;
    Ok(Status {
        outcome: state_outcome(state),
        amount_minor,
        currency: currency.code.to_owned(),
    })
}

/// Moneroo's documentation shows no refund of a payment. Its payout API (which it
/// suggests for refunds) needs a payout method and the recipient's number, which a
/// refund request does not carry; the merchant refunds outside the API and the gateway
/// records it. Nothing is sent.
pub async fn refund(
    _s: &Settings,
    _api: &impl ProviderApi,
    _provider_ref: &str,
    _amount_minor: i64,
    _currency: Currency,
) -> Result<Refund, AppError> {
    Ok(Refund::NotOffered)
}

/// The amount as Moneroo takes it: whole major units, for a customer with an email.
fn amount_to_send(
    amount_minor: i64,
    currency: Currency,
    has_email: bool,
) -> Result<Value, AppError> {
    let mut problems = Vec::new();
    if !has_email {
        problems.push(FieldProblem::new(
            "customer_email",
            "Moneroo requires the customer's email",
        ));
    }
    whole_units("Moneroo", CURRENCIES, 1, amount_minor, currency, problems)
}

fn auth_headers(s: &Settings) -> Vec<(String, String)> {
    vec![
        (
            "Authorization".into(),
            format!("Bearer {}", s.credential("SECRET_KEY")),
        ),
        ("Accept".into(), "application/json".into()),
    ]
}

fn json_headers(s: &Settings) -> Vec<(String, String)> {
    let mut headers = auth_headers(s);
    headers.push(("Content-Type".into(), "application/json".into()));
    headers
}

/// A payment id as Moneroo writes them (`k4su1ii7abdz`, `5f7b1b2c`; the docs' webhook
/// example has `"123456"`), as text safe in a URL path.
fn plain_id(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_u64()?.to_string(),
        _ => return None,
    };
    is_payment_id(&text).then_some(text)
}

fn is_payment_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `provider_ref` goes into a URL path: only a Moneroo payment id may.
fn check_ref(provider_ref: &str) -> Result<(), AppError> {
    checked_ref(provider_ref, is_payment_id, "a Moneroo payment id")
}

/// `currency` is a code in the retrieve example and webhooks, an object with `code` in
/// the verify example.
fn currency_code(data: &Map<String, Value>) -> Option<&str> {
    match data.get("currency")? {
        Value::String(code) => Some(code),
        Value::Object(c) => c.get("code").and_then(Value::as_str),
        _ => None,
    }
}

/// A payment state, from `data.status`.
fn state_outcome(state: &str) -> Outcome {
    match state {
        "initiated" | "pending" => Outcome::Pending,
        "success" => Outcome::Succeeded,
        "failed" => Outcome::Failed,
        "cancelled" => Outcome::Cancelled,
        other => Outcome::Other(other.to_owned()),
    }
}

fn event_outcome(event: &str) -> Outcome {
    match event {
        "payment.initiated" => Outcome::Pending,
        "payment.success" => Outcome::Succeeded,
        "payment.failed" => Outcome::Failed,
        "payment.cancelled" => Outcome::Cancelled,
        other => Outcome::Other(other.to_owned()),
    }
}

fn read_event(body: &[u8]) -> Result<Notification, NotificationError> {
    let unreadable = |why: String| NotificationError::Unreadable(format!("moneroo: {why}"));
    let v: Value =
        serde_json::from_slice(body).map_err(|e| unreadable(format!("not JSON: {e}")))?;
    let event = v
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| unreadable("no event".into()))?;
    // `payout.*` events name payouts, not payments.
    if !event.starts_with("payment.") {
        return Err(unreadable(format!("`{event}` is not about a payment")));
    }
    let data = v
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| unreadable(format!("`{event}` has no data")))?;
    let id = data
        .get("id")
        .and_then(plain_id)
        .ok_or_else(|| unreadable(format!("`{event}` has no payment id")))?;
    let event_id = format!("{event}:{id}");
    if event_id.len() > MAX_EVENT_ID {
        return Err(unreadable("an event id too long to keep".into()));
    }
    let payment = data
        .get("metadata")
        .and_then(|m| m.get(PAYMENT_KEY))
        .and_then(Value::as_str)
        .and_then(|p| Uuid::parse_str(p).ok())
        .map_or_else(|| PaymentRef::Provider(id), PaymentRef::Payment);
    // Advisory only (the verify call is asked before acting): left out unless exact.
    let amount_minor = match (
        data.get("amount"),
        currency_code(data).and_then(Currency::parse),
    ) {
        (Some(amount), Some(currency)) => from_major_json(amount, currency).ok(),
        _ => None,
    };
    Ok(Notification {
        event_id,
        payment,
        outcome: event_outcome(event),
        amount_minor,
        confirm: true,
    })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use hmac::{Hmac, Mac};
    use serde_json::{Value, json};
    use sha2::Sha256;

    use super::super::testing::{
        PAYMENT, Recorded, body_json, currency, header, headers, intent, is_502, settings,
    };
    use super::*;

    const BASE: &str = "https://api.moneroo.io";
    const SECRET_KEY: &str = "test_payhuk_secret";
    const WEBHOOK_SECRET: &str = "payhuk_webhook_signing_secret";

    fn s() -> Settings {
        settings(
            BASE,
            &[
                ("SECRET_KEY", SECRET_KEY),
                ("WEBHOOK_SECRET", WEBHOOK_SECRET),
            ],
        )
    }

    // The example reply of docs.moneroo.io/payments/standard-integration, "Step 2".
    const INITIALIZED: &str = r#"{
        "message": "Transaction initialized successfully",
        "data": {"id": "5f7b1b2c", "checkout_url": "https://checkout.moneroo.io/5f7b1b2c"}
    }"#;

    #[test]
    fn checkout_initializes_the_payment() {
        let api = Recorded::new(&[(201, INITIALIZED)]);
        let checkout = block_on(checkout(&s(), &api, &intent(1000, "XOF"))).unwrap();
        assert_eq!(
            checkout,
            Checkout {
                provider_ref: "5f7b1b2c".into(),
                checkout_url: "https://checkout.moneroo.io/5f7b1b2c".into(),
            }
        );
        let sent = api.sent();
        assert_eq!(sent.len(), 1);
        let call = &sent[0];
        assert_eq!(call.method, "POST");
        assert_eq!(call.url, "https://api.moneroo.io/v1/payments/initialize");
        assert_eq!(
            header(call, "authorization"),
            Some("Bearer test_payhuk_secret")
        );
        assert_eq!(header(call, "content-type"), Some("application/json"));
        assert_eq!(header(call, "accept"), Some("application/json"));
        let body = body_json(call);
        assert_eq!(body["amount"], json!(1000));
        assert!(body["amount"].is_i64(), "an integer, as documented");
        assert_eq!(body["currency"], "XOF");
        assert_eq!(body["description"], "Payhuk order 0193a5c0");
        assert_eq!(body["return_url"], "https://shop.payhuk.test/orders/1");
        assert_eq!(
            body["customer"],
            json!({"email": "ada@payhuk.test", "first_name": "Ada", "last_name": "Lovelace"})
        );
        assert_eq!(body["metadata"], json!({"payhuk_payment_id": PAYMENT}));
    }

    #[test]
    fn customer_names_come_from_the_profile_or_the_email() {
        assert_eq!(
            customer(Some("kofi@payhuk.test"), Some("Kofi Mensah Boateng")),
            json!({"email": "kofi@payhuk.test", "first_name": "Kofi", "last_name": "Mensah Boateng"})
        );
        assert_eq!(
            customer(Some("awa@payhuk.test"), Some("Awa")),
            json!({"email": "awa@payhuk.test", "first_name": "Awa", "last_name": "Awa"})
        );
        assert_eq!(
            customer(Some("fatou.diop@payhuk.test"), None),
            json!({"email": "fatou.diop@payhuk.test", "first_name": "fatou.diop", "last_name": "fatou.diop"})
        );
    }

    #[test]
    fn two_decimal_currencies_go_in_whole_major_units() {
        for (minor, code, sent) in [
            (10000, "EUR", 100),
            (2500, "USD", 25),
            (100, "GHS", 1),
            (123_400, "NGN", 1234),
            (500, "XAF", 500),
            (1, "XOF", 1),
        ] {
            let api = Recorded::new(&[(200, INITIALIZED)]);
            block_on(checkout(&s(), &api, &intent(minor, code))).unwrap();
            let body = body_json(&api.sent()[0]);
            assert_eq!(body["amount"], json!(sent), "{minor} {code}");
            assert!(body["amount"].is_i64());
            assert_eq!(body["currency"], code);
        }
    }

    #[test]
    fn what_moneroo_cannot_take_is_refused_before_any_call() {
        let refused = |minor: i64, code: &str, email: Option<&str>| {
            let api = Recorded::new(&[]);
            let mut intent = intent(minor, code);
            intent.customer_email = email.map(str::to_owned);
            let result = block_on(checkout(&s(), &api, &intent));
            assert!(api.sent().is_empty(), "{minor} {code}: nothing sent");
            match result {
                Err(AppError::Validation(problems)) => {
                    problems.into_iter().map(|p| p.field).collect::<Vec<_>>()
                }
                other => panic!("{minor} {code}: {other:?}"),
            }
        };
        let email = Some("ada@payhuk.test");
        assert_eq!(refused(1234, "EUR", email), ["amount_minor"], "12.34 EUR");
        assert_eq!(refused(1, "USD", email), ["amount_minor"], "0.01 USD");
        assert_eq!(refused(10050, "GHS", email), ["amount_minor"]);
        assert_eq!(refused(0, "XOF", email), ["amount_minor"]);
        assert_eq!(refused(-100, "EUR", email), ["amount_minor"]);
        assert_eq!(refused(1000, "XOF", None), ["customer_email"]);
        assert_eq!(refused(1000, "XOF", Some("  ")), ["customer_email"]);
        assert_eq!(
            refused(1234, "EUR", None),
            ["customer_email", "amount_minor"]
        );
    }

    #[test]
    fn every_currency_taken_is_one_of_ours() {
        for code in CURRENCIES {
            assert!(Currency::parse(code).is_some(), "{code}");
        }
    }

    #[test]
    fn initialize_errors_are_502s_naming_moneroo() {
        for (code, body) in [
            // The shape of docs.moneroo.io/introduction/responses-format, failing.
            (
                422,
                r#"{"message": "The customer.first_name field is required.", "data": {}, "errors": [{"field": "customer.first_name"}]}"#,
            ),
            (
                401,
                r#"{"message": "Unauthenticated.", "data": null, "errors": null}"#,
            ),
            (429, ""),
            (500, "<html>Server Error</html>"),
            (503, r#"{"message": "Service Unavailable"}"#),
            (201, "not json"),
            (201, r#"{"message": "ok"}"#),
            (201, r#"{"message": "ok", "data": {}}"#),
            (201, r#"{"data": {"id": "5f7b1b2c"}}"#),
            (
                201,
                r#"{"data": {"checkout_url": "https://checkout.moneroo.io/x"}}"#,
            ),
            (
                201,
                r#"{"data": {"id": "a/b", "checkout_url": "https://checkout.moneroo.io/x"}}"#,
            ),
            (
                201,
                r#"{"data": {"id": "x", "checkout_url": "javascript:alert(1)"}}"#,
            ),
            (
                201,
                r#"{"data": {"id": "x", "checkout_url": "http://checkout.moneroo.io/x"}}"#,
            ),
        ] {
            let api = Recorded::new(&[(code, body)]);
            let result = block_on(checkout(&s(), &api, &intent(1000, "XOF")));
            assert!(is_502(PROVIDER, result), "{code} {body}");
        }
    }

    /// The example reply of docs.moneroo.io/payments/transaction-verification (trimmed
    /// of `app` and `capture`), with the state and amount under test.
    fn verified(status: &str, amount: Value, currency: Value) -> String {
        json!({
            "message": "Payment transaction fetched successfully!",
            "data": {
                "id": "k4su1ii7abdz",
                "status": status,
                "is_processed": false,
                "processed_at": null,
                "amount": amount,
                "amount_formatted": "XOF 200",
                "currency": currency,
                "description": "Payment for order #124",
                "return_url": "https://axaship.com?paymentId=k4su1ii7abdz&paymentStatus=success",
                "environment": "sandbox",
                "initiated_at": "2024-01-31T14:46:13.000000Z",
                "metadata": {"order_id": "124", "customer_id": "124"},
                "customer": {"id": "tzowl42roc7z", "first_name": "John", "last_name": "Doe",
                             "email": "john@example.com"},
                "created_at": "2024-01-31T14:46:13.000000Z"
            },
            "errors": null
        })
        .to_string()
    }

    fn xof_object() -> Value {
        json!({"name": "CFA Franc BCEAO", "symbol": "XOF", "symbol_first": false,
               "decimals": 0, "decimal_mark": ",", "thousands_separator": ".",
               "subunit": "Centime", "subunit_to_unit": 100, "symbol_native": "XOF",
               "decimal_digits": 0, "rounding": 0, "code": "XOF",
               "name_plural": "CFA francs BCEAO",
               "icon_url": "https://assets.cdn.moneroo.io/currencies/XOF.svg"})
    }

    #[test]
    fn status_maps_every_documented_state() {
        for (state, outcome) in [
            ("initiated", Outcome::Pending),
            ("pending", Outcome::Pending),
            ("success", Outcome::Succeeded),
            ("failed", Outcome::Failed),
            ("cancelled", Outcome::Cancelled),
            ("refunded", Outcome::Other("refunded".into())),
        ] {
            let reply = verified(state, json!(200), xof_object());
            let api = Recorded::new(&[(200, reply.as_str())]);
            let status = block_on(status(&s(), &api, "k4su1ii7abdz", currency("XOF"))).unwrap();
            assert_eq!(
                status,
                Status {
                    outcome,
                    amount_minor: 200,
                    currency: "XOF".into()
                },
                "{state}"
            );
            let call = &api.sent()[0];
            assert_eq!(call.method, "GET");
            assert_eq!(
                call.url,
                "https://api.moneroo.io/v1/payments/k4su1ii7abdz/verify"
            );
            assert_eq!(
                header(call, "authorization"),
                Some("Bearer test_payhuk_secret")
            );
            assert!(call.body.is_empty());
        }
    }

    #[test]
    fn status_amounts_are_major_units_read_exactly() {
        for (amount, code, expected) in [
            // docs.moneroo.io/payments/retrieve-payment: `"amount": 100.0, "currency": "USD"`.
            (json!(100.0), json!("USD"), Some(10000)),
            (json!(100), json!("EUR"), Some(10000)),
            (json!(12.34), json!("EUR"), Some(1234)),
            (json!("0.29"), json!("GHS"), Some(29)),
            (json!(0.1), json!({"code": "NGN"}), Some(10)),
            (json!(200), xof_object(), Some(200)),
            (json!(200.0), json!("XAF"), Some(200)),
            (json!(12.345), json!("EUR"), None),
            (json!(10.5), json!("XOF"), None),
            (json!("1e3"), json!("XOF"), None),
            (json!(null), json!("XOF"), None),
            (json!(100), json!("KES"), None),
            (json!(100), json!(null), None),
            (json!(100), json!({"name": "no code"}), None),
        ] {
            let reply = verified("success", amount.clone(), code.clone());
            let api = Recorded::new(&[(200, reply.as_str())]);
            let result = block_on(status(&s(), &api, "k4su1ii7abdz", currency("EUR")));
            match expected {
                Some(minor) => {
                    let status = result.unwrap();
                    assert_eq!(status.amount_minor, minor, "{amount} {code}");
                }
                None => assert!(is_502(PROVIDER, result), "{amount} {code}"),
            }
        }
    }

    #[test]
    fn status_errors_are_502s_and_odd_refs_are_never_sent() {
        for (code, body) in [
            (
                404,
                r#"{"message": "Payment not found", "data": null, "errors": null}"#,
            ),
            (401, r#"{"message": "Unauthenticated."}"#),
            (500, ""),
            (200, "<html></html>"),
            (200, r#"{"message": "ok", "data": null}"#),
            (
                200,
                r#"{"data": {"id": "k4su1ii7abdz", "amount": 200, "currency": "XOF"}}"#,
            ),
            (
                200,
                r#"{"data": {"id": "other", "status": "success", "amount": 200, "currency": "XOF"}}"#,
            ),
        ] {
            let api = Recorded::new(&[(code, body)]);
            let result = block_on(status(&s(), &api, "k4su1ii7abdz", currency("XOF")));
            assert!(is_502(PROVIDER, result), "{code} {body}");
        }
        let long = "x".repeat(65);
        for odd in ["", "a/../b", "a?b", "a b", long.as_str()] {
            let api = Recorded::new(&[]);
            assert!(matches!(
                block_on(status(&s(), &api, odd, currency("XOF"))),
                Err(AppError::Validation(_))
            ));
            assert!(api.sent().is_empty());
        }
    }

    #[test]
    fn refunds_are_not_offered_and_nothing_is_sent() {
        let api = Recorded::new(&[]);
        let refund = block_on(refund(&s(), &api, "k4su1ii7abdz", 200, currency("XOF")));
        assert_eq!(refund.unwrap(), Refund::NotOffered);
        assert!(api.sent().is_empty());
    }

    // ---- notifications -------------------------------------------------------------

    /// The example body of docs.moneroo.io/introduction/webhooks ("Structure of a
    /// webhook"), with the event and amount under test. It has no `metadata`.
    fn event(name: &str, amount: Value, code: &str) -> String {
        json!({
            "event": name,
            "data": {
                "id": "123456",
                "amount": amount,
                "currency": code,
                "status": "success",
                "customer": {"id": "123456", "email": "hello@example.com",
                             "firstName": "John", "lastName": "Doe",
                             "phone": "+1 555 555 5555"}
            }
        })
        .to_string()
    }

    fn sign(secret: &str, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn receive(signature: Option<&str>, body: &str) -> Result<Notification, NotificationError> {
        let h = match signature {
            Some(sig) => headers(&[("x-moneroo-signature", sig)]),
            None => headers(&[]),
        };
        notification(&s(), &h, body.as_bytes())
    }

    fn read(body: &str) -> Result<Notification, NotificationError> {
        receive(Some(&sign(WEBHOOK_SECRET, body)), body)
    }

    #[test]
    fn the_documented_example_signed_as_documented_is_accepted() {
        let body = event("payment.success", json!(100), "USD");
        let n = read(&body).unwrap();
        assert_eq!(
            n,
            Notification {
                event_id: "payment.success:123456".into(),
                payment: PaymentRef::Provider("123456".into()),
                outcome: Outcome::Succeeded,
                amount_minor: Some(10000),
                confirm: true,
            }
        );
        // The "Receiving a Webhook" example, shorter still.
        let short = r#"{"event": "payment.success", "data": {"id": "123456", "amount": 100, "currency": "USD", "status": "success"}}"#;
        assert_eq!(read(short).unwrap().event_id, "payment.success:123456");
        // A redelivery is the same event.
        assert_eq!(read(&body).unwrap().event_id, n.event_id);
        // Upper-case hex and surrounding spaces are the same signature.
        let loud = format!(" {} ", sign(WEBHOOK_SECRET, &body).to_uppercase());
        assert!(receive(Some(&loud), &body).is_ok());
    }

    #[test]
    fn signatures_that_do_not_match_are_refused() {
        let body = event("payment.success", json!(100), "USD");
        let good = sign(WEBHOOK_SECRET, &body);
        for (signature, sent) in [
            (Some(sign("another secret", &body)), body.clone()),
            (Some(good.clone()), body.replace("100", "1000")),
            (Some(good.clone()), format!("{body} ")),
            (Some(format!("sha256={good}")), body.clone()),
            (Some(good[..32].to_owned()), body.clone()),
            (Some(String::new()), body.clone()),
            (Some("not hex".to_owned()), body.clone()),
            (None, body.clone()),
        ] {
            assert_eq!(
                receive(signature.as_deref(), &sent),
                Err(NotificationError::BadSignature),
                "{signature:?}"
            );
        }
        let no_secret = settings(BASE, &[("SECRET_KEY", SECRET_KEY), ("WEBHOOK_SECRET", "")]);
        let unkeyed = sign("", &body);
        assert_eq!(
            notification(
                &no_secret,
                &headers(&[("x-moneroo-signature", unkeyed.as_str())]),
                body.as_bytes()
            ),
            Err(NotificationError::BadSignature),
            "an empty secret signs nothing"
        );
    }

    #[test]
    fn every_documented_payment_event_is_mapped_and_confirmed() {
        for (name, outcome) in [
            ("payment.initiated", Outcome::Pending),
            ("payment.success", Outcome::Succeeded),
            ("payment.failed", Outcome::Failed),
            ("payment.cancelled", Outcome::Cancelled),
            (
                "payment.refunded",
                Outcome::Other("payment.refunded".into()),
            ),
        ] {
            let n = read(&event(name, json!(100), "USD")).unwrap();
            assert_eq!(n.outcome, outcome, "{name}");
            assert!(n.confirm, "{name}: Moneroo says to re-query");
            assert_eq!(n.event_id, format!("{name}:123456"));
        }
    }

    #[test]
    fn our_metadata_names_the_payment_when_present() {
        let mut v: Value =
            serde_json::from_str(&event("payment.success", json!(100), "USD")).unwrap();
        v["data"]["metadata"] = json!({"payhuk_payment_id": PAYMENT});
        let n = read(&v.to_string()).unwrap();
        assert_eq!(
            n.payment,
            PaymentRef::Payment(uuid::Uuid::parse_str(PAYMENT).unwrap())
        );
        for metadata in [json!({"payhuk_payment_id": "nope"}), json!([]), json!(null)] {
            v["data"]["metadata"] = metadata.clone();
            let n = read(&v.to_string()).unwrap();
            assert_eq!(
                n.payment,
                PaymentRef::Provider("123456".into()),
                "{metadata}"
            );
        }
    }

    #[test]
    fn notified_amounts_are_major_units_or_left_out() {
        for (amount, code, expected) in [
            (json!(100.0), "EUR", Some(10000)),
            (json!(100), "USD", Some(10000)),
            (json!(12.34), "GHS", Some(1234)),
            (json!(5000), "XOF", Some(5000)),
            (json!(12.345), "EUR", None),
            (json!(10.5), "XOF", None),
            (json!("abc"), "NGN", None),
            (json!(100), "KES", None),
        ] {
            let n = read(&event("payment.success", amount.clone(), code)).unwrap();
            assert_eq!(n.amount_minor, expected, "{amount} {code}");
        }
        let without = r#"{"event": "payment.failed", "data": {"id": "abc"}}"#;
        let n = read(without).unwrap();
        assert_eq!(
            (n.amount_minor, n.payment, n.outcome),
            (None, PaymentRef::Provider("abc".into()), Outcome::Failed)
        );
    }

    #[test]
    fn signed_bodies_that_are_not_payment_events_are_unreadable() {
        for body in [
            "not json".to_owned(),
            json!({"data": {"id": "123456"}}).to_string(),
            json!({"event": "payment.success"}).to_string(),
            json!({"event": "payment.success", "data": {"amount": 100}}).to_string(),
            json!({"event": "payment.success", "data": {"id": "../x"}}).to_string(),
            json!({"event": "payment.success", "data": {"id": ""}}).to_string(),
            json!({"event": "payout.success", "data": {"id": "go86j8csuq51"}}).to_string(),
            json!({"event": format!("payment.{}", "x".repeat(200)), "data": {"id": "a"}})
                .to_string(),
        ] {
            assert!(
                matches!(read(&body), Err(NotificationError::Unreadable(_))),
                "{body}"
            );
        }
    }
}
