//! JSON Web Key Sets (RFC 7517) as Supabase publishes them at
//! `/auth/v1/.well-known/jwks.json` and PostgREST takes them in `jwt-secret`: which
//! keys are trusted, and which one a token's header chooses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::jwt::{Alg, JwtError};

/// One key, with the members the gateway uses (others, such as an RSA key's primes, are
/// dropped when read). Private parts (`d`, an `oct` key's `k`) are kept only in
/// memory, never published (see [`Jwk::public`]) and never printed (`Debug` names the key).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("private", &self.is_private())
            .finish_non_exhaustive()
    }
}

/// RSA keys shorter than this are refused (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;
/// An `oct` key shorter than this is refused, as PostgREST refuses a short secret.
pub const MIN_OCT_BYTES: usize = 32;

fn b64(value: Option<&String>, what: &str) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("has no `{what}`"))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("`{what}` is not base64url"))
}

impl Jwk {
    /// An `oct` key for HS256 holding `secret` (the legacy shared JWT secret).
    pub fn hs256(secret: &[u8], kid: Option<&str>) -> Jwk {
        Jwk {
            kty: "oct".into(),
            kid: kid.map(str::to_owned),
            alg: Some("HS256".into()),
            k: Some(URL_SAFE_NO_PAD.encode(secret)),
            ..Jwk::empty()
        }
    }

    fn empty() -> Jwk {
        Jwk {
            kty: String::new(),
            kid: None,
            alg: None,
            use_: None,
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            d: None,
            k: None,
        }
    }

    /// The algorithm this key signs with, from its type (and `alg`, which must agree).
    pub fn algorithm(&self) -> Result<Alg, String> {
        let by_type = match (self.kty.as_str(), self.crv.as_deref()) {
            ("oct", _) => Alg::Hs256,
            ("EC", Some("P-256")) => Alg::Es256,
            ("EC", crv) => return Err(format!("curve {crv:?} is not P-256")),
            ("RSA", _) => Alg::Rs256,
            (kty, _) => return Err(format!("key type `{kty}` is not oct, EC or RSA")),
        };
        match self.alg.as_deref() {
            None => Ok(by_type),
            Some(alg) if alg == by_type.name() => Ok(by_type),
            Some(alg) => Err(format!("`alg` {alg} does not fit a {} key", self.kty)),
        }
    }

    /// Checks the key is complete and strong enough; returns its algorithm.
    pub fn validate(&self) -> Result<Alg, String> {
        let alg = self.algorithm()?;
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err("`use` is not `sig`".into());
        }
        match alg {
            Alg::Hs256 => {
                if b64(self.k.as_ref(), "k")?.len() < MIN_OCT_BYTES {
                    return Err(format!("`k` is shorter than {MIN_OCT_BYTES} bytes"));
                }
            }
            Alg::Es256 => {
                for (part, value) in [("x", &self.x), ("y", &self.y)] {
                    if b64(value.as_ref(), part)?.len() != 32 {
                        return Err(format!("`{part}` is not 32 bytes"));
                    }
                }
                if self.d.is_some() && b64(self.d.as_ref(), "d")?.len() != 32 {
                    return Err("`d` is not 32 bytes".into());
                }
            }
            Alg::Rs256 => {
                let n = b64(self.n.as_ref(), "n")?;
                let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                if bits < MIN_RSA_BITS {
                    return Err(format!("modulus is {bits} bits, under {MIN_RSA_BITS}"));
                }
                b64(self.e.as_ref(), "e")?;
            }
        }
        Ok(alg)
    }

    /// Whether the key holds a private part (it can sign).
    pub fn is_private(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }

    /// The key as it may be published: public parts only; `None` for an `oct` key,
    /// which is all secret.
    pub fn public(&self) -> Option<Jwk> {
        if self.kty == "oct" {
            return None;
        }
        Some(Jwk {
            d: None,
            k: None,
            ..self.clone()
        })
    }

    /// Raw bytes of a base64url member, for the crypto backends.
    pub fn bytes(&self, member: &str) -> Result<Vec<u8>, String> {
        let value = match member {
            "x" => &self.x,
            "y" => &self.y,
            "d" => &self.d,
            "n" => &self.n,
            "e" => &self.e,
            "k" => &self.k,
            _ => return Err(format!("no member `{member}`")),
        };
        b64(value.as_ref(), member)
    }
}

