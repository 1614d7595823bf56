//! Authentication: Supabase-style JWTs (HS256) shared with PostgREST.

pub mod jwt;
pub mod keys;
pub mod request;
