//! The node's side of the federation: the links that drain the replicated outbox to neighbours, the
//! rollup of statistics to the parent, and supervision (督办) of overdue cases. All of them run on every
//! replica but act only while it leads, so they follow leader changes by themselves. The decisions of
//! the first two are the I/O-free engines of `federation::link`; the tasks here only move bytes and
//! timers for them.
//!
//! ```text
//!              state machine ──outbox signal──▶ outbox task (one per neighbour) ──Deliver──▶ peer leader
//!                    ▲                                 │ applied=N
//!                    └────────── Acked{peer, N} ◀──────┘
//!              state machine ──tally signal──▶ rollup task ──PushRollup──▶ parent leader
//!              deadline index ──────────────▶ supervise task ──Act(escalate)──▶ own Raft log
//! ```

mod driver;
mod neighbour;
mod outbox;
mod rollup;
mod status;
mod supervise;

pub use neighbour::NeighbourClient;
pub use status::{Engine, LinkTable};

use std::sync::Arc;
use std::time::Duration;

use federation::link::LinkTiming;

use crate::clock::Clock;
use crate::consensus::{Leadership, Writer};
use crate::health::clock::ClockProbe;
use crate::health::Health;
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::CaseReader;
use crate::storage::state_machine::Signals;
use crate::tasks::Tasks;

/// What the link tasks need of the replica.
#[derive(Clone)]
pub struct LinkCtx {
    pub local: Arc<Local>,
    pub leadership: Leadership,
    pub reader: CaseReader,
    pub writer: Writer,
    pub table: Arc<LinkTable>,
    pub clock: Clock,
    pub signals: Signals,
    pub pool: ChannelPool,
    pub health: Health,
    /// Compares clocks right before supervision acts on one.
    pub clock_probe: Arc<ClockProbe>,
}

impl LinkCtx {
    fn timing(&self) -> LinkTiming {
        let f = &self.local.federation;
        LinkTiming {
            min_backoff_ms: 100,
            max_backoff_ms: f.max_backoff_ms,
            probe_ms: f.probe_ms,
            settle_ms: f.rollup_ms,
            heartbeat_ms: 1_000,
            batch: outbox::BATCH,
        }
    }

    fn client(&self, peer: &crate::config::Neighbour) -> Option<NeighbourClient> {
        let timeout = Duration::from_millis(self.local.federation.rpc_timeout_ms);
        match NeighbourClient::new(peer, timeout, &self.pool) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(peer = %peer.code, error = %e.message(), "link not started");
                None
            }
        }
    }
}

/// Starts the federation tasks of a replica, tracked by `tasks`.
pub fn spawn(ctx: LinkCtx, tasks: &Tasks) {
    for peer in ctx.local.neighbours().cloned().collect::<Vec<_>>() {
        tasks.spawn("outbox", outbox::run(ctx.clone(), peer));
    }
    if let Some(parent) = ctx.local.parent.clone() {
        tasks.spawn("rollup", rollup::run(ctx.clone(), parent));
        tasks.spawn("supervise", supervise::run(ctx));
    }
}
