//! The storage-failure latch: the first failure of a replica's store (a damaged block, a write RocksDB
//! refused, a full disk) is kept, logged once, and announced to everything that waits on it, so the
//! replica stops serving instead of limping on half-alive with stale data.

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;
use tracing::error;

/// A replica's storage-failure latch; cheap to clone.
#[derive(Clone, Default, Debug)]
pub struct Faults {
    first: Arc<OnceLock<String>>,
    token: CancellationToken,
}

impl Faults {
    /// A latch that has seen no failure.
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Records that the store failed doing `what`; the first report is logged and announced.
    pub fn report(&self, what: &str, error: &dyn std::fmt::Display) {
        let detail = format!("{what}: {error}");
        if self.first.set(detail.clone()).is_ok() {
            error!(
                detail = %detail,
                "STORAGE FAILED: this replica stops serving and exits so its supervisor can restart it; a \
                 damaged store is repaired from the other replicas at the next start"
            );
            self.token.cancel();
        }
    }

    /// The first failure, if any.
    pub fn failure(&self) -> Option<String> {
        self.first.get().cloned()
    }

    /// Resolves when the store has failed.
    pub async fn failed(&self) {
        self.token.cancelled().await
    }
}
