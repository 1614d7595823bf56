//! FedaPay (Benin and the UEMOA): a transaction created through the API, paid on
//! FedaPay's hosted page, notified by signed webhooks.
//!
//! | what | how |
//! |---|---|
//! | auth | `Authorization: Bearer <SECRET_KEY>` (`sk_live_...` / `sk_sandbox_...`) |
//! | production / sandbox base | `https://api.fedapay.com` / `https://sandbox-api.fedapay.com` |
//! | checkout, 1 | `POST /v1/transactions` `{description, amount, currency: {iso}, callback_url, customer: {email}, custom_metadata}` -> `{"v1/transaction": {id, status, ...}}` |
//! | checkout, 2 | `POST /v1/transactions/{id}/token` -> `{token, url}`: `url` is the hosted payment page |
//! | status | `GET /v1/transactions/{id}` -> `{"v1/transaction": {status, amount, ...}}` |
//! | refund | none in the API: refunds are made from the dashboard ([`refund`]) |
//! | currencies | `XOF` only ("pour le moment ... uniquement le Fcfa"); amounts are whole francs |
//! | notification | `X-FEDAPAY-SIGNATURE: t=<unix>,s=<hex>[,s=<hex>...]`, HMAC-SHA256 of `<t>.<raw body>` with the webhook's secret; `t` within the tolerance |
//! | notification body | `{name, object, entity, account}`: no event id |
//!
//! States (`entity.status`, and the `transaction.*` event names):
//!
//! | FedaPay | [`Outcome`] |
//! |---|---|
//! | `pending` (event `transaction.created`) | `Pending` |
//! | `approved`, `transferred` (events of the same names) | `Succeeded` (the SDKs count both as paid) |
//! | `declined` (event `transaction.declined`) | `Failed` |
//! | `canceled` (event `transaction.canceled`) | `Cancelled` |
//! | `refunded`, `approved_partially_refunded`, `transferred_partially_refunded`, anything else | `Other(name)` |
//!
//! Sources:
//! - <https://docs.fedapay.com/api-reference/transactions/create> (create; Bearer auth;
//!   `custom_metadata`; the page shows the reply unwrapped, the SDKs' recorded replies
//!   wrap it in `"v1/transaction"`: both are read),
//! - <https://docs.fedapay.com/en/integration-api/collects-management> (create, then token
//!   and URL; `callback_url` is where the customer is sent back; amounts whole),
//! - <https://docs.fedapay.com/paiements/devises> (XOF is the only currency),
//! - <https://docs.fedapay.com/en/integration-api/webhooks> and
//!   <https://docs.fedapay.com/development/webhooks> (events; `X-FEDAPAY-SIGNATURE`),
//! - <https://docs.fedapay.com/dashboard/fr/refunds-fr> (refunds from the dashboard),
//! - <https://support.fedapay.com/portal/en/kb/articles/que-faire-si-un-paiement-est-%C3%A9chou%C3%A9-en-attente-ou-annul%C3%A9>
//!   (the states),
//! - `fedapay/fedapay-node` `src/Webhook.ts` (`WebhookSignature.verifyHeader`: the
//!   signed message, the `s` scheme, any listed signature may match), `src/Requestor.ts`
//!   (bases, Bearer), `src/Transaction.ts` (`/token`; the paid states),
//!   `test/TransactionTest.ts` (recorded replies); `fedapay/fedapay-php`
//!   `lib/WebhookSignature.php` (the same scheme; `|now - t|` against the tolerance).
//!
//! Readings where the sources are silent, conservative on purpose:
//! - A notification carries no event id. Ours is `<name>:<entity.id>` for the events a
//!   transaction has at most once (created, approved, declined, canceled, transferred)
//!   and `<name>:<entity.id>:<entity.updated_at>` for the others (`transaction.updated`
//!   can come many times), so a redelivery of the same body has the same id.
//! - The outcome is the event name's; when `entity.status` says otherwise, or the name
//!   does not say (`transaction.updated`), `confirm` is set so the gateway asks
//!   [`status`] before acting. Events about anything but a transaction (`customer.*`)
//!   are refused as unreadable: their `entity.id` is not a transaction's.
//! - No webhook URL is sent per payment: FedaPay's webhooks are set in the dashboard.
//! - The API documents no idempotency key; `fedapay-php` sends `Idempotency-Key` on
//!   POSTs it retries, so the create call carries our payment id there, but nothing may
//!   rely on FedaPay honouring it.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::signature::verify_timed;
use super::{
    ApiCall, Checkout, Intent, Notification, NotificationError, Outcome, PaymentRef, ProviderApi,
    Refund, Settings, Status, bad_reply, checked_ref, checkout_url_ok, json_reply, whole_units,
};
use crate::error::AppError;
use crate::region::HeaderLookup;
use crate::services::payments::amount::{Currency, from_major_json};

