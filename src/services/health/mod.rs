//! `GET /health`: which edge answered and the state of every region's PostgREST and
//! PostgreSQL node, as the nodes report it themselves.

pub mod api;
pub mod lag;
pub mod model;
pub mod service;
