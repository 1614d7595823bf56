//! `/api/v1/downloads`: signed, expiring, count-limited links to the files of digital
//! products a customer has paid for.

pub mod api;
pub mod link;
