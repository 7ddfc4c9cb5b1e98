//! Who leads the node's Raft group, as this replica sees it: a read-only view of openraft's metrics for
//! the parts that route requests (writes go to the leader) or act only while leading (links, rollups,
//! supervision).

use std::future::Future;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::BasicNode;
use tokio::sync::watch;

use super::types::{Raft, RaftMetrics, ReplicaId};

/// Where a request should go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This replica leads: handle it here.
    Local,
    /// Another replica leads: forward to its address.
    Leader { id: ReplicaId, addr: String },
}

/// Finds the leader; implemented by [`Leadership`], and by fixed routes in tests.
pub trait Router: Clone + Send + Sync + 'static {
    /// The current route, waiting up to `wait` while an election is under way.
    fn route(&self, wait: Duration) -> impl Future<Output = Option<Route>> + Send;
}

/// A read-only handle on the Raft group; cheap to clone.
#[derive(Clone)]
pub struct Leadership {
    raft: Raft,
    me: ReplicaId,
}

impl Leadership {
    /// The view of replica `me` of `raft`.
    pub fn new(raft: Raft, me: ReplicaId) -> Leadership {
        Leadership { raft, me }
    }

    /// This replica's id.
    pub fn me(&self) -> ReplicaId {
        self.me
    }

    /// True while this replica leads.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.me)
    }

    /// The leader this replica knows of.
    pub fn leader(&self) -> Option<ReplicaId> {
        self.raft.metrics().borrow().current_leader
    }

    /// The address of replica `id`, from the current membership.
    pub fn addr_of(&self, id: ReplicaId) -> Option<String> {
        self.raft.metrics().borrow().membership_config.membership().get_node(&id).map(|n| n.addr.clone())
    }

    /// The highest log index applied here: a version that only grows.
    pub fn applied_index(&self) -> u64 {
        self.raft.metrics().borrow().last_applied.map(|l| l.index).unwrap_or(0)
    }

    /// A copy of the current metrics.
    pub fn metrics(&self) -> RaftMetrics {
        self.raft.metrics().borrow().clone()
    }

    /// Changes of the metrics (leader, term, applied index, ...).
    pub fn changes(&self) -> watch::Receiver<RaftMetrics> {
        self.raft.metrics()
    }

    /// Confirms with a majority that this replica still leads and has applied everything committed
    /// before now, so a read served here is linearizable.
    pub async fn ensure_linearizable(
        &self,
    ) -> Result<(), RaftError<ReplicaId, CheckIsLeaderError<ReplicaId, BasicNode>>> {
        self.raft.ensure_linearizable().await.map(|_| ())
    }
}

impl Router for Leadership {
    async fn route(&self, wait: Duration) -> Option<Route> {
        let leader = match self.leader() {
            Some(l) => l,
            None => {
                let mut changes = self.raft.metrics();
                let found = tokio::time::timeout(wait, changes.wait_for(|m| m.current_leader.is_some()))
                    .await
                    .ok()?
                    .ok()?
                    .current_leader;
                found?
            }
        };
        if leader == self.me {
            return Some(Route::Local);
        }
        Some(Route::Leader { id: leader, addr: self.addr_of(leader)? })
    }
}
