//! CinetPay (Côte d'Ivoire and West and Central Africa): a payment initialized through
//! the checkout API under our own transaction id, paid on CinetPay's hosted page,
//! notified with an HMAC token but without the payment's state: the check call is the
//! word.
//!
//! | what | how |
//! |---|---|
//! | auth | `apikey` and `site_id` in every JSON body; no auth header |
//! | base | `https://api-checkout.cinetpay.com/v2` (one base; test and live are account settings) |
//! | checkout | `POST /payment` `{apikey, site_id, transaction_id, amount, currency, description, notify_url, return_url, channels, lang, metadata, customer_*}` -> `{code: "201", message: "CREATED", description, data: {payment_token, payment_url}, api_response_id}` |
//! | status | `POST /payment/check` `{apikey, site_id, transaction_id}` -> `{code: "00", message: "SUCCES", data: {amount, currency, status, payment_method, ...}, api_response_id}`, or a code of the code table |
//! | refund | none in the API ([`refund`]) |
//! | currencies | of ours: `XOF`, `XAF`, `USD` (CinetPay also takes `CDF`, `GNF`); `amount` an integer, a multiple of 5 |
//! | notification | `POST` to `notify_url`, form fields `cpm_site_id`, `cpm_trans_id`, `cpm_trans_date`, `cpm_amount`, `cpm_currency`, `signature`, `payment_method`, `cel_phone_num`, `cpm_phone_prefixe`, `cpm_language`, `cpm_version`, `cpm_payment_config`, `cpm_page_action`, `cpm_custom`, `cpm_designation`, `cpm_error_message`; header `x-token`: hex HMAC-SHA256 with the secret key of those sixteen values concatenated in that order |
//! | notification body | no state: "notifies you of a change of status", ask the check call |
//!
//! States (`data.status` of a `"00"` check reply, and the code table's payment codes):
//!
//! | CinetPay | [`Outcome`] |
//! |---|---|
//! | `ACCEPTED` (with code `00`) | `Succeeded` |
//! | `REFUSED`; code `600` `PAYMENT_FAILED`, `602` `INSUFFICIENT_BALANCE` | `Failed` |
//! | `CANCELED` / `CANCELLED`; code `627` `TRANSACTION_CANCEL` | `Cancelled` |
//! | `PENDING`, `WAITING_FOR_CUSTOMER`, `WAITING_CUSTOMER_TO_VALIDATE`, `WAITING_CUSTOMER_PAYMENT`, `WAITING_CUSTOMER_OTP_CODE`; codes `623`, `662`, `663` of the same names | `Pending` |
//! | code `604` `OTP_CODE_ERROR`, any other `data.status` | `Other(name)` |
//! | any other code (`606`, `608`, `609`, `624`, `625`, ...) | a 502: not a payment's state |
//!
//! Sources:
//! - <https://docs.cinetpay.com/api/1.0-en/checkout/initialisation> (the URL, JSON over
//!   POST; the fields and which are required; "The amount of the transaction must be a
//!   multiple of 5", an Integer; currencies XOF, XAF, CDF, GNF, USD; no special
//!   characters `#,/,$,_,&` in `description`; `channels` ALL, MOBILE_MONEY,
//!   CREDIT_CARD, WALLET; `metadata` a string; the customer fields for the card
//!   channel),
//! - <https://docs.cinetpay.com/api/1.0-en/checkout/notification> (form values POSTed to
//!   `notify_url`, `x-token`; the URL must also answer GET pings; confirm with the check
//!   call before delivering),
//! - <https://docs.cinetpay.com/api/1.0-en/checkout/hmac> and
//!   <https://docs.cinetpay.com/api/1.0-fr/checkout/hmac> (the sixteen form values, the
//!   concatenation in that order, HMAC SHA-256 with the secret key, compared with
//!   `x-token`),
//! - <https://docs.cinetpay.com/api/1.0-en/checkout/verification> (the check call and its
//!   example reply: `"amount": "100"`, `"currency": "XOF"`, `"status": "ACCEPTED"`),
//! - <https://docs.cinetpay.com/api/1.0-en/checkout/tableau> (the code table: `00`
//!   SUCCES, `201` CREATED, `600` PAYMENT_FAILED, `602` INSUFFICIENT_BALANCE, `604`
//!   OTP_CODE_ERROR, `606` INCORRECT_SETTINGS, `608` MINIMUM_REQUIRED_FIELDS, `609`
//!   AUTH_NOT_FOUND, `623` WAITING_CUSTOMER_TO_VALIDATE, `624` PROCESSING_ERROR, `625`
//!   ABONNEMENT_OR_TRANSACTIONS_EXPIRED, `627` TRANSACTION_CANCEL, `662`
//!   WAITING_CUSTOMER_PAYMENT, `663` WAITING_CUSTOMER_OTP_CODE; read here as
//!   integrations reproduce it, the same list in several of them),
//! - <https://docs.cinetpay.com/api/1.0-en/sdk/php> and `cinetpay/cinetpay-php-sdk`
//!   (`apikey`, `site_id`, `secret_key`; the notification handled on `cpm_trans_id`),
//! - `Tidev-CinetPay/api-checkout-doc` `docs/integration.md` and
//!   `docs/l'api-de-checkout.md` (a draft of the checkout docs by a CinetPay developer:
//!   example requests and replies of both calls, `customer_name` "Dje Bi" and
//!   `customer_surname` "Jean-Marc"; the notification "ne donne pas les informations sur
//!   son statut").
//!
//! Readings where the sources are silent or disagree, conservative on purpose:
//! - The multiple of 5 is stated for every amount, not per currency, and `amount` is an
//!   Integer: amounts are sent in whole major units that are multiples of 5 in all three
//!   currencies (12.34 USD and 12 USD are refused with a 422 before any call, like
//!   1002 XOF), never rounded.
//! - `transaction_id` is our payment id, so a retried checkout cannot open a second
//!   payment (CinetPay refuses an id it has seen) and the notification names the payment
//!   by the id [`checkout`] records as `provider_ref`. `metadata` carries it again.
//! - The card channel wants `customer_name`, `customer_surname`, `customer_email`,
//!   `customer_phone_number`, `customer_address`, `customer_city`,
//!   `customer_country`, `customer_state`, `customer_zip_code`. [`Intent`] has only a
//!   display name and an email: those are sent when known (the name split at its first
//!   space; CinetPay's example puts the family name in `customer_name` and the given
//!   name in `customer_surname`), the rest is left to CinetPay's page.
//! - `description` loses the characters the docs ask not to send (`# / $ _ &`).
//! - A notification's `cpm_site_id` must be our `SITE_ID` (the secret key is the
//!   account's, shared by its sites). A field missing from the form counts as empty in
//!   the signed text, as in the docs' PHP; a signed field given twice is refused.
//! - The notification carries no state: `outcome` is `Pending` and `confirm` is always
//!   set; the event id is `cinetpay:<cpm_trans_id>`.
//! - A check reply with a code other than `00` is read by the code table where the
//!   code names a payment's state, whatever the HTTP status (200 or 4xx); a success is
//!   only `00` with `ACCEPTED`; `604` (a wrong OTP, which the customer may enter again)
//!   is not taken as a failure.
//! - Refunds: the checkout API has no refund call; the transfer API pays out to a
//!   phone number, which a refund request does not carry. Not offered.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::signature::hmac_matches;
use super::{
    ApiCall, Checkout, Intent, Notification, NotificationError, Outcome, PaymentRef, ProviderApi,
    Refund, Settings, Status, bad_reply, checked_ref, checkout_url_ok, whole_units,
};
use crate::error::AppError;
use crate::region::HeaderLookup;
use crate::services::payments::amount::{Currency, from_major, from_major_json};

