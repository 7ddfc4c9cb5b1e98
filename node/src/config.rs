//! A replica's configuration file (TOML), as `gridnode topology render` writes it and `gridnode serve
//! --config` reads it. `validate()` names the field at fault.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use federation::code::{Code, Level};
use federation::deadline::DeadlinePolicy;
use serde::{Deserialize, Serialize};

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config field {field}: {message}")]
    Invalid { field: String, message: String },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), message: message.into() }
}

/// One replica of a Raft group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaAddr {
    /// Replica id, unique within the node (1, 2, 3, ...).
    pub id: u64,
    /// Address other replicas and clients use to reach it (`ip:port`).
    pub addr: String,
}

/// Another node this node federates with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbour {
    /// The peer's division code.
    pub code: String,
    /// The peer's name.
    #[serde(default)]
    pub name: String,
    /// The peer's replica addresses.
    pub replicas: Vec<String>,
}

/// Raft timing and log compaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftTuning {
    /// Leader heartbeat interval.
    pub heartbeat_ms: u64,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many new log entries.
    pub snapshot_every: u64,
    /// Log entries kept behind the snapshot for slow followers (older ones are purged).
    pub keep_logs: u64,
    /// Deadline of a Raft RPC between replicas.
    pub rpc_timeout_ms: u64,
    /// Largest difference between this replica's clock and the median of its peers' with which it
    /// may lead and escalate overdue cases; beyond it, it steps down and says why.
    pub max_clock_skew_ms: u64,
}

impl Default for RaftTuning {
    fn default() -> Self {
        RaftTuning {
            // openraft lets a follower that heard from a leader campaign only after the leader lease
            // (election_timeout_max) plus its own election timeout; these give a failover of about a
            // second (see `bash scripts/bench failover`), with five heartbeats in the shortest timeout.
            heartbeat_ms: 100,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 700,
            snapshot_every: 5000,
            keep_logs: 1000,
            rpc_timeout_ms: 2000,
            max_clock_skew_ms: 2000,
        }
    }
}

/// Federation timing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationTuning {
    /// How often the leader pushes changed statistics to the parent.
    pub rollup_ms: u64,
    /// How often the leader looks for overdue cases to escalate (督办).
    pub supervise_ms: u64,
    /// Deadline of an RPC to another node.
    pub rpc_timeout_ms: u64,
    /// Longest wait between retries of a failing link.
    pub max_backoff_ms: u64,
    /// An idle link is probed (a handshake) this often, so its state says whether the neighbour is
    /// reachable now.
    pub probe_ms: u64,
}

impl Default for FederationTuning {
    fn default() -> Self {
        FederationTuning {
            rollup_ms: 250,
            supervise_ms: 10_000,
            rpc_timeout_ms: 5_000,
            max_backoff_ms: 5_000,
            probe_ms: 5_000,
        }
    }
}

/// How the replica's store is opened and watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageTuning {
    /// Before Raft starts, read every block of the store back with its checksum verified, so a damaged
    /// table is found at start rather than at the first write.
    pub verify_on_start: bool,
    /// RocksDB memtable size per column family, in MiB (1 to 1024).
    pub write_buffer_mb: u64,
    /// Below this much free space on the data directory's disk, new writes are refused with a clear
    /// error before RocksDB runs out of room.
    pub min_free_mb: u64,
    /// When the store fails its checks at start and the node has other replicas: move it aside and
    /// copy the log from them (true), or refuse to start (false).
    pub repair_from_peers: bool,
}

impl Default for StorageTuning {
    fn default() -> Self {
        StorageTuning {
            verify_on_start: true,
            write_buffer_mb: 64,
            min_free_mb: 256,
            repair_from_peers: true,
        }
    }
}

impl StorageTuning {
    /// The store's open options.
    pub fn options(&self) -> crate::storage::StoreOptions {
        crate::storage::StoreOptions {
            verify_on_start: self.verify_on_start,
            write_buffer_mb: self.write_buffer_mb as usize,
        }
    }
}

