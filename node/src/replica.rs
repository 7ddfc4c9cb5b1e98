//! One replica of a node: opens its RocksDB store, starts openraft, bootstraps a fresh group from the
//! config, and serves the gRPC services on a bound listener until a shutdown signal.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use federation::code::Code;
use federation::machine::{Command, Outcome};
use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, SnapshotPolicy};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::{Config, ConfigError, FederationTuning, PeerNode};
use crate::federation::LinkTable;
use crate::network::Network;
use crate::proposer::{ProposeError, Proposer};
use crate::service::{CaseApi, ClusterApi, FederationApi, RaftApi};
use crate::storage::log_store::LogStore;
use crate::storage::reader::CaseReader;
use crate::storage::state_machine::{NodeRules, Signals, StateMachine};
use crate::storage::{self, StoreError};
use crate::types::{Raft, ReplicaId};

/// Why a replica could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("storage: {source}")]
    Store {
        #[from]
        source: StoreError,
    },
    #[error("raft: {message}")]
    Raft { message: String },
    #[error("grpc server: {source}")]
    Transport {
        #[from]
        source: tonic::transport::Error,
    },
    #[error("tls: {source}")]
    Tls { source: crate::tls::TlsError },
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// Where a request should go.
pub enum Route {
    /// This replica leads: handle it here.
    Local,
    /// Another replica leads: forward to its address.
    Leader { id: ReplicaId, addr: String },
}

/// The running pieces of a replica, shared by its services.
pub struct Replica {
    pub id: ReplicaId,
    pub node: Code,
    pub name: String,
    pub raft: Raft,
    pub reader: CaseReader,
    pub rules: NodeRules,
    pub parent: Option<PeerNode>,
    pub children: Vec<PeerNode>,
    pub signals: Signals,
    pub links: LinkTable,
    pub federation: FederationTuning,
    proposer: Proposer,
    /// Mutual TLS for servers and clients; None runs plaintext.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// Channels to other replicas for forwarded requests, reused across requests.
    channels: std::sync::Mutex<std::collections::HashMap<String, tonic::transport::Channel>>,
}

/// How long a request waits for an election to produce a leader.
const LEADER_WAIT: Duration = Duration::from_secs(5);

impl Replica {
    /// The current leader, waiting a little if an election is under way.
    pub async fn route(&self) -> Option<Route> {
        let metrics = self.raft.metrics();
        let leader = match self.raft.current_leader().await {
            Some(l) => Some(l),
            None => self
                .raft
                .wait(Some(LEADER_WAIT))
                .metrics(|m| m.current_leader.is_some(), "a leader")
                .await
                .ok()
                .and_then(|m| m.current_leader),
        }?;
        if leader == self.id {
            return Some(Route::Local);
        }
        let addr =
            metrics.borrow().membership_config.membership().get_node(&leader).map(|n| n.addr.clone())?;
        Some(Route::Leader { id: leader, addr })
    }

    /// The address of replica `id`, from the current membership.
    pub fn addr_of(&self, id: ReplicaId) -> Option<String> {
        self.raft.metrics().borrow().membership_config.membership().get_node(&id).map(|n| n.addr.clone())
    }

    /// A (reused) channel to the replica at `addr`, for forwarding requests to the leader.
    pub fn channel_to(&self, addr: &str) -> Result<tonic::transport::Channel, tonic::Status> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let c = crate::rpc::lazy_channel(addr, self.tls.as_ref())
            .map_err(|e| tonic::Status::unavailable(format!("leader address {addr}: {e}")))?;
        channels.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// True while this replica is the leader of its node.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
    }

    /// The highest log index applied here: a version that only grows.
    pub fn applied_index(&self) -> u64 {
        self.raft.metrics().borrow().last_applied.map(|l| l.index).unwrap_or(0)
    }

    /// The parent and the children.
    pub fn neighbours(&self) -> Vec<PeerNode> {
        self.parent.iter().chain(&self.children).cloned().collect()
    }

    /// The configured neighbour with `code`.
    pub fn neighbour(&self, code: &str) -> Option<&PeerNode> {
        self.parent.iter().chain(&self.children).find(|p| p.code == code)
    }

    /// Commits `cmd` through Raft (group-committed with concurrent commands).
    pub async fn propose(&self, cmd: Command) -> Result<Outcome, ProposeError> {
        self.proposer.propose(cmd).await
    }
}

fn raft_config(cfg: &Config) -> Result<openraft::Config, ReplicaError> {
    let r = &cfg.raft;
    let c = openraft::Config {
        cluster_name: format!("gridfed-{}", cfg.node),
        heartbeat_interval: r.heartbeat_ms,
        election_timeout_min: r.election_timeout_min_ms,
        election_timeout_max: r.election_timeout_max_ms,
        install_snapshot_timeout: r.rpc_timeout_ms.max(5000),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(r.snapshot_every),
        max_in_snapshot_log_to_keep: r.keep_logs,
        purge_batch_size: r.snapshot_every.clamp(1, 256),
        max_payload_entries: 256,
        ..Default::default()
    };
    c.validate().map_err(|e| ReplicaError::Raft { message: format!("raft settings: {e}") })
}

