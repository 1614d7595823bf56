//! ES256 and RS256 with the RustCrypto crates, exported to JavaScript with wasm-bindgen
//! and built as the gateway is built (wasm32, `opt-level = "z"`, LTO), so that
//! `cargo xtask bench --jwt` can time them beside the runtime's WebCrypto and weigh
//! what each would add to the bundle. Each operation is a cargo feature: a build with
//! only `es256-verify` is what ES256 verification alone would cost.
//!
//! Keys and signatures are raw bytes, as a JWK and a JWS carry them once base64url is
//! undone: P-256 `x`, `y`, `d` (32 bytes each), ES256 signatures as `r || s`, RSA `n`
//! and `e` big-endian.

use wasm_bindgen::prelude::wasm_bindgen;

/// Nothing but the wasm-bindgen glue: what every variant's size is compared to.
#[wasm_bindgen]
pub fn baseline(input: &[u8]) -> usize {
    input.len()
}

#[cfg(feature = "es256-verify")]
#[wasm_bindgen]
pub fn verify_es256(x: &[u8], y: &[u8], signing_input: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    if x.len() != 32 || y.len() != 32 {
        return false;
    }
    let mut sec1 = [4u8; 65];
    sec1[1..33].copy_from_slice(x);
    sec1[33..].copy_from_slice(y);
    let (Ok(key), Ok(signature)) = (
        VerifyingKey::from_sec1_bytes(&sec1),
        Signature::from_slice(signature),
    ) else {
        return false;
    };
    key.verify(signing_input, &signature).is_ok()
}

/// The raw `r || s` signature (64 bytes), or an empty array for a bad key.
#[cfg(feature = "es256-sign")]
#[wasm_bindgen]
pub fn sign_es256(d: &[u8], input: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};

    let Ok(key) = SigningKey::from_slice(d) else {
        return Vec::new();
    };
    let signature: Signature = key.sign(input);
    signature.to_bytes().to_vec()
}

#[cfg(feature = "rs256-verify")]
#[wasm_bindgen]
pub fn verify_rs256(n: &[u8], e: &[u8], signing_input: &[u8], signature: &[u8]) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::sha2::Sha256;
    use rsa::signature::Verifier;
    use rsa::{BoxedUint, PublicKey};

    let Ok(key) = PublicKey::new(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from_be_slice_vartime(e),
    ) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(signature) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key)
        .verify(signing_input, &signature)
        .is_ok()
}
