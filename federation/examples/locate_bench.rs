//! How long `GridMap::locate` takes with 10,000 grids: builds a 100 × 100 lattice of irregular grids
//! around 历下区 (about 330 m × 360 m each, 20 vertices), imports it with every check, then locates
//! 100,000 random points over it, given in WGS-84 and again in GCJ-02, and prints p50/p99/max.
//!
//! `cargo run --release -p gridfed-federation --example locate_bench`
//!
//! Measured on the 2-core development machine while other builds ran (load average 2.6), release build,
//! two runs in a row:
//!
//! ```text
//! 10000 grids, 9.5 MB of GeoJSON, imported and checked in 0.53 s; lat 36.3796..36.6804, lon 116.9995..117.4005
//! Wgs84: 100000 points, 99473 in a grid: p50 0.83 µs, p99 2.00 µs, max 4125.1 µs
//! Gcj02: 100000 points, 99473 in a grid: p50 1.60 µs, p99 2.83 µs, max 4104.4 µs
//! 10000 grids, 9.5 MB of GeoJSON, imported and checked in 0.40 s; lat 36.3796..36.6804, lon 116.9995..117.4005
//! Wgs84: 100000 points, 99473 in a grid: p50 0.73 µs, p99 1.61 µs, max 55.7 µs
//! Gcj02: 100000 points, 99473 in a grid: p50 1.62 µs, p99 2.87 µs, max 196.3 µs
//! ```
//! p99 is about 2 µs in WGS-84 and 3 µs in GCJ-02 (the exact inverse costs about 0.9 µs), some 300 times
//! under the 1 ms budget. The maximum is the scheduler (the process preempted by the other builds): it
//! moves between 0.06 and 4 ms from run to run while p99 does not. The 0.5 % of points outside every
//! grid fall in the jagged margin of the lattice's bounding box.

use std::time::Instant;

use federation::geo::lattice::Lattice;
use federation::geo::{wgs84_to_gcj02, Crs, GridMap, ImportOptions};

const POINTS: usize = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lattice = Lattice::lixia(100, 100, 2026);
    let text = lattice.to_geojson();
    let started = Instant::now();
    let map = GridMap::import(&text, &ImportOptions::default())?;
    let import = started.elapsed();
    let bbox = map.bbox().ok_or("empty map")?;
    println!(
        "{} grids, {:.1} MB of GeoJSON, imported and checked in {:.2} s; lat {:.4}..{:.4}, lon {:.4}..{:.4}",
        map.len(),
        text.len() as f64 / 1e6,
        import.as_secs_f64(),
        bbox.min_lat,
        bbox.max_lat,
        bbox.min_lon,
        bbox.max_lon
    );

    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut unit = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let points: Vec<(f64, f64)> = (0..POINTS)
        .map(|_| {
            let lat = bbox.min_lat + unit() * (bbox.max_lat - bbox.min_lat);
            let lon = bbox.min_lon + unit() * (bbox.max_lon - bbox.min_lon);
            (lat, lon)
        })
        .collect();

    for crs in [Crs::Wgs84, Crs::Gcj02] {
        let input: Vec<(f64, f64)> = match crs {
            Crs::Wgs84 => points.clone(),
            Crs::Gcj02 => points.iter().map(|&(lat, lon)| wgs84_to_gcj02(lat, lon)).collect(),
        };
        let mut micros = Vec::with_capacity(POINTS);
        let mut found = 0usize;
        for &(lat, lon) in &input {
            let started = Instant::now();
            let located = map.locate(lat, lon, crs);
            micros.push(started.elapsed().as_secs_f64() * 1e6);
            found += usize::from(located.is_some());
        }
        micros.sort_by(f64::total_cmp);
        let pct = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize];
        println!(
            "{crs:?}: {POINTS} points, {found} in a grid: p50 {:.2} µs, p99 {:.2} µs, max {:.1} µs",
            pct(0.50),
            pct(0.99),
            pct(1.0)
        );
    }
    Ok(())
}
