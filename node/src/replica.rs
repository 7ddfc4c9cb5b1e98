//! One replica of a node, wired from its config: opens and checks its store, starts openraft,
//! bootstraps a fresh group, hands each service and task the narrow handles it needs, and serves on a
//! bound listener until a shutdown signal.
//!
//! ```text
//! config ─▶ storage::open ─▶ Raft ─▶ Leadership, Proposer ─▶ Writer
//!                                     │
//!   services: CaseApi(Local, Writer, Leadership, CaseReader, Clock, ChannelPool)
//!             ClusterApi(Local, Raft, CaseReader, LinkTable)  PeerApi(Local, Writer)  RaftApi(Raft)
//!             AccessApi(Local, Writer, Leadership, CaseReader)  gRPC health and reflection
//!   http:     the console API over CaseApi and ClusterApi, events, /metrics, probes ([http] listen)
//!   tasks:    links::spawn(LinkCtx)  tls watch   proposer   http       (all tracked by Tasks)
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use federation::code::Code;
use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, SnapshotPolicy};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::clock::Clock;
use crate::config::{Config, ConfigError, Neighbour};
use crate::consensus::network::Network;
use crate::consensus::types::{Raft, ReplicaId};
use crate::consensus::writer::ProtocolGate;
use crate::consensus::{Leadership, Proposer, Writer};
use crate::health::clock::{ClockCtx, ClockProbe};
use crate::health::{self, Health};
use crate::http::{HttpCtx, HttpParts};
use crate::links::{LinkCtx, LinkTable};
use crate::local::Local;
use crate::metrics::Metrics;
use crate::repair::Repair;
use crate::rpc::ChannelPool;
use crate::service::{
    AccessApi, BackupSource, CaseApi, ClusterApi, GridApi, PatrolApi, PeerApi, RaftApi, StaffApi,
};
use crate::storage::log_store::LogStore;
use crate::storage::state_machine::{NodeRules, Signals, StateMachine};
use crate::storage::{self, Faults, StoreError};
use crate::tasks::Tasks;

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
    #[error("raft: {source}")]
    Raft { source: Box<openraft::error::Fatal<ReplicaId>> },
    #[error("raft settings: {source}")]
    RaftConfig { source: Box<openraft::ConfigError> },
    #[error("bootstrap: {source}")]
    Bootstrap { source: Box<RaftError<ReplicaId, InitializeError<ReplicaId, BasicNode>>> },
    #[error("grpc server: {source}")]
    Transport {
        #[from]
        source: tonic::transport::Error,
    },
    #[error("tls: {source}")]
    Tls {
        #[from]
        source: crate::tls::TlsError,
    },
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    /// The store is damaged and cannot be repaired from other replicas.
    #[error("{source}\n{hint}")]
    Damaged { source: StoreError, hint: String },
    /// The store failed while serving; the replica stopped.
    #[error("storage failed while serving: {detail}")]
    StorageFailed { detail: String },
}

impl From<openraft::error::Fatal<ReplicaId>> for ReplicaError {
    fn from(e: openraft::error::Fatal<ReplicaId>) -> Self {
        ReplicaError::Raft { source: Box::new(e) }
    }
}

impl From<RaftError<ReplicaId, InitializeError<ReplicaId, BasicNode>>> for ReplicaError {
    fn from(e: RaftError<ReplicaId, InitializeError<ReplicaId, BasicNode>>) -> Self {
        ReplicaError::Bootstrap { source: Box::new(e) }
    }
}

/// How long a stopping replica waits for its tasks.
const STOP_GRACE: Duration = Duration::from_secs(5);

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
    c.validate().map_err(|e| ReplicaError::RaftConfig { source: Box::new(e) })
}

