//! ES256 and RS256 with the RustCrypto crates, for everything that does not run in the
//! Workers runtime: unit tests, xtask (keys, drills) and the fuzz targets.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs1v15;
use rsa::sha2::Sha256;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};

use super::JwtCrypto;
use crate::auth::jwks::Jwk;
use crate::auth::jwt::Alg;

#[derive(Debug, Default, Clone, Copy)]
pub struct RustCrypto;

fn ec_public(key: &Jwk) -> Result<VerifyingKey, String> {
    let (x, y) = (key.bytes("x")?, key.bytes("y")?);
    if x.len() != 32 || y.len() != 32 {
        return Err("x and y must be 32 bytes".into());
    }
    let point = p256::EncodedPoint::from_affine_coordinates(
        p256::FieldBytes::from_slice(&x),
        p256::FieldBytes::from_slice(&y),
        false,
    );
    VerifyingKey::from_encoded_point(&point).map_err(|e| format!("not a P-256 point: {e}"))
}

fn rsa_public(key: &Jwk) -> Result<RsaPublicKey, String> {
    RsaPublicKey::new(
        BigUint::from_bytes_be(&key.bytes("n")?),
        BigUint::from_bytes_be(&key.bytes("e")?),
    )
    .map_err(|e| format!("not an RSA public key: {e}"))
}

impl JwtCrypto for RustCrypto {
    async fn verify(
        &self,
        alg: Alg,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        match alg {
            Alg::Es256 => {
                let Ok(signature) = Signature::from_slice(signature) else {
                    return Ok(false);
                };
                Ok(ec_public(key)?.verify(input, &signature).is_ok())
            }
            Alg::Rs256 => {
                let Ok(signature) = pkcs1v15::Signature::try_from(signature) else {
                    return Ok(false);
                };
                let key = pkcs1v15::VerifyingKey::<Sha256>::new(rsa_public(key)?);
                Ok(key.verify(input, &signature).is_ok())
            }
            Alg::Hs256 => Err("HS256 is an HMAC, not a signature".into()),
        }
    }

    async fn sign_es256(&self, key: &Jwk, input: &[u8]) -> Result<Vec<u8>, String> {
        let key = SigningKey::from_slice(&key.bytes("d")?)
            .map_err(|e| format!("not a P-256 private key: {e}"))?;
        let signature: Signature = key.sign(input);
        Ok(signature.to_bytes().to_vec())
    }
}

/// An RS256 signature with a private RSA JWK given as JSON, primes included (tests and
/// drills: the gateway never signs with RSA).
pub fn sign_rs256(private_jwk: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    let jwk: serde_json::Value = serde_json::from_str(private_jwk).map_err(|e| e.to_string())?;
    let part = |name: &str| -> Result<BigUint, String> {
        let value = jwk[name]
            .as_str()
            .ok_or_else(|| format!("has no `{name}`"))?;
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, value)
            .map(|b| BigUint::from_bytes_be(&b))
            .map_err(|_| format!("`{name}` is not base64url"))
    };
    let private = RsaPrivateKey::from_components(
        part("n")?,
        part("e")?,
        part("d")?,
        vec![part("p")?, part("q")?],
    )
    .map_err(|e| format!("not an RSA private key: {e}"))?;
    let signature = pkcs1v15::SigningKey::<Sha256>::new(private).sign(input);
    Ok(Box::<[u8]>::from(signature).into_vec())
}

/// A new P-256 key pair as a private JWK named `kid`.
pub fn new_es256_key(kid: &str) -> Result<Jwk, String> {
    let mut d = [0u8; 32];
    let key = loop {
        getrandom::getrandom(&mut d).map_err(|e| format!("no randomness: {e}"))?;
        if let Ok(key) = SigningKey::from_slice(&d) {
            break key;
        }
    };
    let point = key.verifying_key().to_encoded_point(false);
    let b64 = |bytes: &[u8]| {
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    };
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": b64(point.x().ok_or("no x")?), "y": b64(point.y().ok_or("no y")?), "d": b64(&d),
    });
    serde_json::from_value(jwk).map_err(|e| e.to_string())
}
