//! The replica's clock: wall time in milliseconds since the Unix epoch, shifted by an offset that tests
//! and fault injection set (`serve --clock-offset-ms`), so clock skew can be tried without touching the
//! machine's time. Everything in a replica that reads the time reads it here.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use federation::Millis;

/// Milliseconds since the Unix epoch on this machine's clock (for the CLI and for display).
pub fn wall_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How long before `now` the moment `then` was, never negative: `then` may come from another
/// machine whose clock runs ahead of ours.
pub fn age_ms(now: Millis, then: Millis) -> Millis {
    now.saturating_sub(then).max(0)
}

/// A replica's clock; cheap to clone, all clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The machine's clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The machine's clock shifted by `offset_ms` (positive: ahead).
    pub fn with_offset(offset_ms: i64) -> Clock {
        let c = Clock::default();
        c.set_offset(offset_ms);
        c
    }

    /// Shifts every clone of this clock to `offset_ms` from the machine's clock.
    pub fn set_offset(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// The offset from the machine's clock.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> Millis {
        wall_ms().saturating_add(self.offset_ms())
    }
}

/// Fault injection for tests: sets `clock`'s offset from the number (milliseconds) in `file` every
/// half second; a missing or unreadable file leaves the offset as it is.
pub async fn follow_offset_file(clock: Clock, file: std::path::PathBuf) {
    loop {
        if let Some(ms) = std::fs::read_to_string(&file).ok().and_then(|t| t.trim().parse::<i64>().ok()) {
            if ms != clock.offset_ms() {
                tracing::warn!(offset_ms = ms, "FAULT INJECTION: clock offset changed");
                clock.set_offset(ms);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_is_shared_by_clones() {
        let c = Clock::system();
        let d = c.clone();
        c.set_offset(3 * 3_600_000);
        assert!(d.now_ms() - wall_ms() >= 3 * 3_600_000 - 1000);
        assert_eq!(d.offset_ms(), 3 * 3_600_000);
    }
}
