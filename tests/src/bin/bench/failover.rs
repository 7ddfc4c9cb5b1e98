//! Failover: the leader of a 3-replica node killed (SIGKILL) under a steady write load; the time from the
//! kill until a write issued after it is acknowledged, over `KILLS` kills (the killed replica restarts
//! and catches up before the next). The same for an etcd cluster's leader, in the same run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::common::{ms, report, start_etcd, start_gridnode, wait_ready};

const KILLS: usize = 10;
const WRITERS: usize = 4;
/// Give up on a recovery after this long (it is then reported as this long).
const LIMIT: Duration = Duration::from_secs(20);

/// Acknowledged writes: (issued at, acknowledged at).
type Acks = Arc<Mutex<Vec<(Instant, Instant)>>>;

/// How long after `killed` the first write issued after it was acknowledged.
async fn recovery(acks: &Acks, killed: Instant) -> Duration {
    let mut out = LIMIT;
    let _ = wait_ready("a write after the kill", LIMIT, || {
        let found =
            acks.lock().map(|a| a.iter().find(|(i, _)| *i > killed).map(|(_, d)| *d - killed)).ok().flatten();
        if let Some(d) = found {
            out = d;
        }
        std::future::ready(found.is_some())
    })
    .await;
    out
}

fn summary(v: &mut [Duration]) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// Runs the failover benchmark; returns its JSON results and prints a table.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    // gridnode: writers report to the replicas in turn, each call with a 1 s deadline.
    let mut node = start_gridnode(&dir.join("failover-gridnode"), 3, false)?;
    let clients = node.clients()?;
    wait_ready("gridnode", Duration::from_secs(30), || {
        let mut c = clients[0].clone();
        async move { c.report(report("warm".into())).await.is_ok() }
    })
    .await?;
    let acks: Acks = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for w in 0..WRITERS {
        let (clients, acks, stop) = (clients.clone(), acks.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let mut c = clients[(w + n as usize) % clients.len()].clone();
                let mut req = tonic::Request::new(report(format!("failover-{w}-{n}")));
                req.set_timeout(Duration::from_secs(1));
                let issued = Instant::now();
                if c.report(req).await.is_ok() {
                    if let Ok(mut a) = acks.lock() {
                        a.push((issued, Instant::now()));
                    }
                }
            }
        });
    }
    let mut g = Vec::new();
    for _ in 0..KILLS {
        node.settled().await?;
        let Some(leader) = node.leader().await else { anyhow::bail!("gridnode has no leader") };
        let killed = Instant::now();
        node.procs[leader].kill();
        g.push(recovery(&acks, killed).await);
        node.procs[leader].restart()?;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(node);

    // etcd: the same, with its client balancing over the members.
    let mut etcd = start_etcd(&dir.join("failover-etcd"), 3)?;
    let client = etcd.client().await?;
    wait_ready("etcd", Duration::from_secs(30), || {
        let mut c = client.clone();
        async move { c.put("warm", "1", None).await.is_ok() }
    })
    .await?;
    let acks: Acks = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let value = "x".repeat(600);
    for w in 0..WRITERS {
        let (client, acks, stop, value) = (client.clone(), acks.clone(), stop.clone(), value.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let mut c = client.clone();
                let issued = Instant::now();
                if c.put(format!("failover/{w}/{n}"), value.clone(), None).await.is_ok() {
                    if let Ok(mut a) = acks.lock() {
                        a.push((issued, Instant::now()));
                    }
                }
            }
        });
    }
    let mut e = Vec::new();
    for _ in 0..KILLS {
        wait_ready("all etcd members", Duration::from_secs(30), || async { etcd.leader().await.is_some() })
            .await?;
        let Some(leader) = etcd.leader().await else { anyhow::bail!("etcd has no leader") };
        let killed = Instant::now();
        etcd.procs[leader].kill();
        e.push(recovery(&acks, killed).await);
        etcd.procs[leader].restart()?;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let (gmin, gmed, gmax) = summary(&mut g);
    let (emin, emed, emax) = summary(&mut e);
    println!("\nFailover: leader SIGKILLed under {WRITERS} writers; time until a write issued after the kill is acknowledged ({KILLS} kills, default settings).\n");
    println!("| | min | median | max |");
    println!("|---|---:|---:|---:|");
    println!("| gridnode | {:.0} ms | {:.0} ms | {:.0} ms |", ms(gmin), ms(gmed), ms(gmax));
    println!("| etcd | {:.0} ms | {:.0} ms | {:.0} ms |", ms(emin), ms(emed), ms(emax));
    println!("| gridnode / etcd (median) | | {:.2} | |", ms(gmed) / ms(emed).max(1.0));
    Ok(json!({
        "kills": KILLS,
        "gridnode_ms": g.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "etcd_ms": e.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        "gridnode": {"min_ms": ms(gmin), "median_ms": ms(gmed), "max_ms": ms(gmax)},
        "etcd": {"min_ms": ms(emin), "median_ms": ms(emed), "max_ms": ms(emax)},
    }))
}
