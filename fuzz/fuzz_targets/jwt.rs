//! JWTs from `Authorization: Bearer` and `apikey`: `jwt::parse`, `jwt::decode_verified`,
//! `jwt::verify`, `crypto::verify` over the configuration's trusted keys (the EC
//! signing key, the RSA key of `JWT_JWKS`, the legacy HS256 secret), `crypto::sign`,
//! and `auth::request::authenticate`.
//!
//! Input: `<mode>\n<now>\n<rest>`.
//! - `signed`: rest is `<header JSON>\n<claims JSON>`, signed HS256 here with the
//!   project's secret, so the header and claims parsers run past the signature check;
//! - `es256`: the same, signed ES256 with the EC signing key, whatever else the header
//!   says (its `alg` and `kid` are the fuzzer's: an RS256 or HS256 header naming
//!   `test-ec` is algorithm confusion);
//! - `rs256`: the same, signed RS256 with the RSA key of `JWT_JWKS`;
//! - `confused`: rest is `<secret>\n<header JSON>\n<claims JSON>`, signed HS256 with a
//!   public key as the secret (`ec-x`, `ec-jwk`, `rsa-n`, `rsa-jwk`; anything else is
//!   the secret itself): the classic attack on verifiers that let the header choose;
//! - anything else: rest is the token as a client sends it (also tried verbatim as
//!   the `Authorization` header).
//!
//! In `es256` and `rs256`, a header the gateway does not read as that algorithm gets
//! bytes of a signature's length instead (no key of that kind is tried for it).
//!
//! Invariants: `crypto::verify` fails exactly as `jwt::parse` does on what does not
//! parse; a token's signature holds under at most one of two unrelated key sets with
//! the same kids (another EC key, another RSA key, another secret); a `kid` that is not
//! trusted is `UnknownKey`, and one naming a key of another algorithm (an HS256 token
//! naming the EC or RSA key, say) is `KeyMismatch`; no HS256 token naming a key is
//! accepted; an `alg` other than HS256, ES256 and RS256 (`none` first of all) is never
//! accepted; an HS256 token without `kid` verifies as `jwt::verify` with the secret
//! says; accepted claims are the token's; what `crypto::sign` makes of them with the
//! secret (HS256), and for an ES256 token with the signing key (ES256 under its kid),
//! verifies to the same claims; `verify` is `decode_verified` plus the clock;
//! `authenticate` either refuses with 401 or returns exactly the claims
//! `crypto::verify` gives for its token, and accepts a clean `apikey` exactly when
//! `crypto::verify` does (no audience is configured).
//!
//! Cost: an ECDSA or RSA operation takes milliseconds under the sanitizers, so inputs
//! are signed with keys parsed once, `authenticate` reuses the reference
//! verification's answers (`Remembering`), and the other key set is asked only when
//! the trusted one accepts the signature.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use p256::ecdsa::signature::Signer;
use payhuk_edge::auth::crypto::native::{RustCrypto, sign_rs256};
use payhuk_edge::auth::crypto::{self, JwtCrypto};
use payhuk_edge::auth::jwks::Jwk;
use payhuk_edge::auth::jwt::{self, Alg, CLOCK_SKEW_SECS, Claims, JwtError};
use payhuk_edge::auth::request::{NoFetchedKeys, authenticate};
use payhuk_edge_fuzz::{
    EC_KEY, Headers, OTHER_SECRET, RSA_KEY, SECRET, clock, config, fields, jwk, jwt_input,
    other_keys, same_json, signed_jwt, text,
};

/// The keys the modes sign with, read once.
struct Keys {
    ec: p256::ecdsa::SigningKey,
    rsa: ring::rsa::KeyPair,
    /// Public key material an attacker knows, by name, for the `confused` mode.
    public: Vec<(&'static str, Vec<u8>)>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ec = jwk(EC_KEY);
        let rsa = jwk(RSA_KEY).public().expect("an RSA key has a public half");
        let ec_public = ec.public().expect("an EC key has a public half");
        let json = |k: &Jwk| serde_json::to_vec(k).expect("a key serializes");
        let public = vec![
            ("ec-x", ec.bytes("x").expect("x")),
            ("ec-jwk", json(&ec_public)),
            ("rsa-n", rsa.bytes("n").expect("n")),
            ("rsa-jwk", json(&rsa)),
        ];
        let keys = Keys {
            ec: p256::ecdsa::SigningKey::from_slice(&ec.bytes("d").expect("d"))
                .expect("the EC key is a P-256 key"),
            rsa: ring_rsa_key(),
            public,
        };
        // Both sign as the gateway's own functions do (ES256 with RFC 6979 nonces and
        // PKCS#1 v1.5 are deterministic).
        let input = b"eyJhbGciOiJSUzI1NiJ9.e30";
        assert_eq!(
            sign_rs256_fast(&keys, input),
            sign_rs256(RSA_KEY, input).expect("sign_rs256")
        );
        assert_eq!(
            sign_es256_fast(&keys, input),
            block_on(RustCrypto.sign_es256(&ec, input)).expect("sign_es256")
        );
        keys
    })
}

