//! Per-service handlers. Each service has `api.rs` (HTTP in and out), `service.rs`
//! (its rules, pure) and `model.rs` (its types).

pub mod auth;
pub mod health;
pub mod orders;
pub mod page;
pub mod products;
pub mod request;
pub mod rest;
