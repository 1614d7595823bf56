//! `/rest/v1/*`: a PostgREST-compatible pass-through with Supabase's conventions.
//! Reads go to the nearest healthy replica, writes to the primary; the request is
//! forwarded verbatim but for hop-by-hop headers, with the caller's verified JWT.
//! The forwarding itself is Workers glue (`edge::rest`); the rules are here.

pub mod service;
