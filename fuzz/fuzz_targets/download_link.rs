//! Signed download links (`GET /api/v1/downloads/{token}`): `Link::decode`.
//!
//! Input: `<mode>\n<now>\n<rest>`.
//! - `signed`: rest is a payload signed here with the real key, so the grant id and
//!   expiry parsers run past the signature check;
//! - `encode`: rest is `<grant id as a number or uuid> <expires>`: the link the
//!   gateway encodes must decode to the same value;
//! - anything else: rest is the token from the path.
//!
//! Invariants: a decoded link is unexpired and never verifies under another key; it
//! re-encodes to a token that decodes to the same link; a link is tampered before it
//! is expired (a bad signature never reports an expiry).
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhuk_edge::services::downloads::link::{Link, LinkError, link_key};
use payhuk_edge_fuzz::{OTHER_SECRET, SECRET, clock, fields, sign_payload, text};
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let key = link_key(SECRET.as_bytes());
    let f = fields(data, 3);
    let now = clock(f[1]);
    match f[0] {
        b"encode" => encode(&key, &text(f[2])),
        b"signed" => check(&key, &sign_payload(&key, &text(f[2])), now),
        _ => check(&key, &text(f[2]), now),
    }
});

fn check(key: &[u8; 32], token: &str, now: i64) {
    let other = Link::decode(token, &link_key(OTHER_SECRET.as_bytes()), now);
    let link = match Link::decode(token, key, now) {
        Ok(link) => link,
        Err(_) => return,
    };
    assert_eq!(
        other,
        Err(LinkError::Tampered),
        "one link verified under two keys"
    );
    assert!(link.expires_at > now);
    let again = link.encode(key);
    assert_eq!(Link::decode(&again, key, now), Ok(link.clone()));
    assert_eq!(Link::decode(&again, key, now).unwrap().encode(key), again);
}

fn encode(key: &[u8; 32], rest: &str) {
    let mut parts = rest.split_whitespace();
    let grant_id = match parts.next() {
        Some(raw) => match raw.parse::<u128>() {
            Ok(n) => Uuid::from_u128(n),
            Err(_) => match Uuid::parse_str(raw) {
                Ok(id) => id,
                Err(_) => return,
            },
        },
        None => Uuid::nil(),
    };
    let expires_at = parts
        .next()
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(0);
    let link = Link {
        grant_id,
        expires_at,
    };
    let token = link.encode(key);
    if let Some(before) = expires_at.checked_sub(1) {
        assert_eq!(Link::decode(&token, key, before), Ok(link.clone()));
    }
    assert_eq!(
        Link::decode(&token, key, expires_at),
        Err(LinkError::Expired)
    );
    assert_eq!(
        Link::decode(&token, &link_key(OTHER_SECRET.as_bytes()), i64::MIN),
        Err(LinkError::Tampered)
    );
    // Any one byte changed is tampering, never another valid link.
    let mut bytes = token.clone().into_bytes();
    let i = (expires_at.unsigned_abs() as usize) % bytes.len();
    bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
    if let Ok(edited) = String::from_utf8(bytes)
        && edited != token
    {
        assert_eq!(
            Link::decode(&edited, key, i64::MIN),
            Err(LinkError::Tampered)
        );
    }
}
