//! Test harness: real `gridnode` replica processes on loopback, in a temp dir, driven by the real CLI.
//! Ports are picked free at start; readiness is polled, never slept on; Drop kills every process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_gridnode-it");

/// Community 文化东路社区 and its grids, used by most tests.
pub const COMMUNITY: &str = "370102001001";
pub const GRID: &str = "370102001001001";
/// Another community of the same street, in the topology but not started unless a test does.
pub const SIBLING: &str = "370102001002";

#[path = "../../src/ports.rs"]
mod ports;
pub use ports::free_port;

#[test]
fn free_port_reserves_the_console_port_above_it() {
    let ports: Vec<u16> = (0..300).map(|_| free_port()).collect();
    for p in &ports {
        assert!(!ports.contains(&(p + 1000)), "port {p} handed out and so was its console port {}", p + 1000);
    }
}

/// Polls `f` until it returns Some, or panics after `timeout` naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `gridnode serve --config CONFIG`, its log appended to `log`.
pub fn serve(config: &Path, log: &Path) -> Child {
    serve_args(config, log, &[])
}

/// Starts `gridnode serve --config CONFIG EXTRA...`, its log appended to `log`.
pub fn serve_args(config: &Path, log: &Path, extra: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    Command::new(BIN)
        // --insecure only permits plaintext when the config has no [tls] section.
        .args(["serve", "--insecure", "--config", config.to_str().unwrap()])
        .args(extra)
        .env("RUST_LOG", "info,openraft=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn replica")
}

/// Runs the CLI.
pub fn cli(args: &[&str]) -> Output {
    cli_env(&[], args)
}

/// The CLI as an office uses it: one node's replicas (`--node`), one identity (the environment).
pub struct Office {
    pub env: Vec<(String, String)>,
    pub node: String,
}

impl Office {
    /// Runs `args --node ...`, refused or not.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut a = args.to_vec();
        a.extend(["--node", &self.node]);
        cli_env(&self.env, &a)
    }

    /// Runs `args --node ... --json`, requires success, parses stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--node", &self.node, "--json"]);
        cli_json_env(&self.env, &a)
    }
}

