//! Signatures with keys from a JWKS. The gateway uses the runtime's WebCrypto
//! (`crypto.subtle`, in `edge::webcrypto`): measured against the RustCrypto crates it
//! costs nothing in the bundle (docs/BENCHMARKS.md). Native builds (unit tests, xtask,
//! fuzzing) use [`native::RustCrypto`]. HS256 is an HMAC and needs neither.

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

use super::jwks::{Jwk, KeySet};
use super::jwt::{self, Alg, Claims, JwtError};

/// Asymmetric signatures: ES256 as raw `r || s` (the JWS form, which is also
/// WebCrypto's), RS256 as RSASSA-PKCS1-v1_5 with SHA-256.
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait JwtCrypto {
    /// Whether `signature` is `key`'s over `input`; `Err` when the key cannot be used.
    async fn verify(
        &self,
        alg: Alg,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool, String>;

    /// `key`'s ES256 signature over `input`.
    async fn sign_es256(&self, key: &Jwk, input: &[u8]) -> Result<Vec<u8>, String>;
}

/// Checks `token`'s signature with the key its header chooses from `keys`, then the
/// clock (as [`jwt::verify`]). Unknown `kid`s are [`JwtError::UnknownKey`], so the
/// caller may refresh a fetched key set once and try again.
pub async fn verify(
    token: &str,
    keys: &KeySet,
    crypto: &impl JwtCrypto,
    now: i64,
) -> Result<Claims, JwtError> {
    let token = jwt::parse(token)?;
    let mut verified = false;
    for key in keys.candidates(token.alg, token.kid.as_deref())? {
        verified = match token.alg {
            Alg::Hs256 => {
                let secret = key.bytes("k").map_err(|_| JwtError::BadSignature)?;
                jwt::hs256_matches(&secret, token.signing_input, &token.signature)
            }
            Alg::Es256 | Alg::Rs256 => crypto
                .verify(token.alg, key, token.signing_input, &token.signature)
                .await
                .unwrap_or(false),
        };
        if verified {
            break;
        }
    }
    if !verified {
        return Err(JwtError::BadSignature);
    }
    jwt::check_clock(&token.claims, now)?;
    Ok(token.claims)
}

/// A token for `claims` signed with `key`: ES256 for an EC key, HS256 for an `oct` one.
pub async fn sign(claims: &Claims, key: &Jwk, crypto: &impl JwtCrypto) -> Result<String, String> {
    match key.algorithm()? {
        Alg::Hs256 => Ok(jwt::sign_hs256_as(
            claims,
            &key.bytes("k")?,
            key.kid.as_deref(),
        )),
        Alg::Es256 => {
            let input = jwt::signing_input(claims, Alg::Es256, key.kid.as_deref());
            let signature = crypto.sign_es256(key, input.as_bytes()).await?;
            Ok(jwt::assemble(&input, &signature))
        }
        Alg::Rs256 => Err("the gateway signs with EC P-256 or HS256 keys, not RSA".into()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use futures::executor::block_on;
    use proptest::prelude::*;

    use super::native::{RustCrypto, new_es256_key, sign_rs256};
    use super::*;

    /// Test keys made with node's WebCrypto (`crypto.generateKeyPairSync`, JWK export).
    pub const EC_KEY: &str = include_str!("test-ec-key.json");
    pub const RSA_KEY: &str = include_str!("test-rsa-key.json");
    /// Signed by node's WebCrypto with those keys, claims expiring at 2000000000.
    const WEBCRYPTO_ES256: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6InRlc3QtZWMiLCJ0eXAiOiJKV1QifQ.eyJyb2xlIjoiYXV0aGVudGljYXRlZCIsInN1YiI6IjIyMjIyMjIyLTIyMjItNDIyMi04MjIyLTAwMDAwMDAwMDAwMSIsImF1ZCI6ImF1dGhlbnRpY2F0ZWQiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MjAwMDAwMDAwMH0.GKvUqF8vcEvSEbpwMXUQATGZg8VBN3cLwZu52j6KG-lswndi_LvBW5hLwxWhCIfa6e6KLTtnI4Z026XwppZtOQ";
    const WEBCRYPTO_RS256: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QtcnNhIiwidHlwIjoiSldUIn0.eyJyb2xlIjoiYXV0aGVudGljYXRlZCIsInN1YiI6IjIyMjIyMjIyLTIyMjItNDIyMi04MjIyLTAwMDAwMDAwMDAwMSIsImF1ZCI6ImF1dGhlbnRpY2F0ZWQiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MjAwMDAwMDAwMH0.bdND_Nr2wWyqqOj9m5Zv4TDid-SFVBvOTa8XzpxvXmxoIWSBxth1EfBHGF72SjfCZTdqdhYl22cDOxumegKVGPExrS_8qZ5i2Py1et-7xmxE0sIc7JW8yARvRXq9w9vmCZtp_57lYaSrYecGqrRRQ08NKmk8-W5rrCaXenILlbzXC5ZjXmYdyVCcCtYieHMNGJLuu1Mjt-b31xtcRjN5q3gdWHsXXz4XNEGB2jvTqr4xGsAtaHSYfXcsMtebJMBDK2RYCSiemfAnJuXcQpwiwVGAyAtnNWHRqPuCdkx9mh0o2SoR-5c3EyBSwV7EYtJX6M9XjOo1sI52KsXMqQZgCA";

    fn key(raw: &str) -> Jwk {
        serde_json::from_str(raw).unwrap()
    }

    fn trusted() -> KeySet {
        KeySet {
            keys: vec![
                key(EC_KEY).public().unwrap(),
                key(RSA_KEY).public().unwrap(),
                Jwk::hs256(
                    b"super-secret-jwt-token-with-at-least-32-characters-long",
                    None,
                ),
            ],
        }
    }

    fn check(token: &str, keys: &KeySet, now: i64) -> Result<Claims, JwtError> {
        block_on(verify(token, keys, &RustCrypto, now))
    }

    #[test]
    fn tokens_signed_by_webcrypto_verify_and_tampering_does_not() {
        for token in [WEBCRYPTO_ES256, WEBCRYPTO_RS256] {
            let claims = check(token, &trusted(), 1_700_000_000).unwrap();
            assert_eq!(claims.role, "authenticated");
            let (rest, signature) = token.rsplit_once('.').unwrap();
            let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
            bytes[7] ^= 1;
            let forged = format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes));
            assert_eq!(
                check(&forged, &trusted(), 1_700_000_000),
                Err(JwtError::BadSignature)
            );
            assert_eq!(
                check(token, &trusted(), 2_000_000_000),
                Err(JwtError::Expired { exp: 2_000_000_000 })
            );
        }
        // Supabase's legacy anon key, HS256 with no kid, still verifies.
        let anon = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
        assert_eq!(check(anon, &trusted(), 1_700_000_000).unwrap().role, "anon");
    }

    #[test]
    fn a_key_set_without_the_kid_or_the_algorithm_refuses() {
        let only_ec = KeySet {
            keys: vec![key(EC_KEY).public().unwrap()],
        };
        assert_eq!(
            check(WEBCRYPTO_RS256, &only_ec, 1_700_000_000),
            Err(JwtError::UnknownKey {
                kid: Some("test-rsa".into())
            })
        );
        // Algorithm confusion: HS256 keyed with the EC key's public x, naming the EC key.
        let ec = key(EC_KEY);
        let claims = Claims::new("service_role", "attacker", 0, 2_000_000_000);
        let confused = jwt::sign_hs256_as(&claims, &ec.bytes("x").unwrap(), ec.kid.as_deref());
        assert!(matches!(
            check(&confused, &trusted(), 1_700_000_000),
            Err(JwtError::KeyMismatch { .. })
        ));
        let unnamed = jwt::sign_hs256(&claims, &ec.bytes("x").unwrap());
        assert_eq!(
            check(&unnamed, &trusted(), 1_700_000_000),
            Err(JwtError::BadSignature)
        );
        assert_eq!(
            check(&unnamed, &only_ec, 1_700_000_000),
            Err(JwtError::UnknownKey { kid: None })
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"test-ec"}"#),
            WEBCRYPTO_ES256.split('.').nth(1).unwrap()
        );
        assert_eq!(
            check(&none, &trusted(), 1_700_000_000),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
    }

    #[test]
    fn rs256_signed_here_verifies_with_the_public_key_only() {
        let claims = Claims::new("authenticated", "t", 0, 100);
        let input = jwt::signing_input(&claims, Alg::Rs256, Some("test-rsa"));
        let token = jwt::assemble(&input, &sign_rs256(RSA_KEY, input.as_bytes()).unwrap());
        assert_eq!(check(&token, &trusted(), 50).unwrap(), claims);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn es256_round_trips_and_binds_to_its_key(
            role in "[a-z_]{1,20}",
            iat in 0i64..4_000_000_000,
        ) {
            let ours = new_es256_key("ours").unwrap();
            let theirs = new_es256_key("ours").unwrap(); // same kid, another key
            let claims = Claims::new(&role, "payhuk", iat, iat + 60);
            let token = block_on(sign(&claims, &ours, &RustCrypto)).unwrap();
            let set = |k: &Jwk| KeySet { keys: vec![k.public().unwrap()] };
            prop_assert_eq!(check(&token, &set(&ours), iat).unwrap(), claims);
            prop_assert_eq!(check(&token, &set(&theirs), iat), Err(JwtError::BadSignature));
        }
    }
}
