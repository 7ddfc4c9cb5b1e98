//! A three-level federation of real `gridnode` processes on loopback:
//!
//! ```text
//!                      370102 历下区 (3 replicas)
//!                 /                              \
//!    370102001 解放路街道 (3 replicas)     370102002 泉城路街道 (1 replica)
//!       /              \                     /              \
//! 370102001001   370102001002         370102002001    370102002002   (1 replica each, grids 001, 002)
//! ```
//! Every link between two nodes runs through fault-injecting proxies (one per replica and direction),
//! so a test can cut and heal a link; replicas can be killed with SIGKILL and restarted. Everything runs
//! over mutual TLS from a CA made for the test, as in production; the CLI uses a district operator's
//! certificate ([`Federation::cli`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use serde_json::Value;

use super::proxy::Proxy;
use super::{cli, cli_env, cli_json, cli_json_env, free_port, wait_for};

pub const DISTRICT: &str = "370102";
pub const STREET_A: &str = "370102001";
pub const STREET_B: &str = "370102002";
pub const COMMUNITIES: [&str; 4] = ["370102001001", "370102001002", "370102002001", "370102002002"];

pub struct Proc {
    pub node: String,
    pub id: u64,
    pub addr: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// The replica's clock offset (milliseconds), read by it every half second (fault injection).
    clock: PathBuf,
}

