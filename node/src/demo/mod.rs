//! `gridnode demo`: a realistic federation in one process on loopback — 历下区 with three street
//! offices and their communities (the district and the streets with 3 replicas each) — seeded with
//! realistic cases and kept busy with a light stream of activity, printing the district's rollup table
//! every few seconds until Ctrl-C.

mod activity;
pub mod data;
mod table;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use federation::deadline::Limits;
use federation::topology::{Defaults, NodeSpec, Topology};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::client::{with_deadline, Client};
use crate::config::HttpSettings;
use crate::tls::{Tls, TlsFiles};
use federation::code::Code;
use federation::identity::{Identity, Role};
use proto::v1::{CreateTokenRequest, StatusRequest};

/// Options of `gridnode demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Keep the replicas' data here (default: a temporary directory removed on exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed of the random activity.
    #[arg(long, default_value_t = 12345)]
    seed: u64,
    /// Seconds between rollup tables.
    #[arg(long, default_value_t = 5)]
    every: u64,
    /// Stop by itself after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
}

/// Short deadlines so that supervision and overdue cases show within minutes.
fn demo_limits() -> Limits {
    Limits {
        register_minutes: 1,
        grid_minutes: 2,
        community_minutes: 3,
        street_minutes: 4,
        department_minutes: 5,
        verify_minutes: 1,
        auto_escalate: true,
    }
}

/// The demo district: nodes with listeners already bound on loopback.
async fn build(dir: &std::path::Path) -> anyhow::Result<(Topology, HashMap<String, TcpListener>)> {
    let mut listeners = HashMap::new();
    let mut bind = async |n: usize| -> anyhow::Result<Vec<String>> {
        let mut addrs = Vec::new();
        for _ in 0..n {
            let l = TcpListener::bind("127.0.0.1:0").await.context("bind a loopback port")?;
            let a = l.local_addr()?.to_string();
            listeners.insert(a.clone(), l);
            addrs.push(a);
        }
        Ok(addrs)
    };
    let data = data::get()?;
    let dcode = &data.district.code;
    let mut nodes = vec![NodeSpec {
        code: dcode.clone(),
        name: data.district.name.clone(),
        replicas: bind(3).await?,
        grids: vec![],
        http: vec![],
    }];
    for street in &data.streets {
        let scode = format!("{dcode}{}", street.suffix);
        nodes.push(NodeSpec {
            code: scode.clone(),
            name: street.name.clone(),
            replicas: bind(3).await?,
            grids: vec![],
            http: vec![],
        });
        for community in &street.communities {
            nodes.push(NodeSpec {
                code: format!("{scode}{}", community.suffix),
                name: community.name.clone(),
                replicas: bind(1).await?,
                grids: (1..=community.grids.len()).map(|i| format!("{i:03}")).collect(),
                http: vec![],
            });
        }
    }
    let topo = Topology {
        defaults: Defaults { data_root: dir.display().to_string(), ..Defaults::default() },
        nodes,
    };
    let problems = topo.check();
    if !problems.is_empty() {
        bail!("demo topology: {}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "));
    }
    Ok((topo, listeners))
}

/// The demo's CA, a certificate per replica and one for the district's operator.
struct DemoCerts {
    replicas: HashMap<(String, usize), TlsFiles>,
    operator: TlsFiles,
}

fn demo_certs(dir: &std::path::Path, topo: &Topology) -> anyhow::Result<DemoCerts> {
    let certs_dir = dir.join("certs");
    let ca_dir = certs_dir.join("ca");
    if !ca_dir.join("ca.pem").exists() {
        crate::certs::init_ca(&ca_dir, &data::get()?.district.name)?;
    }
    let ca = ca_dir.join("ca.pem");
    let issue = |code: &str, role: Role, name: &str, hosts: &[String]| -> anyhow::Result<TlsFiles> {
        let identity = Identity { code: Code::parse_node("code", code)?, role };
        // Addresses change between runs: issue afresh.
        for ext in ["pem", "key"] {
            let _ = std::fs::remove_file(certs_dir.join(format!("{code}-{role}-{name}.{ext}")));
        }
        let req = crate::certs::Request { identity: &identity, name: Some(name), hosts, days: 365 };
        let issued = crate::certs::issue(&ca_dir, &req, &certs_dir)?;
        Ok(TlsFiles { ca: ca.clone(), cert: issued.cert, key: issued.key })
    };
    let mut replicas = HashMap::new();
    for node in &topo.nodes {
        for (i, addr) in node.replicas.iter().enumerate() {
            let files = issue(&node.code, Role::Replica, &format!("r{}", i + 1), std::slice::from_ref(addr))?;
            replicas.insert((node.code.clone(), i), files);
        }
    }
    let operator = issue(&data::get()?.district.code, Role::Operator, "demo", &[])?;
    Ok(DemoCerts { replicas, operator })
}

