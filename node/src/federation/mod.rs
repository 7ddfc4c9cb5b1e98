//! The node's side of the federation: the links that drain the replicated outbox to neighbours, the
//! rollup of statistics to the parent, and supervision (督办) of overdue cases. All of them run on every
//! replica but act only while it leads, so they follow leader changes by themselves.
//!
//! ```text
//!              state machine ──outbox signal──▶ link task (one per neighbour) ──Deliver──▶ peer leader
//!                    ▲                                 │ applied=N
//!                    └────────── Acked{peer, N} ◀──────┘
//!              state machine ──tally signal──▶ rollup task ──PushRollup──▶ parent leader
//!              deadline index ──────────────▶ supervise task ──Act(escalate)──▶ own Raft log
//! ```

mod links;
mod peer;
mod rollup;
mod status;
mod supervise;

pub use peer::PeerClient;
pub use status::{LinkState, LinkTable};

use std::sync::Arc;

use crate::replica::Replica;

/// Starts the federation tasks of a replica; they stop when `shutdown` flips to true.
pub fn spawn(replica: Arc<Replica>, shutdown: tokio::sync::watch::Receiver<bool>) {
    for peer in replica.neighbours() {
        tokio::spawn(links::run(replica.clone(), peer, shutdown.clone()));
    }
    if let Some(parent) = replica.parent.clone() {
        tokio::spawn(rollup::run(replica.clone(), parent, shutdown.clone()));
        tokio::spawn(supervise::run(replica.clone(), shutdown));
    }
}
