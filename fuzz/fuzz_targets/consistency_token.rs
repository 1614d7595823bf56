//! Read-your-writes tokens: `ConsistencyToken::decode`, the `x-payhuk-consistency`
//! header and `Cookie` parsing in `rest::service::presented_token`, and the token a
//! write hands back (`consistency::response_headers`).
//!
//! Input: `<mode>\n<now>\n<rest>`.
//! - `signed`: rest is a payload signed here with the real key (`<payload>.<sig>`), so
//!   the payload parser runs past the signature check;
//! - `encode`: rest is whitespace-separated numbers, the expiry then the xids: the
//!   token the gateway encodes from them must decode to the same value;
//! - anything else: rest is the raw token (header value, and a whole `Cookie` header).
//!
//! Invariants: a decoded token is well-formed and unexpired; it never verifies under
//! another key; a decoded token re-encodes to one that decodes to the same value; the
//! header and the cookie give what `decode` gives; a write's new token keeps the
//! presented xids and adds the written one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhuk_edge::consistency::token::MAX_XIDS;
use payhuk_edge::consistency::{
    self, COOKIE, ConsistencyToken, HEADER, TokenError, response_headers, token_key,
};
use payhuk_edge::services::rest::service::presented_token;
use payhuk_edge_fuzz::{Headers, OTHER_SECRET, SECRET, clock, fields, sign_payload, text};

fuzz_target!(|data: &[u8]| {
    let key = token_key(SECRET.as_bytes());
    let f = fields(data, 3);
    let now = clock(f[1]);
    match f[0] {
        b"encode" => encode(&key, &text(f[2]), now),
        b"signed" => check(&key, &sign_payload(&key, &text(f[2])), now),
        _ => {
            let raw = text(f[2]);
            check(&key, &raw, now);
            let by_header = presented_token(&Headers::one(HEADER, &raw), &key, now);
            assert_eq!(by_header, Some(ConsistencyToken::decode(&raw, &key, now)));
            // The field as a whole Cookie header, and inside one.
            if let Some(Ok(token)) = presented_token(&Headers::one("cookie", &raw), &key, now) {
                assert!(token.expires_at > now);
            }
            let cookie = format!("theme=dark; {COOKIE}={raw}; x=y");
            if let Some(Ok(token)) = presented_token(&Headers::one("cookie", &cookie), &key, now) {
                assert!(token.expires_at > now);
            }
        }
    }
});

/// Whatever `raw` is, decoding it behaves.
fn check(key: &[u8; 32], raw: &str, now: i64) {
    let decoded = ConsistencyToken::decode(raw, key, now);
    let other = ConsistencyToken::decode(raw, &token_key(OTHER_SECRET.as_bytes()), now);
    let token = match decoded {
        Ok(token) => token,
        Err(_) => return,
    };
    assert!(other.is_err(), "one token verified under two keys");
    assert!((1..=MAX_XIDS).contains(&token.xids.len()), "{token:?}");
    assert!(token.expires_at > now);
    let again = token.encode(key);
    assert_eq!(
        ConsistencyToken::decode(&again, key, now),
        Ok(token.clone())
    );
    assert_eq!(token.min_xid_header().split(',').count(), token.xids.len());

    // A write extends it: the presented xids (the newest MAX_XIDS) and the written one.
    let written = token.xids[0].wrapping_add(1);
    let headers = response_headers(Some(&Ok(token.clone())), Some(written), key, now, 300);
    let new = &headers
        .iter()
        .find(|(n, _)| *n == consistency::HEADER)
        .expect("a write returns a token")
        .1;
    let extended = ConsistencyToken::decode(new, key, now).expect("the new token decodes");
    assert_eq!(extended.xids.last(), Some(&written));
    assert!(extended.xids.len() <= MAX_XIDS);
    assert!(
        extended
            .xids
            .iter()
            .all(|x| *x == written || token.xids.contains(x))
    );
    assert!(
        headers
            .iter()
            .any(|(n, v)| *n == "set-cookie" && v.contains(new.as_str()))
    );
}

/// A token the gateway encodes decodes to itself until it expires, then is expired.
fn encode(key: &[u8; 32], numbers: &str, now: i64) {
    let mut parts = numbers.split_whitespace();
    let expires_at = parts
        .next()
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(now + 60);
    let xids: Vec<u64> = parts
        .filter_map(|n| n.parse::<u64>().ok())
        .take(MAX_XIDS)
        .collect();
    if xids.is_empty() {
        return;
    }
    let token = ConsistencyToken {
        xids: xids.clone(),
        expires_at,
    };
    let raw = token.encode(key);
    if let Some(before) = expires_at.checked_sub(1) {
        assert_eq!(
            ConsistencyToken::decode(&raw, key, before),
            Ok(token.clone())
        );
    }
    assert_eq!(
        ConsistencyToken::decode(&raw, key, expires_at),
        Err(TokenError::Expired)
    );
    assert_eq!(
        ConsistencyToken::decode(&raw, &token_key(OTHER_SECRET.as_bytes()), i64::MIN),
        Err(TokenError::BadSignature)
    );
    // The same token again decodes identically, and re-encodes identically.
    if let Some(before) = expires_at.checked_sub(1) {
        let decoded = ConsistencyToken::decode(&raw, key, before).unwrap();
        assert_eq!(decoded.encode(key), raw);
    }

    // Writes one after another: at most MAX_XIDS, newest last, no repeats.
    let mut remembered: Option<ConsistencyToken> = None;
    for xid in xids {
        let next = ConsistencyToken::after_write(remembered, xid, now, 300);
        assert_eq!(next.xids.last(), Some(&xid));
        assert!(next.xids.len() <= MAX_XIDS);
        let mut unique = next.xids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), next.xids.len());
        remembered = Some(next);
    }
}
