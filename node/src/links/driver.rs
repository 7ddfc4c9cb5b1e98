//! What every link task does between its engine's commands: wait for the engine's timer, a change
//! signal from the state machine, or a change of leadership, whichever comes first.

use std::time::Duration;

use federation::Millis;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::consensus::types::RaftMetrics;

/// Why a link task woke up.
pub(super) enum Wake {
    /// The engine's timer fired.
    Timer,
    /// The state machine changed what the engine sends.
    Changed,
    /// Leadership may have changed.
    Leadership,
    /// The replica is stopping.
    Closed,
}

/// The longest a link task sleeps without any timer: it re-checks then anyway.
const IDLE: Duration = Duration::from_secs(60);

/// Waits until `until` (by `clock`), a change on `changes`, or a change of `leader`.
pub(super) async fn wait(
    clock: &Clock,
    until: Option<Millis>,
    changes: &mut watch::Receiver<u64>,
    leader: &mut watch::Receiver<RaftMetrics>,
) -> Wake {
    let sleep = match until {
        Some(t) => Duration::from_millis(t.saturating_sub(clock.now_ms()).max(0) as u64),
        None => IDLE,
    };
    tokio::select! {
        _ = tokio::time::sleep(sleep) => Wake::Timer,
        r = changes.changed() => if r.is_ok() { Wake::Changed } else { Wake::Closed },
        r = leader.changed() => if r.is_ok() { Wake::Leadership } else { Wake::Closed },
    }
}
