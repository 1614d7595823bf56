//! `/api/v1/payments`: intents for an order the caller owns (amount from the order,
//! idempotent) opened as a checkout at the provider, providers' notifications verified
//! as each signs them and applied once, cancel and expiry, reconciliation with the
//! providers' APIs, the payment and its log, and merchants' refunds (never above the
//! capture).

pub mod amount;
pub mod api;
pub mod checkout;
pub mod notification;
pub mod providers;
pub mod reconcile;
pub mod return_url;
pub mod webhook;
