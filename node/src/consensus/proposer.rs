//! Group commit. Concurrent commands are gathered into one Raft entry, so many reports share one log
//! append (one fsync on each replica) and intake throughput grows with the number of clients.
//!
//! ```text
//! handlers ──cmd──▶ queue ──▶ [batch of up to MAX_BATCH] ──submit──▶ Raft (≤ MAX_IN_FLIGHT at once)
//!     ▲                                                                  │
//!     └──────────────────────── outcome i of the batch ◀─────────────────┘
//! ```
//! The batch is stamped once, at proposal, with the replica's clock (never earlier than the previous
//! batch), so every replica computes the same deadlines.

use std::future::Future;
use std::sync::Arc;

use federation::machine::{Command, Outcome};
use openraft::error::{ClientWriteError, RaftError};
use openraft::BasicNode;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{debug, warn};

use super::types::{Raft, ReplicaId, Request, Response};
use crate::clock::Clock;
use crate::tasks::Tasks;

const MAX_BATCH: usize = 512;
const MAX_IN_FLIGHT: usize = 8;
const QUEUE: usize = 8192;

/// Why a command could not be committed here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    #[error("this replica is not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<ReplicaId>, addr: Option<String> },
    #[error("replication failed: {source}")]
    Raft {
        /// What openraft answered; shared, as one failed batch fails every command in it.
        #[source]
        source: Arc<RaftError<ReplicaId, ClientWriteError<ReplicaId, BasicNode>>>,
    },
    #[error("the state machine returned {returned} outcomes for {proposed} commands")]
    Outcomes { proposed: usize, returned: usize },
    #[error("the replica is shutting down")]
    Closed,
}

/// Where batches go: openraft's `client_write`, or a stand-in in unit tests.
pub trait Submit: Clone + Send + Sync + 'static {
    /// Commits `req` on a majority and applies it here; returns its outcomes.
    fn submit(&self, req: Request) -> impl Future<Output = Result<Response, ProposeError>> + Send;
}

impl Submit for Raft {
    async fn submit(&self, req: Request) -> Result<Response, ProposeError> {
        match self.client_write(req).await {
            Ok(resp) => Ok(resp.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader { leader: f.leader_id, addr: f.leader_node.map(|n| n.addr) })
            }
            Err(other) => {
                warn!(error = %other, "proposal failed");
                Err(ProposeError::Raft { source: Arc::new(other) })
            }
        }
    }
}

struct Pending {
    cmd: Command,
    reply: oneshot::Sender<Result<Outcome, ProposeError>>,
}

/// Submits commands in batches; cheap to clone.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Pending>,
}

/// Told of every committed batch: how many commands it held and how long it took from proposal to
/// commit and apply here (the replica's metrics).
pub type CommitObserver = Arc<dyn Fn(usize, std::time::Duration) + Send + Sync>;

impl Proposer {
    /// Starts the batching task (tracked by `tasks`) submitting to `target`, stamping with `clock`.
    pub fn start<S: Submit>(target: S, clock: Clock, tasks: &Tasks) -> Proposer {
        Proposer::start_observed(target, clock, tasks, Arc::new(|_, _| {}))
    }

    /// As `start`, telling `observe` of every committed batch.
    pub fn start_observed<S: Submit>(
        target: S,
        clock: Clock,
        tasks: &Tasks,
        observe: CommitObserver,
    ) -> Proposer {
        let (tx, rx) = mpsc::channel(QUEUE);
        tasks.spawn("proposer", run(target, clock, rx, observe));
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

async fn run<S: Submit>(target: S, clock: Clock, mut rx: mpsc::Receiver<Pending>, observe: CommitObserver) {
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
        last_at = last_at.max(clock.now_ms());
        let at = last_at;
        let target = target.clone();
        let observe = observe.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let (cmds, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.cmd, p.reply)).unzip();
            let proposed = cmds.len();
            debug!(commands = proposed, "proposing batch");
            let started = std::time::Instant::now();
            match target.submit(Request { at, commands: cmds }).await {
                Ok(resp) if resp.outcomes.len() == proposed => {
                    observe(proposed, started.elapsed());
                    for (reply, outcome) in replies.into_iter().zip(resp.outcomes) {
                        let _ = reply.send(Ok(outcome));
                    }
                }
                Ok(resp) => {
                    let err = ProposeError::Outcomes { proposed, returned: resp.outcomes.len() };
                    for reply in replies {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
                Err(err) => {
                    for reply in replies {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use federation::machine::{Acked, Outcome};
    use tokio::sync::Notify;

    use super::*;

    /// Records every batch; holds each until released, so later proposals pile up behind it.
    #[derive(Clone, Default)]
    struct Recorder {
        batches: Arc<Mutex<Vec<(i64, usize)>>>,
        release: Arc<Notify>,
        fail: bool,
    }

    impl Submit for Recorder {
        async fn submit(&self, req: Request) -> Result<Response, ProposeError> {
            self.batches.lock().unwrap().push((req.at, req.commands.len()));
            self.release.notified().await;
            if self.fail {
                return Err(ProposeError::Raft {
                    source: Arc::new(RaftError::Fatal(openraft::error::Fatal::Stopped)),
                });
            }
            // The outcome echoes each command's position so the test sees the order kept.
            let outcomes = (0..req.commands.len()).map(|i| Outcome::Received { hwm: i as u64 }).collect();
            Ok(Response { outcomes })
        }
    }

    fn ack(i: u64) -> Command {
        Command::Acked(Acked { peer: federation::Code::parse("p", "370102").unwrap(), upto: i })
    }

    #[tokio::test]
    async fn concurrent_proposals_share_batches_and_get_their_own_outcomes() {
        let rec = Recorder::default();
        let tasks = Tasks::new();
        let p = Proposer::start(rec.clone(), Clock::system(), &tasks);
        let mut waiting = Vec::new();
        for i in 0..200u64 {
            let p = p.clone();
            waiting.push(tokio::spawn(async move { p.propose(ack(i)).await }));
        }
        // Release batches until every proposal has its outcome.
        let releaser = {
            let rec = rec.clone();
            tokio::spawn(async move {
                loop {
                    rec.release.notify_waiters();
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            })
        };
        let mut positions = Vec::new();
        for w in waiting {
            match w.await.unwrap().unwrap() {
                Outcome::Received { hwm } => positions.push(hwm),
                other => panic!("{other:?}"),
            }
        }
        releaser.abort();
        let batches = rec.batches.lock().unwrap().clone();
        let total: usize = batches.iter().map(|b| b.1).sum();
        assert_eq!(total, 200);
        assert!(batches.len() < 200, "no batching: {} batches", batches.len());
        assert!(batches.iter().any(|b| b.1 > 1));
        // Stamps never go backwards.
        assert!(batches.windows(2).all(|w| w[0].0 <= w[1].0));
        tasks.shutdown(std::time::Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_proposal_in_it() {
        let rec = Recorder { fail: true, ..Recorder::default() };
        let tasks = Tasks::new();
        let p = Proposer::start(rec.clone(), Clock::system(), &tasks);
        let a = tokio::spawn({
            let p = p.clone();
            async move { p.propose(ack(1)).await }
        });
        while rec.batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        rec.release.notify_one();
        assert!(matches!(a.await.unwrap(), Err(ProposeError::Raft { .. })));
        tasks.shutdown(std::time::Duration::from_secs(1)).await;
        assert!(matches!(p.propose(ack(2)).await, Err(ProposeError::Closed)));
    }
}
