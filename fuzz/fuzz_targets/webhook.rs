//! Payment providers' notifications: signature headers (`Provider::verify`) and
//! payloads (`Provider::read`) of fedapay, moneroo and test.
//!
//! Input: `<provider>\n<mode>\n<now>\n<tolerance>\n<timestamp>\n<header>\n<body>`.
//! - mode `signed`: the body is signed here with the provider's secret at
//!   `<timestamp>` (any i64: it is the sender's), `<header>` appended after a comma
//!   when not empty, so the timestamp check and the payload mapping run past the HMAC;
//! - otherwise `<header>` is the signature header verbatim.
//!
//! Invariants: nothing verifies under another secret; a correctly signed body is
//! never a bad signature, and is stale exactly when its timestamp is outside the
//! tolerance; a notification read has an event id of 1 to 200 bytes, and an
//! outcome the provider's event names map to.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use payhuk_edge::services::payments::webhook::{Outcome, Provider, WebhookError, sign};
use payhuk_edge_fuzz::{Headers, WEBHOOK_SECRET, clock, fields, number, text};

const HEADERS: [&str; 3] = [
    "x-fedapay-signature",
    "x-moneroo-signature",
    "x-payhuk-signature",
];

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 7);
    let name = text(f[0]);
    let Some(provider) = Provider::parse(&name) else {
        return;
    };
    assert_eq!(provider.name(), name);
    let signed = f[1] == b"signed";
    let now = clock(f[2]);
    let tolerance = number(f[3], 300).clamp(0, 3600);
    let timestamp = number(f[4], now);
    let extra = text(f[5]);
    let body = f[6];

    let headers = if signed {
        let (header, mut value) = sign(provider, body, WEBHOOK_SECRET.as_bytes(), timestamp);
        if !extra.is_empty() {
            value = format!("{value},{extra}");
        }
        Headers::one(header, &value)
    } else {
        HEADERS
            .iter()
            .fold(Headers::default(), |h, name| h.with(name, &extra))
    };

    let verified = provider.verify(&headers, body, WEBHOOK_SECRET.as_bytes(), now, tolerance);
    assert_eq!(
        provider.verify(
            &headers,
            body,
            b"another-secret-entirely-0000",
            now,
            tolerance
        ),
        Err(WebhookError::BadSignature),
        "a signature verified under another secret"
    );
    if signed && extra.is_empty() {
        let age = i128::from(now) - i128::from(timestamp);
        match (&verified, provider) {
            (Ok(()), Provider::Moneroo) => {}
            (Ok(()), _) => assert!(age.abs() <= i128::from(tolerance), "age {age}"),
            (Err(WebhookError::Stale { age_secs }), _) => {
                assert!(age.abs() > i128::from(tolerance));
                // The age, saturated (never i64::MIN, so it can be negated).
                let saturated = age.clamp(-i128::from(i64::MAX), i128::from(i64::MAX));
                assert_eq!(i128::from(*age_secs), saturated);
            }
            (other, _) => panic!("a correctly signed notification was refused: {other:?}"),
        }
    }
    if verified.is_ok() {
        read(provider, body);
    }
    // The mapping on its own, whatever the signature.
    read(provider, body);
});

fn read(provider: Provider, body: &[u8]) {
    let Ok(note) = provider.read(body) else {
        return;
    };
    assert!((1..=200).contains(&note.event_id.len()), "{note:?}");
    let mapped: HashMap<&str, Outcome> = match provider {
        Provider::FedaPay => [
            ("transaction.approved", Outcome::Succeeded),
            ("transaction.declined", Outcome::Failed),
            ("transaction.canceled", Outcome::Cancelled),
        ],
        Provider::Moneroo => [
            ("payment.success", Outcome::Succeeded),
            ("payment.failed", Outcome::Failed),
            ("payment.cancelled", Outcome::Cancelled),
        ],
        Provider::Test => [
            ("succeeded", Outcome::Succeeded),
            ("failed", Outcome::Failed),
            ("cancelled", Outcome::Cancelled),
        ],
    }
    .into_iter()
    .collect();
    match &note.outcome {
        Outcome::Other(kind) => {
            assert!(!mapped.contains_key(kind.as_str()));
            assert_eq!(note.outcome.as_status(), None);
        }
        known => {
            assert!(mapped.values().any(|o| o == known));
            assert!(note.outcome.as_status().is_some());
        }
    }
}