impl Proc {
    fn start(&mut self) {
        if !self.clock.exists() {
            let _ = std::fs::write(&self.clock, "0");
        }
        let clock = self.clock.display().to_string();
        self.child = Some(super::serve_args(&self.config, &self.log, &["--clock-offset-file", &clock]));
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = std::process::Command::new("kill").args([sig, &c.id().to_string()]).status();
        }
    }

    /// The replica's data directory (from its config).
    pub fn data_dir(&self) -> PathBuf {
        let text = std::fs::read_to_string(&self.config).unwrap_or_default();
        let v: toml::Table = toml::from_str(&text).unwrap_or_default();
        PathBuf::from(v.get("data_dir").and_then(|d| d.as_str()).unwrap_or_default())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Proxies of one parent-child link: child -> parent replicas, and parent -> child replicas.
struct Link {
    proxies: Vec<Proxy>,
}

pub struct Federation {
    pub dir: tempfile::TempDir,
    pub procs: Vec<Proc>,
    links: BTreeMap<String, Link>,
    /// The CLI's environment: the district operator's TLS files.
    pub env: Vec<(String, String)>,
}

fn replicas_of(code: &str) -> usize {
    if code == DISTRICT || code == STREET_A {
        3
    } else {
        1
    }
}

impl Federation {
    pub fn start() -> Federation {
        Self::start_with(|_, _| {})
    }

    /// Starts the federation after `tweak(node, config)` has edited each replica's config.
    pub fn start_with(tweak: impl Fn(&str, &mut toml::Table)) -> Federation {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut topo =
            format!("[defaults]\ndata_root = {:?}\n", dir.path().join("data").display().to_string());
        let mut addrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let names = [
            (DISTRICT, "历下区"),
            (STREET_A, "解放路街道"),
            (STREET_B, "泉城路街道"),
            (COMMUNITIES[0], "历山路社区"),
            (COMMUNITIES[1], "青龙街社区"),
            (COMMUNITIES[2], "临湖社区"),
            (COMMUNITIES[3], "芙蓉街社区"),
        ];
        for (code, name) in names {
            let a: Vec<String> =
                (0..replicas_of(code)).map(|_| format!("127.0.0.1:{}", free_port())).collect();
            topo += &format!(
                "\n[[node]]\ncode = \"{code}\"\nname = \"{name}\"\nreplicas = [{}]\n",
                a.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ")
            );
            if code.len() == 12 {
                topo += "grids = [\"001\", \"002\"]\n";
            }
            addrs.insert(code.to_string(), a);
        }
        let topo_path = dir.path().join("topology.toml");
        std::fs::write(&topo_path, topo).unwrap();
        let cfg_dir = dir.path().join("configs");
        let ca = dir.path().join("ca");
        assert!(cli(&["certs", "init-ca", "--out", ca.to_str().unwrap()]).status.success());
        let rendered = cli_json(&[
            "topology",
            "render",
            topo_path.to_str().unwrap(),
            "--out",
            cfg_dir.to_str().unwrap(),
            "--ca",
            ca.to_str().unwrap(),
            "--json",
        ]);
        let env = super::issue_env(&ca, DISTRICT, "operator", "test", &dir.path().join("operator"));

        // One proxy per (link, direction, target replica): peers reach each other only through them.
        let mut links: BTreeMap<String, Link> = BTreeMap::new();
        let mut via: BTreeMap<(String, String), Vec<String>> = BTreeMap::new(); // (from node, to node) -> addrs
        for child in [STREET_A, STREET_B].iter().chain(COMMUNITIES.iter()) {
            let parent = &child[..child.len() - 3];
            let mut proxies = Vec::new();
            let mut up = Vec::new();
            for a in &addrs[parent] {
                let p = Proxy::start(a);
                up.push(p.addr());
                proxies.push(p);
            }
            let mut down = Vec::new();
            for a in &addrs[*child] {
                let p = Proxy::start(a);
                down.push(p.addr());
                proxies.push(p);
            }
            via.insert((child.to_string(), parent.to_string()), up);
            via.insert((parent.to_string(), child.to_string()), down);
            links.insert(child.to_string(), Link { proxies });
        }

        let mut procs = Vec::new();
        for r in rendered.as_array().unwrap() {
            let node = r["node"].as_str().unwrap().to_string();
            let config = PathBuf::from(r["config"].as_str().unwrap());
            let text = std::fs::read_to_string(&config).unwrap();
            let mut v: toml::Value = toml::from_str(&text).unwrap();
            let t = v.as_table_mut().unwrap();
            super::fast_raft(t);
            // Tests run on shared machines whose disks may be fuller than the 256 MiB default allows.
            let storage = toml::map::Map::from_iter([("min_free_mb".to_string(), toml::Value::Integer(16))]);
            t.insert("storage".into(), toml::Value::Table(storage));
            let fed = toml::map::Map::from_iter([
                ("rollup_ms".to_string(), toml::Value::Integer(100)),
                ("supervise_ms".to_string(), toml::Value::Integer(600_000)),
                ("rpc_timeout_ms".to_string(), toml::Value::Integer(2_000)),
                ("max_backoff_ms".to_string(), toml::Value::Integer(500)),
            ]);
            t.insert("federation".into(), toml::Value::Table(fed));
            let rewrite = |peer: &mut toml::Value| {
                let code = peer["code"].as_str().unwrap().to_string();
                let proxied = via[&(node.clone(), code)].clone();
                peer.as_table_mut().unwrap().insert(
                    "replicas".into(),
                    toml::Value::Array(proxied.into_iter().map(toml::Value::String).collect()),
                );
            };
            if let Some(p) = t.get_mut("parent") {
                rewrite(p);
            }
            if let Some(toml::Value::Array(children)) = t.get_mut("children") {
                children.iter_mut().for_each(rewrite);
            }
            tweak(&node, t);
            std::fs::write(&config, toml::to_string(&v).unwrap()).unwrap();
            let id = r["replica"].as_u64().unwrap();
            procs.push(Proc {
                log: dir.path().join(format!("{node}-r{id}.log")),
                clock: dir.path().join(format!("{node}-r{id}.clock")),
                node,
                id,
                addr: r["addr"].as_str().unwrap().to_string(),
                config,
                child: None,
            });
        }
        let mut f = Federation { dir, procs, links, env };
        for p in &mut f.procs {
            p.start();
        }
        for code in [DISTRICT, STREET_A, STREET_B].iter().chain(COMMUNITIES.iter()) {
            f.leader(code);
        }
        f
    }

    /// Runs the CLI as the district's operator.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        cli_env(&self.env, args)
    }

    /// Runs the CLI as the district's operator, requires success, parses stdout as JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        cli_json_env(&self.env, args)
    }

    /// Comma-separated addresses of the running replicas of `node`.
    pub fn addrs(&self, node: &str) -> String {
        self.procs
            .iter()
            .filter(|p| p.node == node && p.child.is_some())
            .map(|p| p.addr.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The leader's replica id of `node`, waiting for an election if needed.
    pub fn leader(&self, node: &str) -> u64 {
        wait_for(&format!("a leader of {node}"), Duration::from_secs(30), || {
            let out =
                self.cli(&["cluster", "status", "--node", &self.addrs(node), "--json", "--timeout", "3"]);
            let s: Value = serde_json::from_slice(&out.stdout).ok()?;
            let leader = s["leader"].as_u64()?;
            let alive = self.procs.iter().any(|p| p.node == node && p.id == leader && p.child.is_some());
            (s["role"] == "leader" && alive).then_some(leader)
        })
    }

    pub fn kill(&mut self, node: &str, id: u64) {
        if let Some(p) = self.procs.iter_mut().find(|p| p.node == node && p.id == id) {
            p.kill();
        }
    }

    pub fn restart(&mut self, node: &str, id: u64) {
        if let Some(p) = self.procs.iter_mut().find(|p| p.node == node && p.id == id) {
            p.start();
        }
    }

    fn proc(&self, node: &str, id: u64) -> Option<&Proc> {
        self.procs.iter().find(|p| p.node == node && p.id == id)
    }

    /// Whether replica `id` of `node` is running (possibly frozen).
    pub fn running(&self, node: &str, id: u64) -> bool {
        self.proc(node, id).is_some_and(|p| p.child.is_some())
    }

    /// SIGSTOP: the replica freezes (as a machine that stops answering) until [`Federation::thaw`].
    pub fn freeze(&self, node: &str, id: u64) {
        if let Some(p) = self.proc(node, id) {
            p.signal("-STOP");
        }
    }

    /// SIGCONT.
    pub fn thaw(&self, node: &str, id: u64) {
        if let Some(p) = self.proc(node, id) {
            p.signal("-CONT");
        }
    }

    /// Steps replica `id`'s clock to `offset_ms` from the machine's.
    pub fn set_clock(&self, node: &str, id: u64, offset_ms: i64) {
        if let Some(p) = self.proc(node, id) {
            let _ = std::fs::write(&p.clock, offset_ms.to_string());
        }
    }

    /// Delays every chunk on the link between `child` and its parent (zero: none).
    pub fn delay(&self, child: &str, d: Duration) {
        self.links[child].proxies.iter().for_each(|p| p.delay(d));
    }

    /// The data directory of replica `id` of `node`.
    pub fn data_dir(&self, node: &str, id: u64) -> PathBuf {
        self.proc(node, id).map(Proc::data_dir).unwrap_or_default()
    }

    /// Cuts the link between `child` and its parent, both directions.
    pub fn cut(&self, child: &str) {
        self.links[child].proxies.iter().for_each(Proxy::cut);
    }

    pub fn heal(&self, child: &str) {
        self.links[child].proxies.iter().for_each(Proxy::heal);
    }

    /// Reports a case at `node`; returns its id.
    pub fn report(&self, node: &str, grid: &str, title: &str, request_id: &str) -> String {
        self.report_with(node, grid, title, request_id, &[])
    }

    /// Reports a case at `node` with more flags (`--address ...`); returns its id.
    pub fn report_with(
        &self,
        node: &str,
        grid: &str,
        title: &str,
        request_id: &str,
        more: &[&str],
    ) -> String {
        let source = if node.len() == 12 { "patrol" } else { "hotline" };
        let addrs = self.addrs(node);
        let mut args = vec![
            "case",
            "report",
            "--node",
            &addrs,
            "--grid",
            grid,
            "--category",
            "0101",
            "--source",
            source,
            "--title",
            title,
            "--request-id",
            request_id,
            "--json",
        ];
        args.extend_from_slice(more);
        let v = self.cli_json(&args);
        v["id"].as_str().unwrap().to_string()
    }

    /// Reports a 12345 ticket (路面积水) at `node` by a point in `crs` (wgs84 or gcj02) instead of a grid;
    /// the CLI's output, refused or not.
    pub fn report_at(
        &self,
        node: &str,
        (lat, lon): (f64, f64),
        crs: &str,
        rid: &str,
    ) -> std::process::Output {
        let (lat, lon, addrs) = (lat.to_string(), lon.to_string(), self.addrs(node));
        self.cli(&[
            "case",
            "report",
            "--node",
            &addrs,
            "--lat",
            &lat,
            "--lon",
            &lon,
            "--crs",
            crs,
            "--category",
            "0101",
            "--source",
            "hotline",
            "--title",
            "路面积水",
            "--reporter",
            "市民",
            "--request-id",
            rid,
            "--json",
        ])
    }

    /// Acts on a case at `node`; panics on refusal.
    pub fn act(&self, node: &str, id: &str, args: &[&str]) -> Value {
        let addrs = self.addrs(node);
        let mut a = vec!["case", "act", id, "--node", &addrs, "--json"];
        a.extend_from_slice(args);
        let out = self.cli(&a);
        assert!(
            out.status.success(),
            "act {args:?} on {id} at {node}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Takes a reported case at `node` through the whole workflow to closed: registered, dispatched to
    /// a grid worker, started, handled, closed.
    pub fn close(&self, node: &str, id: &str) {
        for a in [
            &["--action", "register"][..],
            &["--action", "dispatch", "--handler", "张伟", "--handler-kind", "grid_worker"],
            &["--action", "start"],
            &["--action", "handled", "--note", "已清理"],
            &["--action", "close"],
        ] {
            self.act(node, id, a);
        }
    }

    /// Every case in `node`'s store (owned, or read-only copies with `owned = false`).
    pub fn cases(&self, node: &str, owned: bool) -> BTreeMap<String, Value> {
        let addrs = self.addrs(node);
        let mut args = vec!["case", "list", "--node", &addrs, "--all", "--page-size", "500", "--json"];
        if owned {
            args.push("--owned");
        }
        self.cli_json(&args)["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_str().unwrap().to_string(), c.clone()))
            .collect()
    }

    pub fn stats(&self, node: &str, subtree: Option<&str>) -> Value {
        let addrs = self.addrs(node);
        let mut args = vec!["stats", "--node", &addrs, "--json"];
        if let Some(s) = subtree {
            args.push("--subtree");
            if !s.is_empty() {
                args.push(s);
            }
        }
        self.cli_json(&args)
    }

    /// Messages waiting on every link of `node`.
    pub fn backlog(&self, node: &str) -> u64 {
        let v = self.cli_json(&["federation", "status", "--node", &self.addrs(node), "--json"]);
        v["links"].as_array().unwrap().iter().map(|l| l["backlog"].as_u64().unwrap()).sum()
    }

    /// The console of the first replica of `node` over HTTPS, as the district's operator.
    pub fn http(&self, node: &str) -> super::http::Http {
        let p = self.procs.iter().find(|p| p.node == node).expect("node");
        let t: toml::Table = toml::from_str(&std::fs::read_to_string(&p.config).unwrap()).unwrap();
        let addr = t["http"]["listen"].as_str().unwrap().to_string();
        let (ca, cert, key) =
            (Path::new(&self.env[0].1), Path::new(&self.env[1].1), Path::new(&self.env[2].1));
        super::http::Http::tls(&addr, ca, Some((cert, key)))
    }

    pub fn nodes() -> Vec<&'static str> {
        [DISTRICT, STREET_A, STREET_B].into_iter().chain(COMMUNITIES).collect()
    }

    /// Waits until no node has anything queued for a neighbour.
    pub fn drained(&self) {
        wait_for("every outbox to drain", Duration::from_secs(90), || {
            Self::nodes().into_iter().all(|n| self.backlog(n) == 0).then_some(())
        });
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        for p in &mut self.procs {
            p.kill();
        }
        // A replica that panicked is a bug whatever the test asserts: show where.
        for p in &self.procs {
            let log = std::fs::read_to_string(&p.log).unwrap_or_default();
            if let Some(i) = log.find("panicked at") {
                let start = log[..i].rfind('\n').map_or(0, |s| s + 1);
                let end = log.len().min(i + 3000);
                eprintln!("!!! {} replica {} panicked:\n{}", p.node, p.id, &log[start..end]);
            }
        }
        if std::thread::panicking() {
            // Show what the replicas said, for the failure report.
            for p in &self.procs {
                let log = std::fs::read_to_string(&p.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                eprintln!("--- {} replica {} (last lines) ---", p.node, p.id);
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}
