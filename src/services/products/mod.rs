//! `/api/v1/products`: the catalogue from the nearest replica (filters, text search,
//! cursor pages; cached at the edge for anonymous readers by the Workers glue) and
//! merchants' writes to the primary, own store only (row-level security decides).

pub mod api;
pub mod service;
