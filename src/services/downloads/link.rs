//! The link token: `<grant id>.<expires>.<signature>`, HMAC-SHA256 with a key derived
//! from the JWT secret. The signature makes a link tamper-evident before any database
//! call; the database keeps the count and the expiry too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::auth::keys::derive_key;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub grant_id: Uuid,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    Tampered,
    Expired,
}

pub fn link_key(jwt_secret: &[u8]) -> [u8; 32] {
    derive_key(jwt_secret, "payhuk-download-link-v1")
}

fn mac(key: &[u8; 32], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    mac
}

impl Link {
    pub fn encode(&self, key: &[u8; 32]) -> String {
        let payload = format!("{}.{}", self.grant_id.simple(), self.expires_at);
        let signature = URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// Tampered (any byte changed, or not a link at all) before expired.
    pub fn decode(token: &str, key: &[u8; 32], now: i64) -> Result<Link, LinkError> {
        let (payload, signature) = token.rsplit_once('.').ok_or(LinkError::Tampered)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Tampered)?;
        mac(key, payload)
            .verify_slice(&signature)
            .map_err(|_| LinkError::Tampered)?;
        let (grant, expires) = payload.split_once('.').ok_or(LinkError::Tampered)?;
        let link = Link {
            grant_id: Uuid::parse_str(grant).map_err(|_| LinkError::Tampered)?,
            expires_at: expires.parse().map_err(|_| LinkError::Tampered)?,
        };
        if link.expires_at <= now {
            return Err(LinkError::Expired);
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key() -> [u8; 32] {
        link_key(b"download-link-test-secret-long-enough-00")
    }

    #[test]
    fn round_trip_expiry_and_tampering() {
        let link = Link {
            grant_id: Uuid::parse_str("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").unwrap(),
            expires_at: 2000,
        };
        let token = link.encode(&key());
        assert_eq!(Link::decode(&token, &key(), 1999), Ok(link));
        assert_eq!(Link::decode(&token, &key(), 2000), Err(LinkError::Expired));
        let longer = token.replacen(".2000.", ".9999.", 1);
        assert_eq!(
            Link::decode(&longer, &key(), 0),
            Err(LinkError::Tampered),
            "a later expiry is a forgery"
        );
        assert_eq!(Link::decode("junk", &key(), 0), Err(LinkError::Tampered));
        let other = link_key(b"another-secret-that-is-long-enough-0000");
        assert_eq!(Link::decode(&token, &other, 0), Err(LinkError::Tampered));
    }

    proptest! {
        #[test]
        fn any_edit_is_tampering(id in any::<u128>(), expires in 1i64..4_000_000_000, flip in any::<proptest::sample::Index>()) {
            let token = Link { grant_id: Uuid::from_u128(id), expires_at: expires }.encode(&key());
            let mut bytes = token.clone().into_bytes();
            let i = flip.index(bytes.len());
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let edited = String::from_utf8(bytes).unwrap();
            if edited != token {
                prop_assert_eq!(Link::decode(&edited, &key(), 0), Err(LinkError::Tampered));
            }
        }
    }
}
