//! `/api/v1/analytics`: batched event ingest into the partitioned `analytics_events`
//! (acknowledged once stored), and a merchant's sales by day, week or month from the
//! nearest replica, partition-pruned to the range asked.

pub mod api;