/// Runs the CLI with extra environment variables (e.g. GRIDNODE_CA/CERT/KEY).
pub fn cli_env(env: &[(String, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    // Plaintext unless the environment names TLS files (they take precedence).
    cmd.args(args).env("RUST_LOG", "warn").env("GRIDNODE_INSECURE", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run gridnode")
}

/// Runs the CLI, requires success, parses stdout as JSON.
pub fn cli_json(args: &[&str]) -> Value {
    cli_json_env(&[], args)
}

/// Like `cli_json`, with extra environment variables.
pub fn cli_json_env(env: &[(String, String)], args: &[&str]) -> Value {
    let out = cli_env(env, args);
    assert!(
        out.status.success(),
        "gridnode {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("gridnode {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

pub struct Replica {
    pub id: u64,
    pub addr: String,
    pub config: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

/// One node (a community with two grids) as a Raft group of real processes.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub replicas: Vec<Replica>,
    /// Environment of CLI calls (the operator's TLS files for a TLS cluster).
    pub env: Vec<(String, String)>,
    /// What `topology render` wrote: one entry per replica of every node.
    pub rendered: Value,
    /// Replicas of other nodes of the topology started by [`Cluster::start_node`].
    pub others: Vec<Replica>,
}

/// Raft settings for tests: fast elections, and optionally tiny snapshots so logs get purged.
pub struct Tuning {
    pub snapshot_every: u64,
    pub keep_logs: u64,
    /// Mutual TLS from a CA made for the test (the CLI then uses an operator certificate).
    pub tls: bool,
    /// `[limits]` of every replica, as TOML key = value lines.
    pub limits: &'static str,
    /// `[storage]` of every replica, as TOML key = value lines.
    pub storage: &'static str,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning { snapshot_every: 5000, keep_logs: 1000, tls: false, limits: "", storage: "" }
    }
}

impl Cluster {
    /// Renders configs for `n` replicas with `gridnode topology render` and starts them all.
    pub fn start(n: usize, tuning: Tuning) -> Cluster {
        Self::start_with(n, tuning, |_, _| {})
    }

    /// Like [`Cluster::start`], after `tweak(replica id, config)` has edited each replica's config.
    pub fn start_with(n: usize, tuning: Tuning, tweak: impl Fn(u64, &mut toml::Table)) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let addrs: Vec<String> = (0..n).map(|_| format!("127.0.0.1:{}", free_port())).collect();
        let topo = format!(
            "[defaults]\ndata_root = {:?}\n\n[[node]]\ncode = \"370102\"\nname = \"历下区\"\nreplicas = [\"127.0.0.1:{}\"]\n\n\
             [[node]]\ncode = \"370102001\"\nname = \"解放路街道\"\nreplicas = [\"127.0.0.1:{}\"]\n\n\
             [[node]]\ncode = \"{COMMUNITY}\"\nname = \"文化东路社区\"\nreplicas = [{}]\ngrids = [\"001\", \"002\"]\n\n\
             [[node]]\ncode = \"{SIBLING}\"\nname = \"甸柳庄社区\"\nreplicas = [\"127.0.0.1:{}\"]\ngrids = [\"001\"]\n",
            dir.path().join("data").display().to_string(),
            free_port(),
            free_port(),
            addrs.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", "),
            free_port(),
        );
        let topo_path = dir.path().join("topology.toml");
        std::fs::write(&topo_path, topo).expect("write topology");
        let cfg_dir = dir.path().join("configs");
        let ca_dir = dir.path().join("ca");
        let mut render = vec![
            "topology",
            "render",
            topo_path.to_str().unwrap(),
            "--out",
            cfg_dir.to_str().unwrap(),
            "--json",
        ];
        let mut env = Vec::new();
        if tuning.tls {
            assert!(cli(&["certs", "init-ca", "--out", ca_dir.to_str().unwrap()]).status.success());
            render.extend(["--ca", ca_dir.to_str().unwrap()]);
            env = issue_env(&ca_dir, "370102", "operator", "test", &dir.path().join("operator"));
        }
        let rendered = cli_json(&render);
        let mut replicas = Vec::new();
        for r in rendered.as_array().expect("array") {
            if r["node"] != COMMUNITY {
                continue;
            }
            let config = PathBuf::from(r["config"].as_str().unwrap());
            tune(&config, &tuning);
            let id = r["replica"].as_u64().unwrap();
            edit_config(&config, |t| tweak(id, t));
            replicas.push(Replica {
                id,
                addr: r["addr"].as_str().unwrap().to_string(),
                log: dir.path().join(format!("replica-{id}.log")),
                config,
                child: None,
            });
        }
        assert_eq!(replicas.len(), n);
        let mut c = Cluster { dir, replicas, env, rendered, others: Vec::new() };
        for i in 1..=n as u64 {
            c.start_replica(i);
        }
        c.wait_leader();
        c
    }

    fn idx(&self, id: u64) -> usize {
        self.replicas.iter().position(|r| r.id == id).expect("replica id")
    }

    pub fn start_replica(&mut self, id: u64) {
        let i = self.idx(id);
        let r = &mut self.replicas[i];
        r.child = Some(serve(&r.config, &r.log));
    }

    /// Starts replica `id` with extra `serve` arguments.
    pub fn start_replica_args(&mut self, id: u64, extra: &[&str]) {
        let i = self.idx(id);
        let r = &mut self.replicas[i];
        r.child = Some(serve_args(&r.config, &r.log, extra));
    }

    /// Stops replica `id` cleanly (SIGTERM) and waits for it.
    pub fn stop(&mut self, id: u64) {
        let i = self.idx(id);
        if let Some(mut c) = self.replicas[i].child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }

    /// Waits up to `timeout` for replica `id` to exit on its own; returns how it exited.
    pub fn wait_exit(&mut self, id: u64, timeout: Duration) -> std::process::ExitStatus {
        let i = self.idx(id);
        let status = wait_for(&format!("replica {id} to exit"), timeout, || {
            self.replicas[i].child.as_mut().and_then(|c| c.try_wait().ok().flatten())
        });
        self.replicas[i].child = None;
        status
    }

    /// Whether replica `id` is running.
    pub fn running(&mut self, id: u64) -> bool {
        let i = self.idx(id);
        self.replicas[i].child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The data directory of replica `id`.
    pub fn data_dir(&self, id: u64) -> PathBuf {
        let text = std::fs::read_to_string(&self.replicas[self.idx(id)].config).expect("config");
        let v: toml::Table = toml::from_str(&text).expect("config toml");
        PathBuf::from(v["data_dir"].as_str().expect("data_dir"))
    }

    /// Edits replica `id`'s config (takes effect at its next start).
    pub fn edit(&self, id: u64, f: impl FnOnce(&mut toml::Table)) {
        edit_config(&self.replicas[self.idx(id)].config, f);
    }

    /// kill -9.
    pub fn kill(&mut self, id: u64) {
        let i = self.idx(id);
        if let Some(mut c) = self.replicas[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn addr(&self, id: u64) -> &str {
        &self.replicas[self.idx(id)].addr
    }

    /// Comma-separated addresses of the running replicas.
    pub fn live(&self) -> String {
        self.replicas
            .iter()
            .filter(|r| r.child.is_some())
            .map(|r| r.addr.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn all(&self) -> String {
        self.replicas.iter().map(|r| r.addr.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Status as the leader sees it (any live replica forwards).
    pub fn status(&self) -> Option<Value> {
        let out = self.cli(&["cluster", "status", "--node", &self.live(), "--json", "--timeout", "3"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// One replica's own view.
    pub fn local_status(&self, id: u64) -> Option<Value> {
        let out =
            self.cli(&["cluster", "status", "--node", self.addr(id), "--local", "--json", "--timeout", "2"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Waits until the live replicas agree on a leader; returns its id.
    pub fn wait_leader(&self) -> u64 {
        wait_for("a leader", Duration::from_secs(30), || {
            let s = self.status()?;
            let leader = s["leader"].as_u64()?;
            (s["role"] == "leader" && self.replicas.iter().any(|r| r.id == leader && r.child.is_some()))
                .then_some(leader)
        })
    }

    /// Waits until replica `id` has applied everything the leader has applied.
    pub fn wait_caught_up(&self, id: u64) -> Value {
        let target = self.status().and_then(|s| s["last_applied"].as_u64()).expect("leader status");
        wait_for(&format!("replica {id} to apply up to {target}"), Duration::from_secs(60), || {
            let s = self.local_status(id)?;
            (s["last_applied"].as_u64()? >= target).then_some(s)
        })
    }

    /// Reports a case; returns its id.
    pub fn report(&self, title: &str, request_id: &str) -> String {
        let v = self.cli_json(&[
            "case",
            "report",
            "--node",
            &self.live(),
            "--grid",
            GRID,
            "--category",
            "市容环境/暴露垃圾",
            "--source",
            "hotline",
            "--title",
            title,
            "--reporter",
            "市民",
            "--request-id",
            request_id,
            "--json",
        ]);
        v["id"].as_str().expect("case id").to_string()
    }

    /// Every case id in replica `id`'s own store.
    pub fn local_ids(&self, id: u64) -> Vec<String> {
        let v = cli_json(&[
            "case",
            "list",
            "--node",
            self.addr(id),
            "--local",
            "--all",
            "--page-size",
            "500",
            "--json",
        ]);
        v["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    }

    /// Runs the CLI with this cluster's environment.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_env(&self.env, args)
    }

    pub fn cli_json(&self, args: &[&str]) -> Value {
        cli_json_env(&self.env, args)
    }

    pub fn log_of(&self, id: u64) -> String {
        std::fs::read_to_string(&self.replicas[self.idx(id)].log).unwrap_or_default()
    }

    /// Starts the replicas of another node of the topology (e.g. the street) with fast elections, and
    /// returns their addresses. They stop with the cluster.
    pub fn start_node(&mut self, code: &str) -> Vec<String> {
        let mut addrs = Vec::new();
        for r in self.rendered.as_array().expect("array").iter().filter(|r| r["node"] == code) {
            let config = PathBuf::from(r["config"].as_str().unwrap());
            tune(&config, &Tuning::default());
            let id = r["replica"].as_u64().unwrap();
            let log = self.dir.path().join(format!("{code}-{id}.log"));
            let addr = r["addr"].as_str().unwrap().to_string();
            let child = Some(serve(&config, &log));
            self.others.push(Replica { id, addr: addr.clone(), log, config, child });
            addrs.push(addr);
        }
        addrs
    }

    /// Issues a certificate from the cluster's CA; returns the CLI environment that uses it.
    pub fn issue(&self, code: &str, role: &str, name: &str) -> Vec<(String, String)> {
        issue_env(&self.dir.path().join("ca"), code, role, name, &self.dir.path().join("issued"))
    }
}

/// Issues a certificate from the CA in `ca` into `out`; returns the CLI environment that uses it
/// (`GRIDNODE_CA`, `GRIDNODE_CERT`, `GRIDNODE_KEY`, in that order).
pub fn issue_env(ca: &Path, code: &str, role: &str, name: &str, out: &Path) -> Vec<(String, String)> {
    let v = cli_json(&[
        "certs",
        "issue",
        "--ca",
        ca.to_str().unwrap(),
        "--code",
        code,
        "--role",
        role,
        "--name",
        name,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    vec![
        ("GRIDNODE_CA".to_string(), ca.join("ca.pem").display().to_string()),
        ("GRIDNODE_CERT".to_string(), v["cert"].as_str().unwrap().to_string()),
        ("GRIDNODE_KEY".to_string(), v["key"].as_str().unwrap().to_string()),
    ]
}

/// A gRPC channel over mutual TLS with tonic's own TLS client, from a CLI environment as
/// [`Cluster::issue`] returns it (CA, certificate, key).
pub async fn tls_channel(addr: &str, env: &[(String, String)]) -> Result<tonic::transport::Channel, String> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let read = |i: usize| std::fs::read(&env[i].1).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(0)))
        .identity(Identity::from_pem(read(1), read(2)));
    let endpoint = Endpoint::from_shared(format!("https://{addr}")).unwrap().tls_config(tls).unwrap();
    endpoint.connect().await.map_err(|e| format!("{e:?}"))
}

/// Fast elections for tests; returns the config's `[raft]` table.
pub fn fast_raft(config: &mut toml::Table) -> &mut toml::Table {
    let raft = config.get_mut("raft").and_then(|r| r.as_table_mut()).expect("raft table");
    raft.insert("heartbeat_ms".into(), toml::Value::Integer(100));
    raft.insert("election_timeout_min_ms".into(), toml::Value::Integer(500));
    raft.insert("election_timeout_max_ms".into(), toml::Value::Integer(1000));
    raft
}

/// Edits a config file in place.
pub fn edit_config(config: &Path, f: impl FnOnce(&mut toml::Table)) {
    let text = std::fs::read_to_string(config).expect("read config");
    let mut v: toml::Table = toml::from_str(&text).expect("parse config");
    f(&mut v);
    std::fs::write(config, toml::to_string(&v).expect("toml")).expect("write config");
}

fn tune(config: &Path, t: &Tuning) {
    let text = std::fs::read_to_string(config).expect("read config");
    let mut v: toml::Value = toml::from_str(&text).expect("parse config");
    let raft = fast_raft(v.as_table_mut().expect("config table"));
    raft.insert("snapshot_every".into(), toml::Value::Integer(t.snapshot_every as i64));
    raft.insert("keep_logs".into(), toml::Value::Integer(t.keep_logs as i64));
    let limits: toml::Table = toml::from_str(t.limits).expect("limits");
    if !limits.is_empty() {
        v.as_table_mut().expect("config table").insert("limits".into(), toml::Value::Table(limits));
    }
    let mut storage: toml::Table = toml::from_str(t.storage).expect("storage");
    // Tests run on shared machines whose disks may be fuller than a replica's 256 MiB default allows.
    storage.entry("min_free_mb").or_insert(toml::Value::Integer(16));
    v.as_table_mut().expect("config table").insert("storage".into(), toml::Value::Table(storage));
    std::fs::write(config, toml::to_string(&v).expect("toml")).expect("write config");
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for r in self.replicas.iter_mut().chain(&mut self.others) {
            if let Some(mut c) = r.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
pub mod fed;
pub mod http;
pub mod proxy;
pub mod webdriver;

/// `msg` as a request announcing this build's protocol version, as a replica's Raft and peer calls
/// do (a call without the header counts as protocol 1, which a protocol-3 replica refuses).
pub fn versioned<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Ok(v) = federation::protocol::CURRENT.to_string().parse() {
        req.metadata_mut().insert("x-gridfed-protocol", v);
    }
    req
}

/// Waits until replica `id` of `c` holds exactly the cases `ids` (after repairing, if it was).
pub fn holds_exactly(c: &Cluster, id: u64, ids: &[String]) {
    let mut want = ids.to_vec();
    want.sort();
    wait_for(&format!("replica {id} to hold every acknowledged case"), Duration::from_secs(60), || {
        let out = c.cli(&[
            "case",
            "list",
            "--node",
            c.addr(id),
            "--local",
            "--all",
            "--page-size",
            "500",
            "--json",
        ]);
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let got: Vec<String> =
            v["cases"].as_array()?.iter().filter_map(|c| c["id"].as_str().map(str::to_string)).collect();
        (sorted_ids(got) == want).then_some(())
    });
}

fn sorted_ids(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
