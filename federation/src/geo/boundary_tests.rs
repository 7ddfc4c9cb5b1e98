//! Tests of reading features and the checks of each feature on its own.

use super::*;
use crate::geo::testkit::{collection, feature, grid, polygon, problems_of, square, LIXIA};
use crate::geo::{wgs84_to_gcj02, GridMap};

const LON: f64 = 117.03;
const LAT: f64 = 36.66;

fn one_problem(text: &str) -> Problem {
    let mut problems = problems_of(text, &ImportOptions::default());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.remove(0)
}

#[test]
fn the_fixture_imports() {
    let map = GridMap::import(LIXIA, &ImportOptions::default()).unwrap();
    assert_eq!(map.len(), 10);
    let first = &map.places()[0];
    assert_eq!(first.code().to_string(), "370102001001001");
    assert_eq!(first.name(), Some("文化东路北片网格"));
}

#[test]
fn whole_file_errors() {
    let import = |text: &str| GridMap::import(text, &ImportOptions::default()).unwrap_err();
    let err = import("{\"type\": \"FeatureCollection\", \"features\": [");
    assert!(matches!(err, ImportError::Json { line: 1, .. }), "{err:?}");
    let err = import(&feature(Some("370102001001001"), &polygon(&[square(LON, LAT, 0.001)])));
    assert_eq!(
        err.to_string(),
        "grid boundaries: expected a GeoJSON FeatureCollection, found a GeoJSON Feature"
    );
    assert!(matches!(import("[1, 2]"), ImportError::NotFeatureCollection { found } if found == "an array"));
    assert!(matches!(import("{\"features\": []}"), ImportError::NotFeatureCollection { .. }));
    assert!(matches!(import("{\"type\": \"FeatureCollection\"}"), ImportError::NotFeatureCollection { .. }));
    assert_eq!(import(&collection(&[])), ImportError::Empty);
}

#[test]
fn missing_and_malformed_codes() {
    let geometry = polygon(&[square(LON, LAT, 0.001)]);
    let p = one_problem(&collection(&[feature(None, &geometry)]));
    assert_eq!((p.feature, p.code.as_deref()), (0, None));
    assert!(p.reason.contains("missing property \"code\""), "{}", p.reason);

    // A community's code makes a feature its outline, not a place: a file of outlines alone holds none.
    let only_outline = collection(&[feature(Some("370102001001"), &geometry)]);
    let err = GridMap::import(&only_outline, &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, ImportError::Empty), "{err:?}");
    let p = one_problem(&collection(&[feature(Some("370102001"), &geometry)]));
    assert_eq!(p.code.as_deref(), Some("370102001"));
    assert!(p.reason.starts_with("features[0].properties.code: "), "{}", p.reason);
    assert!(p.reason.contains("expected a grid code"), "{}", p.reason);

    let p = one_problem(&collection(&[feature(Some("370102001001001-7"), &geometry)]));
    assert!(p.reason.contains("two digits 01-99"), "{}", p.reason);

    let text = collection(&[format!(
        "{{\"type\":\"Feature\",\"properties\":{{\"code\":true}},\"geometry\":{geometry}}}"
    )]);
    assert!(one_problem(&text).reason.contains("must be a string"));
}

#[test]
fn another_code_property_and_integer_codes() {
    let text = collection(&[format!(
        "{{\"type\":\"Feature\",\"properties\":{{\"WGBM\":370102001001004,\"name\":\" 四号网格 \"}},\"geometry\":{}}}",
        polygon(&[square(LON, LAT, 0.001)])
    )]);
    let options = ImportOptions { code_property: "WGBM".into(), ..Default::default() };
    let map = GridMap::import(&text, &options).unwrap();
    assert_eq!(map.places()[0].code().to_string(), "370102001001004");
    assert_eq!(map.places()[0].name(), Some("四号网格"));
    let p = one_problem(&text);
    assert!(p.reason.contains("missing property \"code\""), "{}", p.reason);
}

#[test]
fn duplicate_codes_name_the_first_feature() {
    let text = collection(&[grid("001", LON, LAT, 0.001), grid("001", LON + 0.01, LAT, 0.001)]);
    let p = one_problem(&text);
    assert_eq!((p.feature, p.code.as_deref()), (1, Some("370102001001001")));
    assert_eq!(p.reason, "duplicate code: feature 0 has the same code");
}

#[test]
fn names_must_be_short_strings() {
    let named = |name: &str| {
        collection(&[format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"code\":\"370102001001001\",\"name\":{name}}},\"geometry\":{}}}",
            polygon(&[square(LON, LAT, 0.001)])
        )])
    };
    assert!(one_problem(&named("12")).reason.contains("\"name\" must be a string"));
    assert!(one_problem(&named(&format!("{:?}", "网".repeat(101)))).reason.contains("longer than 100"));
    assert!(GridMap::import(&named("null"), &ImportOptions::default()).is_ok());
}

