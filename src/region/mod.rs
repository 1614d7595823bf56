//! Regions: their codes, where they are, and which one this edge counts as.

mod code;
mod known;
mod locate;
mod lsn;

pub use code::RegionCode;
pub use known::{GeoPoint, known_location};
pub use locate::{
    EDGE_REGION_OVERRIDE_HEADER, EdgeLocation, EdgeSource, HeaderLookup, locate_edge,
};
pub use lsn::Lsn;
