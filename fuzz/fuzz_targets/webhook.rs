//! Payment providers' notifications as they reach `/api/v1/payments/webhooks/<name>`:
//! every adapter's `Provider::notification` (FedaPay, Moneroo, PayDunya, CinetPay) and
//! the local `test` provider's `webhook::notification`, signature and payload together.
//!
//! Input: `<provider>\n<mode>\n<now>\n<tolerance>\n<timestamp>\n<header>\n<body>`.
//! - mode `signed`: the body is signed here as the provider signs it (FedaPay and
//!   `test` at `<timestamp>`, any i64: it is the sender's), `<header>` appended after a
//!   comma when not empty, so the timestamp check and the payload reading run past the
//!   signature. PayDunya signs inside the body: `data[hash]` is appended to it.
//! - otherwise `<header>` is every provider's signature header verbatim.
//!
//! Invariants: nothing verifies under other credentials; a correctly signed body is
//! never a bad signature, and (where the provider signs a time) is stale exactly when
//! its timestamp is outside the tolerance; a notification read has an event id of 1 to
//! 200 bytes; a notification whose state the gateway will act on without asking the
//! provider names a state the provider documents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhuk_edge::config::Secret;
use payhuk_edge::services::payments::providers::signature::{hmac_hex, sign_timed};
use payhuk_edge::services::payments::providers::{
    Notification, NotificationError, Outcome, Provider, Settings,
};
use payhuk_edge::services::payments::webhook;
use payhuk_edge_fuzz::{Headers, WEBHOOK_SECRET, clock, fields, number, text};
use sha2::{Digest, Sha512};

const HEADERS: [&str; 4] = [
    "x-fedapay-signature",
    "x-moneroo-signature",
    "x-payhuk-signature",
    "x-token",
];

