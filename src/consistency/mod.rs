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
