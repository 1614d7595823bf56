//! PayDunya (Senegal and the UEMOA): a checkout invoice created through the API
//! ("Paiement Avec Redirection"), paid on PayDunya's hosted page, notified by an IPN
//! that only carries a hash of the account's master key: the confirm call is the word.
//!
//! | what | how |
//! |---|---|
//! | auth | headers `PAYDUNYA-MASTER-KEY`, `PAYDUNYA-PRIVATE-KEY`, `PAYDUNYA-TOKEN` (the private key and token differ between test and live) |
//! | production / test base | `https://app.paydunya.com/api/v1` / `https://app.paydunya.com/sandbox-api/v1` |
//! | checkout | `POST /checkout-invoice/create` `{invoice: {total_amount, description, customer?}, store: {name}, actions: {cancel_url, return_url, callback_url}, custom_data}` -> `{response_code: "00", response_text: <invoice URL>, description, token}` |
//! | status | `GET /checkout-invoice/confirm/{token}` -> `{response_code: "00", response_text, hash, invoice: {token, total_amount, ...}, custom_data, actions, mode, status, customer, receipt_url}` |
//! | refund | none in the API ([`refund`]) |
//! | currencies | `XOF` (FCFA) only; `total_amount` in whole francs |
//! | notification | `POST` to `callback_url`, `application/x-www-form-urlencoded`, PHP-style keys `data[hash]`, `data[status]`, `data[invoice][token]`, `data[invoice][total_amount]`, `data[custom_data][...]`, ...; `data[hash]` is the lowercase hex SHA-512 of the master key |
//! | notification body | the confirm reply's fields under `data[...]` |
//!
//! States (`status`, in the IPN and the confirm reply):
//!
//! | PayDunya | [`Outcome`] |
//! |---|---|
//! | `pending` | `Pending` |
//! | `completed` | `Succeeded` |
//! | `cancelled` (and `canceled`) | `Cancelled` |
//! | `failed` (and `fail`) | `Failed` |
//! | anything else (`expired`, ...) | `Other(name)` |
//!
//! Sources:
//! - <https://developers.paydunya.com/doc/FR/http_json> and
//!   <https://developers.paydunya.com/doc/EN/http_json> (the three headers; JSON
//!   everywhere "except the data format that we post on the url callback which is of
//!   type HTTP application/x-www-form-urlencoded"; every success has `response_code`
//!   `"00"`; the create and confirm calls; the IPN example, checked as "Prenez votre
//!   MasterKey, hashez la et comparez le résultat au hash reçu par IPN" with
//!   `hash('sha512', <MasterKey>)`),
//! - <https://developers.paydunya.com/doc/EN/introduction> (test and live keys),
//! - npm `paydunya@1.0.12`: <https://app.unpkg.com/paydunya@1.0.12/files/README.md>,
//!   <https://app.unpkg.com/paydunya@1.0.12/files/lib/checkout-invoice.js> (`create`:
//!   `POST <base>/checkout-invoice/create`, success iff `response_code === '00'`, `token`,
//!   `url = response_text`; `confirm`: `GET <base>/checkout-invoice/confirm/<token>`),
//!   <https://app.unpkg.com/paydunya@1.0.12/files/lib/invoice.js> (the request body:
//!   `invoice.total_amount` required and more than zero, `store.name` required,
//!   `actions`, `custom_data`),
//!   <https://app.unpkg.com/paydunya@1.0.12/files/test/checkout-invoice.js> (a test
//!   token `test_449a6fef1a`),
//! - `paydunyadev/paydunya-php` `paydunya/setup.php` (the live and sandbox URLs),
//!   `paydunya/checkout/checkout_invoice.php` (`create`: token, `response_text` is the
//!   invoice URL; `confirm`: `status`, `invoice.total_amount`, `custom_data`),
//! - `paydunyadev/paydunya-woocommerce-gateway` `WC_Paydunya.php` (PayDunya's own
//!   plugin: `$_POST['data']['hash'] === hash('sha512', master_key)`,
//!   `data[status]` `completed` / `failed`, `data[custom_data]`, the same three headers
//!   on create and confirm).
//!
//! Readings where the sources are silent, conservative on purpose:
//! - The IPN's "signature" is the same value on every notification (a hash of the
//!   master key, not of the message): it proves only that the sender knows the master
//!   key or has seen an IPN before. The hash is compared in constant time, and
//!   `confirm` is always set, so nothing is acted on without the confirm call.
//! - The states read are `pending`, `completed` and `cancelled` (the docs' examples and
//!   the integrations built on them); PayDunya's own plugin also acts on `failed`. The spellings `canceled` and `fail` (its predecessor
//!   MPower's) are read as the same states; anything else is `Other`.
//! - PayDunya has no currency field: its amounts are FCFA. Only `XOF` is offered, and a
//!   status is reported in `XOF`.
//! - `invoice.customer` (`name`, `email`) pre-fills the payment page; it is sent only
//!   with what the profile has.
//! - The event id is `paydunya:<token>`: an invoice is notified once per change of
//!   state, and a redelivery carries the same token.
//! - The IPN names the payment by the invoice token (which [`checkout`] records as
//!   `provider_ref`); `custom_data[payhuk_payment_id]` is sent, and echoed, but not
//!   needed.
//! - Refunds: the HTTP/JSON API has checkout, on-site payment (PSR) and disbursement
//!   (PER) calls, none of which refunds a paid invoice; the merchant refunds outside the
//!   API and the gateway records it.

