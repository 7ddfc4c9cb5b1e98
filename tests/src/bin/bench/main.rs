//! `bench`: gridfed's benchmarks, each starting what it measures itself on loopback with fresh data
//! directories and comparing with etcd where etcd has a counterpart, in the same run on the same
//! machine. Run with `bash scripts/bench [NAME...]` (it installs etcd and builds in release mode).
//!
//! ```text
//! intake     reports/s and latency as clients grow, plaintext and TLS, next to etcd puts
//! failover   leader killed under load: time until writes succeed again, next to etcd
//! latency    escalation and 12345 dispatch across levels, freshness of the district's figures
//! catchup    a long outage's queued escalations drained: messages per second
//! footprint  one replica: start-up, memory idle and under load, data per 100,000 cases
//! district   1 district + 20 streets + 160 communities on one machine: start-up, memory, freshness
//! locate     a report's point among 10,000 grids (WGS-84 and GCJ-02): p50, p99, max
//! ```
//! Prints a table per benchmark and writes every figure as JSON (`--json FILE`, default
//! `target/bench/results.json`).

mod catchup;
mod common;
mod console;
mod district;
mod failover;
mod footprint;
mod intake;
mod latency;
mod locate;

use std::path::PathBuf;

use anyhow::bail;

const ALL: [&str; 7] = ["intake", "failover", "latency", "catchup", "footprint", "district", "locate"];

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut names = Vec::new();
    let mut json_out = PathBuf::from("target/bench/results.json");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json_out = args.next().map(PathBuf::from).unwrap_or(json_out),
            "-h" | "--help" => {
                println!("usage: bench [--json FILE] [{}]...", ALL.join(" | "));
                return Ok(());
            }
            n if ALL.contains(&n) => names.push(n.to_string()),
            other => bail!("unknown benchmark {other:?}; expected one of {}", ALL.join(", ")),
        }
    }
    if names.is_empty() {
        names = ALL.iter().map(|s| s.to_string()).collect();
    }
    let dir = tempfile::tempdir()?;
    println!(
        "gridfed benchmarks on {} cores: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        names.join(", ")
    );
    let mut results = serde_json::Map::new();
    for name in &names {
        let one = async {
            match name.as_str() {
                "intake" => intake::run(dir.path()).await,
                "failover" => failover::run(dir.path()).await,
                "latency" => latency::run(dir.path()).await,
                "catchup" => catchup::run(dir.path()).await,
                "footprint" => footprint::run(dir.path()).await,
                "district" => district::run(dir.path()).await,
                "locate" => locate::run(dir.path()).await,
                _ => unreachable!("checked above"),
            }
        };
        // Ctrl-C or SIGTERM drops the running benchmark, which kills the processes it started.
        let v = tokio::select! {
            v = one => v?,
            _ = interrupted() => bail!("interrupted"),
        };
        results.insert(name.clone(), v);
    }
    if let Some(parent) = json_out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&json_out, serde_json::to_string_pretty(&results)?)?;
    println!("\nresults: {}", json_out.display());
    Ok(())
}
