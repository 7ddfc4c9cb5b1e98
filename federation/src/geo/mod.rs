//! Geography for intake, free of I/O: which grid a reported GPS point lies in.
//!
//! ```text
//! crs       WGS-84 and GCJ-02 (the datum of Chinese map apps), both ways
//! place     place codes: a unit grid, or a micro-grid (微网格) `370102001001001-03`
//! ```

pub mod crs;
pub mod place;

pub use crs::{gcj02_to_wgs84, wgs84_to_gcj02, Crs};
pub use place::{PlaceCode, PlaceError};