pub const CREDENTIALS: &[&str] = &["API_KEY", "SITE_ID", "SECRET_KEY"];
pub const API_BASE: &str = "https://api-checkout.cinetpay.com/v2";
pub const CURRENCIES: &[&str] = &["XOF", "XAF", "USD"];

const PROVIDER: &str = "cinetpay";
const TOKEN_HEADER: &str = "x-token";
/// Every amount CinetPay takes is a multiple of this, in major units.
const AMOUNT_STEP: i64 = 5;
/// The form fields `x-token` signs, in the order they are concatenated.
pub const SIGNED_FIELDS: [&str; 16] = [
    "cpm_site_id",
    "cpm_trans_id",
    "cpm_trans_date",
    "cpm_amount",
    "cpm_currency",
    "signature",
    "payment_method",
    "cel_phone_num",
    "cpm_phone_prefixe",
    "cpm_language",
    "cpm_version",
    "cpm_payment_config",
    "cpm_page_action",
    "cpm_custom",
    "cpm_designation",
    "cpm_error_message",
];

/// Initializes the payment under our payment id; `data.payment_url` is where the
/// customer pays.
pub async fn checkout(
    s: &Settings,
    api: &impl ProviderApi,
    intent: &Intent,
) -> Result<Checkout, AppError> {
    let amount = amount_to_send(intent.amount_minor, intent.currency)?;
    let transaction_id = intent.payment_id.to_string();
    let mut body = json!({
        "apikey": s.credential("API_KEY"),
        "site_id": s.credential("SITE_ID"),
        "transaction_id": transaction_id,
        "amount": amount,
        "currency": intent.currency.code,
        "description": description(&intent.description),
        "notify_url": intent.notify_url,
        "return_url": intent.return_url,
        "channels": "ALL",
        "lang": "fr",
        "metadata": transaction_id,
    });
    if let Some(name) = known(intent.customer_name.as_deref()) {
        let (given, family) = name
            .split_once(' ')
            .map_or((name, name), |(g, f)| (g, f.trim()));
        body["customer_name"] = json!(family);
        body["customer_surname"] = json!(given);
    }
    if let Some(email) = known(intent.customer_email.as_deref()) {
        body["customer_email"] = json!(email);
    }
    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "POST",
                url: format!("{}/payment", s.api_base),
                headers: json_headers(),
                body: body.to_string().into_bytes(),
            },
        )
        .await?;
    if !(200..300).contains(&reply.status) {
        return Err(bad_reply(PROVIDER, "initializing a payment", &reply));
    }
    let v: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| bad_reply(PROVIDER, "initializing a payment: not JSON", &reply))?;
    match code_of(&v).as_deref() {
        Some("201") => {}
        Some(code) => {
            return Err(bad_reply(
                PROVIDER,
                &format!("initializing a payment: code {code}"),
                &reply,
            ));
        }
        None => {
            return Err(bad_reply(
                PROVIDER,
                "initializing a payment: no code",
                &reply,
            ));
        }
    }
    let checkout_url = v
        .get("data")
        .and_then(|d| d.get("payment_url"))
        .and_then(Value::as_str)
        .filter(|u| checkout_url_ok(u, s))
        .ok_or_else(|| {
            bad_reply(
                PROVIDER,
                "an initialized payment without an https payment_url",
                &reply,
            )
        })?;
    Ok(Checkout {
        provider_ref: transaction_id,
        checkout_url: checkout_url.to_owned(),
    })
}

