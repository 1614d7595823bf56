//! Authentication: Supabase-style JWTs shared with PostgREST, HS256 with the legacy
//! secret or ES256/RS256 with keys from a JWKS.

pub mod api_keys;
pub mod crypto;
pub mod jwks;
pub mod jwt;
pub mod keys;
pub mod remote;
pub mod request;
