//! payhuk-edge: the edge data gateway of Payhuk.
//!
//! Pure logic (configuration, routing, region policy, errors, tokens, the services'
//! rules) lives in modules that never touch `worker` types, so `cargo test` runs it
//! natively. The Workers glue is all under [`edge`].

pub mod auth;
pub mod cache;
pub mod config;
pub mod consistency;
pub mod cors;
pub mod dates;
pub mod db;
pub mod error;
pub mod http;
pub mod ids;
pub mod observe;
pub mod region;
pub mod router;
pub mod routes;
pub mod routing;
pub mod services;
pub mod upstream;

mod edge;
#[cfg(test)]
mod test_support;