fn local_of(cfg: &Config, node: Code) -> Local {
    let codes =
        |peers: &[Neighbour]| peers.iter().filter_map(|p| Code::parse_node("peer", &p.code).ok()).collect();
    let rules = NodeRules {
        node: node.clone(),
        policy: cfg.deadlines.clone(),
        parent: cfg.parent.as_ref().and_then(|p| Code::parse_node("parent", &p.code).ok()),
        children: codes(&cfg.children),
        grids: cfg.grids.iter().filter_map(|g| Code::parse("grids", g).ok()).collect(),
        intake: federation::intake::IntakeRules {
            node_name: cfg.name.clone(),
            unlocated: cfg.intake.unlocated,
            photo_max_bytes: cfg.intake.photo_max_bytes,
        },
    };
    Local {
        node,
        name: cfg.name.clone(),
        replica: cfg.replica_id,
        rules,
        parent: cfg.parent.clone(),
        children: cfg.children.clone(),
        authenticated: cfg.tls.is_some(),
        federation: cfg.federation.clone(),
        auto_dispatch_hotline: cfg.intake.auto_dispatch_hotline,
    }
}

/// Starts the replica described by `cfg` on `listener` with `clock`, and serves until `shutdown`
/// resolves. Its HTTP side, when configured, binds `cfg.http.listen`.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ReplicaError> {
    run_with(cfg, listener, None, clock, shutdown).await
}

