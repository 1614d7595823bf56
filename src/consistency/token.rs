//! The consistency token: `v1.<xid>[-<xid>...].<expires>.<signature>`, HMAC-SHA256
//! signed with a key derived from the JWT secret, so clients cannot forge or edit it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How many recent writes a token remembers (parallel writes commit in any order, so
/// the newest alone does not imply the others).
pub const MAX_XIDS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyToken {
    /// Transaction ids of the client's recent writes, oldest first.
    pub xids: Vec<u64>,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "malformed",
            TokenError::BadSignature => "signature does not match",
            TokenError::Expired => "expired",
        })
    }
}

/// The signing key of consistency tokens.
pub fn token_key(jwt_secret: &[u8]) -> [u8; 32] {
    crate::auth::keys::derive_key(jwt_secret, "payhuk-consistency-token-v1")
}

fn sign(key: &[u8; 32], payload: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    mac
}

impl ConsistencyToken {
    /// The token after one more write: `xid` added (once), the oldest dropped past
    /// [`MAX_XIDS`], the expiry pushed to `now + ttl`.
    pub fn after_write(
        previous: Option<ConsistencyToken>,
        xid: u64,
        now: i64,
        ttl_secs: i64,
    ) -> Self {
        let mut xids = previous.map(|t| t.xids).unwrap_or_default();
        xids.retain(|x| *x != xid);
        xids.push(xid);
        if xids.len() > MAX_XIDS {
            xids.drain(..xids.len() - MAX_XIDS);
        }
        ConsistencyToken {
            xids,
            expires_at: now + ttl_secs,
        }
    }

    pub fn encode(&self, key: &[u8; 32]) -> String {
        let xids: Vec<String> = self.xids.iter().map(u64::to_string).collect();
        let payload = format!("v1.{}.{}", xids.join("-"), self.expires_at);
        let signature = URL_SAFE_NO_PAD.encode(sign(key, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    pub fn decode(raw: &str, key: &[u8; 32], now: i64) -> Result<Self, TokenError> {
        let (payload, signature) = raw.trim().rsplit_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        sign(key, payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;

        let mut parts = payload.split('.');
        let (Some("v1"), Some(xids), Some(expires), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let xids = xids
            .split('-')
            .map(|x| x.parse::<u64>().map_err(|_| TokenError::Malformed))
            .collect::<Result<Vec<u64>, _>>()?;
        let expires_at: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if xids.is_empty() || xids.len() > MAX_XIDS {
            return Err(TokenError::Malformed);
        }
        if expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(ConsistencyToken { xids, expires_at })
    }

    /// `x-payhuk-min-xid`'s value.
    pub fn min_xid_header(&self) -> String {
        self.xids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key() -> [u8; 32] {
        token_key(b"consistency-test-secret-long-enough-0000")
    }

    #[test]
    fn round_trip_and_expiry() {
        let token = ConsistencyToken::after_write(None, 742, 1000, 300);
        let raw = token.encode(&key());
        assert!(raw.starts_with("v1.742.1300."), "{raw}");
        assert_eq!(ConsistencyToken::decode(&raw, &key(), 1299).unwrap(), token);
        assert_eq!(
            ConsistencyToken::decode(&raw, &key(), 1300),
            Err(TokenError::Expired)
        );
        assert_eq!(token.min_xid_header(), "742");
    }

    #[test]
    fn tampering_is_detected() {
        let raw = ConsistencyToken::after_write(None, 742, 1000, 300).encode(&key());
        let forged = raw.replacen("742", "1", 1);
        assert_eq!(
            ConsistencyToken::decode(&forged, &key(), 1000),
            Err(TokenError::BadSignature)
        );
        let longer = raw.replacen(".1300.", ".99999.", 1);
        assert_eq!(
            ConsistencyToken::decode(&longer, &key(), 1000),
            Err(TokenError::BadSignature)
        );
        let other_key = token_key(b"another-secret-entirely-long-enough-000");
        assert_eq!(
            ConsistencyToken::decode(&raw, &other_key, 1000),
            Err(TokenError::BadSignature)
        );
        for junk in ["", "v1", "v1.1.2", "nonsense.!!!"] {
            assert!(
                ConsistencyToken::decode(junk, &key(), 0).is_err(),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn remembers_the_last_writes() {
        let mut token = None;
        for xid in 1..=10u64 {
            token = Some(ConsistencyToken::after_write(token, xid, 0, 60));
        }
        let token = ConsistencyToken::after_write(token, 7, 5, 60);
        assert_eq!(token.xids, [3, 4, 5, 6, 8, 9, 10, 7]);
        assert_eq!(token.expires_at, 65);
        assert_eq!(token.min_xid_header(), "3,4,5,6,8,9,10,7");
    }

    proptest! {
        #[test]
        fn any_token_round_trips_and_any_edit_is_refused(
            xids in proptest::collection::vec(any::<u64>(), 1..=MAX_XIDS),
            expires in 1i64..4_000_000_000,
            flip in any::<proptest::sample::Index>(),
        ) {
            let token = ConsistencyToken { xids, expires_at: expires };
            let raw = token.encode(&key());
            prop_assert_eq!(ConsistencyToken::decode(&raw, &key(), expires - 1).unwrap(), token);
            let mut bytes = raw.clone().into_bytes();
            let i = flip.index(bytes.len());
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let edited = String::from_utf8(bytes).unwrap();
            if edited != raw {
                prop_assert!(ConsistencyToken::decode(&edited, &key(), expires - 1).is_err());
            }
        }
    }
}