use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::{
    ApiCall, ApiReply, Checkout, Intent, Notification, NotificationError, Outcome, PaymentRef,
    ProviderApi, Refund, Settings, Status, bad_reply, checked_ref, checkout_url_ok, json_reply,
    whole_units,
};
use crate::error::AppError;
use crate::region::HeaderLookup;
use crate::services::payments::amount::{Currency, from_major, from_major_json};

pub const CREDENTIALS: &[&str] = &["MASTER_KEY", "PRIVATE_KEY", "TOKEN"];
pub const API_BASE: &str = "https://app.paydunya.com/api/v1";
pub const CURRENCIES: &[&str] = &["XOF"];

const PROVIDER: &str = "paydunya";
/// Our payment id inside `custom_data`.
const PAYMENT_KEY: &str = "payhuk_payment_id";
/// The store name shown on PayDunya's page (`store.name` is required).
const STORE_NAME: &str = "Payhuk";
/// Longest invoice token this adapter accepts (they go into a URL path and are stored).
const MAX_TOKEN: usize = 64;

/// Creates the checkout invoice; `response_text` is where the customer pays.
pub async fn checkout(
    s: &Settings,
    api: &impl ProviderApi,
    intent: &Intent,
) -> Result<Checkout, AppError> {
    let amount = amount_to_send(intent.amount_minor, intent.currency)?;
    let mut invoice = json!({
        "total_amount": amount,
        "description": intent.description,
    });
    let mut customer = serde_json::Map::new();
    if let Some(name) = known(intent.customer_name.as_deref()) {
        customer.insert("name".into(), json!(name));
    }
    if let Some(email) = known(intent.customer_email.as_deref()) {
        customer.insert("email".into(), json!(email));
    }
    if !customer.is_empty() {
        invoice["customer"] = Value::Object(customer);
    }
    let body = json!({
        "invoice": invoice,
        "store": {"name": STORE_NAME},
        "actions": {
            "cancel_url": intent.return_url,
            "return_url": intent.return_url,
            "callback_url": intent.notify_url,
        },
        "custom_data": {PAYMENT_KEY: intent.payment_id.to_string()},
    });
    let mut headers = auth_headers(s);
    headers.push(("Content-Type".into(), "application/json".into()));
    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "POST",
                url: format!("{}/checkout-invoice/create", s.api_base),
                headers,
                body: body.to_string().into_bytes(),
            },
        )
        .await?;
    let v = success_reply(&reply, "creating a checkout invoice")?;
    let token = v
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| is_token(t))
        .ok_or_else(|| bad_reply(PROVIDER, "a created invoice without a token", &reply))?;
    let checkout_url = v
        .get("response_text")
        .and_then(Value::as_str)
        .filter(|u| checkout_url_ok(u, s))
        .ok_or_else(|| {
            bad_reply(
                PROVIDER,
                "a created invoice without an https invoice URL",
                &reply,
            )
        })?;
    Ok(Checkout {
        provider_ref: token.to_owned(),
        checkout_url: checkout_url.to_owned(),
    })
}

