//! The local stack's `test` provider: no checkout, settled by notifications the tests
//! sign themselves, `x-payhuk-signature: t=<unix>,v1=<hex HMAC-SHA256 of
//! "<t>.<raw body>">` with `WEBHOOK_SECRET_TEST`, naming our payment directly:
//! `{event_id, status, payment_id, amount_minor}`. Configured nowhere but locally
//! (wrangler.toml says so); the real providers are adapters in `providers`.

use serde_json::Value;
use uuid::Uuid;

use super::providers::signature::{sign_timed, verify_timed};
use super::providers::{Notification, NotificationError, Outcome, PaymentRef};
use crate::region::HeaderLookup;

pub const SIGNATURE_HEADER: &str = "x-payhuk-signature";
const SCHEME: &str = "v1";

/// Verifies the signature and its timestamp, then reads the notification.
pub fn notification(
    headers: &impl HeaderLookup,
    body: &[u8],
    secret: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<Notification, NotificationError> {
    let header = headers
        .header(SIGNATURE_HEADER)
        .ok_or(NotificationError::BadSignature)?;
    verify_timed(&header, SCHEME, body, secret, now, tolerance_secs)?;
    read(body)
}

/// What a (verified) body says.
pub fn read(body: &[u8]) -> Result<Notification, NotificationError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| NotificationError::Unreadable(format!("not JSON: {e}")))?;
    let text = |name: &str| v.get(name).and_then(Value::as_str);
    let missing = |what: &str| NotificationError::Unreadable(format!("test has no {what}"));
    let kind = text("status").ok_or_else(|| missing("status"))?;
    let outcome = match kind {
        "succeeded" => Outcome::Succeeded,
        "failed" => Outcome::Failed,
        "cancelled" => Outcome::Cancelled,
        other => Outcome::Other(other.to_owned()),
    };
    Ok(Notification {
        event_id: text("event_id")
            .filter(|e| !e.is_empty() && e.len() <= 200)
            .ok_or_else(|| missing("event_id"))?
            .to_owned(),
        payment: PaymentRef::Payment(
            text("payment_id")
                .and_then(|p| Uuid::parse_str(p).ok())
                .ok_or_else(|| missing("payment_id"))?,
        ),
        outcome,
        amount_minor: Some(
            v.get("amount_minor")
                .and_then(Value::as_i64)
                .ok_or_else(|| missing("amount_minor"))?,
        ),
        confirm: false,
    })
}

/// The header a `test` notification is sent with, signed at `timestamp`.
pub fn sign(body: &[u8], secret: &[u8], timestamp: i64) -> (&'static str, String) {
    (
        SIGNATURE_HEADER,
        sign_timed(SCHEME, body, secret, timestamp),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"whsec_payhuk_test_secret";
    const PAYMENT: &str = "88888888-8888-4888-8888-000000000123";

    fn signed(body: &[u8], at: i64) -> HashMap<&'static str, String> {
        HashMap::from([sign(body, SECRET, at)])
    }

    #[test]
    fn signed_notifications_are_read() {
        let body = json!({"event_id": "e1", "status": "succeeded", "payment_id": PAYMENT, "amount_minor": 9000})
            .to_string();
        let note = notification(
            &signed(body.as_bytes(), 1000),
            body.as_bytes(),
            SECRET,
            1010,
            300,
        )
        .unwrap();
        assert_eq!(note.event_id, "e1");
        assert_eq!(note.outcome, Outcome::Succeeded);
        assert_eq!(note.amount_minor, Some(9000));
        assert_eq!(
            note.payment,
            PaymentRef::Payment(Uuid::parse_str(PAYMENT).unwrap())
        );
        assert!(!note.confirm);
        assert_eq!(
            notification(
                &signed(body.as_bytes(), 1000),
                body.as_bytes(),
                b"other",
                1010,
                300
            ),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            notification(
                &HashMap::<&str, String>::new(),
                body.as_bytes(),
                SECRET,
                1010,
                300
            ),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            notification(
                &signed(body.as_bytes(), 1000),
                body.as_bytes(),
                SECRET,
                1400,
                300
            ),
            Err(NotificationError::Stale { age_secs: 400 })
        );
    }

    #[test]
    fn unknown_states_and_missing_fields() {
        let pending =
            json!({"event_id": "e", "status": "pending", "payment_id": PAYMENT, "amount_minor": 1});
        assert_eq!(
            read(pending.to_string().as_bytes()).unwrap().outcome,
            Outcome::Other("pending".into())
        );
        for incomplete in [
            json!({"event_id": "e", "status": "succeeded", "amount_minor": 1}),
            json!({"status": "succeeded", "payment_id": PAYMENT, "amount_minor": 1}),
            json!({"event_id": "e", "status": "succeeded", "payment_id": PAYMENT}),
            json!({"event_id": "", "status": "succeeded", "payment_id": PAYMENT, "amount_minor": 1}),
        ] {
            assert!(
                matches!(
                    read(incomplete.to_string().as_bytes()),
                    Err(NotificationError::Unreadable(_))
                ),
                "{incomplete}"
            );
        }
    }
}