/// Starts the replica described by `cfg` on `listener` and serves until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ReplicaError> {
    cfg.validate()?;
    let node = cfg.node_code()?;
    let data_dir = PathBuf::from(&cfg.data_dir);
    let store = storage::open(&data_dir, &cfg.storage.options())?;
    let db = store.db;
    let codes =
        |peers: &[PeerNode]| peers.iter().filter_map(|p| Code::parse_node("peer", &p.code).ok()).collect();
    let rules = NodeRules {
        node: node.clone(),
        policy: cfg.deadlines.clone(),
        parent: cfg.parent.as_ref().and_then(|p| Code::parse_node("parent", &p.code).ok()),
        children: codes(&cfg.children),
        grids: cfg.grids.iter().filter_map(|g| Code::parse("grids", g).ok()).collect(),
    };
    let signals = Signals::default();
    let sm = StateMachine::open(db.clone(), rules.clone(), signals.clone(), data_dir.join("snapshots"))?;
    let reader = sm.reader();
    let log = LogStore::new(db, store.watermark);
    let tls = match &cfg.tls {
        Some(files) => Some(files.load("tls.").map_err(|e| ReplicaError::Tls { source: e })?),
        None => {
            warn!(
                node = %node,
                replica = cfg.replica_id,
                "PLAINTEXT: this replica runs without TLS; anyone who can reach {} can read and change its cases. \
                 Use it only for local experiments; give it a [tls] section for anything else",
                cfg.listen
            );
            None
        }
    };
    let raft = Raft::new(
        cfg.replica_id,
        Arc::new(raft_config(&cfg)?),
        Network::new(&cfg.node, tls.clone()),
        log,
        sm,
    )
    .await
    .map_err(|e| ReplicaError::Raft { message: e.to_string() })?;

    if cfg.bootstrap {
        bootstrap(&raft, &cfg).await?;
    }

    let replica = Arc::new(Replica {
        id: cfg.replica_id,
        node: node.clone(),
        name: cfg.name.clone(),
        raft: raft.clone(),
        reader,
        rules,
        parent: cfg.parent.clone(),
        children: cfg.children.clone(),
        signals,
        links: LinkTable::default(),
        federation: cfg.federation.clone(),
        proposer: Proposer::start(raft.clone()),
        channels: Default::default(),
        tls: tls.clone(),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    crate::federation::spawn(replica.clone(), stop_rx);
    let stop_watch = tokio_util::sync::CancellationToken::new();
    if let Some(tls) = &tls {
        tokio::spawn(tls.clone().watch(node.to_string(), stop_watch.clone()));
    }
    info!(node = %node, replica = cfg.replica_id, addr = ?listener.local_addr().ok(), tls = tls.is_some(), "replica serving");
    let served = crate::rpc::serve(
        listener,
        CaseApi::new(replica.clone()),
        ClusterApi::new(replica.clone()),
        FederationApi::new(replica.clone()),
        RaftApi::new(raft.clone(), node.as_str(), cfg.replica_id, tls.is_some()),
        tls.clone(),
        cfg.limits.clone(),
        async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            stop_watch.cancel();
        },
    )
    .await;
    if let Err(e) = raft.shutdown().await {
        warn!(error = %e, "raft did not shut down cleanly");
    }
    served?;
    info!(node = %node, replica = cfg.replica_id, "replica stopped");
    Ok(())
}

/// First start of a fresh replica: initialize the group with the configured replicas. Every initial
/// replica does this with the same membership, which openraft allows; a replica that already has
/// state (or has heard from a leader) skips it.
async fn bootstrap(raft: &Raft, cfg: &Config) -> Result<(), ReplicaError> {
    let initialized =
        raft.is_initialized().await.map_err(|e| ReplicaError::Raft { message: e.to_string() })?;
    if initialized {
        return Ok(());
    }
    let members: BTreeMap<ReplicaId, BasicNode> =
        cfg.replicas.iter().map(|r| (r.id, BasicNode::new(r.addr.clone()))).collect();
    match raft.initialize(members).await {
        Ok(()) => info!(node = %cfg.node, replicas = cfg.replicas.len(), "bootstrapped a fresh Raft group"),
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
        Err(e) => return Err(ReplicaError::Raft { message: format!("bootstrap: {e}") }),
    }
    Ok(())
}

/// Binds `cfg.listen` and runs the replica until Ctrl-C or SIGTERM.
pub async fn serve_forever(cfg: Config) -> Result<(), ReplicaError> {
    let listener = crate::rpc::bind(&cfg.listen)
        .await
        .map_err(|source| ReplicaError::Bind { addr: cfg.listen.clone(), source })?;
    run(cfg, listener, shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    info!("shutdown signal received");
}