#[test]
fn geometry_must_be_a_polygon_or_multipolygon() {
    let point = "{\"type\":\"Point\",\"coordinates\":[117.03,36.66]}";
    let p = one_problem(&collection(&[feature(Some("370102001001001"), point)]));
    assert_eq!(p.reason, "the geometry is a Point; expected Polygon or MultiPolygon");
    let p = one_problem(&collection(&[feature(Some("370102001001001"), "null")]));
    assert_eq!(p.reason, "the feature has no geometry");
    let multi = format!(
        "{{\"type\":\"MultiPolygon\",\"coordinates\":[[{}],[{}]]}}",
        square(LON, LAT, 0.001),
        square(LON + 0.002, LAT, 0.001)
    );
    let map = GridMap::import(&collection(&[feature(Some("370102001001001"), &multi)]), &Default::default());
    assert_eq!(map.unwrap().places()[0].polygons().0.len(), 2);
    let p = one_problem(&collection(&["{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\"}}".into()]));
    assert!(p.reason.starts_with("not a GeoJSON Feature"), "{}", p.reason);
}

#[test]
fn rings_must_be_closed_long_enough_and_in_range() {
    let open = format!("[[{LON},{LAT}],[117.031,{LAT}],[117.031,36.661],[{LON},36.661]]");
    let p = one_problem(&collection(&[feature(Some("370102001001001"), &polygon(&[open]))]));
    assert!(p.reason.starts_with("polygon 0 exterior ring is not closed"), "{}", p.reason);

    let short = format!("[[{LON},{LAT}],[117.031,{LAT}],[{LON},{LAT}]]");
    let p = one_problem(&collection(&[feature(Some("370102001001001"), &polygon(&[short]))]));
    assert!(p.reason.contains("has 3 positions; a ring needs at least 4"), "{}", p.reason);

    let swapped = square(LAT, LON, 0.001); // [lat, lon]: latitude 117 is out of range
    let p = one_problem(&collection(&[feature(Some("370102001001001"), &polygon(&[swapped]))]));
    assert!(p.reason.contains("5 position(s) out of range"), "{}", p.reason);
}

#[test]
fn self_intersections_and_stray_holes_are_invalid() {
    let bowtie = format!("[[{LON},{LAT}],[117.031,36.661],[117.031,{LAT}],[{LON},36.661],[{LON},{LAT}]]");
    let p = one_problem(&collection(&[feature(Some("370102001001001"), &polygon(&[bowtie]))]));
    assert!(
        p.reason.starts_with("invalid geometry: ") && p.reason.contains("self-intersection"),
        "{}",
        p.reason
    );

    let stray_hole = polygon(&[square(LON, LAT, 0.001), square(LON + 0.005, LAT, 0.0005)]);
    let p = one_problem(&collection(&[feature(Some("370102001001001"), &stray_hole)]));
    assert!(p.reason.contains("not contained within the polygon's exterior"), "{}", p.reason);
}

#[test]
fn every_problem_of_a_file_is_listed() {
    let bowtie = format!("[[{LON},{LAT}],[117.031,36.661],[117.031,{LAT}],[{LON},36.661],[{LON},{LAT}]]");
    let text = collection(&[
        grid("001", LON, LAT, 0.001),
        feature(None, &polygon(&[square(LON + 0.01, LAT, 0.001)])),
        grid("001", LON + 0.02, LAT, 0.001),
        feature(Some("370102001001004"), "{\"type\":\"LineString\",\"coordinates\":[[117,36],[117.1,36]]}"),
        feature(Some("370102001001005"), &polygon(&[bowtie])),
        grid("006", LON + 0.0005, LAT + 0.0005, 0.001),
        feature(Some("370102001001007"), &polygon(&[square(LAT, LON, 0.001)])),
    ]);
    let err = GridMap::import(&text, &ImportOptions::default()).unwrap_err();
    let ImportError::Invalid { problems } = &err else { panic!("{err:?}") };
    let features: Vec<usize> = problems.iter().map(|p| p.feature).collect();
    assert_eq!(features, [1, 2, 3, 4, 5, 6], "{err}");
    let text = err.to_string();
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(text.contains("\n  feature 1: missing property \"code\""), "{text}");
    assert!(
        text.contains("\n  feature 5 (370102001001006): overlaps 370102001001001 (feature 0) by"),
        "{text}"
    );
}

#[test]
fn a_gcj02_file_is_stored_in_wgs84() {
    let (lat, lon) = wgs84_to_gcj02(LAT, LON);
    let text = collection(&[grid("001", lon, lat, 0.001)]);
    let options = ImportOptions { crs: Crs::Gcj02, ..Default::default() };
    let map = GridMap::import(&text, &options).unwrap();
    let [x, y] = map.places()[0].outline().0[0][0][0];
    assert!((x - LON).abs() < 1e-8 && (y - LAT).abs() < 1e-8, "{x} {y}");
}

#[test]
fn a_community_outline_in_the_file_bounds_its_grids_and_is_no_place() {
    let text = collection(&[
        feature(Some("370102001001"), &polygon(&[square(LON, LAT, 0.002)])),
        grid("001", LON, LAT, 0.001),
        grid("002", LON + 0.0015, LAT, 0.001),
    ]);
    let problems = problems_of(&text, &ImportOptions::default());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].feature, 2);
    assert!(problems[0].reason.contains("outside the outline of its community 370102001001"), "{problems:?}");
    let inside = collection(&[
        feature(Some("370102001001"), &polygon(&[square(LON, LAT, 0.004)])),
        grid("001", LON, LAT, 0.001),
    ]);
    let map = GridMap::import(&inside, &ImportOptions::default()).unwrap();
    assert_eq!(map.len(), 1, "the outline is not a place");
}