/// Reads an IPN: `data[hash]` must be the SHA-512 of our master key (compared in
/// constant time). The hash signs nothing of the message, so the state is only acted
/// on after [`status`] (`confirm`).
pub fn notification(
    s: &Settings,
    _h: &impl HeaderLookup,
    body: &[u8],
) -> Result<Notification, NotificationError> {
    let master_key = s.credential("MASTER_KEY");
    if master_key.is_empty() {
        return Err(NotificationError::BadSignature);
    }
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let hash = match single(&fields, "data[hash]") {
        Ok(Some(hash)) => hash,
        _ => return Err(NotificationError::BadSignature),
    };
    if !hash_matches(master_key, hash) {
        return Err(NotificationError::BadSignature);
    }
    read_ipn(&fields)
}

/// The invoice's state at PayDunya, from its confirm call.
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
                url: format!("{}/checkout-invoice/confirm/{provider_ref}", s.api_base),
                headers: auth_headers(s),
                body: Vec::new(),
            },
        )
        .await?;
    let v = success_reply(&reply, "confirming an invoice")?;
    let invoice = v
        .get("invoice")
        .and_then(Value::as_object)
        .ok_or_else(|| bad_reply(PROVIDER, "a confirmed invoice without its invoice", &reply))?;
    if let Some(token) = invoice.get("token").and_then(Value::as_str)
        && token != provider_ref
    {
        return Err(bad_reply(
            PROVIDER,
            &format!("asked for invoice {provider_ref}, got {token}"),
            &reply,
        ));
    }
    let state = v
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_reply(PROVIDER, "an invoice without a status", &reply))?;
    let xof = xof();
    let amount = invoice
        .get("total_amount")
        .ok_or_else(|| bad_reply(PROVIDER, "an invoice without a total_amount", &reply))?;
    let amount_minor = from_major_json(amount, xof)
        .map_err(|e| bad_reply(PROVIDER, &format!("the invoice's amount: {e}"), &reply))?;
    Ok(Status {
        outcome: state_outcome(state),
        amount_minor,
        currency: xof.code.to_owned(),
    })
}

/// PayDunya's API has no refund call (checkout, on-site payment and disbursement
/// only): the merchant refunds outside it and the gateway records it. Nothing is sent.
pub async fn refund(
    _s: &Settings,
    _api: &impl ProviderApi,
    _provider_ref: &str,
    _amount_minor: i64,
    _currency: Currency,
) -> Result<Refund, AppError> {
    Ok(Refund::NotOffered)
}

fn xof() -> Currency {
    Currency::parse("XOF").expect("XOF is one of our currencies")
}

fn known(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The amount as PayDunya takes it: whole francs.
fn amount_to_send(amount_minor: i64, currency: Currency) -> Result<Value, AppError> {
    whole_units(
        "PayDunya",
        CURRENCIES,
        1,
        amount_minor,
        currency,
        Vec::new(),
    )
}

fn auth_headers(s: &Settings) -> Vec<(String, String)> {
    vec![
        (
            "PAYDUNYA-MASTER-KEY".into(),
            s.credential("MASTER_KEY").to_owned(),
        ),
        (
            "PAYDUNYA-PRIVATE-KEY".into(),
            s.credential("PRIVATE_KEY").to_owned(),
        ),
        ("PAYDUNYA-TOKEN".into(), s.credential("TOKEN").to_owned()),
        ("Accept".into(), "application/json".into()),
    ]
}

/// A 2xx reply's JSON with `response_code` `"00"`, or a 502 naming PayDunya.
fn success_reply(reply: &ApiReply, what: &str) -> Result<Value, AppError> {
    let v = json_reply(PROVIDER, reply, what)?;
    match v.get("response_code").and_then(Value::as_str) {
        Some("00") => Ok(v),
        Some(code) => Err(bad_reply(
            PROVIDER,
            &format!("{what}: response_code {code}"),
            reply,
        )),
        None => Err(bad_reply(
            PROVIDER,
            &format!("{what}: no response_code"),
            reply,
        )),
    }
}

/// An invoice token as PayDunya writes them (`test_jkEdPY8SuG`, `test_449a6fef1a`),
/// safe in a URL path.
fn is_token(text: &str) -> bool {
    (1..=MAX_TOKEN).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `provider_ref` goes into a URL path: only a PayDunya invoice token may.
fn check_ref(provider_ref: &str) -> Result<(), AppError> {
    checked_ref(provider_ref, is_token, "a PayDunya invoice token")
}

/// The IPN's hash against SHA-512(master key), as hex of either case, in constant time.
fn hash_matches(master_key: &str, hash_hex: &str) -> bool {
    let Ok(received) = hex::decode(hash_hex.trim()) else {
        return false;
    };
    let expected = Sha512::digest(master_key.as_bytes());
    received.len() == expected.len() && bool::from(received.ct_eq(expected.as_slice()))
}

/// A form field given at most once: `Err` when it is given twice (which of the two
/// PayDunya meant is not ours to guess).
fn single<'a>(fields: &'a [(String, String)], key: &str) -> Result<Option<&'a str>, ()> {
    let mut found = fields.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
    let first = found.next();
    if found.next().is_some() {
        return Err(());
    }
    Ok(first.map(String::as_str))
}

