//! The checks between places of one file: no two places overlap (a unit grid and its own micro-grids
//! excepted), every micro-grid lies within its grid when that grid is in the file, and every place lies
//! within its community's outline when the caller gave one. Each allows `tolerance_m2` of area, measured
//! on the WGS-84 ellipsoid, for digitising noise; shared edges are no overlap.

use std::collections::BTreeMap;

use ::geo::{BooleanOps, BoundingRect, GeodesicArea, MultiPolygon, Validation};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeObject};

use super::boundary::{Candidate, ImportOptions};
use super::problem::{ImportError, Problem};
use crate::code::{Code, Level};

/// An R-tree entry: a place's bounding box and its index.
pub(crate) type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// The bounding box of `shape` as an R-tree rectangle (a point at the origin for an empty shape).
pub(crate) fn envelope(shape: &MultiPolygon<f64>) -> Rectangle<[f64; 2]> {
    match shape.bounding_rect() {
        Some(r) => Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
        None => Rectangle::from_corners([0.0, 0.0], [0.0, 0.0]),
    }
}

/// The community outlines of `options` as polygons, each checked like a feature's geometry.
pub(crate) fn outlines(options: &ImportOptions) -> Result<BTreeMap<Code, MultiPolygon<f64>>, ImportError> {
    let mut out = BTreeMap::new();
    for (code, shape) in &options.communities {
        let refuse = |reason: String| ImportError::Outline { community: code.to_string(), reason };
        if code.level() != Level::Community {
            return Err(refuse(format!("{code} is a {} code, not a community's", code.level())));
        }
        let structure = shape.structure_problems();
        if !structure.is_empty() {
            return Err(refuse(structure.join("; ")));
        }
        let polygons = shape.to_multi_polygon();
        if let Some(e) = polygons.validation_errors().first() {
            return Err(refuse(format!("invalid geometry: {e}")));
        }
        out.insert(code.clone(), polygons);
    }
    Ok(out)
}

