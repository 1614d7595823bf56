//! What the fuzz targets share: the input framing, fixed keys and configuration, a
//! header map, and a scripted database for the service handlers.
//!
//! Inputs are text split into newline-separated fields (the last field takes the
//! rest, newlines included), so the committed seeds in `fuzz/seeds/<target>/` are
//! readable files one can write by hand, and a crash input reads as a request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use payhuk_edge::auth::jwks::{Jwk, KeySet};
use payhuk_edge::auth::jwt::{Claims, sign_hs256};
use payhuk_edge::config::Config;
use payhuk_edge::db::{Db, DbReply, DbRequest};
use payhuk_edge::error::AppError;
use payhuk_edge::region::HeaderLookup;
use payhuk_edge::services::payments::providers::{ApiCall, ApiReply, ProviderApi};
use sha2::Sha256;

/// The clock the targets run at unless the input says otherwise.
pub const NOW: i64 = 1_700_000_000;
/// The latest time a target lets the clock be (2100-01-01): `now` comes from the
/// runtime's clock, never from a client.
pub const LATEST: i64 = 4_102_444_800;
/// The project's JWT secret in the targets; every derived key comes from it.
pub const SECRET: &str = "fuzzing-jwt-secret-that-is-long-enough-0000";
/// A second secret: nothing signed with [`SECRET`] may verify under it.
pub const OTHER_SECRET: &str = "another-jwt-secret-that-is-long-enough-00000";
/// Every payment provider's webhook secret in the targets.
pub const WEBHOOK_SECRET: &str = "whsec_fuzzing_secret_0001";

/// The gateway's signing key in the targets (`JWT_SIGNING_KEY`): the unit tests' EC
/// P-256 key made by node's WebCrypto, private, kid `test-ec`.
pub const EC_KEY: &str = include_str!("../../src/auth/crypto/test-ec-key.json");
/// The unit tests' RSA key (private, primes included, kid `test-rsa`); its public half
/// is trusted through `JWT_JWKS`.
pub const RSA_KEY: &str = include_str!("../../src/auth/crypto/test-rsa-key.json");
/// Another EC P-256 key (private) under the same kid `test-ec`, made once for the
/// targets: nothing signed with [`EC_KEY`] may verify under it.
pub const OTHER_EC_KEY: &str = include_str!("../keys/other-ec-key.json");
/// Another RSA key's public half under the same kid `test-rsa`.
pub const OTHER_RSA_PUBLIC_KEY: &str = include_str!("../keys/other-rsa-public-key.json");

/// `data` as `n` fields separated by `\n`; the last one is the rest of the input.
/// Missing fields are empty.
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 1..n {
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// A field as text (header values and URLs reach the gateway as Rust strings).
pub fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// A field as a whole number, or `default` when it is not one.
pub fn number(field: &[u8], default: i64) -> i64 {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// A field as the runtime's clock: a number between 0 and [`LATEST`].
pub fn clock(field: &[u8]) -> i64 {
    number(field, NOW).clamp(0, LATEST)
}

/// Request or response headers; names compare case-insensitively, as in Workers.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn one(name: &str, value: &str) -> Headers {
        Headers(vec![(name.to_owned(), value.to_owned())])
    }

    pub fn with(mut self, name: &str, value: &str) -> Headers {
        self.0.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `name: value` entries separated by `separator`; an entry without a colon is a
    /// name with an empty value.
    pub fn parse(block: &str, separator: char) -> Headers {
        Headers(
            block
                .split(separator)
                .filter(|l| !l.is_empty())
                .map(|l| match l.split_once(':') {
                    Some((n, v)) => (n.trim().to_owned(), v.trim().to_owned()),
                    None => (l.trim().to_owned(), String::new()),
                })
                .collect(),
        )
    }
}

impl HeaderLookup for Headers {
    fn header(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `<payload>.<base64url HMAC-SHA256 of payload>`: the shape of consistency tokens and
/// download links, signed with the real key so the fuzzer gets past the signature.
pub fn sign_payload(key: &[u8], payload: &str) -> String {
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(key, payload.as_bytes()));
    format!("{payload}.{signature}")
}

/// `header.payload` of a JWT with the given header and claims bytes (any bytes): what
/// its signature covers.
pub fn jwt_input(header: &[u8], claims: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

/// A JWT of the given header and claims bytes (any bytes), signed HS256 with `secret`.
pub fn signed_jwt(header: &[u8], claims: &[u8], secret: &[u8]) -> String {
    let input = jwt_input(header, claims);
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(secret, input.as_bytes()));
    format!("{input}.{signature}")
}

/// A JWK from its JSON (the key files above).
pub fn jwk(raw: &str) -> Jwk {
    serde_json::from_str(raw).expect("the fuzzing keys are JWKs")
}

/// `JWT_JWKS` in the targets: the RSA key's public half.
pub fn extra_jwks() -> String {
    let set = KeySet {
        keys: jwk(RSA_KEY).public().into_iter().collect(),
    };
    serde_json::to_string(&set).expect("a key set serializes")
}

/// A key set unrelated to the configuration's trusted keys, with the same kids: the
/// other EC and RSA keys and [`OTHER_SECRET`]. No token may verify under both.
pub fn other_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet {
        keys: vec![
            jwk(OTHER_EC_KEY)
                .public()
                .expect("an EC key has a public half"),
            jwk(OTHER_RSA_PUBLIC_KEY),
            Jwk::hs256(OTHER_SECRET.as_bytes(), None),
        ],
    })
}

