//! The validated grid map and the question intake asks of it: which place contains this point?
//!
//! Places are kept in code order with their outlines in WGS-84; an R-tree of their bounding boxes finds
//! the few candidates for a point, and an exact point-in-polygon test (edges included) decides. The most
//! specific place wins: a micro-grid containing the point, else a unit grid. A point on an edge shared
//! by two places of the same kind goes to the one with the lower code, so every replica answers alike.

use ::geo::{Coord, Intersects, MultiPolygon};
use rstar::RTree;
use serde::{Deserialize, Serialize};

use super::boundary::{self, ImportOptions};
use super::crs::Crs;
use super::place::PlaceCode;
use super::problem::ImportError;
use super::relations::{self, envelope, Entry};
use super::shape::Shape;
use super::store::StoredMap;
use crate::code::Code;

/// One place of a map: its code, optional name and outline (WGS-84).
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub(crate) code: PlaceCode,
    pub(crate) name: Option<String>,
    pub(crate) shape: MultiPolygon<f64>,
}

impl Place {
    /// The place's code: a unit grid or a micro-grid.
    pub fn code(&self) -> &PlaceCode {
        &self.code
    }

    /// The `name` property it was imported with, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The outline as `geo` polygons, WGS-84 with x = longitude, y = latitude.
    pub fn polygons(&self) -> &MultiPolygon<f64> {
        &self.shape
    }

    /// The outline in its stored form.
    pub fn outline(&self) -> Shape {
        Shape::from_multi_polygon(&self.shape)
    }
}

/// Where a point lies: its unit grid, and the micro-grid when one contains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Located {
    /// The unit grid (网格), whose community owns the case.
    pub grid: Code,
    /// The micro-grid (微网格) of that grid containing the point, if there is one.
    pub micro: Option<PlaceCode>,
}

/// The rectangle around every place of a map, in WGS-84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    /// Southern edge: the smallest latitude of any vertex.
    pub min_lat: f64,
    /// Western edge: the smallest longitude of any vertex.
    pub min_lon: f64,
    /// Northern edge: the largest latitude of any vertex.
    pub max_lat: f64,
    /// Eastern edge: the largest longitude of any vertex.
    pub max_lon: f64,
}

/// Validated grid boundaries with a spatial index. Serialized as its [`StoredMap`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(into = "StoredMap", try_from = "StoredMap")]
pub struct GridMap {
    places: Vec<Place>,
    tree: RTree<Entry>,
}

impl PartialEq for GridMap {
    fn eq(&self, other: &Self) -> bool {
        self.places == other.places
    }
}

