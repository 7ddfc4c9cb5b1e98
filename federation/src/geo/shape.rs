//! The outline of a place as stored and replicated: polygons of closed rings of `[lon, lat]` positions
//! in WGS-84 (GeoJSON order), each polygon's first ring its exterior and the others its holes.
//!
//! This module owns that form, the structural checks every ring must pass wherever it comes from (at
//! least 4 positions, closed, coordinates in range) and the conversion to and from `geo` polygons.

use ::geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::{Deserialize, Serialize};

/// A ring: closed (first position = last), at least 4 positions of `[lon, lat]`.
pub type Ring = Vec<[f64; 2]>;

/// Polygons of rings: `shape.0[p][0]` is polygon `p`'s exterior, `shape.0[p][1..]` its holes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shape(pub Vec<Vec<Ring>>);

impl Shape {
    /// Every structural problem of the rings, each as a sentence naming the polygon and ring.
    pub fn structure_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.0.is_empty() {
            out.push("the geometry has no polygon".to_string());
        }
        for (p, polygon) in self.0.iter().enumerate() {
            if polygon.is_empty() {
                out.push(format!("polygon {p} has no ring"));
            }
            for (r, ring) in polygon.iter().enumerate() {
                let at = ring_name(p, r);
                if ring.len() < 4 {
                    out.push(format!("{at} has {} positions; a ring needs at least 4", ring.len()));
                } else if ring.first() != ring.last() {
                    out.push(format!("{at} is not closed: its last position differs from its first"));
                }
                let bad: Vec<usize> = (0..ring.len()).filter(|&i| !in_range(ring[i])).collect();
                if let Some(&first) = bad.first() {
                    let [lon, lat] = ring[first];
                    out.push(format!(
                        "{at}: {} position(s) out of range, the first at index {first}: [{lon}, {lat}] \
                         (expected [longitude -180..180, latitude -90..90])",
                        bad.len()
                    ));
                }
            }
        }
        out
    }

    /// The shape as `geo` polygons; call only on a shape without structural problems.
    pub fn to_multi_polygon(&self) -> MultiPolygon<f64> {
        let line = |ring: &Ring| LineString::new(ring.iter().map(|&[x, y]| Coord { x, y }).collect());
        MultiPolygon::new(
            self.0
                .iter()
                .filter_map(|rings| {
                    let (exterior, holes) = rings.split_first()?;
                    Some(Polygon::new(line(exterior), holes.iter().map(line).collect()))
                })
                .collect(),
        )
    }

    /// The shape of `geo` polygons, ring by ring.
    pub fn from_multi_polygon(mp: &MultiPolygon<f64>) -> Shape {
        let ring = |ls: &LineString<f64>| ls.coords().map(|c| [c.x, c.y]).collect::<Ring>();
        Shape(
            mp.iter()
                .map(|p| std::iter::once(p.exterior()).chain(p.interiors()).map(ring).collect())
                .collect(),
        )
    }

    /// The same shape with every position moved by `f(lat, lon) -> (lat, lon)`.
    pub fn map_positions(&self, f: impl Fn(f64, f64) -> (f64, f64)) -> Shape {
        Shape(
            self.0
                .iter()
                .map(|polygon| {
                    polygon
                        .iter()
                        .map(|ring| {
                            ring.iter()
                                .map(|&[lon, lat]| {
                                    let (lat, lon) = f(lat, lon);
                                    [lon, lat]
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect(),
        )
    }
}

fn ring_name(polygon: usize, ring: usize) -> String {
    match ring {
        0 => format!("polygon {polygon} exterior ring"),
        _ => format!("polygon {polygon} hole {ring}"),
    }
}

fn in_range([lon, lat]: [f64; 2]) -> bool {
    (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64, d: f64) -> Ring {
        vec![[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    }

    #[test]
    fn a_good_shape_has_no_problems_and_round_trips() {
        let mut outer = square(117.0, 36.6, 0.01);
        outer.reverse();
        let shape =
            Shape(vec![vec![outer, square(117.002, 36.602, 0.001)], vec![square(117.02, 36.6, 0.01)]]);
        assert!(shape.structure_problems().is_empty());
        let mp = shape.to_multi_polygon();
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(Shape::from_multi_polygon(&mp), shape);
        let json = serde_json::to_string(&shape).unwrap();
        assert!(json.starts_with("[[[[117.0,36.6],"), "{json}");
        assert_eq!(serde_json::from_str::<Shape>(&json).unwrap(), shape);
    }

    #[test]
    fn every_structural_problem_is_named() {
        let mut open = square(117.0, 36.6, 0.01);
        open.pop();
        open.push([117.0, 36.6001]);
        let short = vec![[117.0, 36.6], [117.1, 36.6], [117.0, 36.6]];
        let mut swapped = square(36.6, 117.0, 0.01);
        swapped[2] = [36.61, 117.01];
        let shape = Shape(vec![vec![open, short], vec![swapped], vec![]]);
        let problems = shape.structure_problems();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].starts_with("polygon 0 exterior ring is not closed"), "{}", problems[0]);
        assert!(problems[1].starts_with("polygon 0 hole 1 has 3 positions"), "{}", problems[1]);
        assert!(
            problems[2].contains("polygon 1 exterior ring: 5 position(s) out of range"),
            "{}",
            problems[2]
        );
        assert_eq!(problems[3], "polygon 2 has no ring");
        assert_eq!(Shape(vec![]).structure_problems(), ["the geometry has no polygon"]);
    }
}
