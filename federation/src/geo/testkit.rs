//! Helpers for the geo tests: GeoJSON text of squares and features, and the 文化东路社区 fixture.

use super::{GridMap, ImportError, ImportOptions, Problem};

/// 文化东路社区 (370102001001): six irregular unit grids 001-006 (2 rows × 3, numbered west to east, north to
/// south) that tile exactly, and four micro-grids 001-01..04 in the middle of grid 001.
pub(crate) const LIXIA: &str = include_str!("../../tests/data/lixia_grids.geojson");

/// A counter-clockwise square ring from its south-west corner, as GeoJSON.
pub(crate) fn square(lon: f64, lat: f64, d: f64) -> String {
    let (e, n) = (lon + d, lat + d);
    format!("[[{lon},{lat}],[{e},{lat}],[{e},{n}],[{lon},{n}],[{lon},{lat}]]")
}

/// A Polygon geometry of the given rings.
pub(crate) fn polygon(rings: &[String]) -> String {
    format!("{{\"type\":\"Polygon\",\"coordinates\":[{}]}}", rings.join(","))
}

/// A feature with the code property `code` (omitted when `None`) and `geometry`.
pub(crate) fn feature(code: Option<&str>, geometry: &str) -> String {
    let properties = match code {
        Some(c) => format!("{{\"code\":{c:?}}}"),
        None => "{}".to_string(),
    };
    format!("{{\"type\":\"Feature\",\"properties\":{properties},\"geometry\":{geometry}}}")
}

pub(crate) fn collection(features: &[String]) -> String {
    format!("{{\"type\":\"FeatureCollection\",\"features\":[{}]}}", features.join(","))
}

/// A unit-square grid `suffix` of 文化东路社区 at `(lon, lat)` with side `d` degrees.
pub(crate) fn grid(suffix: &str, lon: f64, lat: f64, d: f64) -> String {
    feature(Some(&format!("370102001001{suffix}")), &polygon(&[square(lon, lat, d)]))
}

/// The problems of importing `text`, which must be refused as invalid.
pub(crate) fn problems_of(text: &str, options: &ImportOptions) -> Vec<Problem> {
    match GridMap::import(text, options) {
        Err(ImportError::Invalid { problems }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

pub(crate) fn lixia() -> GridMap {
    GridMap::import(LIXIA, &ImportOptions::default()).unwrap()
}
