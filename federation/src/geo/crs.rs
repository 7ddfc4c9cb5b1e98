//! Coordinate reference systems of incoming points: WGS-84 (GPS, GeoJSON) and GCJ-02, the datum every map
//! app in mainland China reports in (高德, 腾讯, and 百度 before its own further shift).
//!
//! GCJ-02 is WGS-84 plus an offset of a few hundred metres that varies smoothly with position; the offset
//! is published only as an algorithm (the widely reproduced "Krasovsky" formula), applied inside a
//! rectangle around China and nowhere else. [`wgs84_to_gcj02`] applies it; [`gcj02_to_wgs84`] inverts it
//! by fixed-point iteration to about 1e-9 degrees, not the one-step approximation (1–2 m off) many
//! libraries use. Points outside the rectangle pass through both unchanged.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

/// Semi-major axis of the Krasovsky 1940 ellipsoid the offset is computed on, in metres.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// Its first eccentricity squared.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// The rectangle (degrees) inside which the offset is applied, as in the reference implementations.
const CHINA_LAT: (f64, f64) = (0.8293, 55.8271);
const CHINA_LON: (f64, f64) = (72.004, 137.8347);

/// The inverse stops once a step moves the estimate less than this, in degrees (about 0.1 mm).
const INVERSE_EPSILON: f64 = 1e-12;
/// Each step divides the error by a few hundred; this many always suffices.
const INVERSE_MAX_STEPS: usize = 30;

/// The datum a coordinate is expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crs {
    /// GPS and GeoJSON (RFC 7946); grid boundaries are stored in it.
    #[default]
    Wgs84,
    /// The "Mars" datum of Chinese map apps.
    Gcj02,
}

impl Crs {
    /// The point `(lat, lon)`, given in `self`, in WGS-84.
    pub fn to_wgs84(self, lat: f64, lon: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lat, lon),
            Crs::Gcj02 => gcj02_to_wgs84(lat, lon),
        }
    }
}

/// True where the GCJ-02 offset is not applied.
pub fn outside_china(lat: f64, lon: f64) -> bool {
    !(CHINA_LAT.0..=CHINA_LAT.1).contains(&lat) || !(CHINA_LON.0..=CHINA_LON.1).contains(&lon)
}

/// WGS-84 `(lat, lon)` to GCJ-02 `(lat, lon)`; unchanged outside China.
pub fn wgs84_to_gcj02(lat: f64, lon: f64) -> (f64, f64) {
    if outside_china(lat, lon) {
        return (lat, lon);
    }
    let (dlat, dlon) = offset_degrees(lat, lon);
    (lat + dlat, lon + dlon)
}

/// GCJ-02 `(lat, lon)` to WGS-84 `(lat, lon)`; unchanged outside China.
///
/// Solves `wgs84_to_gcj02(w) = g` for `w`: start from `g` minus the offset at `g`, then move the estimate
/// by how far its image misses `g` until the step is negligible. The offset changes by less than 1 %
/// of any step, so each iteration gains two to three digits and three or four reach 1e-12 degrees.
pub fn gcj02_to_wgs84(lat: f64, lon: f64) -> (f64, f64) {
    if outside_china(lat, lon) {
        return (lat, lon);
    }
    let (dlat, dlon) = offset_degrees(lat, lon);
    let (mut wlat, mut wlon) = (lat - dlat, lon - dlon);
    for _ in 0..INVERSE_MAX_STEPS {
        let (glat, glon) = wgs84_to_gcj02(wlat, wlon);
        let (elat, elon) = (glat - lat, glon - lon);
        wlat -= elat;
        wlon -= elon;
        if elat.abs() < INVERSE_EPSILON && elon.abs() < INVERSE_EPSILON {
            break;
        }
    }
    (wlat, wlon)
}

/// The GCJ-02 offset at a WGS-84 point, in degrees of latitude and longitude.
fn offset_degrees(lat: f64, lon: f64) -> (f64, f64) {
    let (north_m, east_m) = offset_metres(lon - 105.0, lat - 35.0);
    let phi = lat.to_radians();
    let w2 = 1.0 - KRASOVSKY_EE * phi.sin() * phi.sin();
    // Radii of curvature of the ellipsoid: along the meridian, and of the parallel.
    let meridian = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w2 * w2.sqrt());
    let parallel = KRASOVSKY_A / w2.sqrt() * phi.cos();
    (north_m * 180.0 / (meridian * PI), east_m * 180.0 / (parallel * PI))
}

