//! Synthetic grid maps for tests, benchmarks and demos: a lattice of irregular cells around 历下区 that
//! share their edges exactly, so they tile without overlap, each a unit grid with a realistic code.
//!
//! Cells are numbered row by row from the north-west (west to east, north to south, as grids are);
//! cell `k` is grid `k % 100 + 1` of community `k / 100` (20 communities a street) under district
//! 370102. Corners and the points along every edge are moved by a deterministic pseudo-random amount
//! (at most `jitter` of a cell, itself at most 0.1), so cells are irregular but always simple polygons,
//! and a lattice with the same fields is always the same.

use super::shape::Ring;

/// A rows × cols lattice of cells; see the module doc.
#[derive(Debug, Clone, PartialEq)]
pub struct Lattice {
    /// Latitude of the lattice's northern edge.
    pub north: f64,
    /// Longitude of its western edge.
    pub west: f64,
    /// Number of rows of cells, north to south.
    pub rows: usize,
    /// Number of cells in a row, west to east.
    pub cols: usize,
    /// Height of a cell in degrees of latitude.
    pub cell_lat: f64,
    /// Width of a cell in degrees of longitude.
    pub cell_lon: f64,
    /// Points between two corners on every edge (a cell has `4 + 4 * points_per_edge` vertices).
    pub points_per_edge: usize,
    /// How far corners and edge points move, as a fraction of the cell (clamped to 0..=0.1).
    pub jitter: f64,
    /// Seed of the pseudo-random jitter: the same seed (and fields) gives the same lattice.
    pub seed: u64,
}

impl Lattice {
    /// A lattice of cells of about 330 m × 360 m from (36.68 N, 117.00 E), near 泉城广场, 4 points on
    /// each edge (20 vertices a cell) and 8 % jitter.
    pub fn lixia(rows: usize, cols: usize, seed: u64) -> Lattice {
        Lattice {
            north: 36.68,
            west: 117.0,
            rows,
            cols,
            cell_lat: 0.003,
            cell_lon: 0.004,
            points_per_edge: 4,
            jitter: 0.08,
            seed,
        }
    }

    /// The code of the cell in `row`, `col` (15 digits for the first 1,998,000 cells).
    pub fn code(&self, row: usize, col: usize) -> String {
        let k = row * self.cols + col;
        let (community, grid) = (k / 100, k % 100 + 1);
        format!("370102{:03}{:03}{grid:03}", community / 20 + 1, community % 20 + 1)
    }

    /// The outline of a cell: a closed, counter-clockwise ring of `[lon, lat]`.
    pub fn ring(&self, row: usize, col: usize) -> Ring {
        let n = self.points_per_edge;
        let mut ring = Vec::with_capacity(5 + 4 * n);
        // South edge west to east, east edge northwards, north edge westwards, west edge southwards.
        ring.push(self.corner(row + 1, col));
        ring.extend((0..n).map(|k| self.edge_point(Edge::Horizontal, row + 1, col, k)));
        ring.push(self.corner(row + 1, col + 1));
        ring.extend((0..n).rev().map(|k| self.edge_point(Edge::Vertical, row, col + 1, k)));
        ring.push(self.corner(row, col + 1));
        ring.extend((0..n).rev().map(|k| self.edge_point(Edge::Horizontal, row, col, k)));
        ring.push(self.corner(row, col));
        ring.extend((0..n).map(|k| self.edge_point(Edge::Vertical, row, col, k)));
        ring.push(ring[0]);
        ring
    }

    /// A rectangle `(min_lat, min_lon, max_lat, max_lon)` that lies inside the cell whatever the jitter.
    pub fn inner_box(&self, row: usize, col: usize) -> (f64, f64, f64, f64) {
        let margin = 2.0 * self.jitter() + 0.01;
        let top = self.north - row as f64 * self.cell_lat;
        let left = self.west + col as f64 * self.cell_lon;
        (
            top - (1.0 - margin) * self.cell_lat,
            left + margin * self.cell_lon,
            top - margin * self.cell_lat,
            left + (1.0 - margin) * self.cell_lon,
        )
    }

