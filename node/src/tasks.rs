//! One shutdown mechanism for every task of a replica: a cancellation token each task watches, and a
//! tracker that shutdown waits on, so a stopped replica leaves nothing running behind it.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

/// The replica's background tasks; cheap to clone.
#[derive(Clone, Default)]
pub struct Tasks {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Tasks {
    /// A fresh set of tasks.
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// Spawns `fut`, tracked; it is dropped at its next await once shutdown begins.
    pub fn spawn<F>(&self, name: &'static str, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = token.cancelled() => tracing::debug!(task = name, "stopped"),
                _ = fut => {}
            }
        });
    }

    /// The token every task watches (cancelled when shutdown begins).
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// True once shutdown has begun.
    pub fn stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Begins shutdown.
    pub fn stop(&self) {
        self.token.cancel();
    }

    /// Begins shutdown and waits up to `grace` for every task to finish.
    pub async fn shutdown(&self, grace: Duration) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            warn!(running = self.tracker.len(), "tasks still running after shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_stops_and_joins_every_task() {
        let tasks = Tasks::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        for _ in 0..3 {
            let tx = tx.clone();
            tasks.spawn("forever", async move {
                let _tx = tx;
                std::future::pending::<()>().await;
            });
        }
        drop(tx);
        tasks.shutdown(Duration::from_secs(5)).await;
        // Every task dropped its sender: the channel is closed.
        assert!(rx.recv().await.is_none());
        assert!(tasks.stopping());
    }
}