/// The district's console URL with a fresh operator token (created over gRPC as the district's
/// operator, as `gridnode access token create` does).
async fn demo_console(
    topo: &Topology,
    operator: &std::sync::Arc<Tls>,
    consoles: &HashMap<(String, usize), String>,
) -> anyhow::Result<String> {
    let district = &topo.nodes[0];
    let client = Client::new(&district.replicas.join(","), Duration::from_secs(10), Some(operator))?;
    let msg = CreateTokenRequest {
        scope: String::new(),
        role: "operator".into(),
        expires: "24h".into(),
        name: "gridnode demo".into(),
    };
    let r = client.access(async |mut c, d| c.create_token(with_deadline(msg.clone(), d)).await).await?;
    let http = consoles.get(&(district.code.clone(), 0)).context("the district's console address")?;
    Ok(format!("http://{http}/login?token={}", r.secret))
}

async fn wait_for_leader(node: &NodeSpec, tls: &std::sync::Arc<Tls>) -> anyhow::Result<()> {
    let client = Client::new(&node.replicas.join(","), Duration::from_secs(2), Some(tls))?;
    let start = Instant::now();
    loop {
        let s = client
            .cluster(async |mut c, d| c.status(with_deadline(StatusRequest { local: false }, d)).await)
            .await;
        if s.is_ok_and(|s| s.leader.is_some()) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("node {} elected no leader within 30s", node.code);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let (dir, temporary) = match args.data_dir {
        Some(d) => (d, false),
        None => (std::env::temp_dir().join(format!("gridnode-demo-{}", std::process::id())), true),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let (topo, mut listeners) = build(&dir).await?;
    let tls = demo_certs(&dir, &topo)?;
    let operator = tls.operator.load("demo.")?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut replicas = JoinSet::new();
    // Each replica's console, plain HTTP on loopback (no certificate warning for a browser here).
    let mut consoles: HashMap<(String, usize), String> = HashMap::new();
    for node in &topo.nodes {
        for (i, addr) in node.replicas.iter().enumerate() {
            let mut cfg = crate::render::replica_config(&topo, node, i)?;
            cfg.deadlines.default = demo_limits();
            cfg.federation.supervise_ms = 5_000;
            cfg.tls = Some(tls.replicas[&(node.code.clone(), i)].clone());
            let http = TcpListener::bind("127.0.0.1:0").await.context("bind a loopback port")?;
            let http_addr = http.local_addr()?.to_string();
            cfg.http = Some(HttpSettings { plaintext_loopback: true, ..HttpSettings::on(http_addr.clone()) });
            consoles.insert((node.code.clone(), i), http_addr);
            let listener = listeners.remove(addr).context("listener")?;
            let mut stop = stop_rx.clone();
            replicas.spawn(crate::replica::run_with(
                cfg,
                listener,
                Some(http),
                crate::clock::Clock::system(),
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ));
        }
    }
    for node in &topo.nodes {
        wait_for_leader(node, &operator).await?;
    }
    println!(
        "gridfed demo: {} ({}) with {} nodes on loopback, data in {}",
        data::get()?.district.name,
        data::get()?.district.code,
        topo.nodes.len(),
        dir.display()
    );
    for node in &topo.nodes {
        let indent = "  ".repeat((node.code.len() - 6) / 3);
        println!("  {indent}{} {}  {}", node.code, node.name, node.replicas.join(", "));
    }
    // A CLI profile for the district's operator, so the commands below need no flags.
    let profile = dir.join("profile.toml");
    let text = format!(
        "# The demo district's operator (see `gridnode --help` for --profile).\nnode = {:?}\nca = {:?}\ncert = {:?}\nkey = {:?}\n",
        topo.nodes[0].replicas.join(","),
        tls.operator.ca.display().to_string(),
        tls.operator.cert.display().to_string(),
        tls.operator.key.display().to_string(),
    );
    std::fs::write(&profile, text).with_context(|| format!("write {}", profile.display()))?;
    let console = demo_console(&topo, &operator, &consoles).await?;
    println!("The district's console (an operator token valid 24h is in the link; no login step):");
    println!("  {console}");
    println!("The wall screen (大屏; full screen at 1920x1080, F11 in most browsers):");
    println!("  {console}&next=/screen");
    println!(
        "  *** PLAINTEXT HTTP on loopback only: the demo's consoles skip HTTPS so a browser on this machine needs no certificate. ***"
    );
    println!("  A real deployment serves HTTPS with the district CA's certificates (see README, Console).\n");
    println!("Every link is mutual TLS with a demo CA. Try, as the district's operator:");
    println!("  export GRIDNODE_PROFILE={}", profile.display());
    println!("  gridnode stats --subtree          gridnode case list --owned    (Ctrl-C stops the demo)\n");

    let mut act = activity::Activity::new(&topo, args.seed, &operator)?;
    act.seed().await?;
    let table = table::Table::new(&topo, &operator)?;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(700));
    let mut print = tokio::time::interval(Duration::from_secs(args.every.max(1)));
    let ctrl_c = crate::replica::shutdown_signal();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = tick.tick() => act.step().await,
            _ = print.tick() => table.print().await,
        }
        if args.duration.is_some_and(|d| started.elapsed() >= Duration::from_secs(d)) {
            table.print().await;
            break;
        }
    }
    println!("stopping…");
    let _ = stop_tx.send(true);
    let stopped = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(r) = replicas.join_next().await {
            if let Ok(Err(e)) = r {
                eprintln!("a replica stopped with an error: {e}");
            }
        }
    })
    .await;
    if stopped.is_err() {
        eprintln!("some replicas did not stop in time");
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("stopped");
    Ok(())
}