pub const CREDENTIALS: &[&str] = &["SECRET_KEY", "WEBHOOK_SECRET"];
pub const API_BASE: &str = "https://api.fedapay.com";
pub const CURRENCIES: &[&str] = &["XOF"];

const PROVIDER: &str = "fedapay";
const SIGNATURE_HEADER: &str = "x-fedapay-signature";
/// Our payment id inside `custom_metadata`.
const PAYMENT_KEY: &str = "payhuk_payment_id";
/// Longest event id this adapter hands on (they are stored and compared).
const MAX_EVENT_ID: usize = 200;

/// Creates the transaction, then its payment token; the token's URL is the checkout.
pub async fn checkout(
    s: &Settings,
    api: &impl ProviderApi,
    intent: &Intent,
) -> Result<Checkout, AppError> {
    let amount = amount_to_send(intent.amount_minor, intent.currency)?;
    let mut body = json!({
        "description": intent.description,
        "amount": amount,
        "currency": {"iso": intent.currency.code},
        "callback_url": intent.return_url,
        "custom_metadata": {PAYMENT_KEY: intent.payment_id.to_string()},
    });
    if let Some(email) = intent
        .customer_email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        body["customer"] = json!({ "email": email });
    }
    let mut headers = json_headers(s);
    headers.push(("Idempotency-Key".into(), intent.payment_id.to_string()));
    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "POST",
                url: format!("{}/v1/transactions", s.api_base),
                headers,
                body: body.to_string().into_bytes(),
            },
        )
        .await?;
    let created = json_reply(PROVIDER, &reply, "creating a transaction")?;
    let id = transaction_of(&created)
        .and_then(|t| plain_id(t.get("id")?))
        .ok_or_else(|| bad_reply(PROVIDER, "a created transaction without an id", &reply))?;

    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "POST",
                url: format!("{}/v1/transactions/{id}/token", s.api_base),
                headers: json_headers(s),
                body: b"{}".to_vec(),
            },
        )
        .await?;
    let token = json_reply(PROVIDER, &reply, "generating the payment token")?;
    let checkout_url = token
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| checkout_url_ok(u, s))
        .ok_or_else(|| bad_reply(PROVIDER, "a payment token without an https url", &reply))?;
    Ok(Checkout {
        provider_ref: id,
        checkout_url: checkout_url.to_owned(),
    })
}

/// Verifies `X-FEDAPAY-SIGNATURE` (any listed `s=` may match, as FedaPay's SDKs accept
/// while a secret is rotated), then the timestamp, then reads the event.
pub fn notification(
    s: &Settings,
    h: &impl HeaderLookup,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<Notification, NotificationError> {
    let header = h
        .header(SIGNATURE_HEADER)
        .ok_or(NotificationError::BadSignature)?;
    verify_timed(
        &header,
        "s",
        body,
        s.credential("WEBHOOK_SECRET").as_bytes(),
        now,
        tolerance,
    )?;
    read_event(body)
}

/// The transaction's state at FedaPay.
pub async fn status(
    s: &Settings,
    api: &impl ProviderApi,
    provider_ref: &str,
    currency: Currency,
) -> Result<Status, AppError> {
    check_ref(provider_ref)?;
    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "GET",
                url: format!("{}/v1/transactions/{provider_ref}", s.api_base),
                headers: auth_headers(s),
                body: Vec::new(),
            },
        )
        .await?;
    let v = json_reply(PROVIDER, &reply, "fetching a transaction")?;
    let t = transaction_of(&v)
        .ok_or_else(|| bad_reply(PROVIDER, "no transaction in the reply", &reply))?;
    if let Some(id) = t.get("id").and_then(plain_id)
        && id != provider_ref
    {
        return Err(bad_reply(
            PROVIDER,
            &format!("asked for transaction {provider_ref}, got {id}"),
            &reply,
        ));
    }
    let state = t
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_reply(PROVIDER, "a transaction without a status", &reply))?;
    // `currency` is only embedded when included; the transaction was created in ours.
    let code = t
        .get("currency")
        .and_then(|c| c.get("iso"))
        .and_then(Value::as_str)
        .unwrap_or(currency.code);
    let currency = Currency::parse(code)
        .filter(|c| CURRENCIES.contains(&c.code))
        .ok_or_else(|| bad_reply(PROVIDER, &format!("a transaction in `{code}`"), &reply))?;
    let amount = t
        .get("amount")
        .ok_or_else(|| bad_reply(PROVIDER, "a transaction without an amount", &reply))?;
    let amount_minor = from_major_json(amount, currency)
        .map_err(|e| bad_reply(PROVIDER, &format!("the transaction's amount: {e}"), &reply))?;
    Ok(Status {
        outcome: state_outcome(state),
        amount_minor,
        currency: currency.code.to_owned(),
    })
}

