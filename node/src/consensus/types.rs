//! openraft's type configuration for a gridfed node: what a log entry carries and what applying it returns.

use std::io::Cursor;

use federation::machine::{Command, Outcome};
use federation::Millis;
use serde::{Deserialize, Serialize};

/// Replica id within a node's Raft group (1, 2, 3, ...).
pub type ReplicaId = u64;

/// One log entry's application data: a batch of commands proposed together (group commit), stamped
/// once with the leader's clock so every replica computes the same deadlines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub at: Millis,
    pub commands: Vec<Command>,
}

/// The outcomes of a `Request`, one per command, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Response {
    pub outcomes: Vec<Outcome>,
}

openraft::declare_raft_types!(
    /// Raft types of a gridfed node.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = ReplicaId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<ReplicaId>;
pub type Vote = openraft::Vote<ReplicaId>;
pub type StoredMembership = openraft::StoredMembership<ReplicaId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<ReplicaId, openraft::BasicNode>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type StorageError = openraft::StorageError<ReplicaId>;
pub type RaftMetrics = openraft::RaftMetrics<ReplicaId, openraft::BasicNode>;
