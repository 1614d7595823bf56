//! Payment providers, one adapter module each: creating a checkout through the
//! provider's API, reading its notifications as it really signs them, asking it for a
//! payment's status, and refunding where it has an API for that.
//!
//! Adapters are pure apart from [`ProviderApi`], the one door to the providers' HTTP
//! APIs (the edge sends through its upstream client with a deadline; unit tests answer
//! with recorded replies). Amounts cross in the provider's units through
//! [`super::amount`] only.

pub mod cinetpay;
pub mod fedapay;
pub mod moneroo;
pub mod paydunya;
pub mod signature;

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::amount::Currency;
use crate::config::Secret;
use crate::error::{AppError, FieldProblem};
use crate::region::HeaderLookup;

/// A request to a provider's API, as the adapter built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    /// `GET` or `POST`.
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Empty for a `GET`.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiReply {
    pub status: u16,
    pub body: Vec<u8>,
}

#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait ProviderApi {
    /// Sends `call` to the provider named `provider` within the request's deadline.
    /// Unreachable is a 502 and no answer in time a 504, already classified.
    async fn send(&self, provider: &str, call: ApiCall) -> Result<ApiReply, AppError>;
}

/// One provider's endpoint and credentials, from `<PROVIDER>_API_BASE` and
/// `<PROVIDER>_<CREDENTIAL>` (see each adapter's `CREDENTIALS`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// No trailing slash, e.g. `https://sandbox-api.fedapay.com`.
    pub api_base: String,
    pub credentials: Vec<(&'static str, Secret)>,
}

impl Settings {
    /// A credential the adapter declared; config refuses a provider missing any.
    pub fn credential(&self, name: &str) -> &str {
        self.credentials
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, s)| s.expose())
    }
}

/// What the gateway asks a provider to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub payment_id: Uuid,
    pub amount_minor: i64,
    pub currency: Currency,
    /// Shown to the customer on the provider's page.
    pub description: String,
    pub customer_email: Option<String>,
    /// The customer's display name, when their profile has one.
    pub customer_name: Option<String>,
    /// Where the provider sends the customer back after paying.
    pub return_url: String,
    /// The gateway's `/api/v1/payments/webhooks/<provider>`.
    pub notify_url: String,
}

/// A created checkout: where to send the customer, and the provider's id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub provider_ref: String,
    pub checkout_url: String,
}

/// Which payment a notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRef {
    /// Ours, echoed from the metadata we sent.
    Payment(Uuid),
    /// The provider's id, as `Checkout::provider_ref` recorded it.
    Provider(String),
}

/// A payment's state, as a notification or the provider's API gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
    /// Still open at the provider (created, pending, waiting for the customer).
    Pending,
    /// A state payments do not act on, by the provider's name for it.
    Other(String),
}

impl Outcome {
    pub fn as_status(&self) -> Option<&'static str> {
        match self {
            Outcome::Succeeded => Some("succeeded"),
            Outcome::Failed => Some("failed"),
            Outcome::Cancelled => Some("cancelled"),
            Outcome::Pending | Outcome::Other(_) => None,
        }
    }
}

/// A verified notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Unique per event at this provider: a redelivery carries the same.
    pub event_id: String,
    pub payment: PaymentRef,
    pub outcome: Outcome,
    /// In minor units, when the notification states it.
    pub amount_minor: Option<i64>,
    /// The provider says to ask its API before acting on this (Moneroo, PayDunya,
    /// CinetPay), or the notification does not carry the state at all.
    pub confirm: bool,
}

/// What the provider's API says about a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub outcome: Outcome,
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationError {
    /// No signature, or one that does not match: not from the provider.
    BadSignature,
    /// Signed, but too long ago (or in the future): a replay.
    Stale { age_secs: i64 },
    /// Signed, but not a notification this adapter understands.
    Unreadable(String),
}

