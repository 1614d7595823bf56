//! Regions: their codes, where they are, and which one this edge counts as.

mod code;
mod colos;
mod geo;
mod locate;
mod lsn;
mod vercel;

pub use code::RegionCode;
pub use colos::{Colo, colo};
pub use geo::GeoPoint;
pub use locate::{
    EDGE_REGION_OVERRIDE_HEADER, EdgeLocation, EdgeSource, HeaderLookup, PlatformHints,
    locate_edge, nearest_region,
};
pub use lsn::Lsn;
pub use vercel::known_location;
