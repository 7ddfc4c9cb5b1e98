//! Latency across the federation, on a district (3 replicas), a street (3) and a community (1):
//! - escalation: from `escalate` at the community to the case owned and committed at the street (one
//!   hop, two Raft groups), and a 12345 ticket from its report at the district to the case owned and
//!   committed at the community (two hops, three Raft groups);
//! - freshness: from a case closed at the community to the district's subtree figures showing it.
//!
//! Arrival is polled every millisecond with local reads on the receiving node's replicas.

use std::time::{Duration, Instant};

use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::{ActRequest, GetRequest, Handler, ReportRequest, StatsRequest};
use serde_json::json;
use tonic::transport::Channel;

use super::common::{ms, percentiles, report, start_federation, wait_ready, NodeSpec};

const SAMPLES: usize = 100;

fn act(case_id: &str, action: &str) -> ActRequest {
    ActRequest {
        case_id: case_id.into(),
        action: action.into(),
        actor: "bench".into(),
        note: "bench".into(),
        ..Default::default()
    }
}

/// Waits (polling local reads every millisecond) until some replica of `clients` holds `id` owned by
/// `owner`; returns when.
async fn owned_by(clients: &[CaseServiceClient<Channel>], id: &str, owner: &str) -> anyhow::Result<Instant> {
    let start = Instant::now();
    loop {
        for c in clients {
            let mut c = c.clone();
            if let Ok(r) = c.get(GetRequest { case_id: id.into(), local: true }).await {
                if r.into_inner().case.is_some_and(|k| k.owner == owner) {
                    return Ok(Instant::now());
                }
            }
        }
        if start.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("case {id} never reached {owner}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A client that answers (the node's replicas forward to its leader).
async fn any(clients: &[CaseServiceClient<Channel>]) -> CaseServiceClient<Channel> {
    for c in clients {
        let mut probe = c.clone();
        if probe.stats(StatsRequest::default()).await.is_ok() {
            return c.clone();
        }
    }
    clients[0].clone()
}

/// Runs the latency benchmarks; returns their JSON results and prints a table.
pub async fn run(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let spec = |code: &str, name: &str, replicas, grids: Vec<&'static str>| NodeSpec {
        code: code.into(),
        name: name.into(),
        replicas,
        grids,
    };
    let fed = start_federation(
        &dir.join("latency"),
        &[
            spec("370102", "历下区", 3, vec![]),
            spec("370102001", "解放路街道", 3, vec![]),
            spec("370102001001", "文化东路社区", 1, vec!["001", "002"]),
        ],
    )?;
    fed.ready(Duration::from_secs(60)).await?;
    let (district, street, community) =
        (fed.clients("370102")?, fed.clients("370102001")?, fed.clients("370102001001")?);
    let mut at_community = any(&community).await;
    let mut at_district = any(&district).await;
    wait_ready("the community", Duration::from_secs(30), || {
        let mut c = at_community.clone();
        async move { c.report(report("warm".into())).await.is_ok() }
    })
    .await?;

    // One hop: escalate at the community, owned at the street.
    let mut up = Vec::new();
    for i in 0..SAMPLES {
        let case =
            at_community.report(report(format!("esc-{i}"))).await?.into_inner().case.unwrap_or_default();
        at_community.act(act(&case.id, "register")).await?;
        let t0 = Instant::now();
        at_community.act(act(&case.id, "escalate")).await?;
        up.push(owned_by(&street, &case.id, "370102001").await? - t0);
    }
    // Two hops: a 12345 ticket reported at the district, owned at the community.
    let mut down = Vec::new();
    for i in 0..SAMPLES {
        let t0 = Instant::now();
        let req = ReportRequest { grid: "370102001001002".into(), ..report(format!("ticket-{i}")) };
        let case = at_district.report(req).await?.into_inner().case.unwrap_or_default();
        down.push(owned_by(&community, &case.id, "370102001001").await? - t0);
    }
    // Freshness: a close at the community shown in the district's subtree figures.
    let closed_at_district = |c: &mut CaseServiceClient<Channel>| {
        let mut c = c.clone();
        async move {
            let req = StatsRequest { subtree: true, local: true, ..Default::default() };
            c.stats(req)
                .await
                .ok()
                .and_then(|r| r.into_inner().stats)
                .and_then(|s| s.counters)
                .map(|k| k.closed)
        }
    };
    let mut fresh = Vec::new();
    for i in 0..SAMPLES / 2 {
        let case =
            at_community.report(report(format!("fresh-{i}"))).await?.into_inner().case.unwrap_or_default();
        for a in ["register", "dispatch", "start", "handled"] {
            let mut req = act(&case.id, a);
            req.handler = Some(Handler { kind: "grid_worker".into(), name: "张伟".into() });
            at_community.act(req).await?;
        }
        let mut before = None;
        while before.is_none() {
            before = closed_at_district(&mut district[0].clone()).await;
        }
        let before = before.unwrap_or_default();
        let t0 = Instant::now();
        at_community.act(act(&case.id, "close")).await?;
        loop {
            let mut seen = false;
            for d in &district {
                if closed_at_district(&mut d.clone()).await.is_some_and(|n| n > before) {
                    seen = true;
                }
            }
            if seen {
                fresh.push(t0.elapsed());
                break;
            }
            if t0.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("the district never saw the close");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let (u50, u99) = percentiles(&mut up);
    let (d50, d99) = percentiles(&mut down);
    let (f50, f99) = percentiles(&mut fresh);
    println!(
        "\nLatency across the federation (district 3 replicas, street 3, community 1; default settings).\n"
    );
    println!("| | p50 | p99 | goal (p99) |");
    println!("|---|---:|---:|---:|");
    println!("| escalation, community → street (1 hop) | {:.1} ms | {:.1} ms | |", ms(u50), ms(u99));
    println!(
        "| 12345 ticket, district → community (2 hops) | {:.1} ms | {:.1} ms | 50 ms |",
        ms(d50),
        ms(d99)
    );
    println!(
        "| freshness, close at community → district figures | {:.0} ms | {:.0} ms | 500 ms |",
        ms(f50),
        ms(f99)
    );
    Ok(json!({
        "escalation_1hop": {"p50_ms": ms(u50), "p99_ms": ms(u99), "samples": up.len()},
        "dispatch_2hops": {"p50_ms": ms(d50), "p99_ms": ms(d99), "samples": down.len()},
        "freshness": {"p50_ms": ms(f50), "p99_ms": ms(f99), "samples": fresh.len()},
    }))
}
