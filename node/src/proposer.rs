//! Group commit. Concurrent commands are gathered into one Raft entry, so many reports share one log
//! append (one fsync on each replica) and intake throughput grows with the number of clients.
//!
//! ```text
//! handlers ──cmd──▶ queue ──▶ [batch of up to MAX_BATCH] ──client_write──▶ Raft (≤ MAX_IN_FLIGHT at once)
//!     ▲                                                                      │
//!     └──────────────────────── outcome i of the batch ◀─────────────────────┘
//! ```
//! The batch is stamped with the leader's clock once, at proposal.

use std::sync::Arc;

use federation::machine::{Command, Outcome};
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{debug, warn};

use crate::service::now_ms;
use crate::types::{Raft, ReplicaId, Request};

const MAX_BATCH: usize = 512;
const MAX_IN_FLIGHT: usize = 8;
const QUEUE: usize = 8192;

/// Why a command could not be committed here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    #[error("this replica is not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<ReplicaId>, addr: Option<String> },
    #[error("replication failed: {message}")]
    Raft { message: String },
    #[error("the replica is shutting down")]
    Closed,
}

struct Pending {
    cmd: Command,
    reply: oneshot::Sender<Result<Outcome, ProposeError>>,
}

/// Submits commands to Raft in batches.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Pending>,
}

impl Proposer {
    /// Starts the batching task for `raft`.
    pub fn start(raft: Raft) -> Proposer {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(raft, rx));
        Proposer { tx }
    }

    /// Proposes `cmd` and waits until it is committed on a majority and applied here.
    pub async fn propose(&self, cmd: Command) -> Result<Outcome, ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Pending { cmd, reply }).await.map_err(|_| ProposeError::Closed)?;
        rx.await.map_err(|_| ProposeError::Closed)?
    }
}

fn drain(rx: &mut mpsc::Receiver<Pending>, batch: &mut Vec<Pending>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
}

async fn run(raft: Raft, mut rx: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut last_at = 0i64;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        drain(&mut rx, &mut batch);
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        // Whatever arrived while every slot was busy joins this batch.
        drain(&mut rx, &mut batch);
        last_at = last_at.max(now_ms());
        let at = last_at;
        let raft = raft.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let (cmds, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.cmd, p.reply)).unzip();
            debug!(commands = cmds.len(), "proposing batch");
            match raft.client_write(Request { at, commands: cmds }).await {
                Ok(resp) => {
                    let mut outcomes = resp.data.outcomes.into_iter();
                    for reply in replies {
                        let r =
                            outcomes.next().ok_or(ProposeError::Raft { message: "missing outcome".into() });
                        let _ = reply.send(r);
                    }
                }
                Err(e) => {
                    let err = match e {
                        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                            ProposeError::NotLeader {
                                leader: f.leader_id,
                                addr: f.leader_node.map(|n| n.addr),
                            }
                        }
                        other => {
                            warn!(error = %other, "proposal failed");
                            ProposeError::Raft { message: other.to_string() }
                        }
                    };
                    for reply in replies {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
        });
    }
}