/// CinetPay's `x-token` fields, in its documented order (docs.cinetpay.com, X-TOKEN
/// HMAC), written here again so the target checks the adapter rather than itself.
const CINETPAY_FIELDS: [&str; 16] = [
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

/// Every credential of `provider` derived from `secret`, so two secrets share none.
fn settings(provider: Provider, secret: &str) -> Settings {
    Settings {
        api_base: provider.default_api_base().to_owned(),
        credentials: provider
            .credentials()
            .iter()
            .map(|name| (*name, Secret::new(format!("{secret}_{name}"))))
            .collect(),
    }
}

enum Target {
    Adapter(Provider),
    Test,
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 7);
    let name = text(f[0]);
    let target = match Provider::parse(&name) {
        Some(p) => Target::Adapter(p),
        None if name == "test" => Target::Test,
        None => return,
    };
    let signed = f[1] == b"signed";
    let now = clock(f[2]);
    let tolerance = number(f[3], 300).clamp(0, 3600);
    let timestamp = number(f[4], now);
    let extra = text(f[5]);
    let mut body = f[6].to_vec();

    let ours = match &target {
        Target::Adapter(p) => Some(settings(*p, WEBHOOK_SECRET)),
        Target::Test => None,
    };
    let credential = |name: &str| {
        ours.as_ref()
            .map_or(String::new(), |s| s.credential(name).to_owned())
    };
    let headers = if signed {
        let with_extra = |value: String| {
            if extra.is_empty() {
                value
            } else {
                format!("{value},{extra}")
            }
        };
        match &target {
            Target::Test => {
                let (header, value) = webhook::sign(&body, WEBHOOK_SECRET.as_bytes(), timestamp);
                Headers::one(header, &with_extra(value))
            }
            Target::Adapter(Provider::FedaPay) => {
                let secret = credential("WEBHOOK_SECRET");
                let value = sign_timed("s", &body, secret.as_bytes(), timestamp);
                Headers::one("x-fedapay-signature", &with_extra(value))
            }
            Target::Adapter(Provider::Moneroo) => {
                let secret = credential("WEBHOOK_SECRET");
                Headers::one(
                    "x-moneroo-signature",
                    &hmac_hex(secret.as_bytes(), &body),
                )
            }
            Target::Adapter(Provider::PayDunya) => {
                let hash = hex::encode(Sha512::digest(credential("MASTER_KEY").as_bytes()));
                if !body.is_empty() {
                    body.push(b'&');
                }
                body.extend_from_slice(format!("data%5Bhash%5D={hash}").as_bytes());
                Headers::default()
            }
            Target::Adapter(Provider::CinetPay) => {
                // The site id first: CinetPay names the merchant's site in every post.
                let site = format!("cpm_site_id={}&", credential("SITE_ID"));
                body.splice(0..0, site.bytes());
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let field = |name: &str| {
                    form.iter()
                        .find(|(k, _)| k == name)
                        .map_or("", |(_, v)| v.as_str())
                };
                let message: String = CINETPAY_FIELDS.iter().map(|f| field(f)).collect();
                let secret = credential("SECRET_KEY");
                Headers::one("x-token", &hmac_hex(secret.as_bytes(), message.as_bytes()))
            }
        }
    } else {
        HEADERS
            .iter()
            .fold(Headers::default(), |h, name| h.with(name, &extra))
    };

    let receive = |settings: Option<&Settings>, secret: &str| match (&target, settings) {
        (Target::Adapter(p), Some(s)) => p.notification(s, &headers, &body, now, tolerance),
        _ => webhook::notification(&headers, &body, secret.as_bytes(), now, tolerance),
    };
    let verified = receive(ours.as_ref(), WEBHOOK_SECRET);
    let theirs = match &target {
        Target::Adapter(p) => Some(settings(*p, "another-secret-entirely")),
        Target::Test => None,
    };
    let elsewhere = receive(theirs.as_ref(), "another-secret-entirely-0000");
    assert!(
        matches!(elsewhere, Err(NotificationError::BadSignature)),
        "verified under other credentials: {elsewhere:?}"
    );

    let timed = matches!(target, Target::Test | Target::Adapter(Provider::FedaPay));
    if signed && extra.is_empty() {
        let age = i128::from(now) - i128::from(timestamp);
        match &verified {
            Err(NotificationError::BadSignature) => {
                // A form repeating a key is signed over one of its values here and
                // may be read with another there: refusing it is right.
                let form = matches!(
                    target,
                    Target::Adapter(Provider::PayDunya | Provider::CinetPay)
                );
                assert!(
                    form && repeats_a_key(&body),
                    "a correctly signed notification was refused"
                );
            }
            Err(NotificationError::Stale { age_secs }) => {
                assert!(timed, "a provider without a signed time called it stale");
                assert!(age.abs() > i128::from(tolerance));
                // The age, saturated (never i64::MIN, so it can be negated).
                let saturated = age.clamp(-i128::from(i64::MAX), i128::from(i64::MAX));
                assert_eq!(i128::from(*age_secs), saturated);
            }
            Ok(_) | Err(NotificationError::Unreadable(_)) => {
                if timed {
                    assert!(age.abs() <= i128::from(tolerance), "age {age}");
                }
            }
        }
    }
    if let Ok(note) = &verified {
        check(&target, note);
    }
});

fn repeats_a_key(body: &[u8]) -> bool {
    let mut keys: Vec<_> = url::form_urlencoded::parse(body).map(|(k, _)| k).collect();
    let all = keys.len();
    keys.sort();
    keys.dedup();
    keys.len() != all
}

fn check(target: &Target, note: &Notification) {
    assert!((1..=200).contains(&note.event_id.len()), "{note:?}");
    if note.confirm {
        return; // the provider's API has the word, not this body
    }
    let acted_on: &[Outcome] = &[Outcome::Succeeded, Outcome::Failed, Outcome::Cancelled];
    match target {
        Target::Adapter(Provider::Moneroo | Provider::PayDunya | Provider::CinetPay) => {
            panic!("these providers' notifications are always confirmed: {note:?}")
        }
        Target::Adapter(Provider::FedaPay) | Target::Test => {
            if let Outcome::Other(kind) = &note.outcome {
                assert_eq!(note.outcome.as_status(), None, "{kind}");
            } else if note.outcome != Outcome::Pending {
                assert!(acted_on.contains(&note.outcome));
            }
        }
    }
}
