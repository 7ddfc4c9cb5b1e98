//! Footprint of one replica (a community of one replica): start-up time to a serving leader, resident
//! memory idle and under load, and data size per 100,000 cases (`BENCH_FOOTPRINT_CASES`).

use std::time::{Duration, Instant};

use serde_json::json;

use super::common::{du, ms, report, start_federation, wait_ready, NodeSpec};

/// Runs the footprint benchmark; returns its JSON results and prints a table.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let n: usize =
        std::env::var("BENCH_FOOTPRINT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let root = dir.join("footprint");
    let t0 = Instant::now();
    let mut fed = start_federation(
        &root,
        &[
            NodeSpec { code: "370102".into(), name: "历下区".into(), replicas: 1, grids: vec![] },
            NodeSpec { code: "370102001".into(), name: "解放路街道".into(), replicas: 1, grids: vec![] },
            NodeSpec {
                code: "370102001001".into(),
                name: "文化东路社区".into(),
                replicas: 1,
                grids: vec!["001"],
            },
        ],
    )?;
    let community = fed.clients("370102001001")?.remove(0);
    wait_ready("the community", Duration::from_secs(30), || {
        let mut c = community.clone();
        async move { c.report(report("warm".into())).await.is_ok() }
    })
    .await?;
    let startup = t0.elapsed();
    // Idle: after the start-up settles.
    let settle = Instant::now() + Duration::from_secs(5);
    wait_ready("five idle seconds", Duration::from_secs(10), || std::future::ready(Instant::now() >= settle))
        .await?;
    let rss = |fed: &mut super::common::Federation| fed.proc("370102001001", 1).map_or(0, |p| p.rss());
    let idle = rss(&mut fed);
    // Under load: 64 clients report `n` cases.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let loaded_at = Instant::now();
    for _ in 0..64 {
        let (c, next) = (community.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let _ = c.clone().report(report(format!("fp-{i}"))).await;
            }
        }));
    }
    let mut peak = 0;
    while tasks.iter().any(|t| !t.is_finished()) {
        peak = peak.max(rss(&mut fed));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = loaded_at.elapsed();
    let data = du(&root.join("data").join("370102001001"));
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!("\nFootprint of one replica (a community of one replica, default settings).\n");
    println!("| start-up to serving | RSS idle | RSS under load (peak) | data for {n} cases | load |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {:.0} ms | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.0} reports/s |",
        ms(startup),
        mib(idle),
        mib(peak),
        mib(data),
        n as f64 / took.as_secs_f64()
    );
    Ok(json!({
        "startup_ms": ms(startup),
        "rss_idle_bytes": idle,
        "rss_load_peak_bytes": peak,
        "cases": n,
        "data_bytes": data,
    }))
}