/// As [`run`], with the HTTP side on `http_listener` when given (a test or the demo bound it), else
/// on `cfg.http.listen`.
pub async fn run_with(
    cfg: Config,
    listener: TcpListener,
    http_listener: Option<TcpListener>,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ReplicaError> {
    cfg.validate()?;
    let http_listener = match (&cfg.http, http_listener) {
        (None, _) => None,
        (Some(_), Some(l)) => Some(l),
        (Some(h), None) => Some(
            crate::rpc::bind(&h.listen)
                .await
                .map_err(|source| ReplicaError::Bind { addr: h.listen.clone(), source })?,
        ),
    };
    let node = cfg.node_code()?;
    let local = Arc::new(local_of(&cfg, node.clone()));
    let data_dir = PathBuf::from(&cfg.data_dir);
    let faults = Faults::new();
    let (store, repair) = open_store(&cfg, &data_dir, &faults, &clock)?;
    let health = Health::new(faults.clone(), cfg.replicas.len() == 1);
    health.set_repairing(repair.active());
    let signals = Signals::default();
    let sm = StateMachine::open(
        store.db.clone(),
        local.rules.clone(),
        signals.clone(),
        data_dir.join("snapshots"),
    )?;
    let reader = sm.reader(faults.clone());
    let db = store.db.clone();
    let log = LogStore::new(store.db, store.watermark, faults.clone());
    let tls = match &cfg.tls {
        Some(files) => Some(files.load("tls.")?),
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
    let protocol = crate::protocol::Protocol::new();
    let raft = Raft::new(
        cfg.replica_id,
        Arc::new(raft_config(&cfg)?),
        Network::new(&cfg.node, tls.clone()).with_protocol(protocol.clone()),
        log,
        sm,
    )
    .await?;
    if repair.active() {
        // Not a voice in elections until the store has caught up (see `repair`).
        raft.runtime_config().elect(false);
    } else if cfg.bootstrap {
        bootstrap(&raft, &cfg).await?;
    }

    let tasks = Tasks::new();
    let pool = ChannelPool::new(tls.clone());
    let leadership = Leadership::new(raft.clone(), cfg.replica_id);
    let metrics = Metrics::new(node.as_str(), cfg.replica_id, tls.as_ref().map(|t| t.refusals().clone()));
    let observed = metrics.clone();
    let proposer = Proposer::start_observed(
        raft.clone(),
        clock.clone(),
        &tasks,
        Arc::new(move |n, t| observed.observe_commit(n, t)),
    );
    let writer = Writer::new(proposer, leadership.clone(), cfg.replica_id, health.clone())
        .with_gate(ProtocolGate::new(protocol.clone(), leadership.clone()));
    let table = Arc::new(LinkTable::default());
    let clock_probe = Arc::new(ClockProbe::new(ClockCtx {
        local: local.clone(),
        leadership: leadership.clone(),
        clock: clock.clone(),
        pool: pool.clone(),
        health: health.clone(),
        bound_ms: cfg.raft.max_clock_skew_ms as i64,
    }));
    crate::links::spawn(
        LinkCtx {
            local: local.clone(),
            leadership: leadership.clone(),
            reader: reader.clone(),
            writer: writer.clone(),
            table: table.clone(),
            clock: clock.clone(),
            signals: signals.clone(),
            pool: pool.clone(),
            health: health.clone(),
            clock_probe: clock_probe.clone(),
        },
        &tasks,
    );
    if let Some(tls) = &tls {
        tasks.spawn("tls-watch", tls.clone().watch(node.to_string(), tasks.token()));
    }
    tasks.spawn("raft-watch", watch_raft(leadership.clone(), faults.clone()));
    tasks.spawn("disk-watch", health::disk::watch(health.clone(), data_dir.clone(), cfg.storage.min_free_mb));
    tasks.spawn("clock-watch", clock_probe.clone().watch());
    tasks.spawn("govern", health::govern::run(health.clone(), raft.clone(), leadership.clone()));
    if repair.active() {
        tasks.spawn("repair", repair.clone().run(health.clone(), leadership.clone()));
    }
    info!(node = %node, replica = cfg.replica_id, addr = ?listener.local_addr().ok(), tls = tls.is_some(), protocol = crate::protocol::announced(), "replica serving");
    let stopping = tasks.clone();
    let failed = faults.clone();
    let case_api = CaseApi::new(
        local.clone(),
        writer.clone(),
        leadership.clone(),
        reader.clone(),
        clock.clone(),
        pool.clone(),
        health.clone(),
    );
    let cluster_api =
        ClusterApi::new(local.clone(), raft.clone(), reader.clone(), table.clone(), pool.clone())
            .with_backups(BackupSource::new(db.clone(), data_dir.clone(), clock.clone()));
    let grid_api =
        GridApi::new(local.clone(), writer.clone(), leadership.clone(), reader.clone(), pool.clone());
    let staff_api = StaffApi::new(
        local.clone(),
        writer.clone(),
        leadership.clone(),
        reader.clone(),
        pool.clone(),
        clock.clone(),
    );
    let patrol_api = PatrolApi::new(
        local.clone(),
        writer.clone(),
        leadership.clone(),
        reader.clone(),
        clock.clone(),
        pool.clone(),
    );
    if let (Some(settings), Some(http_listener)) = (&cfg.http, http_listener) {
        let https = tls.is_some() && !settings.plaintext_loopback;
        if tls.is_some() && !https {
            warn!(node = %node, replica = cfg.replica_id, addr = %settings.listen,
                "PLAINTEXT console on loopback (http.plaintext_loopback): only for a browser on this machine");
        }
        let ctx = HttpCtx::new(
            HttpParts {
                local: local.clone(),
                case: case_api.clone(),
                cluster: cluster_api.clone(),
                grids: grid_api.clone(),
                staff: staff_api.clone(),
                reader: reader.clone(),
                leadership: leadership.clone(),
                health: health.clone(),
                clock: clock.clone(),
                signals,
                links: table.clone(),
                metrics: metrics.clone(),
                stop: tasks.token(),
            },
            settings,
            https,
        );
        let http_tls = if https { tls.clone() } else { None };
        let stop = tasks.token();
        let limits = cfg.limits.clone();
        info!(node = %node, replica = cfg.replica_id, addr = ?http_listener.local_addr().ok(), https, "console serving");
        tasks.spawn("http", async move {
            if let Err(e) =
                crate::http::serve(http_listener, ctx, http_tls, limits, stop.cancelled_owned()).await
            {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
    }
    let ready = {
        let (leadership, health) = (leadership.clone(), health.clone());
        Box::new(move || health::ready::readiness(&leadership, &health).ready)
    };
    let arrivals_reader = reader.clone();
    let extras = crate::rpc::Extras {
        staff: staff_api,
        patrols: patrol_api,
        access: AccessApi::new(
            local.clone(),
            writer.clone(),
            leadership,
            reader,
            clock.clone(),
            pool.clone(),
        ),
        grids: grid_api,
        metrics,
        ready,
    };
    let served = crate::rpc::serve(
        listener,
        case_api,
        cluster_api,
        PeerApi::new(local, writer, pool, clock.clone())
            .with_protocol(protocol.clone())
            .with_arrivals(arrivals_reader),
        RaftApi::new(raft.clone(), node.as_str(), cfg.replica_id, tls.is_some(), repair, clock)
            .with_protocol(protocol),
        extras,
        tls.clone(),
        cfg.limits.clone(),
        async move {
            tokio::select! {
                _ = shutdown => {}
                _ = failed.failed() => {}
            }
            stopping.stop();
        },
    )
    .await;
    tasks.shutdown(STOP_GRACE).await;
    if let Some(detail) = faults.failure() {
        // The store failed: no clean Raft shutdown to wait for; exit so the supervisor sees it.
        return Err(ReplicaError::StorageFailed { detail });
    }
    if let Err(e) = raft.shutdown().await {
        warn!(error = %e, "raft did not shut down cleanly");
    }
    // A clean stop leaves the memtables in tables, so the next start has no write-ahead log to replay.
    if let Err(e) = storage::flush(&db) {
        warn!(error = %e, "cannot flush the store at shutdown");
    }
    served?;
    info!(node = %node, replica = cfg.replica_id, "replica stopped");
    Ok(())
}

/// Opens and checks the store. A damaged one is moved aside and repaired from the other replicas when
/// the node has some (and `storage.repair_from_peers` allows it); otherwise the replica refuses to
/// start, saying what to do.
fn open_store(
    cfg: &Config,
    data_dir: &std::path::Path,
    faults: &Faults,
    clock: &Clock,
) -> Result<(storage::Store, Repair), ReplicaError> {
    let options = cfg.storage.options();
    match storage::open(data_dir, &options, faults) {
        Ok(store) => Ok((store, Repair::load(data_dir))),
        Err(damage @ StoreError::Corrupt { .. })
            if cfg.replicas.len() > 1 && cfg.storage.repair_from_peers =>
        {
            let repair = Repair::quarantine(data_dir, &damage, clock.now_ms() / 1000)?;
            Ok((storage::open(data_dir, &options, faults)?, repair))
        }
        Err(damage @ StoreError::Corrupt { .. }) => {
            let hint = if cfg.replicas.len() > 1 {
                format!(
                    "storage.repair_from_peers is off. To repair this replica from the node's other replicas, \
                     stop it, set storage.repair_from_peers = true (or move {dir}/db, {dir}/snapshots and \
                     {dir}/durable-index aside and add it back with `gridnode cluster add-replica`), and start it again.",
                    dir = data_dir.display()
                )
            } else {
                format!(
                    "Node {} has no other replica to copy from. Restore this replica from a backup; only if \
                     you accept losing what it alone held, move {}/db aside and start it empty.",
                    cfg.node,
                    data_dir.display()
                )
            };
            Err(ReplicaError::Damaged { source: damage, hint })
        }
        Err(e) => Err(e.into()),
    }
}

/// Reports Raft stopping on its own (a storage error in the log or state machine) as a storage failure.
async fn watch_raft(leadership: Leadership, faults: Faults) {
    let mut changes = leadership.changes();
    let fatal = match changes.wait_for(|m| m.running_state.is_err()).await {
        Ok(m) => m.running_state.clone().err(),
        Err(_) => None,
    };
    if let Some(fatal) = fatal {
        faults.report("raft stopped", &fatal);
    }
}

/// First start of a fresh replica: initialize the group with the configured replicas. Every initial
/// replica does this with the same membership, which openraft allows; a replica that already has
/// state (or has heard from a leader) skips it.
async fn bootstrap(raft: &Raft, cfg: &Config) -> Result<(), ReplicaError> {
    if raft.is_initialized().await? {
        return Ok(());
    }
    let members: BTreeMap<ReplicaId, BasicNode> =
        cfg.replicas.iter().map(|r| (r.id, BasicNode::new(r.addr.clone()))).collect();
    match raft.initialize(members).await {
        Ok(()) => info!(node = %cfg.node, replicas = cfg.replicas.len(), "bootstrapped a fresh Raft group"),
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Binds `cfg.listen` and runs the replica until Ctrl-C or SIGTERM.
pub async fn serve_forever(cfg: Config, clock: Clock) -> Result<(), ReplicaError> {
    let listener = crate::rpc::bind(&cfg.listen)
        .await
        .map_err(|source| ReplicaError::Bind { addr: cfg.listen.clone(), source })?;
    run(cfg, listener, clock, shutdown_signal()).await
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
