//! Per-service handlers. Each service has `api.rs` (HTTP in and out), `service.rs`
//! (its rules, pure) and `model.rs` (its types).

pub mod health;
pub mod rest;