/// A set of trusted keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`) or a single JWK, checking every key;
    /// every problem is reported together.
    pub fn parse(raw: &str) -> Result<KeySet, String> {
        // A set, else a single key; no `serde_json::Value` in between (it costs bundle).
        let set = serde_json::from_str::<KeySet>(raw).or_else(|as_set| {
            serde_json::from_str::<Jwk>(raw)
                .map(|key| KeySet { keys: vec![key] })
                .map_err(|_| format!("is not a JWKS nor a JWK: {as_set}"))
        })?;
        set.validate()?;
        Ok(set)
    }

    fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (i, key) in self.keys.iter().enumerate() {
            if let Err(why) = key.validate() {
                let name = key
                    .kid
                    .as_deref()
                    .map_or(format!("key {i}"), |k| format!("key `{k}`"));
                problems.push(format!("{name}: {why}"));
            }
        }
        let mut kids: Vec<&str> = self.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
        kids.sort_unstable();
        if let Some(pair) = kids.windows(2).find(|w| w[0] == w[1]) {
            problems.push(format!("`kid` {} is used twice", pair[0]));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// This set and then `other`'s keys.
    pub fn with(mut self, other: &KeySet) -> KeySet {
        self.keys.extend(other.keys.iter().cloned());
        self
    }

    /// The keys a token with this header may be verified with: the one its `kid` names
    /// (which must be for the token's algorithm), or without a `kid`, every key for the
    /// token's algorithm (the legacy HS256 keys carry none).
    pub fn candidates(&self, alg: Alg, kid: Option<&str>) -> Result<Vec<&Jwk>, JwtError> {
        let found: Vec<&Jwk> = match kid {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid))
                    .ok_or_else(|| JwtError::UnknownKey {
                        kid: Some(kid.to_owned()),
                    })?;
                if key.algorithm() != Ok(alg) {
                    return Err(JwtError::KeyMismatch {
                        kid: kid.to_owned(),
                        alg: alg.name().to_owned(),
                    });
                }
                vec![key]
            }
            None => self
                .keys
                .iter()
                .filter(|k| k.algorithm() == Ok(alg))
                .collect(),
        };
        if found.is_empty() {
            return Err(JwtError::UnknownKey { kid: None });
        }
        Ok(found)
    }

    /// The set as it may be published: public keys only.
    pub fn public(&self) -> KeySet {
        KeySet {
            keys: self.keys.iter().filter_map(Jwk::public).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::auth::crypto::tests::EC_KEY;

    #[test]
    fn a_set_checks_every_key_and_reports_every_problem() {
        let set = KeySet::parse(&format!(r#"{{"keys":[{EC_KEY}]}}"#)).unwrap();
        assert_eq!(set.keys[0].algorithm(), Ok(Alg::Es256));
        assert!(
            KeySet::parse(EC_KEY).is_ok(),
            "a single JWK is a set of one"
        );

        let bad = r#"{"keys":[
            {"kty":"EC","crv":"P-384","kid":"a","x":"AA","y":"AA"},
            {"kty":"oct","kid":"b","k":"c2hvcnQ"},
            {"kty":"RSA","kid":"c","n":"AQAB","e":"AQAB"},
            {"kty":"EC","crv":"P-256","kid":"d","alg":"RS256","x":"AA","y":"AA"},
            {"kty":"oct","kid":"b","k":"c2hvcnQ"}]}"#;
        let problems = KeySet::parse(bad).unwrap_err();
        for expected in [
            "key `a`: curve",
            "key `b`: `k` is shorter",
            "key `c`: modulus is 17 bits",
            "key `d`: `alg` RS256",
            "`kid` b is used twice",
        ] {
            assert!(problems.contains(expected), "{expected} in {problems}");
        }
        assert!(KeySet::parse("{}").is_err());
        assert!(KeySet::parse(r#"{"kty":"none"}"#).is_err());
    }

    #[test]
    fn the_kid_chooses_the_key_and_its_algorithm_must_match() {
        let set = KeySet::parse(&format!(r#"{{"keys":[{EC_KEY}]}}"#))
            .unwrap()
            .with(&KeySet {
                keys: vec![Jwk::hs256(&[7; 32], None)],
            });
        assert_eq!(
            set.candidates(Alg::Es256, Some("test-ec")).unwrap().len(),
            1
        );
        assert_eq!(
            set.candidates(Alg::Hs256, Some("test-ec")),
            Err(JwtError::KeyMismatch {
                kid: "test-ec".into(),
                alg: "HS256".into()
            }),
            "an HS256 token may not name an EC key (its public x would be the secret)"
        );
        assert_eq!(
            set.candidates(Alg::Es256, Some("other")),
            Err(JwtError::UnknownKey {
                kid: Some("other".into())
            })
        );
        assert_eq!(set.candidates(Alg::Hs256, None).unwrap()[0].kty, "oct");
        assert_eq!(
            set.candidates(Alg::Rs256, None),
            Err(JwtError::UnknownKey { kid: None })
        );
    }

    #[test]
    fn only_public_parts_are_published() {
        let set = KeySet::parse(&format!(r#"{{"keys":[{EC_KEY}]}}"#))
            .unwrap()
            .with(&KeySet {
                keys: vec![Jwk::hs256(&[7; 32], Some("legacy"))],
            });
        let published = serde_json::to_string(&set.public()).unwrap();
        assert!(!published.contains("\"d\""), "{published}");
        assert!(!published.contains("legacy"), "{published}");
        assert!(published.contains("\"x\""), "{published}");
        let printed = format!("{set:?}");
        let ec: Jwk = serde_json::from_str(EC_KEY).unwrap();
        assert!(!printed.contains(ec.d.as_deref().unwrap()), "{printed}");
    }
}
