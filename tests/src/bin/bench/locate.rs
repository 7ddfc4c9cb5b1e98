//! Locating a report's point among 10,000 grids: the R-tree and point-in-polygon test every report by
//! place goes through (`GridMap::locate`, as the state machine runs it), in WGS-84 and from GCJ-02 (the
//! datum of Chinese map apps, converted first). The boundaries are a lattice of irregular 20-vertex
//! cells around 历下区 (`federation::geo::lattice`); points fall uniformly over it and a margin around
//! it, so some lie in no grid. Also times importing the file (every check, overlaps included) and
//! re-indexing a stored set (what each replica does on a new version). Target: p99 under 1 ms.

use std::time::{Duration, Instant};

use federation::geo::lattice::Lattice;
use federation::geo::{wgs84_to_gcj02, Crs, GridMap, ImportOptions};
use serde_json::json;

use super::common::{ms, percentiles};

/// A small deterministic generator (xorshift64*): the same points every run.
struct Points(u64);

impl Points {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub async fn run(_dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let side: usize = std::env::var("BENCH_LOCATE_SIDE").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let lookups: usize =
        std::env::var("BENCH_LOCATE_LOOKUPS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let lattice = Lattice::lixia(side, side, 7);
    let text = lattice.to_geojson();
    let t = Instant::now();
    let map = GridMap::import(&text, &ImportOptions::default())?;
    let import = t.elapsed();
    let stored = map.to_stored();
    let t = Instant::now();
    let map = GridMap::from_stored(stored)?;
    let reindex = t.elapsed();
    anyhow::ensure!(map.len() == side * side, "imported {} grids, expected {}", map.len(), side * side);

    // Every cell's inner box locates to that cell (a check, not timed).
    for (row, col) in [(0, 0), (side / 2, side / 3), (side - 1, side - 1)] {
        let (a, b, c, d) = lattice.inner_box(row, col);
        let got = map.locate((a + c) / 2.0, (b + d) / 2.0, Crs::Wgs84).map(|l| l.grid.to_string());
        anyhow::ensure!(got.as_deref() == Some(lattice.code(row, col).as_str()), "cell {row},{col}: {got:?}");
    }

    let (south, east) =
        (lattice.north - side as f64 * lattice.cell_lat, lattice.west + side as f64 * lattice.cell_lon);
    let margin = 0.05 * (lattice.north - south);
    let mut gen = Points(0x9e37_79b9_7f4a_7c15);
    let points: Vec<(f64, f64)> = (0..lookups)
        .map(|_| {
            let lat = south - margin + gen.unit() * (lattice.north - south + 2.0 * margin);
            let lon = lattice.west - margin + gen.unit() * (east - lattice.west + 2.0 * margin);
            (lat, lon)
        })
        .collect();
    let mut rows = Vec::new();
    for crs in [Crs::Wgs84, Crs::Gcj02] {
        let input: Vec<(f64, f64)> = match crs {
            Crs::Wgs84 => points.clone(),
            Crs::Gcj02 => points.iter().map(|&(a, b)| wgs84_to_gcj02(a, b)).collect(),
        };
        let mut times: Vec<Duration> = Vec::with_capacity(input.len());
        let mut found = 0usize;
        for &(lat, lon) in &input {
            let t = Instant::now();
            let l = map.locate(lat, lon, crs);
            times.push(t.elapsed());
            found += usize::from(l.is_some());
        }
        let (p50, p99) = percentiles(&mut times);
        let max = times.last().copied().unwrap_or_default();
        rows.push((crs, p50, p99, max, found));
    }

    println!(
        "\nLocating a point among {} grids ({} lookups each, {} vertices a grid).\n",
        map.len(),
        lookups,
        4 + 4 * lattice.points_per_edge
    );
    println!("| datum | p50 | p99 | max | in a grid | p99 < 1 ms |");
    println!("|---|---:|---:|---:|---:|:---:|");
    for (crs, p50, p99, max, found) in &rows {
        println!(
            "| {crs:?} | {:.4} ms | {:.4} ms | {:.3} ms | {:.1} % | {} |",
            ms(*p50),
            ms(*p99),
            ms(*max),
            100.0 * *found as f64 / lookups as f64,
            if *p99 < Duration::from_millis(1) { "yes" } else { "NO" }
        );
    }
    println!(
        "\nimport of the GeoJSON file (every check): {:.0} ms; re-indexing the stored set: {:.0} ms",
        ms(import),
        ms(reindex)
    );
    Ok(json!({
        "grids": map.len(),
        "lookups": lookups,
        "import_ms": ms(import),
        "reindex_ms": ms(reindex),
        "datums": rows.iter().map(|(crs, p50, p99, max, found)| json!({
            "crs": format!("{crs:?}").to_lowercase(),
            "p50_ms": ms(*p50), "p99_ms": ms(*p99), "max_ms": ms(*max),
            "found": found, "p99_under_1ms": *p99 < Duration::from_millis(1),
        })).collect::<Vec<_>>(),
    }))
}