/// What became of a refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// The provider accepted it, under this reference.
    Accepted { provider_ref: String },
    /// The provider has no refund API: the merchant refunds outside it, and the
    /// gateway records it.
    NotOffered,
}

/// A provider answered, but not as its API documents a success: a 502 with the reason
/// (bounded: a provider's error page is not copied to the client).
pub fn bad_reply(provider: &str, what: &str, reply: &ApiReply) -> AppError {
    let text = String::from_utf8_lossy(&reply.body);
    let excerpt: String = text.chars().take(200).collect();
    AppError::UpstreamBadResponse {
        upstream: provider.to_owned(),
        cause: format!("{what}: HTTP {}: {excerpt}", reply.status),
    }
}

/// A 2xx reply's JSON, or a 502 naming the provider.
pub fn json_reply(
    provider: &str,
    reply: &ApiReply,
    what: &str,
) -> Result<serde_json::Value, AppError> {
    if !(200..300).contains(&reply.status) {
        return Err(bad_reply(provider, what, reply));
    }
    serde_json::from_slice(&reply.body)
        .map_err(|_| bad_reply(provider, &format!("{what}: not JSON"), reply))
}

/// An amount as the providers take it: a JSON integer of major units (`12.00` EUR
/// goes as 12, `12.34` EUR cannot go), in one of `currencies`, a multiple of `step`,
/// more than zero, and read back through [`super::amount`] to exactly the amount
/// asked for. Every reason it cannot go, with the caller's own `problems`, is a 422
/// before anything is sent: never rounded or truncated.
pub fn whole_units(
    provider: &str,
    currencies: &[&str],
    step: i64,
    amount_minor: i64,
    currency: Currency,
    mut problems: Vec<FieldProblem>,
) -> Result<serde_json::Value, AppError> {
    if !currencies.contains(&currency.code) {
        problems.push(FieldProblem::new(
            "currency",
            format!(
                "{provider} takes {}, not {}",
                currencies.join(", "),
                currency.code
            ),
        ));
    }
    let text = super::amount::to_major(amount_minor, currency);
    let whole = match text.split_once('.') {
        None => Some(text.as_str()),
        Some((units, fraction)) if fraction.bytes().all(|b| b == b'0') => Some(units),
        Some(_) => None,
    };
    let number = whole.and_then(|w| {
        let n = serde_json::Number::from_str(w)
            .ok()
            .filter(serde_json::Number::is_i64)?;
        (super::amount::from_major(w, currency) == Ok(amount_minor)).then_some(n)
    });
    if amount_minor <= 0 {
        problems.push(FieldProblem::new("amount_minor", "must be more than zero"));
    } else {
        match number.as_ref().and_then(serde_json::Number::as_i64) {
            None => problems.push(FieldProblem::new(
                "amount_minor",
                format!(
                    "{provider} takes whole units of {} only, and {text} is not",
                    currency.code
                ),
            )),
            Some(units) if units % step != 0 => problems.push(FieldProblem::new(
                "amount_minor",
                format!(
                    "{provider} takes {} in multiples of {step}, and {text} is not",
                    currency.code
                ),
            )),
            Some(_) => {}
        }
    }
    match number {
        Some(n) if problems.is_empty() => Ok(serde_json::Value::Number(n)),
        _ => Err(AppError::Validation(problems)),
    }
}

/// A reference that goes into a provider's URL or request: only one of the provider's
/// shape (`valid`), else a 422 naming what it should have been.
pub fn checked_ref(
    provider_ref: &str,
    valid: fn(&str) -> bool,
    kind: &str,
) -> Result<(), AppError> {
    if valid(provider_ref) {
        Ok(())
    } else {
        Err(AppError::Validation(vec![FieldProblem::new(
            "provider_ref",
            format!("is not {kind}"),
        )]))
    }
}

