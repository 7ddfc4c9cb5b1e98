//! Geography for intake, free of I/O: which grid a reported GPS point lies in.
//!
//! ```text
//! crs        WGS-84 and GCJ-02 (the datum of Chinese map apps), both ways
//! place      place codes: a unit grid, or a micro-grid (微网格) `370102001001001-03`
//! shape      outlines as stored: polygons of closed [lon, lat] rings, and their structural checks
//! problem    import errors: the file's, and each feature's problems
//! boundary   reading a GeoJSON FeatureCollection and checking each feature on its own
//! relations  checks between places: overlaps, micro-grids in their grid, grids in their community
//! index      GridMap: validated places in an R-tree; locate(lat, lon, crs)
//! store      the map's deterministic stored form, and GeoJSON for display
//! lattice    synthetic lattices of irregular grids for tests, benchmarks and demos
//! ```
//! Typical use: `GridMap::import(geojson, &ImportOptions::default())?` once, then
//! `map.locate(lat, lon, Crs::Gcj02)` for every report that comes with a point.

pub mod boundary;
pub mod crs;
pub mod index;
pub mod lattice;
pub mod place;
pub mod problem;
mod relations;
pub mod shape;
pub mod store;

pub use boundary::ImportOptions;
pub use crs::{gcj02_to_wgs84, wgs84_to_gcj02, Crs};
pub use index::{BBox, GridMap, Located, Place};
pub use place::{PlaceCode, PlaceError};
pub use problem::{ImportError, Problem};
pub use shape::Shape;
pub use store::{StoredMap, StoredPlace};
#[cfg(test)]
pub(crate) mod testkit;
