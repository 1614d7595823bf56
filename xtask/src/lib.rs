//! Developer commands for payhuk-edge, as a library so the stack tests can drive the
//! same local stack (stop a PostgREST, query a node) that `cargo xtask up` starts.

pub mod backup;
pub mod bench;
pub mod build;
pub mod clock;
pub mod cmd;
pub mod contract;
pub mod dev;
pub mod drill;
pub mod fuzz;
pub mod gateway;
pub mod key_rotation;
pub mod keys;
pub mod load;
pub mod logs;
pub mod migrate;
pub mod parts;
pub mod paths;
pub mod pg;
pub mod postgrest;
pub mod process;
pub mod profile;
pub mod record;
pub mod relay;
pub mod sandbox;
pub mod seed;
pub mod setup;
pub mod soak;
pub mod stack;
pub mod storefront;
pub mod test;
pub mod topology;
pub mod ui;
pub mod wan;
pub mod workerd;
