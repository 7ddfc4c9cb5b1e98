//! A whole district on one machine: 1 district + 20 streets + 160 communities, one replica each (the
//! district and the streets as 3 replicas with `BENCH_DISTRICT_REPLICAS=3`), all started from one
//! rendered topology: start-up time until every node has a leader, total resident memory, and the
//! freshness of the district's figures under a steady stream of reports and closes, and the district's
//! console meanwhile: subtree statistics latency and the dashboard's load time (see `console`).

use std::time::{Duration, Instant};

use proto::v1::{ActRequest, Handler, ReportRequest, StatsRequest};
use serde_json::json;

use super::common::{ms, percentiles, report, start_federation, NodeSpec};
use super::console;

const STREETS: usize = 20;
const COMMUNITIES: usize = 8;
const SAMPLES: usize = 20;
const CONSOLE_SAMPLES: usize = 300;
const PAGE_SAMPLES: usize = 10;

fn act(id: &str, a: &str) -> ActRequest {
    ActRequest {
        case_id: id.into(),
        action: a.into(),
        actor: "bench".into(),
        note: "bench".into(),
        handler: Some(Handler { kind: "grid_worker".into(), name: "张伟".into() }),
        ..Default::default()
    }
}

/// Runs the district benchmark; returns its JSON results and prints a table.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let upper: usize =
        std::env::var("BENCH_DISTRICT_REPLICAS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let mut nodes =
        vec![NodeSpec { code: "370102".into(), name: "历下区".into(), replicas: upper, grids: vec![] }];
    for s in 1..=STREETS {
        nodes.push(NodeSpec {
            code: format!("370102{s:03}"),
            name: format!("第{s}街道"),
            replicas: upper,
            grids: vec![],
        });
        for c in 1..=COMMUNITIES {
            nodes.push(NodeSpec {
                code: format!("370102{s:03}{c:03}"),
                name: format!("第{s}街道第{c}社区"),
                replicas: 1,
                grids: vec!["001", "002"],
            });
        }
    }
    let t0 = Instant::now();
    let fed = start_federation(&dir.join("district"), &nodes)?;
    fed.ready(Duration::from_secs(300)).await?;
    let startup = t0.elapsed();
    let processes = fed.procs.len();
    let communities: Vec<String> =
        nodes.iter().filter(|n| n.code.len() == 12).map(|n| n.code.clone()).collect();
    // Steady activity: 8 workers reporting, working and closing cases at random communities.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in &communities {
        clients.push(fed.clients(c)?.remove(0));
    }
    for w in 0..8 {
        let (clients, communities, stop) = (clients.clone(), communities.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = w;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i = (i * 7919 + 13) % communities.len();
                let mut c = clients[i].clone();
                let grid = format!("{}001", communities[i]);
                let Ok(r) =
                    c.report(ReportRequest { grid, ..report(format!("bg-{w}-{i}-{}", rand_tag())) }).await
                else {
                    continue;
                };
                let id = r.into_inner().case.unwrap_or_default().id;
                for a in ["register", "dispatch", "start", "handled", "close"] {
                    let _ = c.act(act(&id, a)).await;
                }
            }
        });
    }
    let district = fed.clients("370102")?;
    let mut fresh = Vec::new();
    for i in 0..SAMPLES {
        let k = (i * 37) % communities.len();
        let mut c = clients[k].clone();
        let grid = format!("{}002", communities[k]);
        let id = c
            .report(ReportRequest { grid, ..report(format!("probe-{i}")) })
            .await?
            .into_inner()
            .case
            .unwrap_or_default()
            .id;
        for a in ["register", "dispatch", "start", "handled"] {
            c.act(act(&id, a)).await?;
        }
        // The probe's close has reached the district once the district counts a close in that
        // community's grid 002: only probes use it, one probe per community.
        let t = Instant::now();
        c.act(act(&id, "close")).await?;
        let grid_closed = || async {
            let mut best = 0;
            for d in &district {
                let req = StatsRequest {
                    subtree: true,
                    scope: format!("{}002", communities[k]),
                    local: true,
                    ..Default::default()
                };
                if let Ok(r) = d.clone().stats(req).await {
                    best = best.max(r.into_inner().stats.and_then(|s| s.counters).map_or(0, |k| k.closed));
                }
            }
            best
        };
        while grid_closed().await < 1 {
            if t.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("the district never saw probe {i}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        fresh.push(t.elapsed());
    }
    // The console of the district's first replica, under the same activity.
    let console = console::console_addr(&fed.addrs["370102"][0])?;
    let mut stats = Vec::new();
    for _ in 0..CONSOLE_SAMPLES {
        let t = Instant::now();
        let (status, _) = console::get(&console, "/api/v1/stats/subtree").await?;
        anyhow::ensure!(status == 200, "the district's subtree statistics answered HTTP {status}");
        stats.push(t.elapsed());
    }
    let mut loads = Vec::new();
    let mut requests = 0;
    for _ in 0..PAGE_SAMPLES {
        let (took, n) = console::load_overview(&console).await?;
        loads.push(took);
        requests = n;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rss: u64 = fed.procs.iter().map(|(_, _, p)| p.rss()).sum();
    // Every replica runs the same binary: its code pages are resident once, not once per process.
    let pss: u64 = fed.procs.iter().map(|(_, _, p)| p.pss()).sum();
    let (f50, f99) = percentiles(&mut fresh);
    let (s50, s99) = percentiles(&mut stats);
    let (l50, l99) = percentiles(&mut loads);
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    println!("\nA whole district on one machine: {} nodes, {processes} replica processes.\n", nodes.len());
    println!("| start-up (all leaders) | memory (sum of PSS) | sum of RSS | freshness p50 | freshness p99 |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {:.1} s (goal 30 s) | {:.2} GiB (goal 4 GiB) | {:.2} GiB | {:.0} ms | {:.0} ms (goal 1 s) |",
        startup.as_secs_f64(),
        gib(pss),
        gib(rss),
        ms(f50),
        ms(f99)
    );
    println!(
        "\nThe district's console under the same activity (plain HTTP on loopback, fresh connections).\n"
    );
    println!("| subtree statistics p50 | p99 | overview loaded p50 | p99 | requests per load |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {:.1} ms | {:.1} ms (goal 50 ms) | {:.0} ms | {:.0} ms (goal 1 s) | {requests} |",
        ms(s50),
        ms(s99),
        ms(l50),
        ms(l99)
    );
    Ok(json!({
        "nodes": nodes.len(),
        "processes": processes,
        "startup_ms": ms(startup),
        "rss_bytes": rss,
        "pss_bytes": pss,
        "freshness": {"p50_ms": ms(f50), "p99_ms": ms(f99), "samples": fresh.len()},
        "console_subtree_stats": {"p50_ms": ms(s50), "p99_ms": ms(s99), "samples": stats.len()},
        "console_overview_load": {"p50_ms": ms(l50), "p99_ms": ms(l99), "samples": loads.len(), "requests": requests},
    }))
}

fn rand_tag() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