/// A valid three-region configuration (signing with [`EC_KEY`], trusting [`RSA_KEY`]'s
/// public half and [`SECRET`] too) with `overrides` applied (an empty value
/// removes the key).
pub fn config_map(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let service_role_key = sign_hs256(
        &Claims::new("service_role", "payhuk", 0, 4_000_000_000),
        SECRET.as_bytes(),
    );
    let jwks = extra_jwks();
    let mut map: HashMap<String, String> = [
        ("REGIONS", "iad1,sfo1,fra1"),
        ("REGION_IAD1_POSTGREST_URL", "http://127.0.0.1:3001"),
        ("REGION_SFO1_POSTGREST_URL", "http://127.0.0.1:3002"),
        ("REGION_FRA1_POSTGREST_URL", "http://127.0.0.1:3003"),
        ("JWT_SECRET", SECRET),
        ("SERVICE_ROLE_KEY", &service_role_key),
        ("JWT_SIGNING_KEY", EC_KEY.trim()),
        ("JWT_JWKS", &jwks),
        ("DEFAULT_REGION", "iad1"),
        ("READ_ONLY_RPCS", "search_products,node_status"),
        ("ALLOWED_ORIGINS", "http://localhost:8790"),
        ("WEBHOOK_SECRET_TEST", WEBHOOK_SECRET),
        // One adapter configured, so checkouts and notifications take their paths
        // (every provider call fails: `NoProviders`).
        ("FEDAPAY_SECRET_KEY", "sk_sandbox_fuzzing"),
        ("FEDAPAY_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("PUBLIC_URL", "https://edge.payhuk.test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (key, value) in overrides {
        if value.is_empty() {
            map.remove(*key);
        } else {
            map.insert((*key).to_owned(), (*value).to_owned());
        }
    }
    map
}

pub fn config_with(overrides: &[(&str, &str)]) -> Config {
    Config::from_source(&config_map(overrides)).expect("the fuzzing configuration is valid")
}

/// [`config_with`] no overrides, parsed once.
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| config_with(&[]))
}

/// A database that answers every request with the same scripted reply and keeps what
/// it was sent.
pub struct ScriptedDb {
    pub reply: DbReply,
    pub sent: RefCell<Vec<DbRequest>>,
}

impl ScriptedDb {
    pub fn new(status: u16, body: &[u8]) -> ScriptedDb {
        ScriptedDb {
            reply: DbReply {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_vec(),
            },
            sent: RefCell::new(Vec::new()),
        }
    }
}

impl Db for ScriptedDb {
    async fn send(&self, request: DbRequest) -> Result<DbReply, AppError> {
        assert!(
            request.path_and_query.starts_with('/'),
            "a PostgREST path is relative to the base: {}",
            request.path_and_query
        );
        self.sent.borrow_mut().push(request);
        Ok(self.reply.clone())
    }
}

/// Whether two JSON values are the same, floats compared loosely (serde_json's default
/// float parsing is not exactly round-trip; that is not the gateway's concern).
pub fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x == y || (x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Payment providers out of reach, as from a machine that cannot call them: every call
/// a 502 naming the provider, so checkouts and confirmations take their error paths.
pub struct NoProviders;

impl ProviderApi for NoProviders {
    async fn send(&self, provider: &str, _call: ApiCall) -> Result<ApiReply, AppError> {
        Err(AppError::UpstreamBadResponse {
            upstream: provider.to_owned(),
            cause: "the fuzz targets reach no provider".to_owned(),
        })
    }
}