/// Limits on what one peer may hold of a replica's server, so a slow or flooding peer cannot starve
/// the others. A peer is a certificate (its `gridfed://CODE/ROLE` identity and subject), or an IP
/// address without TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeerLimits {
    /// Open connections per peer; more are closed right after the handshake.
    pub max_connections_per_peer: usize,
    /// Requests in flight per peer, over all its connections; more are refused with RESOURCE_EXHAUSTED.
    pub max_inflight_per_peer: usize,
    /// TLS handshakes in progress at once; connections beyond are dropped.
    pub max_handshakes: usize,
    /// Longest a TLS handshake may take.
    pub handshake_timeout_ms: u64,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            max_connections_per_peer: 256,
            max_inflight_per_peer: 1024,
            max_handshakes: 256,
            handshake_timeout_ms: 10_000,
        }
    }
}

/// The replica's HTTP side: the console's JSON API, live events, `/metrics`, `/healthz` and `/readyz`.
/// HTTPS with the replica's `[tls]` certificate; plaintext only when the replica runs `--insecure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address the HTTP server binds (`ip:port`); `topology render` uses the gRPC port + 1000.
    pub listen: String,
    /// Live-event streams (`/api/v1/events`) open at once; more are refused with 503. A stream that
    /// falls more than 1024 case changes behind is closed (the client reconnects and reloads).
    #[serde(default = "default_event_clients")]
    pub max_event_clients: usize,
    /// Serve plain HTTP although the replica has TLS: allowed only on a loopback address, for
    /// `gridnode demo` (a browser on the same machine, no certificate warning).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plaintext_loopback: bool,
}

fn default_event_clients() -> usize {
    64
}

impl HttpSettings {
    /// The console on `listen` with default limits.
    pub fn on(listen: impl Into<String>) -> HttpSettings {
        HttpSettings {
            listen: listen.into(),
            max_event_clients: default_event_clients(),
            plaintext_loopback: false,
        }
    }
}

/// Intake from the outside world (`[intake]`): what to do with a report by place whose point lies in
/// no grid the node knows, and how large a photo may be. The same on every replica of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    /// `refuse` (default): the report is refused with an error naming the point; `park`: it is kept
    /// at the receiving node as unassigned (待分派) until an operator places it (`case place`).
    #[serde(default)]
    pub unlocated: federation::intake::Unlocated,
    /// Largest photo accepted, in bytes.
    #[serde(default = "default_photo_max_bytes")]
    pub photo_max_bytes: u64,
    /// A 12345 hotline ticket routed down to this node is registered and dispatched to the worker of
    /// its place (`--to-worker auto`, 精准派单) as soon as it arrives, when the node keeps a roster
    /// (default true). Off, or with nobody assigned, it waits for an operator.
    #[serde(default = "default_true")]
    pub auto_dispatch_hotline: bool,
}

fn default_photo_max_bytes() -> u64 {
    federation::intake::photo::DEFAULT_MAX_PHOTO_BYTES
}

impl IntakeSettings {
    fn is_default(&self) -> bool {
        *self == IntakeSettings::default()
    }
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            unlocated: Default::default(),
            photo_max_bytes: default_photo_max_bytes(),
            auto_dispatch_hotline: true,
        }
    }
}

/// The HTTP port `topology render` gives a replica whose gRPC port is `grpc_port`.
pub fn http_port_for(grpc_port: u16) -> Option<u16> {
    grpc_port.checked_add(1000)
}