/// FedaPay's API has no refund call: its documentation shows refunds made from the
/// dashboard only (and through MTN Mobile Money only), so the merchant refunds there
/// and the gateway records it. Nothing is sent.
pub async fn refund(
    _s: &Settings,
    _api: &impl ProviderApi,
    _provider_ref: &str,
    _amount_minor: i64,
    _currency: Currency,
) -> Result<Refund, AppError> {
    Ok(Refund::NotOffered)
}

/// The amount as FedaPay takes it: whole francs.
fn amount_to_send(amount_minor: i64, currency: Currency) -> Result<Value, AppError> {
    whole_units("FedaPay", CURRENCIES, 1, amount_minor, currency, Vec::new())
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

/// The transaction in a reply: wrapped as `{"v1/transaction": {...}}` (the API as the
/// SDKs record it) or, as the API reference page draws it, unwrapped.
fn transaction_of(v: &Value) -> Option<&Map<String, Value>> {
    v.get("v1/transaction").unwrap_or(v).as_object()
}

/// An id as FedaPay writes them (an integer, or its digits), as text.
fn plain_id(v: &Value) -> Option<String> {
    let text = match v {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    is_transaction_id(&text).then_some(text)
}

fn is_transaction_id(text: &str) -> bool {
    (1..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// `provider_ref` goes into a URL path: only a FedaPay transaction id may.
fn check_ref(provider_ref: &str) -> Result<(), AppError> {
    checked_ref(provider_ref, is_transaction_id, "a FedaPay transaction id")
}

/// A transaction state, from `entity.status` or `GET /v1/transactions/{id}`.
fn state_outcome(state: &str) -> Outcome {
    match state {
        "pending" => Outcome::Pending,
        "approved" | "transferred" => Outcome::Succeeded,
        "declined" => Outcome::Failed,
        "canceled" => Outcome::Cancelled,
        other => Outcome::Other(other.to_owned()),
    }
}

/// What an event's name says, for the events that say it (at most once each per
/// transaction, so `<name>:<id>` identifies them).
fn event_outcome(name: &str) -> Option<Outcome> {
    match name {
        "transaction.created" => Some(Outcome::Pending),
        "transaction.approved" | "transaction.transferred" => Some(Outcome::Succeeded),
        "transaction.declined" => Some(Outcome::Failed),
        "transaction.canceled" => Some(Outcome::Cancelled),
        _ => None,
    }
}

fn read_event(body: &[u8]) -> Result<Notification, NotificationError> {
    let unreadable = |why: String| NotificationError::Unreadable(format!("fedapay: {why}"));
    let v: Value =
        serde_json::from_slice(body).map_err(|e| unreadable(format!("not JSON: {e}")))?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| unreadable("no event name".into()))?;
    let about_transaction = match v.get("object").and_then(Value::as_str) {
        Some(object) => object == "transaction",
        None => name.starts_with("transaction."),
    };
    if !about_transaction {
        return Err(unreadable(format!("`{name}` is not about a transaction")));
    }
    let entity = v
        .get("entity")
        .and_then(Value::as_object)
        .ok_or_else(|| unreadable(format!("`{name}` has no entity")))?;
    let id = entity
        .get("id")
        .and_then(plain_id)
        .ok_or_else(|| unreadable(format!("`{name}` has no transaction id")))?;

    let by_name = event_outcome(name);
    let by_state = entity
        .get("status")
        .and_then(Value::as_str)
        .map(state_outcome);
    let confirm = match (&by_name, &by_state) {
        (Some(said), Some(state)) => said != state,
        (Some(_), None) => false,
        (None, _) => true,
    };
    let outcome = by_name
        .clone()
        .or(by_state)
        .unwrap_or_else(|| Outcome::Other(name.to_owned()));

    let event_id = match (&by_name, entity.get("updated_at").and_then(Value::as_str)) {
        (None, Some(updated_at)) => format!("{name}:{id}:{updated_at}"),
        _ => format!("{name}:{id}"),
    };
    if event_id.len() > MAX_EVENT_ID {
        return Err(unreadable("an event id too long to keep".into()));
    }

    let payment = entity
        .get("custom_metadata")
        .and_then(|m| m.get(PAYMENT_KEY))
        .and_then(Value::as_str)
        .and_then(|p| Uuid::parse_str(p).ok())
        .map_or_else(|| PaymentRef::Provider(id.clone()), PaymentRef::Payment);

    // FedaPay takes XOF only; an entity naming another currency is not stated in units
    // this adapter knows, so its amount is left out.
    let code = entity
        .get("currency")
        .and_then(|c| c.get("iso"))
        .and_then(Value::as_str)
        .unwrap_or("XOF");
    let amount_minor = match (
        entity.get("amount"),
        Currency::parse(code).filter(|c| CURRENCIES.contains(&c.code)),
    ) {
        (Some(amount), Some(currency)) => Some(
            from_major_json(amount, currency)
                .map_err(|e| unreadable(format!("the transaction's amount: {e}")))?,
        ),
        _ => None,
    };

    Ok(Notification {
        event_id,
        payment,
        outcome,
        amount_minor,
        confirm,
    })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use hmac::{Hmac, Mac};
    use serde_json::{Value, json};
    use sha2::Sha256;

    use super::super::testing::{
        PAYMENT, Recorded, body_json, header, headers, intent, is_502, settings,
    };
    use super::*;

    const BASE: &str = "https://sandbox-api.fedapay.com";
    const SECRET_KEY: &str = "sk_sandbox_payhuk_test";
    const WEBHOOK_SECRET: &str = "wh_sandbox_payhuk_test";
    const NOW: i64 = 1_719_781_968;

    fn s() -> Settings {
        settings(
            BASE,
            &[
                ("SECRET_KEY", SECRET_KEY),
                ("WEBHOOK_SECRET", WEBHOOK_SECRET),
            ],
        )
    }

    // The reply `fedapay-node`'s test/TransactionTest.ts ("should create transaction")
    // records for `POST /v1/transactions`.
    const CREATED: &str = r#"{"v1/transaction": {"id": 1, "klass": "v1/transaction",
        "transaction_key": "0KJAU01", "reference": "109329828", "amount": 1000,
        "description": "description", "callback_url": "http://e-shop.com", "status": "pending",
        "customer_id": 1, "currency_id": 1, "mode": "mtn",
        "created_at": "2018-03-12T09:09:03.969Z", "updated_at": "2018-03-12T09:09:03.969Z",
        "paid_at": "2018-03-12T09:09:03.969Z"}}"#;
    // The reply the same file ("should generate transaction token") records for
    // `POST /v1/transactions/1/token`.
    const TOKEN: &str =
        r#"{"token": "PAYEMENT_TOKEN", "url": "https://process.fedapay.com/PAYEMENT_TOKEN"}"#;

    #[test]
    fn checkout_creates_the_transaction_then_its_token() {
        let api = Recorded::new(&[(200, CREATED), (200, TOKEN)]);
        let checkout = block_on(checkout(&s(), &api, &intent(1000, "XOF"))).unwrap();
        assert_eq!(
            checkout,
            Checkout {
                provider_ref: "1".into(),
                checkout_url: "https://process.fedapay.com/PAYEMENT_TOKEN".into(),
            }
        );
        let sent = api.sent();
        assert_eq!(sent.len(), 2);

        let create = &sent[0];
        assert_eq!(create.method, "POST");
        assert_eq!(
            create.url,
            "https://sandbox-api.fedapay.com/v1/transactions"
        );
        assert_eq!(
            header(create, "authorization"),
            Some("Bearer sk_sandbox_payhuk_test")
        );
        assert_eq!(header(create, "content-type"), Some("application/json"));
        assert_eq!(header(create, "idempotency-key"), Some(PAYMENT));
        let body = body_json(create);
        assert_eq!(body["amount"], json!(1000), "whole francs, a JSON integer");
        assert!(body["amount"].is_i64());
        assert_eq!(body["currency"], json!({"iso": "XOF"}));
        assert_eq!(body["description"], "Payhuk order 0193a5c0");
        assert_eq!(body["callback_url"], "https://shop.payhuk.test/orders/1");
        assert_eq!(body["customer"], json!({"email": "ada@payhuk.test"}));
        assert_eq!(
            body["custom_metadata"],
            json!({"payhuk_payment_id": PAYMENT})
        );
        assert!(
            body.get("notify_url").is_none(),
            "webhooks are set in the dashboard"
        );

        let token = &sent[1];
        assert_eq!(token.method, "POST");
        assert_eq!(
            token.url,
            "https://sandbox-api.fedapay.com/v1/transactions/1/token"
        );
        assert_eq!(
            header(token, "authorization"),
            Some("Bearer sk_sandbox_payhuk_test")
        );
        assert_eq!(header(token, "idempotency-key"), None);
    }

    #[test]
    fn an_unwrapped_reply_as_the_reference_page_draws_it_is_read_too() {
        // docs.fedapay.com/api-reference/transactions/create, "201" response.
        let flat = r#"{"id": 123, "reference": "trx_1", "amount": 500, "description": "x",
            "callback_url": "https://shop.payhuk.test/orders/1", "status": "pending",
            "created_at": "2023-11-07T05:31:56Z", "updated_at": "2023-11-07T05:31:56Z"}"#;
        let api = Recorded::new(&[(201, flat), (200, TOKEN)]);
        let checkout = block_on(checkout(&s(), &api, &intent(500, "XOF"))).unwrap();
        assert_eq!(checkout.provider_ref, "123");
        assert_eq!(
            api.sent()[1].url,
            "https://sandbox-api.fedapay.com/v1/transactions/123/token"
        );
    }

    #[test]
    fn a_customer_without_email_is_left_out() {
        let api = Recorded::new(&[(200, CREATED), (200, TOKEN)]);
        let mut intent = intent(1000, "XOF");
        intent.customer_email = None;
        block_on(checkout(&s(), &api, &intent)).unwrap();
        assert!(body_json(&api.sent()[0]).get("customer").is_none());
    }

    #[test]
    fn currencies_and_amounts_fedapay_cannot_take_are_refused_before_any_call() {
        for (amount, currency, field) in [
            (1000, "EUR", "currency"),
            (1000, "XAF", "currency"),
            (1000, "NGN", "currency"),
            (0, "XOF", "amount_minor"),
            (-5, "XOF", "amount_minor"),
        ] {
            let api = Recorded::new(&[]);
            match block_on(checkout(&s(), &api, &intent(amount, currency))) {
                Err(AppError::Validation(problems)) => {
                    assert_eq!(problems[0].field, field, "{amount} {currency}")
                }
                other => panic!("{amount} {currency}: {other:?}"),
            }
            assert!(api.sent().is_empty(), "{amount} {currency}: nothing sent");
        }
    }

    #[test]
    fn every_accepted_currency_is_one_fedapay_writes_in_whole_units() {
        for code in CURRENCIES {
            let currency = Currency::parse(code).unwrap();
            assert_eq!(currency.minor_units, 0, "{code}");
        }
        let xof = Currency::parse("XOF").unwrap();
        assert_eq!(amount_to_send(1, xof).unwrap(), json!(1));
        assert_eq!(
            amount_to_send(9_007_199_254_740_993, xof).unwrap(),
            json!(9_007_199_254_740_993_i64),
            "past f64's exact integers, still exact"
        );
    }

    #[test]
    fn provider_errors_are_502s_naming_fedapay() {
        for replies in [
            vec![(401, r#"{"message": "Invalid API key"}"#)],
            vec![(500, "<html>oops</html>")],
            vec![(200, "not json")],
            vec![(200, r#"{"v1/transaction": {"status": "pending"}}"#)],
            vec![(200, r#"{"v1/transaction": {"id": "1/../../x"}}"#)],
            vec![(200, r#"[]"#)],
            vec![(200, CREATED), (422, r#"{"message": "nope"}"#)],
            vec![(200, CREATED), (200, r#"{"token": "t"}"#)],
            vec![
                (200, CREATED),
                (200, r#"{"url": "http://process.fedapay.com/t"}"#),
            ],
            vec![(200, CREATED), (200, r#"{"url": 12}"#)],
        ] {
            let api = Recorded::new(&replies);
            let result = block_on(checkout(&s(), &api, &intent(1000, "XOF")));
            assert!(is_502(PROVIDER, result), "{replies:?}");
        }
    }

    fn transaction_reply(status: &str, amount: Value) -> String {
        // Shaped as `fedapay-node`'s test/TransactionTest.ts "should retrieve a
        // transaction" reply, with the state and amount under test.
        json!({"v1/transaction": {"id": 1, "klass": "v1/transaction",
            "transaction_key": "0KJAU01", "reference": "109329828", "amount": amount,
            "description": "Description", "callback_url": "http://e-shop.com",
            "status": status, "customer_id": 1, "currency_id": 1, "mode": "mtn",
            "created_at": "2018-03-12T09:09:03.969Z", "updated_at": "2018-03-12T09:09:03.969Z",
            "paid_at": "2018-03-12T09:09:03.969Z"}})
        .to_string()
    }

    #[test]
    fn status_maps_every_documented_state() {
        for (state, outcome) in [
            ("pending", Outcome::Pending),
            ("approved", Outcome::Succeeded),
            ("transferred", Outcome::Succeeded),
            ("declined", Outcome::Failed),
            ("canceled", Outcome::Cancelled),
            ("refunded", Outcome::Other("refunded".into())),
            (
                "approved_partially_refunded",
                Outcome::Other("approved_partially_refunded".into()),
            ),
            (
                "transferred_partially_refunded",
                Outcome::Other("transferred_partially_refunded".into()),
            ),
            ("expired", Outcome::Other("expired".into())),
        ] {
            let reply = transaction_reply(state, json!(100));
            let api = Recorded::new(&[(200, reply.as_str())]);
            let status =
                block_on(status(&s(), &api, "1", Currency::parse("XOF").unwrap())).unwrap();
            assert_eq!(
                status,
                Status {
                    outcome,
                    amount_minor: 100,
                    currency: "XOF".into()
                },
                "{state}"
            );
            let sent = api.sent();
            assert_eq!(sent[0].method, "GET");
            assert_eq!(
                sent[0].url,
                "https://sandbox-api.fedapay.com/v1/transactions/1"
            );
            assert_eq!(
                header(&sent[0], "authorization"),
                Some("Bearer sk_sandbox_payhuk_test")
            );
            assert!(sent[0].body.is_empty());
        }
    }

    #[test]
    fn status_amounts_are_exact_or_a_502() {
        let xof = Currency::parse("XOF").unwrap();
        for (amount, expected) in [
            (json!(9113), Some(9113)),
            (json!("9113"), Some(9113)),
            (json!(9113.0), Some(9113)),
            (json!(9113.5), None),
            (json!("12,5"), None),
            (json!(null), None),
        ] {
            let reply = transaction_reply("approved", amount.clone());
            let api = Recorded::new(&[(200, reply.as_str())]);
            let result = block_on(status(&s(), &api, "1", xof));
            match expected {
                Some(minor) => assert_eq!(result.unwrap().amount_minor, minor, "{amount}"),
                None => assert!(is_502(PROVIDER, result), "{amount}"),
            }
        }
        // A transaction in a currency FedaPay does not take here is not converted.
        let mut v: Value =
            serde_json::from_str(&transaction_reply("approved", json!(100))).unwrap();
        v["v1/transaction"]["currency"] = json!({"iso": "EUR"});
        let reply = v.to_string();
        let api = Recorded::new(&[(200, reply.as_str())]);
        assert!(is_502(PROVIDER, block_on(status(&s(), &api, "1", xof))));
    }

    #[test]
    fn status_errors_are_502s_and_odd_refs_are_never_sent() {
        let xof = Currency::parse("XOF").unwrap();
        for (code, body) in [
            (404, r#"{"message": "Transaction not found"}"#),
            (503, ""),
            (200, "<html></html>"),
            (200, r#"{"v1/transaction": {"id": 1, "amount": 100}}"#),
            (
                200,
                r#"{"v1/transaction": {"id": 1, "status": "approved"}}"#,
            ),
            (
                200,
                r#"{"v1/transaction": {"id": 2, "status": "approved", "amount": 100}}"#,
            ),
        ] {
            let api = Recorded::new(&[(code, body)]);
            assert!(
                is_502(PROVIDER, block_on(status(&s(), &api, "1", xof))),
                "{body}"
            );
        }
        for odd in ["", "1/../2", "abc", "1?x=2"] {
            let api = Recorded::new(&[]);
            assert!(matches!(
                block_on(status(&s(), &api, odd, xof)),
                Err(AppError::Validation(_))
            ));
            assert!(api.sent().is_empty());
        }
    }

    #[test]
    fn refunds_are_not_offered_and_nothing_is_sent() {
        let api = Recorded::new(&[]);
        let refund = block_on(refund(
            &s(),
            &api,
            "1",
            1000,
            Currency::parse("XOF").unwrap(),
        ));
        assert_eq!(refund.unwrap(), Refund::NotOffered);
        assert!(api.sent().is_empty());
    }

    // ---- notifications -------------------------------------------------------------

    /// A webhook body as FedaPay sends it: `{name, object, entity, account}`. FedaPay's
    /// docs show no body; this is the sandbox event published at
    /// <https://www.scribd.com/document/836824214/gistfile1> (fields kept as there,
    /// a few dropped), with our `custom_metadata` in place of that shop's.
    fn event(name: &str, status: &str, custom_metadata: Value) -> String {
        json!({
            "name": name,
            "object": "transaction",
            "entity": {
                "klass": "v1/transaction",
                "id": 250828,
                "reference": "trx_Vo4_1719781861514",
                "amount": 9113,
                "description": "Paiement de la commande #21.",
                "callback_url": "https://shop.payhuk.test/orders/1",
                "status": status,
                "customer_id": 25376,
                "currency_id": 1,
                "mode": "moov",
                "operation": "payment",
                "commission": "0.018",
                "fees": 167,
                "fixed_commission": 0,
                "amount_transferred": 9113,
                "created_at": "2024-06-30T21:11:01.513Z",
                "updated_at": "2024-06-30T21:12:48.085Z",
                "approved_at": "2024-06-30T21:12:47.627Z",
                "canceled_at": null,
                "declined_at": null,
                "refunded_at": null,
                "transferred_at": null,
                "deleted_at": null,
                "last_error_code": null,
                "custom_metadata": custom_metadata,
                "amount_debited": 9280,
                "transaction_key": "1803322096256732",
                "merchant_reference": null,
                "account_id": 9976,
                "currency": {"klass": "v1/currency", "id": 1, "name": "FCFA", "iso": "XOF",
                             "code": 952, "prefix": null, "suffix": "CFA", "div": 1}
            },
            "account": {"id": 9976, "name": "Payhuk"}
        })
        .to_string()
    }

    fn ours() -> Value {
        json!({ "payhuk_payment_id": PAYMENT })
    }

    fn sign(secret: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn signed(header_value: String) -> std::collections::HashMap<&'static str, String> {
        headers(&[("x-fedapay-signature", header_value.as_str())])
    }

    fn receive(
        header_value: String,
        body: &str,
        now: i64,
    ) -> Result<Notification, NotificationError> {
        notification(&s(), &signed(header_value), body.as_bytes(), now, 300)
    }

    #[test]
    fn a_signed_event_is_read() {
        let body = event("transaction.approved", "approved", ours());
        let t = NOW - 20;
        let n = receive(
            format!("t={t},s={}", sign(WEBHOOK_SECRET, t, &body)),
            &body,
            NOW,
        )
        .unwrap();
        assert_eq!(
            n,
            Notification {
                event_id: "transaction.approved:250828".into(),
                payment: PaymentRef::Payment(uuid::Uuid::parse_str(PAYMENT).unwrap()),
                outcome: Outcome::Succeeded,
                amount_minor: Some(9113),
                confirm: false,
            }
        );
        // A redelivery (signed again, later) names the same event.
        let t2 = NOW + 100;
        let again = receive(
            format!("t={t2},s={}", sign(WEBHOOK_SECRET, t2, &body)),
            &body,
            NOW + 110,
        )
        .unwrap();
        assert_eq!(again.event_id, n.event_id);
    }

    #[test]
    fn signatures_that_do_not_match_are_refused() {
        let body = event("transaction.approved", "approved", ours());
        let t = NOW;
        let good = sign(WEBHOOK_SECRET, t, &body);
        let bad = |h: String, b: &str| {
            assert_eq!(
                receive(h.clone(), b, NOW),
                Err(NotificationError::BadSignature),
                "{h}"
            )
        };
        bad(
            format!("t={t},s={}", sign("another secret", t, &body)),
            &body,
        );
        bad(format!("t={t},s={good}"), &body.replace("9113", "9114"));
        bad(format!("t={},s={good}", t + 1), &body);
        bad(format!("t={t},v1={good}"), &body);
        bad(format!("s={good}"), &body);
        bad(format!("t=abc,s={good}"), &body);
        bad(format!("t={t},t={t},s={good}"), &body);
        bad(format!("t={t},s=zz{}", &good[2..]), &body);
        bad(format!("t={t},s={}", &good[..32]), &body);
        bad(String::new(), &body);
        assert_eq!(
            notification(&s(), &headers(&[]), body.as_bytes(), NOW, 300),
            Err(NotificationError::BadSignature),
            "no header"
        );
        let no_secret = settings(BASE, &[("SECRET_KEY", SECRET_KEY), ("WEBHOOK_SECRET", "")]);
        let unkeyed = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"").unwrap();
            mac.update(format!("{t}.{body}").as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(
            notification(
                &no_secret,
                &signed(format!("t={t},s={unkeyed}")),
                body.as_bytes(),
                NOW,
                300
            ),
            Err(NotificationError::BadSignature),
            "an empty secret signs nothing"
        );
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let body = event("transaction.declined", "declined", ours());
        let t = NOW;
        let old = sign("the secret being retired", t, &body);
        let new = sign(WEBHOOK_SECRET, t, &body);
        for value in [
            format!("t={t},s={old},s={new}"),
            format!("t={t},s={new},s={old}"),
            format!(" t={t} , s={old} , s={new} "),
        ] {
            let n = receive(value.clone(), &body, NOW).unwrap();
            assert_eq!(n.outcome, Outcome::Failed, "{value}");
        }
    }

    #[test]
    fn stale_and_future_timestamps_are_replays() {
        let body = event("transaction.approved", "approved", ours());
        for (t, age) in [(NOW - 301, 301), (NOW + 301, -301)] {
            let value = format!("t={t},s={}", sign(WEBHOOK_SECRET, t, &body));
            assert_eq!(
                receive(value, &body, NOW),
                Err(NotificationError::Stale { age_secs: age })
            );
        }
        for t in [NOW - 300, NOW + 300] {
            let value = format!("t={t},s={}", sign(WEBHOOK_SECRET, t, &body));
            assert!(receive(value, &body, NOW).is_ok(), "{t}: at the tolerance");
        }
        for (t, age) in [(i64::MIN, i64::MAX), (i64::MAX, NOW - i64::MAX)] {
            let value = format!("t={t},s={}", sign(WEBHOOK_SECRET, t, &body));
            assert_eq!(
                receive(value, &body, NOW),
                Err(NotificationError::Stale { age_secs: age }),
                "{t}"
            );
        }
    }

    fn read(body: &str) -> Result<Notification, NotificationError> {
        let value = format!("t={NOW},s={}", sign(WEBHOOK_SECRET, NOW, body));
        receive(value, body, NOW)
    }

    #[test]
    fn every_documented_event_is_mapped() {
        for (name, status, outcome, confirm) in [
            ("transaction.created", "pending", Outcome::Pending, false),
            (
                "transaction.approved",
                "approved",
                Outcome::Succeeded,
                false,
            ),
            ("transaction.declined", "declined", Outcome::Failed, false),
            (
                "transaction.canceled",
                "canceled",
                Outcome::Cancelled,
                false,
            ),
            (
                "transaction.transferred",
                "transferred",
                Outcome::Succeeded,
                false,
            ),
            // The name says nothing: the state is read, and asked again.
            ("transaction.updated", "approved", Outcome::Succeeded, true),
            (
                "transaction.updated",
                "refunded",
                Outcome::Other("refunded".into()),
                true,
            ),
            (
                "transaction.something_new",
                "pending",
                Outcome::Pending,
                true,
            ),
        ] {
            let n = read(&event(name, status, ours())).unwrap();
            assert_eq!(
                (n.outcome, n.confirm),
                (outcome, confirm),
                "{name} {status}"
            );
        }
    }

    #[test]
    fn a_name_and_a_state_that_disagree_are_confirmed() {
        // The published sample itself: `transaction.created` with an approved entity.
        let n = read(&event("transaction.created", "approved", ours())).unwrap();
        assert_eq!(n.outcome, Outcome::Pending);
        assert!(n.confirm);
        let n = read(&event("transaction.approved", "refunded", ours())).unwrap();
        assert_eq!(n.outcome, Outcome::Succeeded);
        assert!(n.confirm);
        // No state at all: the name is taken.
        let mut v: Value =
            serde_json::from_str(&event("transaction.approved", "x", ours())).unwrap();
        v["entity"].as_object_mut().unwrap().remove("status");
        let n = read(&v.to_string()).unwrap();
        assert_eq!((n.outcome, n.confirm), (Outcome::Succeeded, false));
    }

    #[test]
    fn event_ids_are_stable_and_distinct() {
        let approved = read(&event("transaction.approved", "approved", ours())).unwrap();
        let created = read(&event("transaction.created", "pending", ours())).unwrap();
        assert_ne!(approved.event_id, created.event_id);
        let updated = read(&event("transaction.updated", "pending", ours())).unwrap();
        assert_eq!(
            updated.event_id,
            "transaction.updated:250828:2024-06-30T21:12:48.085Z"
        );
        let later = event("transaction.updated", "pending", ours())
            .replace("2024-06-30T21:12:48.085Z", "2024-06-30T21:13:00.000Z");
        assert_ne!(read(&later).unwrap().event_id, updated.event_id);
    }

    #[test]
    fn without_our_metadata_the_transaction_id_names_the_payment() {
        for metadata in [
            json!(null),
            json!({}),
            json!({"id_commande": "21"}),
            json!({"payhuk_payment_id": "not-a-uuid"}),
            json!([]),
        ] {
            let n = read(&event("transaction.approved", "approved", metadata.clone())).unwrap();
            assert_eq!(
                n.payment,
                PaymentRef::Provider("250828".into()),
                "{metadata}"
            );
        }
        let mut v: Value =
            serde_json::from_str(&event("transaction.approved", "approved", ours())).unwrap();
        v["entity"]
            .as_object_mut()
            .unwrap()
            .remove("custom_metadata");
        assert_eq!(
            read(&v.to_string()).unwrap().payment,
            PaymentRef::Provider("250828".into())
        );
    }

    #[test]
    fn amounts_are_whole_francs_or_refused() {
        let with = |amount: Value, currency: Option<Value>| {
            let mut v: Value =
                serde_json::from_str(&event("transaction.approved", "approved", ours())).unwrap();
            v["entity"]["amount"] = amount;
            match currency {
                Some(c) => v["entity"]["currency"] = c,
                None => {
                    v["entity"].as_object_mut().unwrap().remove("currency");
                }
            }
            read(&v.to_string())
        };
        assert_eq!(with(json!(500), None).unwrap().amount_minor, Some(500));
        assert_eq!(with(json!("500"), None).unwrap().amount_minor, Some(500));
        assert!(matches!(
            with(json!(500.5), None),
            Err(NotificationError::Unreadable(_))
        ));
        assert_eq!(
            with(json!(500), Some(json!({"iso": "EUR"})))
                .unwrap()
                .amount_minor,
            None,
            "not in a currency FedaPay is used with here"
        );
        let mut v: Value =
            serde_json::from_str(&event("transaction.approved", "approved", ours())).unwrap();
        v["entity"].as_object_mut().unwrap().remove("amount");
        assert_eq!(read(&v.to_string()).unwrap().amount_minor, None);
    }

    #[test]
    fn signed_bodies_that_are_not_transaction_events_are_unreadable() {
        for body in [
            "not json".to_string(),
            json!({"object": "transaction", "entity": {"id": 1}}).to_string(),
            json!({"name": "transaction.approved", "object": "transaction"}).to_string(),
            json!({"name": "transaction.approved", "object": "transaction", "entity": {"status": "approved"}}).to_string(),
            json!({"name": "transaction.approved", "object": "transaction", "entity": {"id": "../1"}}).to_string(),
            json!({"name": "customer.created", "object": "customer", "entity": {"id": 25376}}).to_string(),
            json!({"name": "customer.updated", "entity": {"id": 25376}}).to_string(),
            json!({"name": format!("transaction.{}", "x".repeat(300)), "object": "transaction",
                   "entity": {"id": 1, "updated_at": "y"}}).to_string(),
        ] {
            assert!(
                matches!(read(&body), Err(NotificationError::Unreadable(_))),
                "{body}"
            );
        }
    }
}
