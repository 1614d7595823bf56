//! Where a request goes: the region policy (nearest healthy replica for reads, the
//! node that reports itself primary for writes), the per-isolate health cache it
//! decides from, and the fallback loop that retries reads on the next target.

pub mod admission;
pub mod cache;
pub mod fallback;
pub mod outlier;
pub mod policy;
pub mod replay;

pub use cache::{HealthCache, RefreshPlan};
pub use outlier::Evidence;

/// Whether a request may be served by a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// May be served by a replica (and is, by the nearest usable one).
    Read,
    /// Must go to the primary, once.
    Write,
}
pub use policy::{NoWriteTarget, NodeView, Target, read_targets, write_target};
