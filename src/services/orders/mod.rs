//! `/api/v1/orders`: placing an order (idempotent with `Idempotency-Key`, through
//! `place_order` on the primary), a customer's own orders and one order (nearest
//! replica, read-your-writes), and a merchant's view of their store's orders.

pub mod api;
pub mod service;