/// [`RSA_KEY`] for ring, from its JWK members.
fn ring_rsa_key() -> ring::rsa::KeyPair {
    let raw: serde_json::Value = serde_json::from_str(RSA_KEY).expect("the RSA key is JSON");
    let part = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(raw[name].as_str().expect("an RSA private JWK member"))
            .expect("base64url")
    };
    ring::rsa::KeyPair::from_components(&ring::rsa::KeyPairComponents {
        public_key: ring::rsa::PublicKeyComponents {
            n: part("n"),
            e: part("e"),
        },
        d: part("d"),
        p: part("p"),
        q: part("q"),
        dP: part("dp"),
        dQ: part("dq"),
        qInv: part("qi"),
    })
    .expect("ring takes the RSA key")
}

fn sign_es256_fast(keys: &Keys, input: &[u8]) -> Vec<u8> {
    let signature: p256::ecdsa::Signature = keys.ec.sign(input);
    signature.to_bytes().to_vec()
}

fn sign_rs256_fast(keys: &Keys, input: &[u8]) -> Vec<u8> {
    let mut signature = vec![0; keys.rsa.public().modulus_len()];
    keys.rsa
        .sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input,
            &mut signature,
        )
        .expect("ring signs");
    signature
}

/// A token of the fuzzer's header and claims with `alg`'s signature, made only when
/// the gateway would read the header as `alg`: otherwise no key of that kind is ever
/// tried, and bytes of the signature's length do as well (an RSA signature costs tens
/// of milliseconds under the sanitizers).
fn asymmetric(header: &[u8], claims: &[u8], alg: Alg) -> String {
    let input = jwt_input(header, claims);
    let read_as = jwt::parse(&jwt::assemble(&input, &[])).map(|t| t.alg);
    let signature = match (alg, read_as) {
        (Alg::Es256, Ok(Alg::Es256)) => sign_es256_fast(keys(), input.as_bytes()),
        (Alg::Rs256, Ok(Alg::Rs256)) => sign_rs256_fast(keys(), input.as_bytes()),
        (Alg::Rs256, _) => vec![0x5a; 256],
        _ => vec![0x5a; 64],
    };
    jwt::assemble(&input, &signature)
}

/// `RustCrypto`, remembering within one execution what it verified: the reference
/// `crypto::verify` and the three `authenticate` calls check the same signature with
/// the same key, which costs milliseconds under the sanitizers. Each answer is
/// `RustCrypto`'s, computed the first time it is asked.
#[derive(Default)]
struct Remembering(RefCell<HashMap<Asked, Result<bool, String>>>);

/// A verification asked: the algorithm, the key (as JSON), the input, the signature.
type Asked = (Alg, String, Vec<u8>, Vec<u8>);

impl JwtCrypto for Remembering {
    async fn verify(
        &self,
        alg: Alg,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        let asked = (
            alg,
            serde_json::to_string(key).expect("a key serializes"),
            input.to_vec(),
            signature.to_vec(),
        );
        if let Some(answer) = self.0.borrow().get(&asked) {
            return answer.clone();
        }
        let answer = RustCrypto.verify(alg, key, input, signature).await;
        self.0.borrow_mut().insert(asked, answer.clone());
        answer
    }

    async fn sign_es256(&self, key: &Jwk, input: &[u8]) -> Result<Vec<u8>, String> {
        RustCrypto.sign_es256(key, input).await
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 3);
    let now = clock(f[1]);
    let signed = match f[0] {
        b"signed" => {
            let parts = fields(f[2], 2);
            Some(signed_jwt(parts[0], parts[1], SECRET.as_bytes()))
        }
        b"es256" => {
            let parts = fields(f[2], 2);
            Some(asymmetric(parts[0], parts[1], Alg::Es256))
        }
        b"rs256" => {
            let parts = fields(f[2], 2);
            Some(asymmetric(parts[0], parts[1], Alg::Rs256))
        }
        b"confused" => {
            let parts = fields(f[2], 3);
            let secret = keys()
                .public
                .iter()
                .find(|(name, _)| name.as_bytes() == parts[0])
                .map_or(parts[0], |(_, bytes)| bytes.as_slice());
            Some(signed_jwt(parts[1], parts[2], secret))
        }
        _ => None,
    };
    let (token, authorization) = match signed {
        Some(token) => {
            let bearer = format!("Bearer {token}");
            (token, bearer)
        }
        None => {
            let raw = text(f[2]);
            (raw.clone(), raw)
        }
    };
    check_hs256(&token, now);
    let crypto = Remembering::default();
    let verified = check_keys(&token, now, &crypto);