/// Verifies `x-token` (HMAC-SHA256 with the secret key over the sixteen fields in the
/// documented order) and that the notification is for our site. It names the payment
/// only: the state comes from [`status`] (`confirm`).
pub fn notification(
    s: &Settings,
    h: &impl HeaderLookup,
    body: &[u8],
) -> Result<Notification, NotificationError> {
    let secret = s.credential("SECRET_KEY").as_bytes();
    if secret.is_empty() {
        return Err(NotificationError::BadSignature);
    }
    let token = h
        .header(TOKEN_HEADER)
        .ok_or(NotificationError::BadSignature)?;
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut signed = String::new();
    let mut values = Map::new();
    for name in SIGNED_FIELDS {
        let mut given = fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let value = given.next().map_or("", String::as_str);
        if given.next().is_some() {
            // Which of the two was signed is not ours to guess.
            return Err(NotificationError::BadSignature);
        }
        signed.push_str(value);
        values.insert(name.to_owned(), json!(value));
    }
    if !hmac_matches(secret, signed.as_bytes(), token.trim()) {
        return Err(NotificationError::BadSignature);
    }
    let value = |name: &str| values.get(name).and_then(Value::as_str).unwrap_or("");
    let unreadable = |why: &str| NotificationError::Unreadable(format!("cinetpay: {why}"));
    if value("cpm_site_id") != s.credential("SITE_ID") {
        return Err(unreadable("cpm_site_id is not our site's"));
    }
    let transaction_id = value("cpm_trans_id");
    if !is_transaction_id(transaction_id) {
        return Err(unreadable("cpm_trans_id is not one of our transaction ids"));
    }
    // Advisory only (the check call is asked before acting): left out unless exact.
    let amount_minor = Currency::parse(value("cpm_currency"))
        .filter(|c| CURRENCIES.contains(&c.code))
        .and_then(|c| from_major(value("cpm_amount").trim(), c).ok());
    Ok(Notification {
        event_id: format!("cinetpay:{transaction_id}"),
        payment: PaymentRef::Provider(transaction_id.to_owned()),
        outcome: Outcome::Pending,
        amount_minor,
        confirm: true,
    })
}

/// The payment's state at CinetPay, from its check call.
pub async fn status(
    s: &Settings,
    api: &impl ProviderApi,
    provider_ref: &str,
    _currency: Currency,
) -> Result<Status, AppError> {
    check_ref(provider_ref)?;
    let body = json!({
        "apikey": s.credential("API_KEY"),
        "site_id": s.credential("SITE_ID"),
        "transaction_id": provider_ref,
    });
    let reply = api
        .send(
            PROVIDER,
            ApiCall {
                method: "POST",
                url: format!("{}/payment/check", s.api_base),
                headers: json_headers(),
                body: body.to_string().into_bytes(),
            },
        )
        .await?;
    // A payment's state may come with a 4xx; a 5xx or a redirect never is one.
    if !(200..500).contains(&reply.status) || (300..400).contains(&reply.status) {
        return Err(bad_reply(PROVIDER, "checking a payment", &reply));
    }
    let v: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| bad_reply(PROVIDER, "checking a payment: not JSON", &reply))?;
    let code =
        code_of(&v).ok_or_else(|| bad_reply(PROVIDER, "checking a payment: no code", &reply))?;
    let data = v.get("data").and_then(Value::as_object);
    let state = data.and_then(|d| d.get("status")).and_then(Value::as_str);
    let outcome = if code == "00" {
        if !(200..300).contains(&reply.status) {
            return Err(bad_reply(PROVIDER, "a success with an HTTP error", &reply));
        }
        let state = state
            .ok_or_else(|| bad_reply(PROVIDER, "a checked payment without a status", &reply))?;
        state_outcome(state)
    } else {
        let outcome = code_outcome(&code).ok_or_else(|| {
            bad_reply(
                PROVIDER,
                &format!("checking a payment: code {code}"),
                &reply,
            )
        })?;
        if state == Some("ACCEPTED") {
            return Err(bad_reply(
                PROVIDER,
                &format!("ACCEPTED under code {code}"),
                &reply,
            ));
        }
        outcome
    };
    let data = data.ok_or_else(|| bad_reply(PROVIDER, "a checked payment without data", &reply))?;
    let code = data
        .get("currency")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_reply(PROVIDER, "a checked payment without a currency", &reply))?;
    let currency = Currency::parse(code)
        .filter(|c| CURRENCIES.contains(&c.code))
        .ok_or_else(|| bad_reply(PROVIDER, &format!("a payment in `{code}`"), &reply))?;
    let amount = data
        .get("amount")
        .ok_or_else(|| bad_reply(PROVIDER, "a checked payment without an amount", &reply))?;
    let amount_minor = from_major_json(amount, currency)
        .map_err(|e| bad_reply(PROVIDER, &format!("the payment's amount: {e}"), &reply))?;
    Ok(Status {
        outcome,
        amount_minor,
        currency: currency.code.to_owned(),
    })
}

