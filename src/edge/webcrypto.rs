//! ES256 and RS256 with the runtime's WebCrypto (`crypto.subtle`): native code in
//! workerd, nothing in the bundle (docs/BENCHMARKS.md compares it with the RustCrypto
//! crates). An imported key is kept for the isolate's life, so a verification costs
//! one `verify` call.

use std::cell::RefCell;
use std::collections::HashMap;

use worker::js_sys::{self, Array, Function, JSON, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

use crate::auth::crypto::JwtCrypto;
use crate::auth::jwks::Jwk;
use crate::auth::jwt::Alg;

#[derive(Debug, Default, Clone, Copy)]
pub struct WebCrypto;

/// Imported `CryptoKey`s by use and key. A key set is a handful of keys, so this stays
/// small; a rotated-out key is simply never asked for again.
const MAX_KEYS: usize = 64;

thread_local! {
    static KEYS: RefCell<HashMap<String, JsValue>> = RefCell::new(HashMap::new());
}

fn js_error(err: JsValue) -> String {
    err.as_string()
        .or_else(|| {
            Reflect::get(&err, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{err:?}"))
}

fn json(value: &str) -> Result<JsValue, String> {
    JSON::parse(value).map_err(js_error)
}

/// `crypto.subtle.<method>(...args)`, awaited.
async fn subtle(method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(js_error)?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).map_err(js_error)?;
    let function: Function = Reflect::get(&subtle, &method.into())
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| format!("crypto.subtle.{method} is not a function"))?;
    let promise: Promise = Reflect::apply(&function, &subtle, &args.iter().collect::<Array>())
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| format!("crypto.subtle.{method} returned no promise"))?;
    JsFuture::from(promise).await.map_err(js_error)
}

/// The WebCrypto algorithm for importing a key, and for signing or verifying with it.
fn algorithms(alg: Alg) -> Result<(&'static str, &'static str), String> {
    match alg {
        Alg::Es256 => Ok((
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
            r#"{"name":"ECDSA","hash":"SHA-256"}"#,
        )),
        Alg::Rs256 => Ok((
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        )),
        Alg::Hs256 => Err("HS256 is an HMAC, checked without WebCrypto".into()),
    }
}

async fn imported(alg: Alg, jwk: &Jwk, usage: &str) -> Result<JsValue, String> {
    let jwk = if usage == "verify" {
        jwk.public().ok_or("an oct key is not for WebCrypto here")?
    } else {
        jwk.clone()
    };
    let text = serde_json::to_string(&jwk).map_err(|e| e.to_string())?;
    let id = format!("{usage}:{text}");
    if let Some(key) = KEYS.with(|keys| keys.borrow().get(&id).cloned()) {
        return Ok(key);
    }
    let (import, _) = algorithms(alg)?;
    let usages: Array = [JsValue::from_str(usage)].iter().collect();
    let key = subtle(
        "importKey",
        &[
            "jwk".into(),
            json(&text)?,
            json(import)?,
            false.into(),
            usages.into(),
        ],
    )
    .await?;
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(id, key.clone());
    });
    Ok(key)
}

impl JwtCrypto for WebCrypto {
    async fn verify(
        &self,
        alg: Alg,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        let (_, params) = algorithms(alg)?;
        let key = imported(alg, key, "verify").await?;
        let valid = subtle(
            "verify",
            &[
                json(params)?,
                key,
                Uint8Array::from(signature).into(),
                Uint8Array::from(input).into(),
            ],
        )
        .await?;
        Ok(valid.as_bool() == Some(true))
    }

    async fn sign_es256(&self, key: &Jwk, input: &[u8]) -> Result<Vec<u8>, String> {
        let (_, params) = algorithms(Alg::Es256)?;
        let key = imported(Alg::Es256, key, "sign").await?;
        let signature = subtle(
            "sign",
            &[json(params)?, key, Uint8Array::from(input).into()],
        )
        .await?;
        Ok(Uint8Array::new(&signature).to_vec())
    }
}