impl GridMap {
    /// Reads and checks a GeoJSON FeatureCollection of grid and micro-grid boundaries: all of it or
    /// nothing, with every problem found when there are any.
    pub fn import(text: &str, options: &ImportOptions) -> Result<GridMap, ImportError> {
        let mut problems = Vec::new();
        let (candidates, in_file) = boundary::read(text, options, &mut problems)?;
        if candidates.is_empty() && problems.is_empty() {
            return Err(ImportError::Empty); // community outlines alone
        }
        let outlines = if in_file.is_empty() {
            relations::outlines(options)?
        } else {
            let mut with_file = options.clone();
            with_file.communities.extend(in_file);
            relations::outlines(&with_file)?
        };
        relations::check(&candidates, &outlines, options.tolerance_m2, &mut problems);
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.feature);
            return Err(ImportError::Invalid { problems });
        }
        Ok(GridMap::from_places(
            candidates.into_iter().map(|c| Place { code: c.code, name: c.name, shape: c.shape }).collect(),
        ))
    }

    /// A map of `places` (codes unique, outlines valid), indexed.
    pub(crate) fn from_places(mut places: Vec<Place>) -> GridMap {
        places.sort_by(|a, b| a.code.cmp(&b.code));
        let tree = RTree::bulk_load(
            places.iter().enumerate().map(|(i, p)| Entry::new(envelope(&p.shape), i)).collect(),
        );
        GridMap { places, tree }
    }

    /// The place containing the point `(lat, lon)` given in `crs`: a micro-grid if one contains it,
    /// else a unit grid; `None` outside every place or for a non-finite coordinate.
    pub fn locate(&self, lat: f64, lon: f64, crs: Crs) -> Option<Located> {
        if !lat.is_finite() || !lon.is_finite() {
            return None;
        }
        let (lat, lon) = crs.to_wgs84(lat, lon);
        let at = Coord { x: lon, y: lat };
        let best = self
            .tree
            .locate_all_at_point(&[lon, lat])
            .map(|entry| entry.data)
            .filter(|&i| self.places[i].shape.iter().any(|polygon| polygon.intersects(&at)))
            .min_by_key(|&i| (!self.places[i].code.is_micro(), i))?;
        let code = &self.places[best].code;
        Some(Located { grid: code.grid().clone(), micro: code.is_micro().then(|| code.clone()) })
    }

    /// Every place, in code order (a grid before its micro-grids).
    pub fn places(&self) -> &[Place] {
        &self.places
    }

    /// The place with `code`.
    pub fn get(&self, code: &PlaceCode) -> Option<&Place> {
        self.places.binary_search_by(|p| p.code.cmp(code)).ok().map(|i| &self.places[i])
    }

    /// Every unit grid [`locate`](Self::locate) can answer, in code order: the grids with an outline and
    /// the grids of micro-grids whose grid has none.
    pub fn grids(&self) -> Vec<&Code> {
        let mut grids: Vec<&Code> = self.places.iter().map(|p| p.code.grid()).collect();
        grids.dedup();
        grids
    }

    /// The rectangle around unit grid `grid` and its micro-grids; `None` when the map has none of them.
    pub fn bounds(&self, grid: &Code) -> Option<BBox> {
        let mut out: Option<BBox> = None;
        for p in self.places.iter().filter(|p| p.code.grid() == grid) {
            let aabb = envelope(&p.shape);
            let ([min_lon, min_lat], [max_lon, max_lat]) = (aabb.lower(), aabb.upper());
            out = Some(match out {
                None => BBox { min_lat, min_lon, max_lat, max_lon },
                Some(b) => BBox {
                    min_lat: b.min_lat.min(min_lat),
                    min_lon: b.min_lon.min(min_lon),
                    max_lat: b.max_lat.max(max_lat),
                    max_lon: b.max_lon.max(max_lon),
                },
            });
        }
        out
    }

    /// Number of places (unit grids and micro-grids).
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// True for a map without places, which locates no point.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The rectangle around every place; `None` for an empty map.
    pub fn bbox(&self) -> Option<BBox> {
        if self.places.is_empty() {
            return None;
        }
        let aabb = self.tree.root().envelope();
        let ([min_lon, min_lat], [max_lon, max_lat]) = (aabb.lower(), aabb.upper());
        Some(BBox { min_lat, min_lon, max_lat, max_lon })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::lattice::Lattice;
    use crate::geo::testkit::{collection, feature, grid, lixia, polygon, square};
    use crate::geo::wgs84_to_gcj02;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn at(map: &GridMap, lat: f64, lon: f64) -> Option<String> {
        map.locate(lat, lon, Crs::Wgs84).map(|l| match l.micro {
            Some(m) => {
                assert_eq!(m.grid(), &l.grid);
                m.to_string()
            }
            None => l.grid.to_string(),
        })
    }

    #[test]
    fn points_inside_grids_and_micro_grids() {
        let map = lixia();
        // Near the middle of each unit grid of the fixture (cells of 0.003° × 0.004° from 36.669 N, 117.05 E).
        for (k, (lat, lon)) in [(36.6685, 117.0508), (36.6675, 117.056), (36.6675, 117.060)]
            .into_iter()
            .chain([(36.6645, 117.052), (36.6645, 117.056), (36.6645, 117.060)])
            .enumerate()
        {
            assert_eq!(at(&map, lat, lon), Some(format!("370102001001{:03}", k + 1)), "{lat} {lon}");
        }
        // The micro-grids are 2 × 2 blocks of 0.001° × 0.0008° from (36.668 N, 117.0516 E) in grid 001.
        assert_eq!(at(&map, 36.6676, 117.0521).as_deref(), Some("370102001001001-01"));
        assert_eq!(at(&map, 36.6676, 117.0531).as_deref(), Some("370102001001001-02"));
        assert_eq!(at(&map, 36.6668, 117.0521).as_deref(), Some("370102001001001-03"));
        assert_eq!(at(&map, 36.6668, 117.0531).as_deref(), Some("370102001001001-04"));
        let located = map.locate(36.6668, 117.0531, Crs::Wgs84).unwrap();
        assert_eq!(located.grid.as_str(), "370102001001001");
    }

    #[test]
    fn outside_every_grid_is_none() {
        let map = lixia();
        assert_eq!(at(&map, 36.70, 117.10), None);
        assert_eq!(at(&map, 36.6675, 117.0499), None, "just west of grid 001");
        assert_eq!(at(&map, f64::NAN, 117.052), None);
        assert_eq!(at(&map, 36.6675, f64::INFINITY), None);
        assert_eq!(at(&GridMap::default(), 36.6675, 117.052), None);
    }

    #[test]
    fn shared_edges_and_corners_go_to_the_lower_code() {
        let map = lixia();
        // Corners of the fixture shared by grids 001/002, by 001/002/004/005 and by 002/003/005/006.
        assert_eq!(at(&map, 36.668871, 117.05408).as_deref(), Some("370102001001001"));
        assert_eq!(at(&map, 36.666058, 117.054028).as_deref(), Some("370102001001001"));
        assert_eq!(at(&map, 36.665978, 117.05783).as_deref(), Some("370102001001002"));
        // The edge between micro-grids 01 and 02.
        assert_eq!(at(&map, 36.6676, 117.0526).as_deref(), Some("370102001001001-01"));
    }

    #[test]
    fn gcj02_points_are_converted_first() {
        let map = lixia();
        let (lat, lon) = wgs84_to_gcj02(36.6645, 117.056);
        let located = map.locate(lat, lon, Crs::Gcj02).unwrap();
        assert_eq!(located, Located { grid: "370102001001005".parse().unwrap(), micro: None });
        assert_ne!(map.locate(lat, lon, Crs::Wgs84), Some(located), "the offset is larger than a grid");
    }

    #[test]
    fn micro_grids_without_their_grid_still_name_it() {
        let text =
            collection(&[feature(Some("370102001001009-02"), &polygon(&[square(117.03, 36.66, 0.001)]))]);
        let map = GridMap::import(&text, &ImportOptions::default()).unwrap();
        let located = map.locate(36.6605, 117.0305, Crs::Wgs84).unwrap();
        assert_eq!(located.grid.as_str(), "370102001001009");
        assert_eq!(located.micro.unwrap().to_string(), "370102001001009-02");
        assert_eq!(map.grids(), [&located.grid]);
    }

    #[test]
    fn listing_counting_and_bounds() {
        let map = lixia();
        assert_eq!(map.len(), 10);
        assert!(!map.is_empty() && GridMap::default().is_empty());
        let grids: Vec<&str> = map.grids().iter().map(|c| c.as_str()).collect();
        assert_eq!(
            grids,
            ["370102001001001", "370102001001002", "370102001001003"]
                .into_iter()
                .chain(["370102001001004", "370102001001005", "370102001001006"])
                .collect::<Vec<_>>()
        );
        let codes: Vec<String> = map.places().iter().map(|p| p.code().to_string()).collect();
        assert_eq!(codes[1], "370102001001001-01");
        let micro: PlaceCode = "370102001001001-03".parse().unwrap();
        assert_eq!(map.get(&micro).and_then(|p| p.name()), Some("文化东路小区3号院"));
        assert!(map.get(&"370102001001001-09".parse().unwrap()).is_none());
        let bbox = map.bbox().unwrap();
        assert_eq!(
            bbox,
            BBox { min_lat: 36.662827, min_lon: 117.049788, max_lat: 36.669194, max_lon: 117.062164 }
        );
        assert_eq!(GridMap::default().bbox(), None);
        let two =
            GridMap::import(&collection(&[grid("002", 117.0, 36.0, 0.01)]), &Default::default()).unwrap();
        assert_eq!(two.bbox().map(|b| (b.min_lat, b.max_lon)), Some((36.0, 117.01)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn random_points_in_a_random_lattice_land_in_their_cell(
            rows in 1usize..6,
            cols in 1usize..6,
            seed in any::<u64>(),
            picks in vec((0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0), 16),
        ) {
            let lattice = Lattice::lixia(rows, cols, seed);
            let map = GridMap::import(&lattice.to_geojson(), &ImportOptions::default()).unwrap();
            for (r, c, u, v) in picks {
                let (row, col) = ((r * rows as f64) as usize, (c * cols as f64) as usize);
                let (s, w, n, e) = lattice.inner_box(row, col);
                let (lat, lon) = (s + u * (n - s), w + v * (e - w));
                let expected = lattice.code(row, col);
                prop_assert_eq!(map.locate(lat, lon, Crs::Wgs84).map(|l| l.grid.to_string()), Some(expected.clone()));
                let (glat, glon) = wgs84_to_gcj02(lat, lon);
                prop_assert_eq!(map.locate(glat, glon, Crs::Gcj02).map(|l| l.grid.to_string()), Some(expected));
            }
        }

        #[test]
        fn any_point_goes_to_the_lowest_place_containing_it(
            seed in any::<u64>(),
            picks in vec((-0.1f64..1.1, -0.1f64..1.1), 32),
        ) {
            let lattice = Lattice::lixia(4, 4, seed);
            let map = GridMap::import(&lattice.to_geojson(), &ImportOptions::default()).unwrap();
            for (u, v) in picks {
                let (lat, lon) = (lattice.north - u * 4.0 * lattice.cell_lat, lattice.west + v * 4.0 * lattice.cell_lon);
                let at = Coord { x: lon, y: lat };
                let brute = map.places().iter().find(|p| p.polygons().intersects(&at)).map(|p| p.code().grid().clone());
                prop_assert_eq!(map.locate(lat, lon, Crs::Wgs84).map(|l| l.grid), brute);
            }
        }
    }
}
