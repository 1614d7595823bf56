//! `/api/v1/payments`: intents for an order the caller owns (amount from the order,
//! idempotent), providers' signed notifications applied once, the payment and its
//! log, and merchants' refunds (never above the capture).

pub mod amount;
pub mod api;
pub mod providers;
pub mod webhook;
