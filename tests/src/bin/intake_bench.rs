//! Intake benchmark: how many case reports per second a 3-replica gridnode commits (majority, fsynced)
//! as the number of concurrent clients grows, plaintext and over mutual TLS (as in production), next to
//! a 3-member etcd cluster doing the same number of fsynced writes of a similar size, in the same run on
//! the same machine.
//!
//! Run with `bash scripts/bench` (it installs etcd and builds in release mode). Everything listens on
//! loopback; each measurement is bounded in time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::ReportRequest;

const CLIENTS: [usize; 5] = [1, 4, 16, 64, 128];
const MEASURE: Duration = Duration::from_secs(6);
const WARMUP: Duration = Duration::from_secs(1);

struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn gridnode_bin() -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let bin = here.with_file_name("gridnode");
    if !bin.exists() {
        bail!("{} not found: build it first (cargo build --release -p gridnode)", bin.display());
    }
    Ok(bin)
}

async fn wait_ready<F, Fut>(what: &str, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !probe().await {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("{what} did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Runs the gridnode CLI, failing with `what` unless it succeeds; returns its stdout.
fn gridnode(args: Vec<OsString>, what: &str) -> anyhow::Result<Vec<u8>> {
    let out = Command::new(gridnode_bin()?).args(args).stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("{what} failed");
    }
    Ok(out.stdout)
}

fn a(s: &str) -> OsString {
    OsString::from(s)
}

fn p(p: &Path) -> OsString {
    p.as_os_str().to_owned()
}

/// A channel to each replica: plaintext, or mutual TLS with the operator's files (CA, cert, key).
type Tls = Option<[Vec<u8>; 3]>;

/// Starts a 3-replica community node in `dir`, over mutual TLS with a CA of its own when `tls`.
fn start_gridnode(dir: &Path, tls: bool) -> anyhow::Result<(Procs, Vec<String>, Tls)> {
    let bin = gridnode_bin()?;
    std::fs::create_dir_all(dir)?;
    let addrs: Vec<String> =
        (0..3).map(|_| free_port().map(|p| format!("127.0.0.1:{p}"))).collect::<Result<_, _>>()?;
    // A community node (where reports come in) with 3 replicas; its street and district are not started,
    // so its rollups wait in vain, as they would during a link outage.
    let topo = format!(
        "[defaults]\ndata_root = {:?}\n[[node]]\ncode = \"370102\"\nname = \"历下区\"\nreplicas = [\"127.0.0.1:{}\"]\n\
         [[node]]\ncode = \"370102001\"\nname = \"解放路街道\"\nreplicas = [\"127.0.0.1:{}\"]\n\
         [[node]]\ncode = \"370102001001\"\nname = \"文化东路社区\"\nreplicas = [{}]\ngrids = [\"001\"]\n",
        dir.join("gridnode").display().to_string(),
        free_port()?,
        free_port()?,
        addrs.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", "),
    );
    let topo_path = dir.join("topology.toml");
    std::fs::write(&topo_path, topo)?;
    let cfgs = dir.join("configs");
    let ca = dir.join("ca");
    let mut render = vec![a("topology"), a("render"), p(&topo_path), a("--out"), p(&cfgs)];
    let mut files = None;
    if tls {
        gridnode(vec![a("certs"), a("init-ca"), a("--out"), p(&ca)], "certs init-ca")?;
        render.extend([a("--ca"), p(&ca)]);
        let mut issue =
            ["certs", "issue", "--code", "370102", "--role", "operator", "--name", "bench", "--json"]
                .map(a)
                .to_vec();
        issue.extend([a("--ca"), p(&ca), a("--out"), p(dir)]);
        let v: serde_json::Value = serde_json::from_slice(&gridnode(issue, "certs issue")?)?;
        let path = |k: &str| v[k].as_str().map(PathBuf::from).context("issued certificate paths");
        files = Some([
            std::fs::read(ca.join("ca.pem"))?,
            std::fs::read(path("cert")?)?,
            std::fs::read(path("key")?)?,
        ]);
    }
    gridnode(render, "topology render")?;
    let mut procs = Procs(Vec::new());
    for i in 1..=3 {
        let mut cmd = Command::new(&bin);
        cmd.arg("serve");
        if !tls {
            cmd.arg("--insecure");
        }
        let child = cmd
            .arg("--config")
            .arg(cfgs.join(format!("370102001001-r{i}.toml")))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        procs.0.push(child);
    }
    Ok((procs, addrs, files))
}

/// Case-service clients, one per replica.
fn clients(addrs: &[String], tls: &Tls) -> anyhow::Result<Vec<CaseServiceClient<tonic::transport::Channel>>> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    addrs
        .iter()
        .map(|a| {
            let endpoint = match tls {
                None => Endpoint::from_shared(format!("http://{a}"))?,
                Some([ca, cert, key]) => Endpoint::from_shared(format!("https://{a}"))?.tls_config(
                    ClientTlsConfig::new()
                        .ca_certificate(Certificate::from_pem(ca))
                        .identity(Identity::from_pem(cert, key)),
                )?,
            };
            Ok(CaseServiceClient::new(endpoint.connect_lazy()))
        })
        .collect()
}