/// A state, from an IPN's `data[status]` or the confirm reply's `status`.
fn state_outcome(state: &str) -> Outcome {
    match state {
        "pending" => Outcome::Pending,
        "completed" => Outcome::Succeeded,
        "cancelled" | "canceled" => Outcome::Cancelled,
        "failed" | "fail" => Outcome::Failed,
        other => Outcome::Other(other.to_owned()),
    }
}

fn read_ipn(fields: &[(String, String)]) -> Result<Notification, NotificationError> {
    let unreadable = |why: String| NotificationError::Unreadable(format!("paydunya: {why}"));
    let field = |key: &str| {
        single(fields, key).map_err(|()| unreadable(format!("`{key}` is given more than once")))
    };
    let token = field("data[invoice][token]")?
        .ok_or_else(|| unreadable("no data[invoice][token]".into()))?;
    if !is_token(token) {
        return Err(unreadable(
            "data[invoice][token] is not an invoice token".into(),
        ));
    }
    let outcome = field("data[status]")?.map_or(Outcome::Pending, state_outcome);
    // Advisory only (the confirm call is asked before acting): left out unless exact.
    let amount_minor = field("data[invoice][total_amount]")?
        .and_then(|amount| from_major(amount.trim(), xof()).ok());
    Ok(Notification {
        event_id: format!("paydunya:{token}"),
        payment: PaymentRef::Provider(token.to_owned()),
        outcome,
        amount_minor,
        confirm: true,
    })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use serde_json::{Value, json};

    use super::super::testing::{
        PAYMENT, Recorded, body_json, header, headers, intent, is_502, settings,
    };
    use super::*;

    const BASE: &str = "https://app.paydunya.com/sandbox-api/v1";
    const MASTER_KEY: &str = "wQzk9ZwR-Qq9m-0hD0-zpud-je5coGC3FHKW";
    const PRIVATE_KEY: &str = "test_private_rMIdJM3PLLhLjyArx9tF3VURAF5";
    const TOKEN: &str = "IivOiOxGJuWhc5znlIiK";
    const INVOICE: &str = "test_jkEdPY8SuG";

    fn s() -> Settings {
        settings(
            BASE,
            &[
                ("MASTER_KEY", MASTER_KEY),
                ("PRIVATE_KEY", PRIVATE_KEY),
                ("TOKEN", TOKEN),
            ],
        )
    }

    fn xof() -> Currency {
        Currency::parse("XOF").unwrap()
    }

    fn assert_keys(call: &ApiCall) {
        assert_eq!(header(call, "PAYDUNYA-MASTER-KEY"), Some(MASTER_KEY));
        assert_eq!(header(call, "PAYDUNYA-PRIVATE-KEY"), Some(PRIVATE_KEY));
        assert_eq!(header(call, "PAYDUNYA-TOKEN"), Some(TOKEN));
    }

    // The create reply as the SDKs read it: `token`, and the invoice URL in
    // `response_text` (`description` is the human text).
    const CREATED: &str = r#"{
        "response_code": "00",
        "response_text": "https://app.paydunya.com/sandbox-checkout/invoice/test_jkEdPY8SuG",
        "description": "Checkout Invoice Created",
        "token": "test_jkEdPY8SuG"
    }"#;

    #[test]
    fn checkout_creates_the_invoice() {
        let api = Recorded::new(&[(200, CREATED)]);
        let checkout = block_on(checkout(&s(), &api, &intent(42300, "XOF"))).unwrap();
        assert_eq!(
            checkout,
            Checkout {
                provider_ref: INVOICE.into(),
                checkout_url: "https://app.paydunya.com/sandbox-checkout/invoice/test_jkEdPY8SuG"
                    .into(),
            }
        );
        let sent = api.sent();
        assert_eq!(sent.len(), 1);
        let call = &sent[0];
        assert_eq!(call.method, "POST");
        assert_eq!(
            call.url,
            "https://app.paydunya.com/sandbox-api/v1/checkout-invoice/create"
        );
        assert_keys(call);
        assert_eq!(header(call, "content-type"), Some("application/json"));
        let body = body_json(call);
        assert_eq!(
            body,
            json!({
                "invoice": {
                    "total_amount": 42300,
                    "description": "Payhuk order 0193a5c0",
                    "customer": {"name": "Ada Lovelace", "email": "ada@payhuk.test"}
                },
                "store": {"name": "Payhuk"},
                "actions": {
                    "cancel_url": "https://shop.payhuk.test/orders/1",
                    "return_url": "https://shop.payhuk.test/orders/1",
                    "callback_url": "https://edge.payhuk.test/api/v1/payments/webhooks/x"
                },
                "custom_data": {"payhuk_payment_id": PAYMENT}
            })
        );
        assert!(body["invoice"]["total_amount"].is_i64(), "whole francs");
    }

    #[test]
    fn the_customer_is_sent_with_what_the_profile_has() {
        let sent_customer = |name: Option<&str>, email: Option<&str>| {
            let api = Recorded::new(&[(200, CREATED)]);
            let mut intent = intent(1000, "XOF");
            intent.customer_name = name.map(str::to_owned);
            intent.customer_email = email.map(str::to_owned);
            block_on(checkout(&s(), &api, &intent)).unwrap();
            body_json(&api.sent()[0])["invoice"]
                .get("customer")
                .cloned()
        };
        assert_eq!(
            sent_customer(None, Some("ada@payhuk.test")),
            Some(json!({"email": "ada@payhuk.test"}))
        );
        assert_eq!(
            sent_customer(Some(" Awa "), None),
            Some(json!({"name": "Awa"}))
        );
        assert_eq!(sent_customer(Some("  "), Some("")), None);
        assert_eq!(sent_customer(None, None), None);
    }

    #[test]
    fn a_sandbox_over_http_may_answer_with_an_http_page() {
        let local = settings(
            "http://127.0.0.1:8820/paydunya/api/v1",
            &[("MASTER_KEY", "m"), ("PRIVATE_KEY", "p"), ("TOKEN", "t")],
        );
        let reply = r#"{"response_code": "00", "response_text": "http://127.0.0.1:8820/paydunya/checkout/invoice/test_1", "token": "test_1"}"#;
        let api = Recorded::new(&[(200, reply)]);
        let checkout = block_on(checkout(&local, &api, &intent(1000, "XOF"))).unwrap();
        assert_eq!(checkout.provider_ref, "test_1");
        assert_eq!(
            api.sent()[0].url,
            "http://127.0.0.1:8820/paydunya/api/v1/checkout-invoice/create"
        );
    }

    #[test]
    fn what_paydunya_cannot_take_is_refused_before_any_call() {
        let refused = |minor: i64, code: &str| {
            let api = Recorded::new(&[]);
            let result = block_on(checkout(&s(), &api, &intent(minor, code)));
            assert!(api.sent().is_empty(), "{minor} {code}: nothing sent");
            match result {
                Err(AppError::Validation(problems)) => {
                    problems.into_iter().map(|p| p.field).collect::<Vec<_>>()
                }
                other => panic!("{minor} {code}: {other:?}"),
            }
        };
        assert_eq!(refused(0, "XOF"), ["amount_minor"]);
        assert_eq!(refused(-5, "XOF"), ["amount_minor"]);
        assert_eq!(refused(1000, "EUR"), ["currency"]);
        assert_eq!(refused(1000, "XAF"), ["currency"]);
        assert_eq!(refused(0, "USD"), ["currency", "amount_minor"]);
    }

    #[test]
    fn every_currency_taken_is_one_of_ours() {
        for code in CURRENCIES {
            assert!(Currency::parse(code).is_some(), "{code}");
        }
    }

    #[test]
    fn create_errors_are_502s_naming_paydunya() {
        for (code, body) in [
            // A refusal as the SDKs read it: a response_code other than "00".
            (
                200,
                r#"{"response_code": "1001", "response_text": "Invalid Masterkey"}"#,
            ),
            (
                200,
                r#"{"response_code": "4000", "response_text": "total_amount is required"}"#,
            ),
            (401, r#"{"response_code": "1001"}"#),
            (500, "<html>Server Error</html>"),
            (200, "not json"),
            (
                200,
                r#"{"response_text": "https://app.paydunya.com/x", "token": "x"}"#,
            ),
            (
                200,
                r#"{"response_code": 0, "response_text": "https://app.paydunya.com/x", "token": "x"}"#,
            ),
            (
                200,
                r#"{"response_code": "00", "response_text": "https://app.paydunya.com/x"}"#,
            ),
            (200, r#"{"response_code": "00", "token": "test_1"}"#),
            (
                200,
                r#"{"response_code": "00", "response_text": "https://app.paydunya.com/x", "token": "a/../b"}"#,
            ),
            (
                200,
                r#"{"response_code": "00", "response_text": "Checkout Invoice Created", "token": "test_1"}"#,
            ),
            (
                200,
                r#"{"response_code": "00", "response_text": "http://app.paydunya.com/x", "token": "test_1"}"#,
            ),
            (
                200,
                r#"{"response_code": "00", "response_text": "javascript:alert(1)", "token": "test_1"}"#,
            ),
        ] {
            let api = Recorded::new(&[(code, body)]);
            let result = block_on(checkout(&s(), &api, &intent(1000, "XOF")));
            assert!(is_502(PROVIDER, result), "{code} {body}");
        }
    }

    /// A confirm reply shaped as the docs' IPN example (the same fields, unwrapped), with
    /// the state and amount under test.
    fn confirmed(status: &str, total_amount: Value) -> String {
        json!({
            "response_code": "00",
            "response_text": "Transaction Found",
            "hash": "8c6666a27fe5daeb76dae6abc7308a557dca5be1bda85dfe5d81fa330cdc0bc3c4b37765fe5d2cc36aa2ba0f9284226a80f5488d14740fa70769d6079a179406",
            "invoice": {
                "token": INVOICE,
                "items": {"item_0": {"name": "Chaussures Croco", "quantity": "3",
                                      "unit_price": "10000", "total_price": "30000"}},
                "taxes": {"tax_0": {"name": "TVA (18%)", "amount": "6300"}},
                "total_amount": total_amount,
                "description": "Paiement de 42300 FCFA pour article(s) achetés sur Magasin le Choco"
            },
            "custom_data": {"payhuk_payment_id": PAYMENT},
            "actions": {"cancel_url": "https://shop.payhuk.test/orders/1",
                        "callback_url": "https://edge.payhuk.test/api/v1/payments/webhooks/paydunya",
                        "return_url": "https://shop.payhuk.test/orders/1"},
            "mode": "test",
            "status": status,
            "customer": {"name": "Alioune Faye", "phone": "774563209", "email": "aliounefaye@gmail.com"},
            "receipt_url": "https://paydunya.com/sandbox-checkout/receipt/pdf/test_jkEdPY8SuG.pdf"
        })
        .to_string()
    }

    #[test]
    fn status_maps_every_documented_state() {
        for (state, outcome) in [
            ("pending", Outcome::Pending),
            ("completed", Outcome::Succeeded),
            ("cancelled", Outcome::Cancelled),
            ("canceled", Outcome::Cancelled),
            ("failed", Outcome::Failed),
            ("fail", Outcome::Failed),
            ("expired", Outcome::Other("expired".into())),
        ] {
            let reply = confirmed(state, json!("42300"));
            let api = Recorded::new(&[(200, reply.as_str())]);
            let status = block_on(status(&s(), &api, INVOICE, xof())).unwrap();
            assert_eq!(
                status,
                Status {
                    outcome,
                    amount_minor: 42300,
                    currency: "XOF".into()
                },
                "{state}"
            );
            let call = &api.sent()[0];
            assert_eq!(call.method, "GET");
            assert_eq!(
                call.url,
                "https://app.paydunya.com/sandbox-api/v1/checkout-invoice/confirm/test_jkEdPY8SuG"
            );
            assert_keys(call);
            assert!(call.body.is_empty());
        }
    }

    #[test]
    fn status_amounts_are_whole_francs_read_exactly() {
        for (amount, expected) in [
            (json!("42300"), Some(42300)),
            (json!(42300), Some(42300)),
            (json!("500.00"), Some(500)),
            (json!(500.0), Some(500)),
            (json!("500.5"), None),
            (json!("1e3"), None),
            (json!(""), None),
            (json!(null), None),
        ] {
            let reply = confirmed("completed", amount.clone());
            let api = Recorded::new(&[(200, reply.as_str())]);
            let result = block_on(status(&s(), &api, INVOICE, xof()));
            match expected {
                Some(minor) => assert_eq!(result.unwrap().amount_minor, minor, "{amount}"),
                None => assert!(is_502(PROVIDER, result), "{amount}"),
            }
        }
    }

    #[test]
    fn status_errors_are_502s_and_odd_refs_are_never_sent() {
        let other_token = confirmed("completed", json!("42300")).replace(INVOICE, "test_other");
        let mut without_status: Value =
            serde_json::from_str(&confirmed("completed", json!("42300"))).unwrap();
        without_status.as_object_mut().unwrap().remove("status");
        let without_status = without_status.to_string();
        for (code, body) in [
            // The PHP SDK's reading of an unknown token: "Invoice Not Found".
            (
                200,
                r#"{"response_code": "1002", "response_text": "Invoice Not Found"}"#,
            ),
            (404, r#"{"response_code": "1002"}"#),
            (500, ""),
            (200, "<html></html>"),
            (200, r#"{"response_code": "00", "status": "completed"}"#),
            (200, without_status.as_str()),
            (200, other_token.as_str()),
        ] {
            let api = Recorded::new(&[(code, body)]);
            let result = block_on(status(&s(), &api, INVOICE, xof()));
            assert!(is_502(PROVIDER, result), "{code} {body}");
        }
        let long = "x".repeat(65);
        for odd in ["", "a/../b", "a?b", "a b", "t%2F", long.as_str()] {
            let api = Recorded::new(&[]);
            assert!(matches!(
                block_on(status(&s(), &api, odd, xof())),
                Err(AppError::Validation(_))
            ));
            assert!(api.sent().is_empty(), "{odd}");
        }
    }

    #[test]
    fn refunds_are_not_offered_and_nothing_is_sent() {
        let api = Recorded::new(&[]);
        let refund = block_on(refund(&s(), &api, INVOICE, 1000, xof()));
        assert_eq!(refund.unwrap(), Refund::NotOffered);
        assert!(api.sent().is_empty());
    }

    // ---- notifications -------------------------------------------------------------

    fn master_hash(key: &str) -> String {
        hex::encode(Sha512::digest(key.as_bytes()))
    }

    /// An IPN as PayDunya posts it: the docs' example, form-encoded with PHP-style keys.
    fn ipn(hash: &str, status: &str, total_amount: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("data[response_code]", "00")
            .append_pair("data[response_text]", "Transaction Found")
            .append_pair("data[hash]", hash)
            .append_pair("data[invoice][token]", INVOICE)
            .append_pair("data[invoice][items][item_0][name]", "Chaussures Croco")
            .append_pair("data[invoice][items][item_0][quantity]", "3")
            .append_pair("data[invoice][total_amount]", total_amount)
            .append_pair(
                "data[invoice][description]",
                "Paiement de 42300 FCFA pour article(s) achetés sur Magasin le Choco",
            )
            .append_pair("data[custom_data][payhuk_payment_id]", PAYMENT)
            .append_pair(
                "data[actions][return_url]",
                "https://shop.payhuk.test/orders/1",
            )
            .append_pair("data[mode]", "test")
            .append_pair("data[status]", status)
            .append_pair("data[customer][name]", "Alioune Faye")
            .append_pair("data[customer][phone]", "774563209")
            .append_pair("data[customer][email]", "aliounefaye@gmail.com")
            .append_pair(
                "data[receipt_url]",
                "https://paydunya.com/sandbox-checkout/receipt/pdf/test_jkEdPY8SuG.pdf",
            )
            .finish()
    }

    fn receive(body: &str) -> Result<Notification, NotificationError> {
        notification(&s(), &headers(&[]), body.as_bytes())
    }

    #[test]
    fn an_ipn_with_the_master_key_hash_is_read_and_confirmed() {
        let body = ipn(&master_hash(MASTER_KEY), "completed", "42300");
        let n = receive(&body).unwrap();
        assert_eq!(
            n,
            Notification {
                event_id: "paydunya:test_jkEdPY8SuG".into(),
                payment: PaymentRef::Provider(INVOICE.into()),
                outcome: Outcome::Succeeded,
                amount_minor: Some(42300),
                confirm: true,
            }
        );
        // A redelivery is the same event.
        assert_eq!(receive(&body).unwrap().event_id, n.event_id);
        // Upper-case hex is the same hash.
        let loud = ipn(
            &master_hash(MASTER_KEY).to_uppercase(),
            "completed",
            "42300",
        );
        assert!(receive(&loud).is_ok());
    }

    #[test]
    fn the_hash_is_sha512_of_the_master_key_in_hex() {
        // Fixed vector: SHA-512("abc") (FIPS 180-2).
        let abc = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                   2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
        let s = settings(
            BASE,
            &[("MASTER_KEY", "abc"), ("PRIVATE_KEY", "p"), ("TOKEN", "t")],
        );
        let body = ipn(abc, "pending", "100");
        assert!(notification(&s, &headers(&[]), body.as_bytes()).is_ok());
    }

    #[test]
    fn hashes_that_do_not_match_are_refused() {
        let good = master_hash(MASTER_KEY);
        let bad = |body: String| {
            assert_eq!(
                receive(&body),
                Err(NotificationError::BadSignature),
                "{body}"
            )
        };
        bad(ipn(
            &master_hash("another master key"),
            "completed",
            "42300",
        ));
        bad(ipn(&master_hash(PRIVATE_KEY), "completed", "42300"));
        bad(ipn(&good[..64], "completed", "42300"));
        bad(ipn(&format!("{good}00"), "completed", "42300"));
        bad(ipn(&format!("zz{}", &good[2..]), "completed", "42300"));
        bad(ipn("", "completed", "42300"));
        // SHA-256 of the key, or the key itself, are not its SHA-512.
        bad(ipn(
            &hex::encode(sha2::Sha256::digest(MASTER_KEY.as_bytes())),
            "completed",
            "42300",
        ));
        bad(ipn(MASTER_KEY, "completed", "42300"));
        // No hash at all, or two of them.
        bad(ipn(&good, "completed", "42300").replace("data%5Bhash%5D", "data%5Bhush%5D"));
        bad(format!(
            "{}&data%5Bhash%5D=00",
            ipn(&good, "completed", "42300")
        ));
        bad(String::new());
        bad("not a form at all".into());
        let no_key = settings(
            BASE,
            &[("MASTER_KEY", ""), ("PRIVATE_KEY", "p"), ("TOKEN", "t")],
        );
        assert_eq!(
            notification(
                &no_key,
                &headers(&[]),
                ipn(&master_hash(""), "completed", "1").as_bytes()
            ),
            Err(NotificationError::BadSignature),
            "an empty master key signs nothing"
        );
    }

    #[test]
    fn every_documented_state_is_read_and_always_confirmed() {
        let good = master_hash(MASTER_KEY);
        for (state, outcome) in [
            ("pending", Outcome::Pending),
            ("completed", Outcome::Succeeded),
            ("cancelled", Outcome::Cancelled),
            ("failed", Outcome::Failed),
            ("expired", Outcome::Other("expired".into())),
        ] {
            let n = receive(&ipn(&good, state, "42300")).unwrap();
            assert_eq!(n.outcome, outcome, "{state}");
            assert!(n.confirm, "{state}: the hash signs nothing of the message");
            assert_eq!(n.payment, PaymentRef::Provider(INVOICE.into()));
        }
        let without_status = ipn(&good, "completed", "42300")
            .replace("data%5Bstatus%5D=completed", "data%5Bother%5D=x");
        let n = receive(&without_status).unwrap();
        assert_eq!((n.outcome, n.confirm), (Outcome::Pending, true));
    }

    #[test]
    fn notified_amounts_are_whole_francs_or_left_out() {
        let good = master_hash(MASTER_KEY);
        for (amount, expected) in [
            ("42300", Some(42300)),
            ("500.00", Some(500)),
            (" 500 ", Some(500)),
            ("500.5", None),
            ("abc", None),
            ("", None),
        ] {
            let n = receive(&ipn(&good, "completed", amount)).unwrap();
            assert_eq!(n.amount_minor, expected, "{amount:?}");
        }
    }

    #[test]
    fn hashed_bodies_without_an_invoice_token_are_unreadable() {
        let good = master_hash(MASTER_KEY);
        let body = ipn(&good, "completed", "42300");
        for edited in [
            body.replace(
                "data%5Binvoice%5D%5Btoken%5D",
                "data%5Binvoice%5D%5Btoken2%5D",
            ),
            body.replace(INVOICE, "a%2F..%2Fb"),
            body.replace(INVOICE, ""),
            body.replace(INVOICE, &"x".repeat(65)),
            format!("{body}&data%5Binvoice%5D%5Btoken%5D=test_other"),
            format!("{body}&data%5Bstatus%5D=failed"),
        ] {
            assert!(
                matches!(receive(&edited), Err(NotificationError::Unreadable(_))),
                "{edited}"
            );
        }
    }
}
