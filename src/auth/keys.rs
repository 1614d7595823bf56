//! Keys derived from the project's JWT secret, one per purpose, so the secret itself
//! only ever signs JWTs and a token made for one purpose is useless for another.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_and_secrets_give_different_keys() {
        let a = derive_key(b"secret-one", "consistency");
        assert_eq!(a, derive_key(b"secret-one", "consistency"));
        assert_ne!(a, derive_key(b"secret-one", "download"));
        assert_ne!(a, derive_key(b"secret-two", "consistency"));
    }
}