/// A checkout URL a provider answered with is where we send a customer to pay: https,
/// or plain http only when the provider's API itself is (a local sandbox).
pub fn checkout_url_ok(url: &str, settings: &Settings) -> bool {
    let sandboxed = settings.api_base.starts_with("http://");
    url::Url::parse(url).is_ok_and(|u| {
        u.host().is_some() && (u.scheme() == "https" || (sandboxed && u.scheme() == "http"))
    })
}

/// Where to send a notification's failure: the provider sees 401 or 400 and retries.
impl fmt::Display for NotificationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotificationError::BadSignature => f.write_str("bad signature"),
            NotificationError::Stale { age_secs } => write!(f, "signed {age_secs} s off"),
            NotificationError::Unreadable(why) => f.write_str(why),
        }
    }
}

/// The providers with an adapter, by the name used in URLs, config and the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    FedaPay,
    Moneroo,
    PayDunya,
    CinetPay,
}

pub const PROVIDERS: [Provider; 4] = [
    Provider::FedaPay,
    Provider::Moneroo,
    Provider::PayDunya,
    Provider::CinetPay,
];

impl Provider {
    pub fn parse(name: &str) -> Option<Provider> {
        PROVIDERS.into_iter().find(|p| p.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::FedaPay => "fedapay",
            Provider::Moneroo => "moneroo",
            Provider::PayDunya => "paydunya",
            Provider::CinetPay => "cinetpay",
        }
    }

    /// The credentials config must give (`<PROVIDER>_<NAME>`), all of them or none.
    pub fn credentials(self) -> &'static [&'static str] {
        match self {
            Provider::FedaPay => fedapay::CREDENTIALS,
            Provider::Moneroo => moneroo::CREDENTIALS,
            Provider::PayDunya => paydunya::CREDENTIALS,
            Provider::CinetPay => cinetpay::CREDENTIALS,
        }
    }

    /// The production API, when `<PROVIDER>_API_BASE` is not set.
    pub fn default_api_base(self) -> &'static str {
        match self {
            Provider::FedaPay => fedapay::API_BASE,
            Provider::Moneroo => moneroo::API_BASE,
            Provider::PayDunya => paydunya::API_BASE,
            Provider::CinetPay => cinetpay::API_BASE,
        }
    }

    pub fn accepts(self, currency: Currency) -> bool {
        let list = match self {
            Provider::FedaPay => fedapay::CURRENCIES,
            Provider::Moneroo => moneroo::CURRENCIES,
            Provider::PayDunya => paydunya::CURRENCIES,
            Provider::CinetPay => cinetpay::CURRENCIES,
        };
        list.contains(&currency.code)
    }

    pub async fn checkout(
        self,
        settings: &Settings,
        api: &impl ProviderApi,
        intent: &Intent,
    ) -> Result<Checkout, AppError> {
        match self {
            Provider::FedaPay => fedapay::checkout(settings, api, intent).await,
            Provider::Moneroo => moneroo::checkout(settings, api, intent).await,
            Provider::PayDunya => paydunya::checkout(settings, api, intent).await,
            Provider::CinetPay => cinetpay::checkout(settings, api, intent).await,
        }
    }

    /// Verifies and reads a notification (`now` and `tolerance_secs` for the
    /// providers that sign a timestamp).
    pub fn notification(
        self,
        settings: &Settings,
        headers: &impl HeaderLookup,
        body: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<Notification, NotificationError> {
        match self {
            Provider::FedaPay => {
                fedapay::notification(settings, headers, body, now, tolerance_secs)
            }
            Provider::Moneroo => moneroo::notification(settings, headers, body),
            Provider::PayDunya => paydunya::notification(settings, headers, body),
            Provider::CinetPay => cinetpay::notification(settings, headers, body),
        }
    }

    /// The payment's state at the provider, by `Checkout::provider_ref`.
    pub async fn status(
        self,
        settings: &Settings,
        api: &impl ProviderApi,
        provider_ref: &str,
        currency: Currency,
    ) -> Result<Status, AppError> {
        match self {
            Provider::FedaPay => fedapay::status(settings, api, provider_ref, currency).await,
            Provider::Moneroo => moneroo::status(settings, api, provider_ref, currency).await,
            Provider::PayDunya => paydunya::status(settings, api, provider_ref, currency).await,
            Provider::CinetPay => cinetpay::status(settings, api, provider_ref, currency).await,
        }
    }

    pub async fn refund(
        self,
        settings: &Settings,
        api: &impl ProviderApi,
        provider_ref: &str,
        amount_minor: i64,
        currency: Currency,
    ) -> Result<Refund, AppError> {
        match self {
            Provider::FedaPay => {
                fedapay::refund(settings, api, provider_ref, amount_minor, currency).await
            }
            Provider::Moneroo => {
                moneroo::refund(settings, api, provider_ref, amount_minor, currency).await
            }
            Provider::PayDunya => {
                paydunya::refund(settings, api, provider_ref, amount_minor, currency).await
            }
            Provider::CinetPay => {
                cinetpay::refund(settings, api, provider_ref, amount_minor, currency).await
            }
        }
    }
}

