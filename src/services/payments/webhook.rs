//! Provider notifications: who may send them (signature), when (timestamp tolerance),
//! and what they say (payload mapping), per provider. Pure; the database applies them.
//!
//! | provider | signature header | signed message | timestamp | payment id in the payload |
//! |---|---|---|---|---|
//! | `fedapay` | `x-fedapay-signature: t=<unix>,s=<hex>` | `<t>.<raw body>` | `t`, within tolerance | `entity.custom_metadata.payhuk_payment_id` |
//! | `moneroo` | `x-moneroo-signature: <hex>` | the raw body | none sent: redeliveries are caught by event id | `data.metadata.payhuk_payment_id` |
//! | `test` | `x-payhuk-signature: t=<unix>,v1=<hex>` | `<t>.<raw body>` | `t`, within tolerance | `payment_id` |
//!
//! Every signature is HMAC-SHA256 with the provider's secret, compared in constant time.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

use crate::region::HeaderLookup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    FedaPay,
    Moneroo,
    Test,
}

/// What a notification says happened to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
    /// An event kind payments do not act on (created, pending, ...).
    Other(String),
}

impl Outcome {
    pub fn as_status(&self) -> Option<&'static str> {
        match self {
            Outcome::Succeeded => Some("succeeded"),
            Outcome::Failed => Some("failed"),
            Outcome::Cancelled => Some("cancelled"),
            Outcome::Other(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub event_id: String,
    pub payment_id: Uuid,
    pub outcome: Outcome,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookError {
    /// No signature, or one that does not match: not from the provider.
    BadSignature,
    /// Signed, but too long ago (or in the future): a replay.
    Stale { age_secs: i64 },
    /// Signed, but not a notification this mapping understands.
    Unreadable(String),
}

impl Provider {
    pub fn parse(name: &str) -> Option<Provider> {
        match name {
            "fedapay" => Some(Provider::FedaPay),
            "moneroo" => Some(Provider::Moneroo),
            "test" => Some(Provider::Test),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::FedaPay => "fedapay",
            Provider::Moneroo => "moneroo",
            Provider::Test => "test",
        }
    }

    /// Checks the signature (and the timestamp, where the provider sends one).
    pub fn verify(
        self,
        headers: &impl HeaderLookup,
        body: &[u8],
        secret: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<(), WebhookError> {
        let (header, scheme) = match self {
            Provider::FedaPay => ("x-fedapay-signature", "s"),
            Provider::Test => ("x-payhuk-signature", "v1"),
            Provider::Moneroo => {
                let signature = headers
                    .header("x-moneroo-signature")
                    .ok_or(WebhookError::BadSignature)?;
                return check(secret, &[body], signature.trim());
            }
        };
        let value = headers.header(header).ok_or(WebhookError::BadSignature)?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in value.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                Some((k, v)) if k == scheme => signatures.push(v.to_owned()),
                _ => {}
            }
        }
        let t = timestamp.ok_or(WebhookError::BadSignature)?;
        let message = [t.to_string().as_bytes(), b".", body].concat();
        // Any listed signature may match (providers list two while rotating secrets).
        if !signatures
            .iter()
            .any(|s| check(secret, &[&message], s).is_ok())
        {
            return Err(WebhookError::BadSignature);
        }
        // `t` is the sender's: far enough off, `now - t` does not fit in an i64 (found by
        // the `webhook` fuzz target). Saturate, short of i64::MIN so it can be negated.
        let age = now.saturating_sub(t).max(-i64::MAX);
        if age.abs() > tolerance_secs {
            return Err(WebhookError::Stale { age_secs: age });
        }
        Ok(())
    }

    /// What the (verified) body says, through this provider's payload mapping.
    pub fn read(self, body: &[u8]) -> Result<Notification, WebhookError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| WebhookError::Unreadable(format!("not JSON: {e}")))?;
        let text = |pointer: &str| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let number = |pointer: &str| v.pointer(pointer).and_then(Value::as_i64);
        let missing =
            |what: &str| WebhookError::Unreadable(format!("{} has no {what}", self.name()));
        let (event_id, kind, payment, amount) = match self {
            Provider::FedaPay => (
                v.pointer("/id")
                    .map(|id| id.to_string().trim_matches('"').to_owned()),
                text("/name"),
                text("/entity/custom_metadata/payhuk_payment_id"),
                number("/entity/amount"),
            ),
            Provider::Moneroo => {
                let event = text("/event");
                let data_id = v
                    .pointer("/data/id")
                    .map(|id| id.to_string().trim_matches('"').to_owned());
                (
                    event
                        .clone()
                        .zip(data_id)
                        .map(|(e, id)| format!("{e}:{id}")),
                    event,
                    text("/data/metadata/payhuk_payment_id"),
                    number("/data/amount"),
                )
            }
            Provider::Test => (
                text("/event_id"),
                text("/status"),
                text("/payment_id"),
                number("/amount_minor"),
            ),
        };
        let kind = kind.ok_or_else(|| missing("event kind"))?;
        let outcome = match (self, kind.as_str()) {
            (Provider::FedaPay, "transaction.approved")
            | (Provider::Moneroo, "payment.success")
            | (Provider::Test, "succeeded") => Outcome::Succeeded,
            (Provider::FedaPay, "transaction.declined")
            | (Provider::Moneroo, "payment.failed")
            | (Provider::Test, "failed") => Outcome::Failed,
            (Provider::FedaPay, "transaction.canceled")
            | (Provider::Moneroo, "payment.cancelled")
            | (Provider::Test, "cancelled") => Outcome::Cancelled,
            _ => Outcome::Other(kind),
        };
        Ok(Notification {
            event_id: event_id
                .filter(|e| !e.is_empty() && e.len() <= 200)
                .ok_or_else(|| missing("event id"))?,
            payment_id: payment
                .and_then(|p| Uuid::parse_str(&p).ok())
                .ok_or_else(|| missing("payhuk_payment_id"))?,
            outcome,
            amount_minor: amount.ok_or_else(|| missing("amount"))?,
        })
    }
}

