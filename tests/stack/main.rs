//! Integration tests against the running local stack: the built wasm in workerd,
//! three PostgREST 12, three PostgreSQL 15 with streaming replication. Faults are real.
//! Run by `cargo xtask test`, one test at a time (they share the stack).

mod backup;
mod bad_input;
mod browser;
mod clients;
mod commerce;
mod cors;
mod health;
mod keys;
mod migrations;
mod observability;
mod orders;
mod overload;
mod partitions;
mod payments;
mod replication;
mod routing;
mod schema;
mod security;
mod services;
mod stack_commands;
