//! Intake: how many case reports per second a 3-replica gridnode commits (majority, fsynced) as the
//! number of concurrent clients grows, plaintext and over mutual TLS (as in production), next to a
//! 3-member etcd cluster doing the same number of fsynced writes of a similar size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use proto::v1::case_service_client::CaseServiceClient;
use serde_json::json;
use tonic::transport::Channel;

use super::common::{ms, report, start_etcd, start_gridnode, wait_ready};

const CLIENTS: [usize; 5] = [1, 4, 16, 64, 128];
const MEASURE: Duration = Duration::from_secs(6);
const WARMUP: Duration = Duration::from_secs(1);

/// Runs `clients` concurrent loops of `op` for the measurement window; returns (ops/s, p50, p99).
async fn measure<F, Fut>(clients: usize, op: F) -> (f64, Duration, Duration)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let end = measure_from + MEASURE;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < end {
                let seq = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = op(c, seq).await;
                if ok && t >= measure_from && Instant::now() <= end {
                    lat.push(t.elapsed());
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied();
    (all.len() as f64 / MEASURE.as_secs_f64(), pct(0.5).unwrap_or_default(), pct(0.99).unwrap_or_default())
}

/// `n` concurrent clients reporting to the replicas in turn (or to `BENCH_REPLICA` only).
async fn measure_gridnode(n: usize, clients: &[CaseServiceClient<Channel>]) -> (f64, Duration, Duration) {
    let gc = clients.to_vec();
    let run = std::process::id();
    let pin: Option<usize> = std::env::var("BENCH_REPLICA").ok().and_then(|v| v.parse().ok());
    measure(n, move |c, seq| {
        let mut client = gc[pin.unwrap_or(c) % gc.len()].clone();
        let rid = format!("bench-{run}-{n}-{seq}");
        async move { client.report(report(rid)).await.is_ok() }
    })
    .await
}

/// Runs the intake benchmark; returns its JSON results and prints a table.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let value = "x".repeat(600); // about the size of a reported case
    println!("\nIntake: 3 replicas each, loopback, every acknowledged write fsynced on a majority.");
    println!("{} s per point after {} s warm-up.\n", MEASURE.as_secs(), WARMUP.as_secs());
    println!("| clients | gridnode reports/s | p50 | p99 | gridnode TLS reports/s | p50 | p99 | etcd puts/s | p50 | p99 | gridnode TLS / etcd |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let plain_node = start_gridnode(&dir.join("intake-plain"), 3, false)?;
    let tls_node = start_gridnode(&dir.join("intake-tls"), 3, true)?;
    let etcd = start_etcd(&dir.join("intake-etcd"), 3)?;
    let plain = plain_node.clients()?;
    let secure = tls_node.clients()?;
    for (what, c) in [("gridnode", &plain), ("gridnode over TLS", &secure)] {
        let probe = c[0].clone();
        wait_ready(what, Duration::from_secs(30), || {
            let mut c = probe.clone();
            async move { c.report(report("warm".into())).await.is_ok() }
        })
        .await?;
    }
    let client = etcd.client().await.context("connect etcd")?;
    let probe = client.clone();
    wait_ready("etcd", Duration::from_secs(30), || {
        let mut c = probe.clone();
        async move { c.put("warm", "1", None).await.is_ok() }
    })
    .await?;
    let mut rows = Vec::new();
    for n in CLIENTS {
        let g = measure_gridnode(n, &plain).await;
        let t = measure_gridnode(n, &secure).await;
        let (ec, v) = (client.clone(), value.clone());
        let e = measure(n, move |_, seq| {
            let mut client = ec.clone();
            let v = v.clone();
            async move { client.put(format!("case/{n}/{seq}"), v, None).await.is_ok() }
        })
        .await;
        println!(
            "| {n} | {:.0} | {:.1} ms | {:.1} ms | {:.0} | {:.1} ms | {:.1} ms | {:.0} | {:.1} ms | {:.1} ms | {:.2} |",
            g.0,
            ms(g.1),
            ms(g.2),
            t.0,
            ms(t.1),
            ms(t.2),
            e.0,
            ms(e.1),
            ms(e.2),
            t.0 / e.0.max(1.0)
        );
        rows.push(json!({
            "clients": n,
            "gridnode": {"per_s": g.0, "p50_ms": ms(g.1), "p99_ms": ms(g.2)},
            "gridnode_tls": {"per_s": t.0, "p50_ms": ms(t.1), "p99_ms": ms(t.2)},
            "etcd": {"per_s": e.0, "p50_ms": ms(e.1), "p99_ms": ms(e.2)},
        }));
    }
    Ok(json!(rows))
}
