//! Per-service handlers. Each service has `api.rs` (HTTP in and out), `service.rs`
//! (its rules, pure) and `model.rs` (its types).

pub mod analytics;
pub mod auth;
pub mod downloads;
pub mod health;
pub mod openapi;
pub mod orders;
pub mod page;
pub mod payments;
pub mod products;
pub mod request;
pub mod rest;
pub mod shipping;
pub mod status;