/// Constant-time check of a hex HMAC-SHA256 over the concatenated `parts`.
fn check(secret: &[u8], parts: &[&[u8]], signature_hex: &str) -> Result<(), WebhookError> {
    let signature = hex::decode(signature_hex).map_err(|_| WebhookError::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(&signature)
        .map_err(|_| WebhookError::BadSignature)
}

/// A signature header as `provider` sends it, for tests and for a provider simulator.
pub fn sign(
    provider: Provider,
    body: &[u8],
    secret: &[u8],
    timestamp: i64,
) -> (&'static str, String) {
    let hex_mac = |message: &[u8]| {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    };
    let timed = [timestamp.to_string().as_bytes(), b".", body].concat();
    match provider {
        Provider::FedaPay => (
            "x-fedapay-signature",
            format!("t={timestamp},s={}", hex_mac(&timed)),
        ),
        Provider::Test => (
            "x-payhuk-signature",
            format!("t={timestamp},v1={}", hex_mac(&timed)),
        ),
        Provider::Moneroo => ("x-moneroo-signature", hex_mac(body)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"whsec_payhuk_test_secret";
    const PAYMENT: &str = "88888888-8888-4888-8888-000000000123";

    fn headers(pair: (&'static str, String)) -> HashMap<&'static str, String> {
        HashMap::from([pair])
    }

    #[test]
    fn each_provider_round_trips_its_signature() {
        for provider in [Provider::FedaPay, Provider::Moneroo, Provider::Test] {
            let body = br#"{"x": 1}"#;
            let signed = headers(sign(provider, body, SECRET, 1000));
            assert_eq!(
                provider.verify(&signed, body, SECRET, 1010, 300),
                Ok(()),
                "{provider:?}"
            );
            assert_eq!(
                provider.verify(&signed, br#"{"x": 2}"#, SECRET, 1010, 300),
                Err(WebhookError::BadSignature),
                "{provider:?}: another body"
            );
            assert_eq!(
                provider.verify(&signed, body, b"another secret", 1010, 300),
                Err(WebhookError::BadSignature),
                "{provider:?}: another secret"
            );
            assert_eq!(
                provider.verify(&HashMap::<&str, String>::new(), body, SECRET, 1010, 300),
                Err(WebhookError::BadSignature)
            );
        }
    }

    #[test]
    fn old_or_future_timestamps_are_replays() {
        let body = b"{}";
        let signed = headers(sign(Provider::FedaPay, body, SECRET, 1000));
        assert_eq!(
            Provider::FedaPay.verify(&signed, body, SECRET, 1301, 300),
            Err(WebhookError::Stale { age_secs: 301 })
        );
        assert_eq!(
            Provider::FedaPay.verify(&signed, body, SECRET, 699, 300),
            Err(WebhookError::Stale { age_secs: -301 })
        );
        // Re-signing with a fresh timestamp needs the secret.
        let forged = format!(
            "t=1290,s={}",
            sign(Provider::FedaPay, body, SECRET, 1000)
                .1
                .split("s=")
                .nth(1)
                .unwrap()
        );
        assert_eq!(
            Provider::FedaPay.verify(
                &headers(("x-fedapay-signature", forged)),
                body,
                SECRET,
                1300,
                300
            ),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn timestamps_too_far_off_to_subtract_are_stale() {
        let body = b"{}";
        // i64::MIN + now is the one that used to pass in release builds (the wrapped
        // difference is i64::MIN, whose wrapped abs() is not above the tolerance).
        let now = 1_700_000_000;
        for (t, age_secs) in [
            (i64::MIN, i64::MAX),
            (i64::MIN + now, i64::MAX),
            (i64::MAX, now - i64::MAX),
        ] {
            for provider in [Provider::FedaPay, Provider::Test] {
                let signed = headers(sign(provider, body, SECRET, t));
                assert_eq!(
                    provider.verify(&signed, body, SECRET, now, 300),
                    Err(WebhookError::Stale { age_secs }),
                    "{provider:?} signed at {t}"
                );
            }
        }
        let signed = headers(sign(Provider::Test, body, SECRET, i64::MAX));
        assert_eq!(
            Provider::Test.verify(&signed, body, SECRET, -2, 300),
            Err(WebhookError::Stale {
                age_secs: -i64::MAX
            })
        );
    }

    #[test]
    fn payload_mappings() {
        let fedapay = json!({"id": 9001, "name": "transaction.approved",
                             "entity": {"id": 77, "amount": 9000, "custom_metadata": {"payhuk_payment_id": PAYMENT}}});
        let n = Provider::FedaPay
            .read(fedapay.to_string().as_bytes())
            .unwrap();
        assert_eq!(
            (n.event_id.as_str(), n.outcome, n.amount_minor),
            ("9001", Outcome::Succeeded, 9000)
        );
        assert_eq!(n.payment_id.to_string(), PAYMENT);

        let moneroo = json!({"event": "payment.failed", "data": {"id": "py_1", "amount": 5000,
                             "metadata": {"payhuk_payment_id": PAYMENT}}});
        let n = Provider::Moneroo
            .read(moneroo.to_string().as_bytes())
            .unwrap();
        assert_eq!(
            (n.event_id.as_str(), n.outcome),
            ("payment.failed:py_1", Outcome::Failed)
        );

        let other =
            json!({"event_id": "e", "status": "pending", "payment_id": PAYMENT, "amount_minor": 1});
        assert_eq!(
            Provider::Test
                .read(other.to_string().as_bytes())
                .unwrap()
                .outcome,
            Outcome::Other("pending".into())
        );
        let incomplete = json!({"event_id": "e", "status": "succeeded", "amount_minor": 1});
        assert!(matches!(
            Provider::Test.read(incomplete.to_string().as_bytes()),
            Err(WebhookError::Unreadable(_))
        ));
    }

    proptest! {
        /// Any change to a signed body is caught, for every provider.
        #[test]
        fn any_edit_breaks_the_signature(body in proptest::collection::vec(any::<u8>(), 1..200), flip in any::<proptest::sample::Index>()) {
            for provider in [Provider::FedaPay, Provider::Moneroo, Provider::Test] {
                let signed = headers(sign(provider, &body, SECRET, 1000));
                let mut edited = body.clone();
                let i = flip.index(edited.len());
                edited[i] ^= 0x01;
                prop_assert_eq!(provider.verify(&signed, &edited, SECRET, 1000, 300), Err(WebhookError::BadSignature));
            }
        }
    }
}
