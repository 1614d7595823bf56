//! `/api/v1/auth/*` (signup, login, refresh, logout, me) and GoTrue's `/auth/v1`
//! (`gotrue.rs`), one implementation behind both. Passwords are checked by PostgreSQL
//! (bcrypt, inside `auth_login` on the primary, one round trip) and never leave the
//! request; the gateway issues access tokens PostgREST accepts (ES256 with
//! `JWT_SIGNING_KEY`), and opaque refresh tokens it stores only as SHA-256 hashes,
//! rotated on every use.

pub mod api;
pub mod gotrue;
pub mod model;
pub mod service;