/// CinetPay's checkout API has no refund call (its transfer API pays out to a phone
/// number, which a refund request does not carry): the merchant refunds outside it and
/// the gateway records it. Nothing is sent.
pub async fn refund(
    _s: &Settings,
    _api: &impl ProviderApi,
    _provider_ref: &str,
    _amount_minor: i64,
    _currency: Currency,
) -> Result<Refund, AppError> {
    Ok(Refund::NotOffered)
}

fn known(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The description without the characters CinetPay asks not to send.
fn description(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if "#/$_&".contains(c) { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The amount as CinetPay takes it: whole units, multiples of [`AMOUNT_STEP`].
fn amount_to_send(amount_minor: i64, currency: Currency) -> Result<Value, AppError> {
    whole_units(
        "CinetPay",
        CURRENCIES,
        AMOUNT_STEP,
        amount_minor,
        currency,
        Vec::new(),
    )
}

fn json_headers() -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("Accept".into(), "application/json".into()),
    ]
}

/// A reply's `code`, written as a string by the docs (a number is read too).
fn code_of(v: &Value) -> Option<String> {
    match v.get("code")? {
        Value::String(code) => Some(code.clone()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// Our transaction ids are our payment ids, hyphenated.
fn is_transaction_id(text: &str) -> bool {
    text.len() == 36 && Uuid::try_parse(text).is_ok()
}

/// `provider_ref` is sent as `transaction_id`: only one of ours may be.
fn check_ref(provider_ref: &str) -> Result<(), AppError> {
    checked_ref(
        provider_ref,
        is_transaction_id,
        "a CinetPay transaction id of ours",
    )
}

/// `data.status` of a `"00"` check reply.
fn state_outcome(state: &str) -> Outcome {
    match state {
        "ACCEPTED" => Outcome::Succeeded,
        "REFUSED" => Outcome::Failed,
        "CANCELED" | "CANCELLED" => Outcome::Cancelled,
        "PENDING"
        | "WAITING_FOR_CUSTOMER"
        | "WAITING_CUSTOMER_TO_VALIDATE"
        | "WAITING_CUSTOMER_PAYMENT"
        | "WAITING_CUSTOMER_OTP_CODE" => Outcome::Pending,
        other => Outcome::Other(other.to_owned()),
    }
}

/// The code table's codes that name a payment's state; `None` for the others (errors
/// of the call itself).
fn code_outcome(code: &str) -> Option<Outcome> {
    match code {
        "600" | "602" => Some(Outcome::Failed),
        "627" => Some(Outcome::Cancelled),
        "623" | "662" | "663" => Some(Outcome::Pending),
        "604" => Some(Outcome::Other("OTP_CODE_ERROR".into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use serde_json::{Value, json};

    use super::super::signature::hmac_hex;
    use super::super::testing::{
        PAYMENT, Recorded, body_json, currency, header, headers, intent, is_502, settings,
    };
    use super::*;

    const BASE: &str = "https://api-checkout.cinetpay.com/v2";
    const API_KEY: &str = "12912847765bc0db748fdd44.40081707";
    const SITE_ID: &str = "445160";
    const SECRET_KEY: &str = "202110601c5d8fbe3f3a5.63548795";

    fn s() -> Settings {
        settings(
            BASE,
            &[
                ("API_KEY", API_KEY),
                ("SITE_ID", SITE_ID),
                ("SECRET_KEY", SECRET_KEY),
            ],
        )
    }

    // The example success reply of the initialization docs.
    const CREATED: &str = r#"{
        "code": "201",
        "message": "CREATED",
        "description": "Transaction created with success",
        "data": {
            "payment_token": "6d9f4a4b1c2e7e0f1a52c8b8d5b2e6b0f0e5d2c1",
            "payment_url": "https://checkout.cinetpay.com/payment/6d9f4a4b1c2e7e0f1a52c8b8d5b2e6b0f0e5d2c1"
        },
        "api_response_id": "1617808789.7749"
    }"#;

    #[test]
    fn checkout_initializes_the_payment_under_our_id() {
        let api = Recorded::new(&[(200, CREATED)]);
        let checkout = block_on(checkout(&s(), &api, &intent(2500, "XOF"))).unwrap();
        assert_eq!(
            checkout,
            Checkout {
                provider_ref: PAYMENT.into(),
                checkout_url:
                    "https://checkout.cinetpay.com/payment/6d9f4a4b1c2e7e0f1a52c8b8d5b2e6b0f0e5d2c1"
                        .into(),
            }
        );
        let sent = api.sent();
        assert_eq!(sent.len(), 1);
        let call = &sent[0];
        assert_eq!(call.method, "POST");
        assert_eq!(call.url, "https://api-checkout.cinetpay.com/v2/payment");
        assert_eq!(header(call, "content-type"), Some("application/json"));
        assert_eq!(
            header(call, "authorization"),
            None,
            "the key is in the body"
        );
        let body = body_json(call);
        assert_eq!(
            body,
            json!({
                "apikey": API_KEY,
                "site_id": SITE_ID,
                "transaction_id": PAYMENT,
                "amount": 2500,
                "currency": "XOF",
                "description": "Payhuk order 0193a5c0",
                "notify_url": "https://edge.payhuk.test/api/v1/payments/webhooks/x",
                "return_url": "https://shop.payhuk.test/orders/1",
                "channels": "ALL",
                "lang": "fr",
                "metadata": PAYMENT,
                "customer_name": "Lovelace",
                "customer_surname": "Ada",
                "customer_email": "ada@payhuk.test"
            })
        );
        assert!(body["amount"].is_i64(), "an Integer, as documented");
    }

    #[test]
    fn the_customer_is_sent_with_what_the_profile_has() {
        let sent = |name: Option<&str>, email: Option<&str>| {
            let api = Recorded::new(&[(200, CREATED)]);
            let mut intent = intent(1000, "XOF");
            intent.customer_name = name.map(str::to_owned);
            intent.customer_email = email.map(str::to_owned);
            block_on(checkout(&s(), &api, &intent)).unwrap();
            let body = body_json(&api.sent()[0]);
            (
                body.get("customer_name").cloned(),
                body.get("customer_surname").cloned(),
                body.get("customer_email").cloned(),
            )
        };
        assert_eq!(
            sent(Some("Jean-Marc Dje Bi"), None),
            (Some(json!("Dje Bi")), Some(json!("Jean-Marc")), None)
        );
        assert_eq!(
            sent(Some(" Awa "), Some("awa@payhuk.test")),
            (
                Some(json!("Awa")),
                Some(json!("Awa")),
                Some(json!("awa@payhuk.test"))
            )
        );
        assert_eq!(sent(Some(" "), Some("")), (None, None, None));
    }

    #[test]
    fn descriptions_lose_the_characters_cinetpay_refuses() {
        assert_eq!(
            description("Order #12 / 3_500$ & more"),
            "Order 12 3 500 more"
        );
        assert_eq!(
            description("Payhuk order 0193a5c0"),
            "Payhuk order 0193a5c0"
        );
        let api = Recorded::new(&[(200, CREATED)]);
        let mut intent = intent(1000, "XOF");
        intent.description = "Commande #7 & co".into();
        block_on(checkout(&s(), &api, &intent)).unwrap();
        assert_eq!(body_json(&api.sent()[0])["description"], "Commande 7 co");
    }

    #[test]
    fn amounts_go_in_whole_major_units() {
        for (minor, code, sent) in [
            (100, "XOF", 100),
            (5, "XAF", 5),
            (2500, "USD", 25),
            (1_000_000, "XOF", 1_000_000),
        ] {
            let api = Recorded::new(&[(200, CREATED)]);
            block_on(checkout(&s(), &api, &intent(minor, code))).unwrap();
            let body = body_json(&api.sent()[0]);
            assert_eq!(body["amount"], json!(sent), "{minor} {code}");
            assert!(body["amount"].is_i64());
            assert_eq!(body["currency"], code);
        }
    }

    #[test]
    fn what_cinetpay_cannot_take_is_refused_before_any_call() {
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
        assert_eq!(
            refused(1002, "XOF"),
            ["amount_minor"],
            "not a multiple of 5"
        );
        assert_eq!(refused(101, "XAF"), ["amount_minor"]);
        assert_eq!(refused(1, "XOF"), ["amount_minor"]);
        assert_eq!(refused(1234, "USD"), ["amount_minor"], "12.34 USD");
        assert_eq!(refused(1200, "USD"), ["amount_minor"], "12 USD");
        assert_eq!(refused(0, "XOF"), ["amount_minor"]);
        assert_eq!(refused(-5, "XOF"), ["amount_minor"]);
        assert_eq!(refused(1000, "EUR"), ["currency"]);
        assert_eq!(refused(1003, "GHS"), ["currency", "amount_minor"]);
        assert_eq!(refused(501, "NGN"), ["currency", "amount_minor"]);
        assert_eq!(
            refused(500, "NGN"),
            ["currency"],
            "5 NGN would do, in a currency it took"
        );
    }

    #[test]
    fn every_currency_taken_is_one_of_ours() {
        for code in CURRENCIES {
            assert!(Currency::parse(code).is_some(), "{code}");
        }
    }

    #[test]
    fn initialization_errors_are_502s_naming_cinetpay() {
        for (code, body) in [
            // The docs' error shape, with codes of the code table.
            (
                200,
                r#"{"code": "608", "message": "MINIMUM_REQUIRED_FIELDS", "description": "currency is required", "api_response_id": "1"}"#,
            ),
            (
                200,
                r#"{"code": "609", "message": "AUTH_NOT_FOUND", "api_response_id": "1"}"#,
            ),
            (
                400,
                r#"{"code": "624", "message": "PROCESSING_ERROR", "api_response_id": "1"}"#,
            ),
            (429, r#"{"code": "429", "message": "TOO_MANY_REQUEST"}"#),
            (500, "<html>Server Error</html>"),
            (200, "not json"),
            (
                200,
                r#"{"message": "CREATED", "data": {"payment_url": "https://checkout.cinetpay.com/x"}}"#,
            ),
            (
                200,
                r#"{"code": "00", "data": {"payment_url": "https://checkout.cinetpay.com/x"}}"#,
            ),
            (200, r#"{"code": "201", "message": "CREATED"}"#),
            (200, r#"{"code": "201", "data": {"payment_token": "t"}}"#),
            (
                200,
                r#"{"code": "201", "data": {"payment_url": "http://checkout.cinetpay.com/x"}}"#,
            ),
            (
                200,
                r#"{"code": "201", "data": {"payment_url": "javascript:alert(1)"}}"#,
            ),
            (200, r#"{"code": "201", "data": {"payment_url": 7}}"#),
        ] {
            let api = Recorded::new(&[(code, body)]);
            let result = block_on(checkout(&s(), &api, &intent(1000, "XOF")));
            assert!(is_502(PROVIDER, result), "{code} {body}");
        }
        // A numeric code is read as its digits.
        let numeric =
            r#"{"code": 201, "data": {"payment_url": "https://checkout.cinetpay.com/x"}}"#;
        let api = Recorded::new(&[(200, numeric)]);
        assert!(block_on(checkout(&s(), &api, &intent(1000, "XOF"))).is_ok());
    }

    /// The check reply of the verification docs, with the code, state and amount under
    /// test.
    fn checked(code: &str, message: &str, status: &str, amount: Value, currency: &str) -> String {
        json!({
            "code": code,
            "message": message,
            "data": {
                "amount": amount,
                "currency": currency,
                "status": status,
                "payment_method": "OM",
                "description": "Payhuk order 0193a5c0",
                "metadata": PAYMENT,
                "operator_id": "MP220915.2257.A76307",
                "payment_date": "2022-09-15 22:57:20",
                "fund_availability_date": "2022-09-17 00:00:00"
            },
            "api_response_id": "1663282698.5264"
        })
        .to_string()
    }

    fn check(http: u16, reply: &str) -> Result<Status, AppError> {
        let api = Recorded::new(&[(http, reply)]);
        let result = block_on(status(&s(), &api, PAYMENT, currency("XOF")));
        let sent = api.sent();
        assert_eq!(sent.len(), 1);
        let call = &sent[0];
        assert_eq!(call.method, "POST");
        assert_eq!(
            call.url,
            "https://api-checkout.cinetpay.com/v2/payment/check"
        );
        assert_eq!(header(call, "content-type"), Some("application/json"));
        assert_eq!(
            body_json(call),
            json!({"apikey": API_KEY, "site_id": SITE_ID, "transaction_id": PAYMENT})
        );
        result
    }

    #[test]
    fn status_maps_every_documented_state() {
        for (state, outcome) in [
            ("ACCEPTED", Outcome::Succeeded),
            ("REFUSED", Outcome::Failed),
            ("CANCELED", Outcome::Cancelled),
            ("CANCELLED", Outcome::Cancelled),
            ("PENDING", Outcome::Pending),
            ("WAITING_FOR_CUSTOMER", Outcome::Pending),
            ("WAITING_CUSTOMER_TO_VALIDATE", Outcome::Pending),
            ("WAITING_CUSTOMER_PAYMENT", Outcome::Pending),
            ("WAITING_CUSTOMER_OTP_CODE", Outcome::Pending),
            ("SOMETHING_NEW", Outcome::Other("SOMETHING_NEW".into())),
        ] {
            let reply = checked("00", "SUCCES", state, json!("100"), "XOF");
            assert_eq!(
                check(200, &reply).unwrap(),
                Status {
                    outcome,
                    amount_minor: 100,
                    currency: "XOF".into()
                },
                "{state}"
            );
        }
    }

    #[test]
    fn codes_that_name_a_payments_state_are_mapped_with_any_http_status() {
        for (code, message, outcome) in [
            ("600", "PAYMENT_FAILED", Outcome::Failed),
            ("602", "INSUFFICIENT_BALANCE", Outcome::Failed),
            ("627", "TRANSACTION_CANCEL", Outcome::Cancelled),
            ("623", "WAITING_CUSTOMER_TO_VALIDATE", Outcome::Pending),
            ("662", "WAITING_CUSTOMER_PAYMENT", Outcome::Pending),
            ("663", "WAITING_CUSTOMER_OTP_CODE", Outcome::Pending),
            (
                "604",
                "OTP_CODE_ERROR",
                Outcome::Other("OTP_CODE_ERROR".into()),
            ),
        ] {
            for http in [200, 400, 404] {
                let reply = checked(code, message, "REFUSED", json!(100), "XOF");
                let status = check(http, &reply).unwrap();
                assert_eq!(status.outcome, outcome, "{code} with HTTP {http}");
                assert_eq!(status.amount_minor, 100);
            }
        }
    }

    #[test]
    fn only_00_with_accepted_is_a_success() {
        // A failure code with an ACCEPTED state contradicts itself.
        let reply = checked("600", "PAYMENT_FAILED", "ACCEPTED", json!("100"), "XOF");
        assert!(is_502(PROVIDER, check(200, &reply)));
        // `00` under an HTTP error is not believed either.
        let reply = checked("00", "SUCCES", "ACCEPTED", json!("100"), "XOF");
        assert!(is_502(PROVIDER, check(400, &reply)));
        // `00` with a refusal is a refusal.
        let reply = checked("00", "SUCCES", "REFUSED", json!("100"), "XOF");
        assert_eq!(check(200, &reply).unwrap().outcome, Outcome::Failed);
    }

    #[test]
    fn status_amounts_are_major_units_read_exactly() {
        for (amount, code, expected) in [
            (json!("100"), "XOF", Some(100)),
            (json!(100), "XOF", Some(100)),
            (json!("100.00"), "XAF", Some(100)),
            (json!("25"), "USD", Some(2500)),
            (json!(25.5), "USD", Some(2550)),
            (json!("10.5"), "XOF", None),
            (json!("12.345"), "USD", None),
            (json!("1e3"), "XOF", None),
            (json!(""), "XOF", None),
            (json!(null), "XOF", None),
            (json!("100"), "EUR", None),
            (json!("100"), "CDF", None),
        ] {
            let reply = checked("00", "SUCCES", "ACCEPTED", amount.clone(), code);
            match expected {
                Some(minor) => {
                    let status = check(200, &reply).unwrap();
                    assert_eq!(
                        (status.amount_minor, status.currency.as_str()),
                        (minor, code)
                    );
                }
                None => assert!(is_502(PROVIDER, check(200, &reply)), "{amount} {code}"),
            }
        }
    }

    #[test]
    fn status_errors_are_502s_and_odd_refs_are_never_sent() {
        let without_status = {
            let mut v: Value =
                serde_json::from_str(&checked("00", "SUCCES", "ACCEPTED", json!("100"), "XOF"))
                    .unwrap();
            v["data"].as_object_mut().unwrap().remove("status");
            v.to_string()
        };
        let without_amount = {
            let mut v: Value = serde_json::from_str(&checked(
                "627",
                "TRANSACTION_CANCEL",
                "REFUSED",
                json!("100"),
                "XOF",
            ))
            .unwrap();
            v["data"].as_object_mut().unwrap().remove("amount");
            v.to_string()
        };
        for (http, body) in [
            // Codes of the code table that are errors of the call, not states.
            (
                200,
                r#"{"code": "609", "message": "AUTH_NOT_FOUND", "api_response_id": "1"}"#
                    .to_owned(),
            ),
            (
                400,
                r#"{"code": "608", "message": "MINIMUM_REQUIRED_FIELDS"}"#.to_owned(),
            ),
            (
                200,
                r#"{"code": "606", "message": "INCORRECT_SETTINGS"}"#.to_owned(),
            ),
            (
                200,
                r#"{"code": "624", "message": "PROCESSING_ERROR"}"#.to_owned(),
            ),
            (
                200,
                r#"{"code": "625", "message": "ABONNEMENT_OR_TRANSACTIONS_EXPIRED"}"#.to_owned(),
            ),
            (
                429,
                r#"{"code": "429", "message": "TOO_MANY_REQUEST"}"#.to_owned(),
            ),
            (
                500,
                checked("00", "SUCCES", "ACCEPTED", json!("100"), "XOF"),
            ),
            (
                302,
                checked("00", "SUCCES", "ACCEPTED", json!("100"), "XOF"),
            ),
            (200, "<html></html>".to_owned()),
            (200, r#"{"message": "SUCCES", "data": {}}"#.to_owned()),
            (200, r#"{"code": "00", "message": "SUCCES"}"#.to_owned()),
            (
                200,
                r#"{"code": "600", "message": "PAYMENT_FAILED"}"#.to_owned(),
            ),
            (200, without_status),
            (200, without_amount),
        ] {
            assert!(is_502(PROVIDER, check(http, &body)), "{http} {body}");
        }
        let long = format!("{PAYMENT}0");
        for odd in [
            "",
            "REFID12354",
            "0193a5c0000070008000000000000001",
            "{0193a5c0-0000-7000-8000-000000000001}",
            "0193a5c0-0000-7000-8000-00000000000g",
            long.as_str(),
        ] {
            let api = Recorded::new(&[]);
            assert!(matches!(
                block_on(status(&s(), &api, odd, currency("XOF"))),
                Err(AppError::Validation(_))
            ));
            assert!(api.sent().is_empty(), "{odd}");
        }
    }

    #[test]
    fn refunds_are_not_offered_and_nothing_is_sent() {
        let api = Recorded::new(&[]);
        let refund = block_on(refund(&s(), &api, PAYMENT, 100, currency("XOF")));
        assert_eq!(refund.unwrap(), Refund::NotOffered);
        assert!(api.sent().is_empty());
    }

    // ---- notifications -------------------------------------------------------------

    /// A notification's sixteen fields, as the HMAC docs list them.
    fn fields() -> Vec<(&'static str, String)> {
        vec![
            ("cpm_site_id", SITE_ID.into()),
            ("cpm_trans_id", PAYMENT.into()),
            ("cpm_trans_date", "2022-09-15 22:57:20".into()),
            ("cpm_amount", "2500".into()),
            ("cpm_currency", "XOF".into()),
            ("signature", "d2ba2f0a5d4b0a3b7f1e".into()),
            ("payment_method", "OM".into()),
            ("cel_phone_num", "0749012966".into()),
            ("cpm_phone_prefixe", "225".into()),
            ("cpm_language", "fr".into()),
            ("cpm_version", "V4".into()),
            ("cpm_payment_config", "Single".into()),
            ("cpm_page_action", "Payment".into()),
            ("cpm_custom", PAYMENT.into()),
            ("cpm_designation", "Payhuk order 0193a5c0 & co".into()),
            ("cpm_error_message", "SUCCES".into()),
        ]
    }

    fn form(fields: &[(&str, String)]) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        form.finish()
    }

    /// The docs' recipe, spelled out: the values concatenated in their order.
    fn token_for(secret: &str, fields: &[(&str, String)]) -> String {
        let data: String = SIGNED_FIELDS
            .iter()
            .map(|name| {
                fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or("", |(_, v)| v.as_str())
            })
            .collect();
        hmac_hex(secret.as_bytes(), data.as_bytes())
    }

    fn receive(token: Option<&str>, body: &str) -> Result<Notification, NotificationError> {
        let h = match token {
            Some(t) => headers(&[("x-token", t)]),
            None => headers(&[]),
        };
        notification(&s(), &h, body.as_bytes())
    }

    fn read(fields: &[(&str, String)]) -> Result<Notification, NotificationError> {
        receive(Some(&token_for(SECRET_KEY, fields)), &form(fields))
    }

    #[test]
    fn a_signed_notification_names_the_payment_and_is_confirmed() {
        let n = read(&fields()).unwrap();
        assert_eq!(
            n,
            Notification {
                event_id: format!("cinetpay:{PAYMENT}"),
                payment: PaymentRef::Provider(PAYMENT.into()),
                outcome: Outcome::Pending,
                amount_minor: Some(2500),
                confirm: true,
            }
        );
        // A redelivery is the same event.
        assert_eq!(read(&fields()).unwrap().event_id, n.event_id);
        // Upper-case hex and surrounding spaces are the same token.
        let loud = format!(" {} ", token_for(SECRET_KEY, &fields()).to_uppercase());
        assert!(receive(Some(&loud), &form(&fields())).is_ok());
        // The form's order does not matter, the documented one is signed.
        let mut reversed = fields();
        reversed.reverse();
        assert_eq!(
            receive(Some(&token_for(SECRET_KEY, &fields())), &form(&reversed)).unwrap(),
            n
        );
        // Fields the docs do not list are not signed, and do not matter.
        let mut more = fields();
        more.push(("cpm_result", "00".into()));
        assert!(receive(Some(&token_for(SECRET_KEY, &fields())), &form(&more)).is_ok());
    }

    #[test]
    fn the_token_is_hmac_sha256_of_the_values_in_the_documented_order() {
        let f = fields();
        let concatenated = f.iter().map(|(_, v)| v.as_str()).collect::<String>();
        assert!(concatenated.starts_with(&format!("{SITE_ID}{PAYMENT}2022-09-15 22:57:202500XOF")));
        let token = hmac_hex(SECRET_KEY.as_bytes(), concatenated.as_bytes());
        assert!(receive(Some(&token), &form(&f)).is_ok());
        // Any other order is another token.
        let mut swapped: Vec<&str> = f.iter().map(|(_, v)| v.as_str()).collect();
        swapped.swap(0, 1);
        let wrong = hmac_hex(SECRET_KEY.as_bytes(), swapped.concat().as_bytes());
        assert_eq!(
            receive(Some(&wrong), &form(&f)),
            Err(NotificationError::BadSignature)
        );
    }

    #[test]
    fn tokens_that_do_not_match_are_refused() {
        let f = fields();
        let good = token_for(SECRET_KEY, &f);
        let body = form(&f);
        for (token, sent) in [
            (Some(token_for("another secret", &f)), body.clone()),
            (Some(good.clone()), body.replace("2500", "2505")),
            (Some(good.clone()), body.replace("OM", "MOMO")),
            (Some(good.clone()), body.replace("SUCCES", "PAYMENT_FAILED")),
            (Some(format!("sha256={good}")), body.clone()),
            (Some(good[..32].to_owned()), body.clone()),
            (Some(String::new()), body.clone()),
            (Some("not hex".to_owned()), body.clone()),
            (None, body.clone()),
            // A signed field given twice: which one was signed is not guessed.
            (Some(good.clone()), format!("{body}&cpm_amount=2500")),
            (Some(good.clone()), format!("{body}&cpm_trans_id={PAYMENT}")),
        ] {
            assert_eq!(
                receive(token.as_deref(), &sent),
                Err(NotificationError::BadSignature),
                "{token:?} {sent}"
            );
        }
        let no_secret = settings(
            BASE,
            &[
                ("API_KEY", API_KEY),
                ("SITE_ID", SITE_ID),
                ("SECRET_KEY", ""),
            ],
        );
        let unkeyed = token_for("", &f);
        assert_eq!(
            notification(
                &no_secret,
                &headers(&[("x-token", unkeyed.as_str())]),
                body.as_bytes()
            ),
            Err(NotificationError::BadSignature),
            "an empty secret signs nothing"
        );
    }

    #[test]
    fn missing_fields_are_signed_as_empty() {
        let mut f = fields();
        f.retain(|(k, _)| !["cel_phone_num", "cpm_custom", "cpm_error_message"].contains(k));
        assert!(read(&f).is_ok());
        // ... and so are empty ones.
        let mut f = fields();
        f[15].1 = String::new();
        assert!(read(&f).is_ok());
    }

    #[test]
    fn notifications_for_another_site_or_transaction_are_unreadable() {
        let with = |name: &str, value: &str| {
            let mut f = fields();
            f.iter_mut().find(|(k, _)| *k == name).unwrap().1 = value.to_owned();
            read(&f)
        };
        for (name, value) in [
            ("cpm_site_id", "445161"),
            ("cpm_site_id", ""),
            ("cpm_trans_id", "REFID12354"),
            ("cpm_trans_id", ""),
            ("cpm_trans_id", "../0193a5c0-0000-7000-8000-000000000001"),
        ] {
            assert!(
                matches!(with(name, value), Err(NotificationError::Unreadable(_))),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn notified_amounts_are_advisory_and_exact() {
        let with = |amount: &str, code: &str| {
            let mut f = fields();
            f[3].1 = amount.to_owned();
            f[4].1 = code.to_owned();
            read(&f).unwrap().amount_minor
        };
        assert_eq!(with("2500", "XOF"), Some(2500));
        assert_eq!(with("25", "USD"), Some(2500));
        assert_eq!(with("25.50", "USD"), Some(2550));
        assert_eq!(with("10.5", "XOF"), None);
        assert_eq!(with("abc", "XOF"), None);
        assert_eq!(
            with("100", "CDF"),
            None,
            "not a currency used with CinetPay here"
        );
        assert_eq!(with("100", "EUR"), None);
        assert_eq!(with("", ""), None);
    }
}
