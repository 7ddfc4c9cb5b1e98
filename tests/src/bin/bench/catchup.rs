//! Catch-up: a street node down while its community queues `BENCH_CATCHUP` escalations (default
//! 100,000); then the street comes back and the community's outbox drains. Reported: the drain rate in
//! messages per second and the drain time.

use std::time::{Duration, Instant};

use proto::v1::cluster_service_client::ClusterServiceClient;
use proto::v1::LinksRequest;
use serde_json::json;

use super::common::{channel, ms, report, start_federation, wait_ready, NodeSpec};

/// Runs the catch-up benchmark; returns its JSON results and prints a table.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let n: usize = std::env::var("BENCH_CATCHUP").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let spec = |code: &str, name: &str, grids: Vec<&'static str>| NodeSpec {
        code: code.into(),
        name: name.into(),
        replicas: 1,
        grids,
    };
    let mut fed = start_federation(
        &dir.join("catchup"),
        &[
            spec("370102", "历下区", vec![]),
            spec("370102001", "解放路街道", vec![]),
            spec("370102001001", "文化东路社区", vec!["001"]),
        ],
    )?;
    fed.ready(Duration::from_secs(60)).await?;
    if let Some(p) = fed.proc("370102001", 1) {
        p.kill();
    }
    let community = fed.clients("370102001001")?.remove(0);
    // Queue n escalations with 64 concurrent clients.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (c, next) = (community.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                let mut c = c.clone();
                let case = c.report(report(format!("q-{i}"))).await?.into_inner().case.unwrap_or_default();
                for action in ["register", "escalate"] {
                    let req = proto::v1::ActRequest {
                        case_id: case.id.clone(),
                        action: action.into(),
                        actor: "bench".into(),
                        note: "疑难".into(),
                        ..Default::default()
                    };
                    c.act(req).await?;
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let addr = fed.addrs["370102001001"][0].clone();
    let links = || async {
        let ch = channel(&addr, &None).ok()?;
        let r = ClusterServiceClient::new(ch).links(LinksRequest {}).await.ok()?.into_inner();
        r.links.iter().find(|l| l.peer == "370102001").map(|l| l.backlog)
    };
    let queued = links().await.unwrap_or_default();
    if let Some(p) = fed.proc("370102001", 1) {
        p.restart()?;
    }
    // Timed from the first delivery (not the street's start-up or the link's backoff) to empty.
    wait_ready("the first delivery", Duration::from_secs(120), || async {
        links().await.is_some_and(|b| b < queued)
    })
    .await?;
    let t0 = Instant::now();
    wait_ready("the outbox to drain", Duration::from_secs(600), || async { links().await == Some(0) })
        .await?;
    let took = t0.elapsed();
    let rate = queued as f64 / took.as_secs_f64();
    println!(
        "\nCatch-up: {queued} escalations queued while the street was down, drained after it came back.\n"
    );
    println!("| messages | drain time | messages/s | goal |");
    println!("|---:|---:|---:|---:|");
    println!("| {queued} | {:.1} s | {rate:.0} | 20,000/s |", took.as_secs_f64());
    Ok(json!({"messages": queued, "drain_ms": ms(took), "per_s": rate}))
}