#[cfg(test)]
pub mod testing {
    //! Recorded replies for adapters' unit tests: each call is checked against what the
    //! test expects to be sent, in order, and answered with the recorded reply.

    use std::cell::RefCell;
    use std::collections::{HashMap, VecDeque};

    use super::*;
    use crate::config::Secret;

    pub struct Recorded {
        pub replies: RefCell<VecDeque<(u16, String)>>,
        pub sent: RefCell<Vec<ApiCall>>,
    }

    impl Recorded {
        pub fn new(replies: &[(u16, &str)]) -> Recorded {
            Recorded {
                replies: RefCell::new(replies.iter().map(|(s, b)| (*s, (*b).to_owned())).collect()),
                sent: RefCell::new(Vec::new()),
            }
        }

        pub fn sent(&self) -> Vec<ApiCall> {
            self.sent.borrow().clone()
        }
    }

    impl ProviderApi for Recorded {
        async fn send(&self, _provider: &str, call: ApiCall) -> Result<ApiReply, AppError> {
            self.sent.borrow_mut().push(call);
            let (status, body) = self
                .replies
                .borrow_mut()
                .pop_front()
                .expect("a recorded reply for every call");
            Ok(ApiReply {
                status,
                body: body.into_bytes(),
            })
        }
    }

    pub fn settings(api_base: &str, credentials: &[(&'static str, &str)]) -> Settings {
        Settings {
            api_base: api_base.to_owned(),
            credentials: credentials
                .iter()
                .map(|(n, v)| (*n, Secret::new(*v)))
                .collect(),
        }
    }

    /// The payment every [`intent`] is for.
    pub const PAYMENT: &str = "0193a5c0-0000-7000-8000-000000000001";

    pub fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    /// A header of a call the adapter built, by any case of its name.
    pub fn header<'a>(call: &'a ApiCall, name: &str) -> Option<&'a str> {
        call.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_json(call: &ApiCall) -> serde_json::Value {
        serde_json::from_slice(&call.body).expect("a JSON body")
    }

    /// A 502 that names `provider`.
    pub fn is_502(provider: &str, result: Result<impl std::fmt::Debug, AppError>) -> bool {
        matches!(result, Err(AppError::UpstreamBadResponse { ref upstream, .. }) if upstream == provider)
    }

    /// Headers by lower-case name, as `HeaderLookup` is asked.
    pub fn headers(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    pub fn intent(amount_minor: i64, currency: &str) -> Intent {
        Intent {
            payment_id: Uuid::parse_str(PAYMENT).unwrap(),
            amount_minor,
            currency: Currency::parse(currency).unwrap(),
            description: "Payhuk order 0193a5c0".into(),
            customer_email: Some("ada@payhuk.test".into()),
            customer_name: Some("Ada Lovelace".into()),
            return_url: "https://shop.payhuk.test/orders/1".into(),
            notify_url: "https://edge.payhuk.test/api/v1/payments/webhooks/x".into(),
        }
    }
}
