//! `ClusterService.Backup`: a consistent copy of this replica's store, streamed (see `crate::backup`).
//! Authorized like the other cluster operations (operators of this node or above); one at a time per
//! replica; refused on a replica that is repairing its store (it has not caught up).

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use proto::v1::BackupChunk;
use rocksdb::DB;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::{info, warn};

use crate::backup::take;
use crate::clock::Clock;
use crate::local::Local;
use crate::repair::MARKER;

/// The stream of a backup.
pub type BackupStream = Pin<Box<dyn Stream<Item = Result<BackupChunk, Status>> + Send>>;

/// What backups are taken of: the replica's database and data directory.
#[derive(Clone)]
pub struct BackupSource {
    db: Arc<DB>,
    data_dir: PathBuf,
    clock: Clock,
}

impl BackupSource {
    /// Backups of `db`, the store in `data_dir`.
    pub fn new(db: Arc<DB>, data_dir: PathBuf, clock: Clock) -> BackupSource {
        BackupSource { db, data_dir, clock }
    }

    /// Takes the checkpoint and starts streaming it.
    pub(crate) async fn start(&self, local: &Local) -> Result<BackupStream, Status> {
        if self.data_dir.join(MARKER).exists() {
            return Err(Status::failed_precondition(format!(
                "replica {} is repairing its store and has not caught up; take the backup on another replica",
                local.replica
            )));
        }
        let (db, dir, node, replica) =
            (self.db.clone(), self.data_dir.clone(), local.node.to_string(), local.replica);
        let now = self.clock.now_ms();
        let cp = tokio::task::spawn_blocking(move || take::checkpoint(&db, &dir, &node, replica, now))
            .await
            .map_err(|e| Status::internal(format!("backup task: {e}")))?
            .map_err(|e| Status::internal(format!("cannot take a checkpoint: {e}")))?
            .ok_or_else(|| Status::resource_exhausted("a backup of this replica is already under way"))?;
        info!(
            index = cp.manifest.applied_index,
            bytes = cp.manifest.store_bytes,
            "backup: checkpoint taken, streaming"
        );
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            let sent = take::stream(cp, |c| tx.blocking_send(Ok(c)).is_ok());
            match sent {
                Ok(m) => {
                    info!(index = m.applied_index, bytes = m.payload_bytes, sha256 = %m.sha256, "backup sent")
                }
                Err(e) => {
                    warn!(error = %e, "backup failed");
                    let _ = tx.blocking_send(Err(Status::internal(format!("backup failed: {e}"))));
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }
}
