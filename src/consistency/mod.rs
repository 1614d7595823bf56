//! Read-your-writes without an extra round trip.
//!
//! A write's PostgREST transaction reports its transaction id (`x-payhuk-xid`, set by
//! the `payhuk_pre_request()` hook on the primary). The gateway hands the client a
//! signed, expiring token holding it, in the `x-payhuk-consistency` header and an
//! HttpOnly cookie. A read that presents the token is sent to a replica with
//! `x-payhuk-min-xid`; the replica's hook refuses it (HTTP 425) unless every listed
//! transaction is visible in its snapshot, and the gateway moves on to the next
//! target, at worst the primary. Nothing extra is asked on the happy path.

pub mod token;

pub use token::{ConsistencyToken, TokenError, token_key};

/// Response and request header carrying the token.
pub const HEADER: &str = "x-payhuk-consistency";
/// Cookie carrying the same token for browsers.
pub const COOKIE: &str = "payhuk_consistency";
/// Sent by the gateway to a replica: the transactions the read must see.
pub const MIN_XID_HEADER: &str = "x-payhuk-min-xid";
/// Set by the primary's pre-request hook on a write's response.
pub const WRITE_XID_HEADER: &str = "x-payhuk-xid";
/// The status a replica answers when it has not replayed those transactions yet.
pub const REPLICA_BEHIND_STATUS: u16 = 425;
/// Sent by the gateway to a replica: how long it may wait for those transactions
/// before answering [`REPLICA_BEHIND_STATUS`] (absent: not at all).
pub const MAX_WAIT_HEADER: &str = "x-payhuk-max-wait-ms";
/// Set by a replica's hook that was allowed to wait: how long it did.
pub const REPLICA_WAITED_HEADER: &str = "x-payhuk-replica-wait-ms";

/// How long the replica that answered waited for the client's last write, from its
/// answer's headers.
pub fn replica_waited_ms(headers: &[(String, String)]) -> Option<u64> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(REPLICA_WAITED_HEADER))
        .and_then(|(_, value)| value.trim().parse().ok())
}

/// `Set-Cookie` for a token (`None` clears the cookie). Written out rather than with
/// the `cookie` crate, whose `time` dependency cost the bundle about 15 KB gzipped; the
/// tests read it back with that crate.
pub fn token_cookie(token: Option<&str>, max_age_secs: i64) -> String {
    let max_age = if token.is_some() { max_age_secs } else { 0 };
    format!(
        "{COOKIE}={}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age={max_age}",
        token.unwrap_or("")
    )
}

/// The value of the cookie `name` in a `Cookie` request header: the first one, trimmed,
/// as the `cookie` crate reads it (quotes are part of a value).
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        if n.trim() != name {
            return None;
        }
        Some(v.trim())
    })
}

/// The headers a response carries about read-your-writes: a new token (header and
/// cookie) after a write that reported its transaction, and a visible note (and a
/// cleared cookie) when the token the client presented could not be trusted.
pub fn response_headers(
    presented: Option<&Result<ConsistencyToken, TokenError>>,
    written_xid: Option<u64>,
    key: &[u8; 32],
    now: i64,
    ttl_secs: i64,
) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    let previous = match presented {
        Some(Ok(token)) => Some(token.clone()),
        Some(Err(why)) => {
            headers.push(("x-payhuk-consistency-ignored", why.to_string()));
            if written_xid.is_none() {
                headers.push(("set-cookie", token_cookie(None, 0)));
            }
            None
        }
        None => None,
    };
    if let Some(xid) = written_xid {
        let token = ConsistencyToken::after_write(previous, xid, now, ttl_secs).encode(key);
        headers.push(("set-cookie", token_cookie(Some(&token), ttl_secs)));
        headers.push((HEADER, token));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let set = token_cookie(Some("v1.9.60.sig"), 300);
        for part in [
            "payhuk_consistency=v1.9.60.sig",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=300",
        ] {
            assert!(set.contains(part), "{set}");
        }
        assert!(token_cookie(None, 300).contains("Max-Age=0"));
        // As a cookie library reads it.
        let parsed = cookie::Cookie::parse(set).unwrap();
        assert_eq!(parsed.value(), "v1.9.60.sig");
        assert_eq!(parsed.http_only(), Some(true));
        assert_eq!(parsed.secure(), Some(true));
        assert_eq!(parsed.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(parsed.path(), Some("/"));
        assert_eq!(parsed.max_age(), Some(cookie::time::Duration::seconds(300)));
    }

    proptest::proptest! {
        /// The `Cookie` header is read as the `cookie` crate reads it.
        #[test]
        fn cookie_headers_read_as_the_cookie_crate_does(
            pairs in proptest::collection::vec(("[a-z_]{1,20}|payhuk_consistency", "[ \"a-zA-Z0-9._=-]{0,20}"), 0..5),
            sep in "; ?|;"
        ) {
            let header: String = pairs
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(&sep);
            let theirs = cookie::Cookie::split_parse(header.as_str())
                .flatten()
                .find(|c| c.name() == COOKIE)
                .map(|c| c.value().to_owned());
            proptest::prop_assert_eq!(cookie_value(&header, COOKIE).map(str::to_owned), theirs);
        }
    }

    #[test]
    fn a_write_extends_the_presented_token() {
        let key = token_key(b"consistency-headers-secret-long-enough-00");
        let presented = Ok(ConsistencyToken::after_write(None, 5, 0, 60));
        let headers = response_headers(Some(&presented), Some(9), &key, 10, 60);
        let token = &headers.iter().find(|(n, _)| *n == HEADER).unwrap().1;
        assert_eq!(
            ConsistencyToken::decode(token, &key, 11).unwrap().xids,
            [5, 9]
        );
        assert!(
            headers
                .iter()
                .any(|(n, v)| *n == "set-cookie" && v.contains(token.as_str()))
        );
        assert!(
            response_headers(Some(&presented), None, &key, 10, 60).is_empty(),
            "a read changes nothing"
        );
    }

    #[test]
    fn an_untrusted_token_is_dropped_visibly() {
        let key = token_key(b"consistency-headers-secret-long-enough-00");
        let headers = response_headers(Some(&Err(TokenError::BadSignature)), None, &key, 0, 60);
        assert_eq!(
            headers[0],
            (
                "x-payhuk-consistency-ignored",
                "signature does not match".to_owned()
            )
        );
        assert!(headers[1].1.contains("Max-Age=0"));
    }
}
