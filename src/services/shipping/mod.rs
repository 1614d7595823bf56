//! `/api/v1/shipping/quote` and `/api/v1/shipments`: options and prices for a cart by
//! country (from the nearest replica), and merchants shipping paid orders and
//! recording tracking events.

pub mod api;