/// Everything a replica needs to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Division code of the node this replica belongs to (6, 9 or 12 digits).
    pub node: String,
    /// Name of the node, e.g. "历下区".
    #[serde(default)]
    pub name: String,
    /// This replica's id; must be one of `replicas` unless `bootstrap` is false.
    pub replica_id: u64,
    /// Address the gRPC server binds (client, cluster and Raft services on one port).
    pub listen: String,
    /// Directory of the replica's RocksDB database and snapshots.
    pub data_dir: PathBuf,
    /// The node's initial replicas; a fresh node bootstraps its membership from them.
    pub replicas: Vec<ReplicaAddr>,
    /// Bootstrap the Raft group from `replicas` on first start. False for a replica that joins an
    /// existing group through `gridnode cluster add-replica`.
    #[serde(default = "default_true")]
    pub bootstrap: bool,
    /// Known unit grids (15-digit codes): a community's own, or every grid below a street or district.
    /// Reports on other grids are refused; empty means not checked.
    #[serde(default)]
    pub grids: Vec<String>,
    /// The parent node, if any.
    #[serde(default)]
    pub parent: Option<Neighbour>,
    /// The child nodes.
    #[serde(default)]
    pub children: Vec<Neighbour>,
    /// Raft timing and compaction.
    #[serde(default)]
    pub raft: RaftTuning,
    /// Federation timing.
    #[serde(default)]
    pub federation: FederationTuning,
    /// Per-peer connection and request limits.
    #[serde(default)]
    pub limits: PeerLimits,
    /// How the store is opened and watched.
    #[serde(default)]
    pub storage: StorageTuning,
    /// Mutual TLS (the district CA, this replica's certificate and key); without it the replica runs
    /// plaintext and says so loudly.
    #[serde(default)]
    pub tls: Option<crate::tls::TlsFiles>,
    /// Deadline policy; "7123" by default.
    #[serde(default)]
    pub deadlines: DeadlinePolicy,
    /// The HTTP side (console API, metrics, health); off without this section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSettings>,
    /// Intake: points in no grid, photo sizes.
    #[serde(default, skip_serializing_if = "IntakeSettings::is_default")]
    pub intake: IntakeSettings,
}

fn default_true() -> bool {
    true
}

