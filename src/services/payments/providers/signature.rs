//! The signature checks providers share: a hex HMAC-SHA256 compared in constant time,
//! and the `t=<unix>,<scheme>=<hex>` header that signs `"<t>.<raw body>"` (FedaPay's
//! `s=`, the local `test` provider's `v1=`) with its timestamp tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::NotificationError;

/// Constant-time comparison of `signature_hex` with HMAC-SHA256(`secret`, `message`).
pub fn hmac_matches(secret: &[u8], message: &[u8], signature_hex: &str) -> bool {
    let Ok(signature) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(&signature).is_ok()
}

/// HMAC-SHA256 in hex, as a provider signs (the sandbox and tests sign with it).
pub fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// `t=<unix>,<scheme>=<hex>[,<scheme>=<hex>...]`: exactly one timestamp, and every
/// signature listed (providers list two while rotating secrets).
fn parse_timed<'a>(value: &'a str, scheme: &str) -> Option<(i64, Vec<&'a str>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                if timestamp.is_some() {
                    return None;
                }
                timestamp = Some(t.trim().parse::<i64>().ok()?);
            }
            Some((k, sig)) if k == scheme => signatures.push(sig.trim()),
            _ => {}
        }
    }
    Some((timestamp?, signatures))
}

/// Verifies a timestamped header over `body`: any listed signature may match, then the
/// timestamp must be within `tolerance_secs` of `now` either way.
pub fn verify_timed(
    header: &str,
    scheme: &str,
    body: &[u8],
    secret: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), NotificationError> {
    if secret.is_empty() {
        return Err(NotificationError::BadSignature);
    }
    let (timestamp, signatures) =
        parse_timed(header, scheme).ok_or(NotificationError::BadSignature)?;
    let signed = [timestamp.to_string().as_bytes(), b".", body].concat();
    if !signatures
        .iter()
        .any(|sig| hmac_matches(secret, &signed, sig))
    {
        return Err(NotificationError::BadSignature);
    }
    // The sender chooses `t`: saturate, and stop short of i64::MIN so `abs` cannot wrap
    // (found by the `webhook` fuzz target).
    let age = now.saturating_sub(timestamp).max(-i64::MAX);
    if age.abs() > tolerance_secs {
        return Err(NotificationError::Stale { age_secs: age });
    }
    Ok(())
}

/// The header value [`verify_timed`] accepts, signed at `timestamp`.
pub fn sign_timed(scheme: &str, body: &[u8], secret: &[u8], timestamp: i64) -> String {
    let signed = [timestamp.to_string().as_bytes(), b".", body].concat();
    format!("t={timestamp},{scheme}={}", hmac_hex(secret, &signed))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SECRET: &[u8] = b"whsec_payhuk_test_secret";

    #[test]
    fn a_timed_signature_round_trips_and_ages() {
        let body = br#"{"x": 1}"#;
        let header = sign_timed("s", body, SECRET, 1000);
        assert_eq!(verify_timed(&header, "s", body, SECRET, 1010, 300), Ok(()));
        assert_eq!(
            verify_timed(&header, "v1", body, SECRET, 1010, 300),
            Err(NotificationError::BadSignature),
            "another scheme's key"
        );
        assert_eq!(
            verify_timed(&header, "s", b"{}", SECRET, 1010, 300),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            verify_timed(&header, "s", body, b"another", 1010, 300),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            verify_timed(&header, "s", body, SECRET, 1301, 300),
            Err(NotificationError::Stale { age_secs: 301 })
        );
        assert_eq!(
            verify_timed(&header, "s", body, SECRET, 699, 300),
            Err(NotificationError::Stale { age_secs: -301 })
        );
        let rotated = format!("{},s={}", header, "00".repeat(32));
        assert_eq!(verify_timed(&rotated, "s", body, SECRET, 1000, 300), Ok(()));
        let twice = format!("t=1000,{header}");
        assert_eq!(
            verify_timed(&twice, "s", body, SECRET, 1000, 300),
            Err(NotificationError::BadSignature),
            "two timestamps"
        );
        assert_eq!(
            verify_timed(&header, "s", body, b"", 1000, 300),
            Err(NotificationError::BadSignature),
            "no secret configured"
        );
    }

    #[test]
    fn timestamps_too_far_off_to_subtract_are_stale() {
        let now = 1_700_000_000;
        for (t, age_secs) in [
            (i64::MIN, i64::MAX),
            (i64::MIN + now, i64::MAX),
            (i64::MAX, now - i64::MAX),
        ] {
            let header = sign_timed("v1", b"{}", SECRET, t);
            assert_eq!(
                verify_timed(&header, "v1", b"{}", SECRET, now, 300),
                Err(NotificationError::Stale { age_secs }),
                "signed at {t}"
            );
        }
        let header = sign_timed("v1", b"{}", SECRET, i64::MAX);
        assert_eq!(
            verify_timed(&header, "v1", b"{}", SECRET, -2, 300),
            Err(NotificationError::Stale {
                age_secs: -i64::MAX
            })
        );
    }

    proptest! {
        #[test]
        fn any_edit_breaks_the_signature(body in proptest::collection::vec(any::<u8>(), 1..200), flip in any::<proptest::sample::Index>()) {
            let header = sign_timed("s", &body, SECRET, 1000);
            let mut edited = body.clone();
            let i = flip.index(edited.len());
            edited[i] ^= 0x01;
            prop_assert_eq!(verify_timed(&header, "s", &edited, SECRET, 1000, 300), Err(NotificationError::BadSignature));
            prop_assert!(!hmac_matches(SECRET, &edited, &hmac_hex(SECRET, &body)));
        }
    }
}
