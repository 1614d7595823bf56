//! `/api/v1/auth/*`: signup, login, refresh, logout, me. Passwords are checked by
//! PostgreSQL (bcrypt, inside `auth_login` on the primary, one round trip) and never
//! leave the request; the gateway issues HS256 access tokens PostgREST accepts, and opaque
//! refresh tokens it stores only as SHA-256 hashes, rotated on every use.

pub mod api;
pub mod model;
pub mod service;
