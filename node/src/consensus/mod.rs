//! The node's Raft group as the rest of the replica sees it, through narrow handles:
//!
//! ```text
//! types       openraft's type configuration: what an entry carries, what applying returns
//! network     the Raft transport to the other replicas (gRPC, every call with a deadline)
//! proposer    group commit: concurrent proposals share one entry (one fsync per replica)
//! leadership  read-only: who leads, where, how far this replica applied
//! writer      commit here when leading, else name the leader to forward to
//! ```

pub mod leadership;
pub mod network;
pub mod proposer;
pub mod types;
pub mod writer;

pub use leadership::{Leadership, Route};
pub use proposer::{ProposeError, Proposer};
pub use writer::{WriteError, Writer, Written};