    for (i, headers) in [
        Headers::one("authorization", &authorization),
        Headers::one("apikey", &token),
        Headers::one("authorization", &format!("bearer {token}")).with("apikey", "ignored"),
    ]
    .into_iter()
    .enumerate()
    {
        let caller = block_on(authenticate(
            &headers,
            config(),
            &NoFetchedKeys,
            &crypto,
            now,
        ));
        match &caller {
            Ok(caller) => match (&caller.token, &caller.claims) {
                (Some(t), Some(claims)) => {
                    let expected = if *t == token {
                        verified.clone()
                    } else {
                        block_on(crypto::verify(t, &config().trusted_keys, &crypto, now))
                    };
                    assert_eq!(expected.as_ref(), Ok(claims), "authenticate accepted {t}");
                }
                (None, None) => {}
                other => panic!("a token without claims or claims without a token: {other:?}"),
            },
            Err(err) => assert_eq!(err.status(), 401, "{err:?}"),
        }
        // `apikey: <token>` alone, the token clean: no audience is configured, so the
        // gateway accepts it exactly when its signature and clock do.
        if i == 1 && !token.is_empty() && token.trim() == token {
            assert_eq!(
                caller.is_ok(),
                verified.is_ok(),
                "authenticate and crypto::verify disagree: {caller:?} / {verified:?}"
            );
        }
    }
});

/// The token's signature holds under the keys (the clock may still refuse it).
fn signature_holds(result: &Result<Claims, JwtError>) -> bool {
    matches!(
        result,
        Ok(_)
            | Err(JwtError::Expired { .. }
                | JwtError::NotYetValid { .. }
                | JwtError::IssuedInFuture { .. })
    )
}

/// The header's `alg` as a client wrote it, read without the gateway's parser. (Read
/// as text leniently: the gateway's parser skips the members it does not know without
/// checking they are UTF-8, which `serde_json::Value` would refuse.)
fn header_alg(token: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    let header: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&header)).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// `crypto::verify` with the trusted keys (through `crypto`, which remembers for
/// `authenticate`), against the other key set, the header and `jwt::verify`; returns
/// what it says.
fn check_keys(token: &str, now: i64, crypto: &Remembering) -> Result<Claims, JwtError> {
    let trusted = &config().trusted_keys;
    let verified = block_on(crypto::verify(token, trusted, crypto, now));
    if signature_holds(&verified) {
        let other = block_on(crypto::verify(token, other_keys(), &RustCrypto, now));
        assert!(
            !signature_holds(&other),
            "one token verified under two unrelated key sets: {verified:?} and {other:?}"
        );
    }
    if let Some(alg) = header_alg(token)
        && Alg::parse(&alg).is_none()
    {
        assert!(verified.is_err(), "a token with alg `{alg}` accepted");
    }

    let parsed = match jwt::parse(token) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert_eq!(verified, Err(e), "crypto::verify fails as jwt::parse");
            return verified;
        }
    };
    if verified.is_ok() {
        assert_eq!(
            header_alg(token).as_deref(),
            Some(parsed.alg.name()),
            "the header read otherwise names another algorithm"
        );
    }
    match &parsed.kid {
        Some(kid) => match trusted.keys.iter().find(|k| k.kid.as_ref() == Some(kid)) {
            None => assert_eq!(
                verified,
                Err(JwtError::UnknownKey {
                    kid: Some(kid.clone())
                })
            ),
            Some(key) if key.algorithm() != Ok(parsed.alg) => assert_eq!(
                verified,
                Err(JwtError::KeyMismatch {
                    kid: kid.clone(),
                    alg: parsed.alg.name().to_owned()
                }),
                "a {} token naming the {:?} key `{kid}`",
                parsed.alg.name(),
                key.algorithm()
            ),
            Some(_) => {}
        },
        // Only the legacy secret has no kid: the gateway's verify is `jwt::verify`.
        None if parsed.alg == Alg::Hs256 => assert_eq!(
            verified,
            jwt::verify(token, SECRET.as_bytes(), now),
            "an HS256 token without kid"
        ),
        None => {}
    }
    let claims = match &verified {
        Ok(claims) => claims,
        Err(_) => return verified,
    };
    assert_eq!(
        claims, &parsed.claims,
        "the claims accepted are the token's"
    );
    if parsed.alg == Alg::Hs256 {
        assert_eq!(parsed.kid, None, "an HS256 token accepted naming a key");
    }

    // What the gateway signs (claims it read included) verifies to itself, with the
    // legacy secret (HS256), and for claims read from an ES256 token with the signing
    // key too (ES256 under its kid); not under the other keys. (Both go through the
    // same `jwt::signing_input`; an ECDSA signature and its check cost milliseconds.)
    let legacy = Jwk::hs256(SECRET.as_bytes(), None);
    let signers = [(&legacy, Alg::Hs256), (&config().signing_key, Alg::Es256)];
    let signers = if parsed.alg == Alg::Es256 {
        &signers[..]
    } else {
        &signers[..1]
    };
    for &(key, alg) in signers {
        let again = block_on(crypto::sign(claims, key, &RustCrypto)).expect("the gateway signs");
        let header = jwt::parse(&again).expect("a token the gateway signs parses");
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (alg, key.kid.as_deref())
        );
        let back = block_on(crypto::verify(&again, trusted, &RustCrypto, now))
            .expect("a token the gateway signs verifies");
        assert_same_claims(&back, claims);
        // (ES256 under the other EC key is what the first check of all covers; it
        // costs a verification more here.)
        if alg == Alg::Hs256 {
            assert_eq!(
                block_on(crypto::verify(&again, other_keys(), &RustCrypto, now)),
                Err(JwtError::BadSignature),
                "a token the gateway signs verifies under another key"
            );
        }
    }
    verified
}