fn check_addr(field: &str, addr: &str) -> Result<SocketAddr, ConfigError> {
    let a: SocketAddr = addr
        .parse()
        .map_err(|_| invalid(field, format!("{addr:?} is not an ip:port address (e.g. 127.0.0.1:7101)")))?;
    Ok(a)
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => {
                ConfigError::Parse { path: path.display().to_string(), message }
            }
            other => other,
        })
    }

    /// Parses and validates a config's text (what `load` does after reading the file). A syntax error
    /// is a `Parse` error whose path is `<text>`; `load` puts the file's path there.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: "<text>".to_string(), message: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every field; the first problem is named.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let node = Code::parse_node("node", &self.node).map_err(|e| invalid("node", e.to_string()))?;
        let listen = check_addr("listen", &self.listen)?;
        if listen.port() == 0 {
            return Err(invalid("listen", "port 0 is not allowed: the other replicas must know the address"));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        if self.replicas.is_empty() {
            return Err(invalid("replicas", "at least one replica is needed"));
        }
        let (mut ids, mut addrs) = (HashSet::new(), HashSet::new());
        for (i, r) in self.replicas.iter().enumerate() {
            if r.id == 0 || !ids.insert(r.id) {
                return Err(invalid(format!("replicas[{i}].id"), format!("{} is zero or used twice", r.id)));
            }
            check_addr(&format!("replicas[{i}].addr"), &r.addr)?;
            if !addrs.insert(r.addr.as_str()) {
                return Err(invalid(format!("replicas[{i}].addr"), format!("{} is used twice", r.addr)));
            }
        }
        if self.bootstrap && !ids.contains(&self.replica_id) {
            return Err(invalid(
                "replica_id",
                format!(
                    "{} is not among the replicas; set bootstrap = false for a joining replica",
                    self.replica_id
                ),
            ));
        }
        if self.replica_id == 0 {
            return Err(invalid("replica_id", "must be 1 or more"));
        }
        for (i, g) in self.grids.iter().enumerate() {
            let field = format!("grids[{i}]");
            let grid =
                Code::parse_level(&field, g, Level::Grid).map_err(|e| invalid(&field, e.to_string()))?;
            let belongs = match node.level() {
                Level::Community => grid.parent().as_ref() == Some(&node),
                _ => grid.is_within(&node),
            };
            if !belongs {
                return Err(invalid(field, format!("grid {g} does not lie under node {node}")));
            }
        }
        if let Some(p) = &self.parent {
            let code = Code::parse_node("parent.code", &p.code)
                .map_err(|e| invalid("parent.code", e.to_string()))?;
            if node.parent().as_ref() != Some(&code) {
                return Err(invalid("parent.code", format!("{code} is not the parent of {node}")));
            }
        }
        for (i, c) in self.children.iter().enumerate() {
            let field = format!("children[{i}].code");
            let code = Code::parse_node(&field, &c.code).map_err(|e| invalid(&field, e.to_string()))?;
            if code.parent().as_ref() != Some(&node) {
                return Err(invalid(field, format!("{code} is not a child of {node}")));
            }
        }
        let r = &self.raft;
        if r.heartbeat_ms == 0 || r.heartbeat_ms >= r.election_timeout_min_ms {
            return Err(invalid(
                "raft.heartbeat_ms",
                "must be above 0 and below raft.election_timeout_min_ms",
            ));
        }
        if r.election_timeout_max_ms <= r.election_timeout_min_ms {
            return Err(invalid(
                "raft.election_timeout_max_ms",
                "must be above raft.election_timeout_min_ms",
            ));
        }
        if r.snapshot_every == 0 {
            return Err(invalid("raft.snapshot_every", "must be 1 or more"));
        }
        if r.rpc_timeout_ms < 100 {
            return Err(invalid("raft.rpc_timeout_ms", "must be at least 100"));
        }
        if r.max_clock_skew_ms < 100 {
            return Err(invalid("raft.max_clock_skew_ms", "must be at least 100"));
        }
        let f = &self.federation;
        for (name, v, min) in [
            ("federation.rollup_ms", f.rollup_ms, 10),
            ("federation.supervise_ms", f.supervise_ms, 100),
            ("federation.rpc_timeout_ms", f.rpc_timeout_ms, 100),
            ("federation.max_backoff_ms", f.max_backoff_ms, 10),
            ("federation.probe_ms", f.probe_ms, 100),
        ] {
            if v < min {
                return Err(invalid(name, format!("must be at least {min}")));
            }
        }
        let l = &self.limits;
        for (name, v) in [
            ("limits.max_connections_per_peer", l.max_connections_per_peer),
            ("limits.max_inflight_per_peer", l.max_inflight_per_peer),
            ("limits.max_handshakes", l.max_handshakes),
        ] {
            if v == 0 || v > 1_000_000 {
                return Err(invalid(name, "must be 1 to 1000000"));
            }
        }
        if !(1..=1024).contains(&self.storage.write_buffer_mb) {
            return Err(invalid("storage.write_buffer_mb", "must be 1 to 1024"));
        }
        if l.handshake_timeout_ms < 100 {
            return Err(invalid("limits.handshake_timeout_ms", "must be at least 100"));
        }
        for p in self.parent.iter().chain(&self.children) {
            for (j, a) in p.replicas.iter().enumerate() {
                check_addr(&format!("peer {} replicas[{j}]", p.code), a)?;
            }
            if p.replicas.is_empty() {
                return Err(invalid(format!("peer {}", p.code), "needs at least one replica address"));
            }
        }
        if let Some(h) = &self.http {
            let http = check_addr("http.listen", &h.listen)?;
            if http == listen {
                return Err(invalid("http.listen", "must differ from listen (the gRPC address)"));
            }
            if h.max_event_clients == 0 || h.max_event_clients > 100_000 {
                return Err(invalid("http.max_event_clients", "must be 1 to 100000"));
            }
            if h.plaintext_loopback && !http.ip().is_loopback() {
                return Err(invalid(
                    "http.plaintext_loopback",
                    "only on a loopback address (127.0.0.1, ::1)",
                ));
            }
        }
        self.deadlines.validate("deadlines").map_err(|e| invalid(e.field, e.reason))?;
        Ok(())
    }

    /// The node's code (valid after `validate`).
    pub fn node_code(&self) -> Result<Code, ConfigError> {
        Code::parse_node("node", &self.node).map_err(|e| invalid("node", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config {
            node: "370102001001".into(),
            name: "文化东路社区".into(),
            replica_id: 1,
            listen: "127.0.0.1:7301".into(),
            data_dir: "/tmp/x".into(),
            replicas: vec![ReplicaAddr { id: 1, addr: "127.0.0.1:7301".into() }],
            bootstrap: true,
            grids: vec!["370102001001001".into()],
            parent: None,
            children: vec![],
            raft: RaftTuning::default(),
            federation: FederationTuning::default(),
            limits: PeerLimits::default(),
            storage: StorageTuning::default(),
            tls: None,
            deadlines: DeadlinePolicy::default(),
            http: Some(HttpSettings::on("127.0.0.1:8301")),
            intake: IntakeSettings {
                unlocated: federation::intake::Unlocated::Park,
                photo_max_bytes: 1 << 20,
                auto_dispatch_hotline: false,
            },
        }
    }

    #[test]
    fn sample_is_valid_and_roundtrips() {
        let c = sample();
        c.validate().unwrap();
        let text = toml::to_string(&c).unwrap();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn a_bad_calendar_date_is_named_once() {
        let mut c = sample();
        c.deadlines.calendar.holidays = vec!["2026-10-01".into(), "10/02".into()];
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("deadlines.calendar.holidays[1]"), "{err}");
        assert_eq!(err.matches("holidays[1]").count(), 1, "{err}");
    }

    #[test]
    fn bad_fields_are_named() {
        let mut c = sample();
        c.node = "3701020010".into();
        assert!(c.validate().unwrap_err().to_string().contains("config field node"));
        let mut c = sample();
        c.grids = vec!["370102001002001".into()];
        assert!(c.validate().unwrap_err().to_string().contains("grids[0]"));
        let mut c = sample();
        c.federation.rollup_ms = 0;
        assert!(c.validate().unwrap_err().to_string().contains("federation.rollup_ms"));
        let mut c = sample();
        c.replicas[0].addr = "localhost".into();
        assert!(c.validate().unwrap_err().to_string().contains("replicas[0].addr"));
        let mut c = sample();
        c.replica_id = 9;
        assert!(c.validate().unwrap_err().to_string().contains("replica_id"));
        let mut c = sample();
        c.raft.heartbeat_ms = 5000;
        assert!(c.validate().unwrap_err().to_string().contains("raft.heartbeat_ms"));
        let mut c = sample();
        c.http = Some(HttpSettings::on("127.0.0.1:7301"));
        assert!(c.validate().unwrap_err().to_string().contains("http.listen"));
        let mut c = sample();
        c.http = Some(HttpSettings { plaintext_loopback: true, ..HttpSettings::on("10.0.0.1:8301") });
        assert!(c.validate().unwrap_err().to_string().contains("http.plaintext_loopback"));
        let mut c = sample();
        c.http = Some(HttpSettings { max_event_clients: 0, ..HttpSettings::on("127.0.0.1:8301") });
        assert!(c.validate().unwrap_err().to_string().contains("http.max_event_clients"));
    }

    #[test]
    fn parse_validates_text_and_load_names_the_file() {
        let text = toml::to_string(&sample()).unwrap();
        assert_eq!(Config::parse(&text).unwrap(), sample());
        let bad = text.replace("replica_id = 1", "replica_id = 9");
        assert!(Config::parse(&bad).unwrap_err().to_string().contains("config field replica_id"));
        assert!(matches!(Config::parse("node = ").unwrap_err(), ConfigError::Parse { .. }));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r1.toml");
        std::fs::write(&path, "node = ").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("config {}: ", path.display())), "{err}");
    }
}
