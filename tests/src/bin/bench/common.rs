//! What every benchmark needs: free ports, gridnode and etcd clusters started from scratch in a temp
//! directory (and their replicas killed and restarted), readiness polled, never slept on.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

#[path = "../../ports.rs"]
mod ports;
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::cluster_service_client::ClusterServiceClient;
use proto::v1::{ReportRequest, StatusRequest};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A process that is killed when dropped.
pub struct Proc {
    child: Option<Child>,
    start: Box<dyn Fn() -> anyhow::Result<Child>>,
}

impl Proc {
    fn spawn(start: Box<dyn Fn() -> anyhow::Result<Child>>) -> anyhow::Result<Proc> {
        Ok(Proc { child: Some(start()?), start })
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Its resident memory now, in bytes (from /proc).
    pub fn rss(&self) -> u64 {
        self.pid().map_or(0, rss_of)
    }

    /// Its proportional set size now, in bytes (see [`pss_of`]).
    pub fn pss(&self) -> u64 {
        self.pid().map_or(0, pss_of)
    }

    /// Starts it again as it was first started.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.child = Some((self.start)()?);
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The value of `key` (in kB) in `/proc/PID/FILE`, in bytes (0 if unknown).
fn proc_kib(pid: u32, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The resident memory of process `pid`, in bytes (0 if unknown).
pub fn rss_of(pid: u32) -> u64 {
    proc_kib(pid, "status", "VmRSS:")
}

/// The proportional set size of process `pid`, in bytes (0 if unknown): its resident memory with each
/// page shared with other processes (the binary's code, shared libraries) divided among them, so that
/// the sum over processes is the memory they take together.
pub fn pss_of(pid: u32) -> u64 {
    proc_kib(pid, "smaps_rollup", "Pss:")
}

/// Bytes under `path`.
pub fn du(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => du(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// A free port for a replica, with its console port (+1000) free too (regression: the district
/// benchmark's topology once had a replica's gRPC port equal to another's console port).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(ports::free_port())
}

pub fn gridnode_bin() -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let bin = here.with_file_name("gridnode");
    if !bin.exists() {
        bail!("{} not found: build it first (cargo build --release -p gridnode)", bin.display());
    }
    Ok(bin)
}

/// Polls `probe` every 50 ms until it answers true, for at most `limit`.
pub async fn wait_ready<F, Fut>(what: &str, limit: Duration, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !probe().await {
        if start.elapsed() > limit {
            bail!("{what} did not become ready within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Runs the gridnode CLI, failing with `what` unless it succeeds; returns its stdout.
pub fn gridnode(args: Vec<OsString>, what: &str) -> anyhow::Result<Vec<u8>> {
    let out = Command::new(gridnode_bin()?).args(args).stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("{what} failed");
    }
    Ok(out.stdout)
}

pub fn a(s: &str) -> OsString {
    OsString::from(s)
}

pub fn p(p: &Path) -> OsString {
    p.as_os_str().to_owned()
}

/// An operator's TLS files (CA, certificate, key), when the node runs mutual TLS.
pub type Tls = Option<[Vec<u8>; 3]>;

/// A 3-replica community node (its street and district not started: its rollups wait, as during a
/// link outage), with every replica's process.
pub struct GridNode {
    pub procs: Vec<Proc>,
    pub addrs: Vec<String>,
    pub tls: Tls,
}

/// Starts a community node of `n` replicas in `dir` with the default Raft settings, over mutual TLS
/// with a CA of its own when `tls`.
pub fn start_gridnode(dir: &Path, n: usize, tls: bool) -> anyhow::Result<GridNode> {
    let bin = gridnode_bin()?;
    std::fs::create_dir_all(dir)?;
    let addrs: Vec<String> =
        (0..n).map(|_| free_port().map(|p| format!("127.0.0.1:{p}"))).collect::<Result<_, _>>()?;
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
    let mut procs = Vec::new();
    for i in 1..=n {
        let (bin, config) = (bin.clone(), cfgs.join(format!("370102001001-r{i}.toml")));
        procs.push(Proc::spawn(Box::new(move || {
            let mut cmd = Command::new(&bin);
            cmd.arg("serve");
            if !tls {
                cmd.arg("--insecure");
            }
            Ok(cmd
                .arg("--config")
                .arg(&config)
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?)
        }))?);
    }
    Ok(GridNode { procs, addrs, tls: files })
}

/// A lazily connected channel to `addr`, with the operator's TLS files when given.
pub fn channel(addr: &str, tls: &Tls) -> anyhow::Result<Channel> {
    let endpoint = match tls {
        None => Endpoint::from_shared(format!("http://{addr}"))?,
        Some([ca, cert, key]) => Endpoint::from_shared(format!("https://{addr}"))?.tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .identity(Identity::from_pem(cert, key)),
        )?,
    };
    Ok(endpoint.connect_timeout(Duration::from_secs(1)).tcp_nodelay(true).connect_lazy())
}

impl GridNode {
    /// Case-service clients, one per replica.
    pub fn clients(&self) -> anyhow::Result<Vec<CaseServiceClient<Channel>>> {
        self.addrs.iter().map(|a| Ok(CaseServiceClient::new(channel(a, &self.tls)?))).collect()
    }

    /// The index of the replica that leads, as any live replica answers.
    pub async fn leader(&self) -> Option<usize> {
        for addr in &self.addrs {
            let Ok(ch) = channel(addr, &self.tls) else { continue };
            let mut req = tonic::Request::new(StatusRequest { local: true });
            req.set_timeout(Duration::from_millis(500));
            if let Ok(r) = ClusterServiceClient::new(ch).status(req).await {
                let r = r.into_inner();
                if r.role == "leader" {
                    return Some(r.answered_by as usize - 1);
                }
            }
        }
        None
    }

    /// Waits until every replica has applied what the leader has.
    pub async fn settled(&self) -> anyhow::Result<()> {
        wait_ready("all replicas to catch up", Duration::from_secs(60), || async {
            let mut applied = Vec::new();
            for addr in &self.addrs {
                let Ok(ch) = channel(addr, &self.tls) else { return false };
                let mut req = tonic::Request::new(StatusRequest { local: true });
                req.set_timeout(Duration::from_millis(500));
                match ClusterServiceClient::new(ch).status(req).await {
                    Ok(r) => applied.push(r.into_inner().last_applied),
                    Err(_) => return false,
                }
            }
            applied.windows(2).all(|w| w[0] == w[1])
        })
        .await
    }
}

/// A 3-member etcd cluster with its members' processes.
pub struct Etcd {
    pub procs: Vec<Proc>,
    pub addrs: Vec<String>,
}

/// Starts `n` etcd members in `dir` with etcd's default timing (heartbeat 100 ms, election 1000 ms).
pub fn start_etcd(dir: &Path, n: usize) -> anyhow::Result<Etcd> {
    let ports: Vec<(u16, u16)> =
        (0..n).map(|_| Ok((free_port()?, free_port()?))).collect::<anyhow::Result<_>>()?;
    let cluster = ports
        .iter()
        .enumerate()
        .map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut procs = Vec::new();
    let mut addrs = Vec::new();
    for (i, (client, peer)) in ports.iter().enumerate() {
        let (data, cluster, client, peer) = (dir.join(format!("etcd{i}")), cluster.clone(), *client, *peer);
        let first = std::sync::atomic::AtomicBool::new(true);
        procs.push(Proc::spawn(Box::new(move || {
            // The first start makes a new cluster; later starts rejoin it from their data.
            let state =
                if first.swap(false, std::sync::atomic::Ordering::Relaxed) { "new" } else { "existing" };
            Command::new("etcd")
                .args(["--name", &format!("e{i}")])
                .arg("--data-dir")
                .arg(&data)
                .args(["--listen-client-urls", &format!("http://127.0.0.1:{client}")])
                .args(["--advertise-client-urls", &format!("http://127.0.0.1:{client}")])
                .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
                .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
                .args(["--initial-cluster", &cluster, "--initial-cluster-state", state])
                .args(["--initial-cluster-token", "gridfed-bench", "--log-level", "error"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("start etcd (apt-get install etcd-server)")
        }))?);
        addrs.push(format!("127.0.0.1:{client}"));
    }
    Ok(Etcd { procs, addrs })
}

impl Etcd {
    /// A client of every member.
    pub async fn client(&self) -> anyhow::Result<etcd_client::Client> {
        let opts = etcd_client::ConnectOptions::new()
            .with_timeout(Duration::from_secs(1))
            .with_connect_timeout(Duration::from_secs(1));
        Ok(etcd_client::Client::connect(self.addrs.clone(), Some(opts)).await?)
    }

    /// The index of the member that leads.
    pub async fn leader(&self) -> Option<usize> {
        let mut ids = Vec::new();
        let mut leader = None;
        for addr in &self.addrs {
            let opts = etcd_client::ConnectOptions::new().with_timeout(Duration::from_millis(500));
            let Ok(mut c) = etcd_client::Client::connect([addr.clone()], Some(opts)).await else {
                ids.push(None);
                continue;
            };
            match c.status().await {
                Ok(s) => {
                    ids.push(s.header().map(|h| h.member_id()));
                    if s.leader() != 0 {
                        leader = Some(s.leader());
                    }
                }
                Err(_) => ids.push(None),
            }
        }
        let leader = leader?;
        ids.iter().position(|id| *id == Some(leader))
    }
}

/// A report of a realistic size (a 12345 hotline ticket).
pub fn report(request_id: String) -> ReportRequest {
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

/// Milliseconds of a duration, for tables.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One node of a federation to start: code, name, number of replicas, grids (communities).
pub struct NodeSpec {
    pub code: String,
    pub name: String,
    pub replicas: usize,
    pub grids: Vec<&'static str>,
}

/// A federation of real replica processes on loopback (plaintext, default settings).
pub struct Federation {
    /// Every replica: (node code, replica index, process).
    pub procs: Vec<(String, usize, Proc)>,
    /// Replica addresses by node code.
    pub addrs: std::collections::BTreeMap<String, Vec<String>>,
}

/// Renders and starts `nodes` in `dir`.
pub fn start_federation(dir: &Path, nodes: &[NodeSpec]) -> anyhow::Result<Federation> {
    let bin = gridnode_bin()?;
    std::fs::create_dir_all(dir)?;
    let mut topo = format!("[defaults]\ndata_root = {:?}\n", dir.join("data").display().to_string());
    let mut addrs = std::collections::BTreeMap::new();
    for n in nodes {
        let a: Vec<String> = (0..n.replicas)
            .map(|_| free_port().map(|p| format!("127.0.0.1:{p}")))
            .collect::<Result<_, _>>()?;
        topo += &format!(
            "\n[[node]]\ncode = \"{}\"\nname = \"{}\"\nreplicas = [{}]\n",
            n.code,
            n.name,
            a.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")
        );
        if !n.grids.is_empty() {
            topo += &format!(
                "grids = [{}]\n",
                n.grids.iter().map(|g| format!("{g:?}")).collect::<Vec<_>>().join(", ")
            );
        }
        addrs.insert(n.code.clone(), a);
    }
    let topo_path = dir.join("topology.toml");
    std::fs::write(&topo_path, topo)?;
    let configs = dir.join("configs");
    gridnode(vec![a("topology"), a("render"), p(&topo_path), a("--out"), p(&configs)], "topology render")?;
    let mut procs = Vec::new();
    for n in nodes {
        for i in 1..=n.replicas {
            let (bin, config) = (bin.clone(), configs.join(format!("{}-r{i}.toml", n.code)));
            let proc = Proc::spawn(Box::new(move || {
                Ok(Command::new(&bin)
                    .args(["serve", "--insecure", "--config"])
                    .arg(&config)
                    .env("RUST_LOG", "error")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()?)
            }))?;
            procs.push((n.code.clone(), i, proc));
        }
    }
    Ok(Federation { procs, addrs })
}

impl Federation {
    /// A case-service client of each replica of `node`.
    pub fn clients(&self, node: &str) -> anyhow::Result<Vec<CaseServiceClient<Channel>>> {
        self.addrs
            .get(node)
            .context("no such node")?
            .iter()
            .map(|a| Ok(CaseServiceClient::new(channel(a, &None)?)))
            .collect()
    }

    /// Waits until every node has a leader.
    pub async fn ready(&self, limit: Duration) -> anyhow::Result<()> {
        for (code, addrs) in &self.addrs {
            wait_ready(&format!("a leader of {code}"), limit, || async {
                for addr in addrs {
                    let Ok(ch) = channel(addr, &None) else { continue };
                    let mut req = tonic::Request::new(StatusRequest { local: true });
                    req.set_timeout(Duration::from_millis(500));
                    if let Ok(r) = ClusterServiceClient::new(ch).status(req).await {
                        if r.into_inner().leader.is_some() {
                            return true;
                        }
                    }
                }
                false
            })
            .await?;
        }
        Ok(())
    }

    /// The process of replica `i` (1-based) of `node`.
    pub fn proc(&mut self, node: &str, i: usize) -> Option<&mut Proc> {
        self.procs.iter_mut().find(|(c, r, _)| c == node && *r == i).map(|(_, _, p)| p)
    }
}

/// (p50, p99) of `v` (sorted in place).
pub fn percentiles(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| {
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    (at(0.5), at(0.99))
}
