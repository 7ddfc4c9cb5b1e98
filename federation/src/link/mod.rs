//! Links between nodes: where a message goes next and the envelope it travels in (`route`), and the
//! decisions of a link's sender, as I/O-free state machines that take events and return commands (as
//! openraft's engine does): what to send next, when to retry with which backoff, what an
//! acknowledgement frees, when a rollup is due, when an idle link is probed. The node's tasks only
//! move bytes and timers for them; the seeded simulation (`sim`) drives the same engines over a faulty
//! network.
//!
//! ```text
//!            events: Tick, Leading, Changed, Loaded, Greeted, Delivered/Pushed, Acked
//!   driver ────────────────────────────────────────────▶ engine (OutboxSender | RollupSender)
//!     ▲                                                       │
//!     └──── commands: Load, Greet, Deliver/Push, Ack, Sleep ◀─┘
//! ```

mod backoff;
mod health;
mod rollup;
mod route;
mod sender;

pub use backoff::Backoff;
pub use health::{Health, LinkHealth};
pub use rollup::{RollupCommand, RollupEvent, RollupSender};
pub use route::{next_hop, Body, Envelope, Hop};
pub use sender::{OutboxSender, SendCommand, SendEvent};

use crate::Millis;

/// Timing of a link's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTiming {
    /// First retry delay after a failure; doubles up to `max_backoff_ms`.
    pub min_backoff_ms: u64,
    /// Longest wait between retries.
    pub max_backoff_ms: u64,
    /// An idle link is probed (a handshake) this often, so "up" means reachable now.
    pub probe_ms: u64,
    /// Rollups: how long a burst of changes settles before it is pushed.
    pub settle_ms: u64,
    /// Rollups: the longest time between two pushes (freshness heartbeats).
    pub heartbeat_ms: u64,
    /// Messages (or tally entries) loaded per delivery.
    pub batch: usize,
}

impl Default for LinkTiming {
    fn default() -> Self {
        LinkTiming {
            min_backoff_ms: 100,
            max_backoff_ms: 5_000,
            probe_ms: 5_000,
            settle_ms: 250,
            heartbeat_ms: 1_000,
            batch: 256,
        }
    }
}

/// When a timer set at `now` for `after_ms` fires.
pub(crate) fn after(now: Millis, after_ms: u64) -> Millis {
    now.saturating_add(after_ms.min(i64::MAX as u64) as i64)
}