fn start_etcd(dir: &Path) -> anyhow::Result<(Procs, Vec<String>)> {
    let ports: Vec<(u16, u16)> =
        (0..3).map(|_| Ok((free_port()?, free_port()?))).collect::<anyhow::Result<_>>()?;
    let cluster = ports
        .iter()
        .enumerate()
        .map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut procs = Procs(Vec::new());
    let mut clients = Vec::new();
    for (i, (client, peer)) in ports.iter().enumerate() {
        let child = Command::new("etcd")
            .args(["--name", &format!("e{i}")])
            .arg("--data-dir")
            .arg(dir.join(format!("etcd{i}")))
            .args(["--listen-client-urls", &format!("http://127.0.0.1:{client}")])
            .args(["--advertise-client-urls", &format!("http://127.0.0.1:{client}")])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-cluster", &cluster, "--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "gridfed-bench", "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start etcd (apt-get install etcd-server)")?;
        procs.0.push(child);
        clients.push(format!("127.0.0.1:{client}"));
    }
    Ok((procs, clients))
}

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let value = "x".repeat(600); // about the size of a reported case
    println!("Intake benchmark: 3 replicas each, loopback, every acknowledged write fsynced on a majority.");
    println!(
        "{} s per point after {} s warm-up; {} cores.\n",
        MEASURE.as_secs(),
        WARMUP.as_secs(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!(
        "| clients | gridnode reports/s | p50 | p99 | gridnode TLS reports/s | p50 | p99 | etcd puts/s | p50 | p99 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");

    let (_g, gaddrs, _) = start_gridnode(&dir.path().join("plain"), false)?;
    let (_t, taddrs, tls) = start_gridnode(&dir.path().join("tls"), true)?;
    let (_e, eaddrs) = start_etcd(dir.path())?;
    let plain = clients(&gaddrs, &None)?;
    let secure = clients(&taddrs, &tls)?;
    for (what, c) in [("gridnode", &plain), ("gridnode over TLS", &secure)] {
        let probe = c[0].clone();
        wait_ready(what, || {
            let mut c = probe.clone();
            async move { c.report(report("warm".into())).await.is_ok() }
        })
        .await?;
    }
    let etcd = etcd_client::Client::connect(eaddrs.clone(), None).await.context("connect etcd")?;
    let probe = etcd.clone();
    wait_ready("etcd", || {
        let mut c = probe.clone();
        async move { c.put("warm", "1", None).await.is_ok() }
    })
    .await?;

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for n in CLIENTS {
        let g = measure_gridnode(n, &plain).await;
        let t = measure_gridnode(n, &secure).await;
        let ec = etcd.clone();
        let v = value.clone();
        let e = measure(n, move |_, seq| {
            let mut client = ec.clone();
            let v = v.clone();
            async move { client.put(format!("case/{n}/{seq}"), v, None).await.is_ok() }
        })
        .await;
        println!(
            "| {n} | {:.0} | {:.1} ms | {:.1} ms | {:.0} | {:.1} ms | {:.1} ms | {:.0} | {:.1} ms | {:.1} ms |",
            g.0,
            ms(g.1),
            ms(g.2),
            t.0,
            ms(t.1),
            ms(t.2),
            e.0,
            ms(e.1),
            ms(e.2)
        );
    }
    Ok(())
}

/// A report of a realistic size (a 12345 hotline ticket).
fn report(request_id: String) -> ReportRequest {
    ReportRequest {
        request_id: Some(request_id),
        grid: "370102001001001".into(),
        category: "0101".into(),
        source: "hotline".into(),
        title: "文化东路59号院门口垃圾堆积，影响居民出行".into(),
        description: "市民来电反映小区门口垃圾多日无人清运，气味较大，请尽快处理。".into(),
        reporter: "12345 市民王先生".into(),
        ..Default::default()
    }
}

/// `n` concurrent clients reporting to the replicas in turn (or to `BENCH_REPLICA` only).
async fn measure_gridnode(
    n: usize,
    clients: &[CaseServiceClient<tonic::transport::Channel>],
) -> (f64, Duration, Duration) {
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