    /// The whole lattice as a GeoJSON FeatureCollection with `code` and `name` properties.
    pub fn to_geojson(&self) -> String {
        let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[");
        for row in 0..self.rows {
            for col in 0..self.cols {
                if row + col > 0 {
                    out.push(',');
                }
                let ring: Vec<String> =
                    self.ring(row, col).iter().map(|[x, y]| format!("[{x},{y}]")).collect();
                out.push_str(&format!(
                    "{{\"type\":\"Feature\",\"properties\":{{\"code\":\"{}\",\"name\":\"第{}网格\"}},\
                     \"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[[{}]]}}}}",
                    self.code(row, col),
                    row * self.cols + col + 1,
                    ring.join(",")
                ));
            }
        }
        out.push_str("]}");
        out
    }

    fn jitter(&self) -> f64 {
        self.jitter.clamp(0.0, 0.1)
    }

    /// Corner `i` (from the north), `j` (from the west), moved in both directions.
    fn corner(&self, i: usize, j: usize) -> [f64; 2] {
        let lat = self.north - i as f64 * self.cell_lat + self.shake(0, i, j, 0) * self.cell_lat;
        let lon = self.west + j as f64 * self.cell_lon + self.shake(1, i, j, 0) * self.cell_lon;
        [lon, lat]
    }

    /// Point `k` on the edge from corner (i, j) east (horizontal) or south (vertical), moved across it.
    fn edge_point(&self, edge: Edge, i: usize, j: usize, k: usize) -> [f64; 2] {
        let t = (k + 1) as f64 / (self.points_per_edge + 1) as f64;
        let ([x0, y0], [x1, y1]) = match edge {
            Edge::Horizontal => (self.corner(i, j), self.corner(i, j + 1)),
            Edge::Vertical => (self.corner(i, j), self.corner(i + 1, j)),
        };
        let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        match edge {
            Edge::Horizontal => [x, y + self.shake(2, i, j, k + 1) * self.cell_lat],
            Edge::Vertical => [x + self.shake(3, i, j, k + 1) * self.cell_lon, y],
        }
    }

    /// A deterministic amount in [-jitter, jitter) for one point (splitmix64 of its indices).
    fn shake(&self, kind: u64, i: usize, j: usize, k: usize) -> f64 {
        let mut z = self.seed
            ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (i as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ (j as u64).wrapping_mul(0x1656_67B1_9E37_79F9)
            ^ (k as u64).wrapping_mul(0x27D4_EB2F_1656_67C5);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        (2.0 * unit - 1.0) * self.jitter()
    }
}

#[derive(Clone, Copy)]
enum Edge {
    Horizontal,
    Vertical,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::{GridMap, ImportOptions};
    use ::geo::{Coord, Intersects};

    #[test]
    fn cells_are_numbered_like_grids() {
        let lattice = Lattice::lixia(30, 100, 1);
        assert_eq!(lattice.code(0, 0), "370102001001001");
        assert_eq!(lattice.code(0, 99), "370102001001100");
        assert_eq!(lattice.code(1, 0), "370102001002001");
        assert_eq!(lattice.code(20, 0), "370102002001001");
        assert_eq!(lattice.ring(3, 4).len(), 21, "20 vertices and the closing position");
    }

    #[test]
    fn cells_tile_without_any_overlap_and_contain_their_inner_box() {
        let lattice = Lattice::lixia(4, 5, 7);
        let strict = ImportOptions { tolerance_m2: 0.0, ..Default::default() };
        let map = GridMap::import(&lattice.to_geojson(), &strict).unwrap();
        assert_eq!(map.len(), 20);
        assert_eq!(map.places()[7].name(), Some("第8网格"));
        for row in 0..4 {
            for col in 0..5 {
                let place = map.get(&lattice.code(row, col).parse().unwrap()).unwrap();
                let (s, w, n, e) = lattice.inner_box(row, col);
                for (y, x) in [(s, w), (s, e), (n, w), (n, e)] {
                    assert!(place.polygons().intersects(&Coord { x, y }), "{row},{col}: {y} {x}");
                }
            }
        }
        assert_eq!(Lattice::lixia(4, 5, 7).to_geojson(), lattice.to_geojson(), "deterministic");
        assert_ne!(Lattice::lixia(4, 5, 8).to_geojson(), lattice.to_geojson());
    }
}