/// The offset as a distance (north, east), a polynomial plus harmonics of `x = lon - 105`, `y = lat - 35`.
fn offset_metres(x: f64, y: f64) -> (f64, f64) {
    let (px, py) = (x * PI, y * PI);
    let shared = (20.0 * (6.0 * px).sin() + 20.0 * (2.0 * px).sin()) * 2.0 / 3.0;
    let north = -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * x.abs().sqrt()
        + shared
        + (20.0 * py.sin() + 40.0 * (py / 3.0).sin()) * 2.0 / 3.0
        + (160.0 * (py / 12.0).sin() + 320.0 * (py / 30.0).sin()) * 2.0 / 3.0;
    let east = 300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * x.abs().sqrt()
        + shared
        + (20.0 * px.sin() + 40.0 * (px / 3.0).sin()) * 2.0 / 3.0
        + (150.0 * (px / 12.0).sin() + 300.0 * (px / 30.0).sin()) * 2.0 / 3.0;
    (north, east)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (WGS-84 lat, lon, GCJ-02 lat, lon): the published test vectors of googollee/eviltransform
    /// (`go/transform_test.go`, repeated in its C, PHP and Python suites) for Shanghai, Shenzhen and
    /// Beijing, and of wyxloading/coordtransform-rs (`tests/tests.rs`, `test_wgs84_to_gcj02`: lon 116.404,
    /// lat 39.915).
    const PUBLISHED: [(f64, f64, f64, f64); 4] = [
        (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
        (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
        (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
        (39.915, 116.404, 39.91640428150164, 116.41024449916938),
    ];

    #[test]
    fn forward_matches_the_published_vectors() {
        for (wlat, wlon, glat, glon) in PUBLISHED {
            let (lat, lon) = wgs84_to_gcj02(wlat, wlon);
            assert!((lat - glat).abs() < 1e-12 && (lon - glon).abs() < 1e-12, "{wlat},{wlon}: {lat},{lon}");
        }
    }

    #[test]
    fn inverse_recovers_the_published_wgs84_points() {
        for (wlat, wlon, glat, glon) in PUBLISHED {
            let (lat, lon) = gcj02_to_wgs84(glat, glon);
            assert!((lat - wlat).abs() < 1e-9 && (lon - wlon).abs() < 1e-9, "{glat},{glon}: {lat},{lon}");
            let (lat, lon) = Crs::Gcj02.to_wgs84(glat, glon);
            assert!((lat - wlat).abs() < 1e-9 && (lon - wlon).abs() < 1e-9);
        }
    }

    #[test]
    fn the_offset_near_jinan_is_a_few_hundred_metres() {
        // 泉城广场, 济南 (WGS-84); GCJ-02 moves points in China by one to a few hundred metres.
        let (lat, lon) = wgs84_to_gcj02(36.6617, 117.0180);
        let (north_m, east_m) = ((lat - 36.6617) * 111_000.0, (lon - 117.0180) * 89_000.0);
        assert!((100.0..800.0).contains(&north_m.abs().max(east_m.abs())), "{north_m} {east_m}");
    }

    #[test]
    fn outside_china_nothing_changes() {
        for (lat, lon) in
            [(0.0, 0.0), (48.8566, 2.3522), (35.6762, 139.6503), (-33.87, 151.21), (60.0, 100.0)]
        {
            assert_eq!(wgs84_to_gcj02(lat, lon), (lat, lon));
            assert_eq!(gcj02_to_wgs84(lat, lon), (lat, lon));
        }
        assert_eq!(Crs::Wgs84.to_wgs84(36.66, 117.03), (36.66, 117.03));
        assert_eq!(serde_json::to_string(&Crs::Gcj02).unwrap(), "\"gcj02\"");
    }

    proptest! {
        #[test]
        fn inverse_undoes_forward_everywhere_in_china(lat in 3.0f64..53.0, lon in 74.0f64..135.0) {
            let (glat, glon) = wgs84_to_gcj02(lat, lon);
            let (wlat, wlon) = gcj02_to_wgs84(glat, glon);
            prop_assert!((wlat - lat).abs() < 1e-9, "lat {} -> {}", lat, wlat);
            prop_assert!((wlon - lon).abs() < 1e-9, "lon {} -> {}", lon, wlon);
        }
    }
}