/// Adds a problem for every overlap and every place outside its grid or community beyond tolerance.
pub(crate) fn check(
    places: &[Candidate],
    outlines: &BTreeMap<Code, MultiPolygon<f64>>,
    tolerance_m2: f64,
    problems: &mut Vec<Problem>,
) {
    let tolerance = tolerance_m2.max(0.0);
    let mut report = |place: &Candidate, reason: String| {
        problems.push(Problem { feature: place.feature, code: Some(place.code.to_string()), reason })
    };

    let tree: RTree<Entry> =
        RTree::bulk_load(places.iter().enumerate().map(|(i, p)| Entry::new(envelope(&p.shape), i)).collect());
    for (i, a) in places.iter().enumerate() {
        let aabb = envelope(&a.shape).envelope();
        let mut near: Vec<usize> =
            tree.locate_in_envelope_intersecting(&aabb).map(|e| e.data).filter(|&j| j > i).collect();
        near.sort_unstable();
        for j in near {
            let b = &places[j];
            if a.code.grid() == b.code.grid() && a.code.is_micro() != b.code.is_micro() {
                continue; // a grid and its own micro-grid: checked for containment below
            }
            let area = a.shape.intersection(&b.shape).geodesic_area_unsigned();
            if area > tolerance {
                report(b, format!("overlaps {} (feature {}) by {area:.1} m²", a.code, a.feature));
            }
        }
    }

    let units: BTreeMap<&Code, &Candidate> =
        places.iter().filter(|p| !p.code.is_micro()).map(|p| (p.code.grid(), p)).collect();
    for micro in places.iter().filter(|p| p.code.is_micro()) {
        if let Some(unit) = units.get(micro.code.grid()) {
            let outside = micro.shape.difference(&unit.shape).geodesic_area_unsigned();
            if outside > tolerance {
                report(
                    micro,
                    format!("lies {outside:.1} m² outside its grid {} (feature {})", unit.code, unit.feature),
                );
            }
        }
    }

    for place in places {
        let Some(community) = place.code.grid().parent() else { continue };
        if let Some(outline) = outlines.get(&community) {
            let outside = place.shape.difference(outline).geodesic_area_unsigned();
            if outside > tolerance {
                report(
                    place,
                    format!("lies {outside:.1} m² outside the outline of its community {community}"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::testkit::{collection, feature, grid, polygon, problems_of, square, LIXIA};
    use crate::geo::{GridMap, Shape};

    const LON: f64 = 117.03;
    const LAT: f64 = 36.66;

    fn micro(code: &str, lon: f64, lat: f64, d: f64) -> String {
        feature(Some(code), &polygon(&[square(lon, lat, d)]))
    }

    #[test]
    fn neighbours_sharing_edges_do_not_overlap() {
        let text = collection(&[grid("001", LON, LAT, 0.001), grid("002", LON + 0.001, LAT, 0.001)]);
        assert_eq!(GridMap::import(&text, &ImportOptions::default()).unwrap().len(), 2);
        assert_eq!(
            GridMap::import(LIXIA, &ImportOptions { tolerance_m2: 0.0, ..Default::default() }).unwrap().len(),
            10
        );
    }

    #[test]
    fn overlaps_are_reported_on_the_later_feature_with_their_area() {
        // 0.0001° of longitude × 0.001° of latitude at 36.66 N: about 8.9 m × 111 m, near 990 m².
        let text = collection(&[grid("001", LON, LAT, 0.001), grid("002", LON + 0.0009, LAT, 0.001)]);
        let problems = problems_of(&text, &ImportOptions::default());
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!((problems[0].feature, problems[0].code.as_deref()), (1, Some("370102001001002")));
        let reason = &problems[0].reason;
        assert!(reason.starts_with("overlaps 370102001001001 (feature 0) by 99"), "{reason}");
    }

    #[test]
    fn overlaps_within_tolerance_pass() {
        // A 1e-8° strip (about 1 mm × 111 m, 0.1 m²) is digitising noise at the default 1 m².
        let text = collection(&[grid("001", LON, LAT, 0.001), grid("002", LON + 0.001 - 1e-8, LAT, 0.001)]);
        assert!(GridMap::import(&text, &ImportOptions::default()).is_ok());
        let strict = ImportOptions { tolerance_m2: 0.0, ..Default::default() };
        assert_eq!(problems_of(&text, &strict).len(), 1);
    }

    #[test]
    fn micro_grids_must_not_overlap_each_other_but_lie_in_their_grid() {
        let text = collection(&[
            grid("001", LON, LAT, 0.002),
            micro("370102001001001-01", LON, LAT, 0.001),
            micro("370102001001001-02", LON + 0.0005, LAT, 0.001),
            micro("370102001001001-03", LON + 0.0015, LAT + 0.0015, 0.001),
        ]);
        let problems = problems_of(&text, &ImportOptions::default());
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert_eq!(problems[0].feature, 2);
        assert!(
            problems[0].reason.starts_with("overlaps 370102001001001-01 (feature 1) by"),
            "{}",
            problems[0].reason
        );
        assert_eq!(problems[1].feature, 3);
        let reason = &problems[1].reason;
        assert!(reason.contains("m² outside its grid 370102001001001 (feature 0)"), "{reason}");
    }

    #[test]
    fn micro_grids_of_a_grid_not_in_the_file_are_not_checked_against_it() {
        let text =
            collection(&[micro("370102001001001-01", LON, LAT, 0.001), grid("002", LON + 0.002, LAT, 0.001)]);
        assert!(GridMap::import(&text, &ImportOptions::default()).is_ok());
        // ... but still must not overlap another grid.
        let text = collection(&[
            micro("370102001001001-01", LON, LAT, 0.001),
            grid("002", LON + 0.0005, LAT, 0.001),
        ]);
        assert_eq!(problems_of(&text, &ImportOptions::default()).len(), 1);
    }

    #[test]
    fn grids_must_lie_in_their_community_outline_when_one_is_given() {
        let outline: Shape = serde_json::from_str(&format!("[[{}]]", square(LON, LAT, 0.002))).unwrap();
        let communities = [("370102001001".parse().unwrap(), outline)].into_iter().collect();
        let options = ImportOptions { communities, ..Default::default() };
        let text = collection(&[
            grid("001", LON, LAT, 0.001),
            grid("002", LON + 0.0015, LAT, 0.001),
            feature(Some("370102001002001"), &polygon(&[square(LON + 0.01, LAT, 0.001)])),
        ]);
        let problems = problems_of(&text, &options);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].feature, 1);
        assert!(
            problems[0].reason.contains("outside the outline of its community 370102001001"),
            "{problems:?}"
        );

        let mut bad = options.clone();
        bad.communities = [("370102001".parse().unwrap(), Shape(vec![]))].into_iter().collect();
        let err = GridMap::import(&text, &bad).unwrap_err();
        assert!(matches!(&err, ImportError::Outline { community, .. } if community == "370102001"), "{err}");
        bad.communities =
            [("370102001001".parse().unwrap(), Shape(vec![vec![vec![[LON, LAT]]]]))].into_iter().collect();
        assert!(matches!(GridMap::import(&text, &bad), Err(ImportError::Outline { .. })));
    }
}