fn assert_same_claims(a: &Claims, b: &Claims) {
    assert_eq!(
        (&a.role, &a.iss, &a.sub, a.iat, a.exp),
        (&b.role, &b.iss, &b.sub, b.iat, b.exp)
    );
    assert!(same_json(
        &serde_json::Value::Object(a.extra.clone()),
        &serde_json::Value::Object(b.extra.clone())
    ));
}

/// The HS256 primitives with the secret alone: `decode_verified` and `verify`.
fn check_hs256(token: &str, now: i64) {
    let verified = jwt::decode_verified(token, SECRET.as_bytes());
    let other = jwt::decode_verified(token, OTHER_SECRET.as_bytes());
    assert!(
        !(verified.is_ok() && other.is_ok()),
        "one token verified under two secrets"
    );
    let claims = match verified {
        Ok(claims) => claims,
        Err(_) => {
            assert!(jwt::verify(token, SECRET.as_bytes(), now).is_err());
            return;
        }
    };
    // `verify` is `decode_verified` plus the clock (`exp`, and `nbf`/`iat` within the
    // allowed skew).
    let skewed = now + CLOCK_SKEW_SECS;
    match jwt::verify(token, SECRET.as_bytes(), now) {
        Ok(c) => {
            assert_eq!(c, claims);
            assert_eq!(jwt::check_clock(&claims, now), Ok(()));
            assert!(claims.exp.is_none_or(|exp| exp > now));
            assert!(claims.iat.is_none_or(|iat| iat <= skewed));
        }
        Err(e) => {
            assert_eq!(jwt::check_clock(&claims, now), Err(e.clone()));
            match e {
                JwtError::Expired { exp } => assert!(claims.exp == Some(exp) && exp <= now),
                JwtError::NotYetValid { nbf } => assert!(nbf > skewed),
                JwtError::IssuedInFuture { iat } => {
                    assert!(claims.iat == Some(iat) && iat > skewed)
                }
                other => panic!("decode_verified accepted what verify refuses: {other}"),
            }
        }
    }
    // What `sign_hs256` makes of the claims decodes to itself, and only under its own
    // secret.
    let again = jwt::sign_hs256(&claims, SECRET.as_bytes());
    let back: Claims = jwt::decode_verified(&again, SECRET.as_bytes())
        .expect("a token the gateway signs verifies");
    assert_same_claims(&back, &claims);
    assert_eq!(
        jwt::decode_verified(&again, OTHER_SECRET.as_bytes()),
        Err(JwtError::BadSignature)
    );
}
