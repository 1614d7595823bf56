//! Supabase's API keys: `sb_publishable_...` acts as the anon role, `sb_secret_...` as
//! the service role, as Supabase's own API gateway takes them in `apikey` (and as the
//! bearer, which supabase-js sends too). They are not JWTs: the gateway recognises
//! them (compared in constant time) and PostgREST gets a short-lived role JWT instead.
//! A secret key is refused from a browser (a request with an `Origin`), as Supabase does.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PUBLISHABLE_PREFIX: &str = "sb_publishable_";
pub const SECRET_PREFIX: &str = "sb_secret_";
/// Characters after the prefix, at least: a key must not be guessable.
pub const MIN_KEY_CHARS: usize = 20;

/// What an API key stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    Publishable,
    Secret,
}

impl KeyRole {
    /// The database role the key acts as.
    pub fn role(self) -> &'static str {
        match self {
            KeyRole::Publishable => "anon",
            KeyRole::Secret => "service_role",
        }
    }
}

/// The configured keys, kept as SHA-256 digests (never printed, compared in constant time).
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<([u8; 32], KeyRole)>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} configured)", self.keys.len())
    }
}

/// Whether `value` has the shape of a Supabase API key (so it is not a JWT).
pub fn looks_like_api_key(value: &str) -> bool {
    value.starts_with(PUBLISHABLE_PREFIX) || value.starts_with(SECRET_PREFIX)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Adds `key` as `role`; `Err` says why it cannot be one.
    pub fn add(&mut self, key: &str, role: KeyRole) -> Result<(), String> {
        let prefix = match role {
            KeyRole::Publishable => PUBLISHABLE_PREFIX,
            KeyRole::Secret => SECRET_PREFIX,
        };
        let rest = key
            .strip_prefix(prefix)
            .ok_or_else(|| format!("a key must start with `{prefix}`"))?;
        if rest.len() < MIN_KEY_CHARS
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "a key is `{prefix}` and at least {MIN_KEY_CHARS} letters, digits, `_` or `-`"
            ));
        }
        self.keys.push((digest(key), role));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The role `presented` stands for, if it is one of the keys. Every configured key
    /// is compared, so the time does not say which matched.
    pub fn find(&self, presented: &str) -> Option<KeyRole> {
        let presented = digest(presented);
        let mut found = None;
        for (key, role) in &self.keys {
            if bool::from(key.ct_eq(&presented)) {
                found = Some(*role);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_recognised_by_value_and_role() {
        let mut keys = ApiKeys::default();
        keys.add(
            "sb_publishable_abcdefghijklmnopqrstuv",
            KeyRole::Publishable,
        )
        .unwrap();
        keys.add("sb_secret_0123456789abcdefghijkl", KeyRole::Secret)
            .unwrap();
        assert_eq!(
            keys.find("sb_publishable_abcdefghijklmnopqrstuv"),
            Some(KeyRole::Publishable)
        );
        assert_eq!(
            keys.find("sb_secret_0123456789abcdefghijkl"),
            Some(KeyRole::Secret)
        );
        assert_eq!(keys.find("sb_secret_0123456789abcdefghijkX"), None);
        assert_eq!(KeyRole::Secret.role(), "service_role");
        assert!(!format!("{keys:?}").contains("abcdef"));
    }

    #[test]
    fn a_key_must_have_its_prefix_and_length() {
        let mut keys = ApiKeys::default();
        assert!(keys.add("sb_secret_short", KeyRole::Secret).is_err());
        assert!(
            keys.add("sb_publishable_abcdefghijklmnopqrstuv", KeyRole::Secret)
                .is_err()
        );
        assert!(
            keys.add(
                "sb_publishable_abcdefghijklmnopqrst v",
                KeyRole::Publishable
            )
            .is_err()
        );
        assert!(keys.is_empty());
        assert!(looks_like_api_key("sb_secret_x") && !looks_like_api_key("eyJhbGci"));
    }
}
