//! The disk-space watch: every second, the free space of the file system holding the replica's data.
//! Below `[storage] min_free_mb` the replica refuses new writes with a clear error, before RocksDB runs
//! out of room and fails; writes are taken again once space is freed.

use std::path::PathBuf;
use std::time::Duration;

use tracing::{info, warn};

use super::Health;

/// How often free space is read.
const EVERY: Duration = Duration::from_secs(1);

/// Free bytes for unprivileged writers on the file system of `path`.
pub fn free_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(path)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Watches the file system of `data_dir` and records in `health` when it is below `min_free_mb`.
pub async fn watch(health: Health, data_dir: PathBuf, min_free_mb: u64) {
    let min = min_free_mb.saturating_mul(1 << 20);
    loop {
        let low = match free_bytes(&data_dir) {
            Ok(free) if free < min => Some(format!(
                "only {} MiB free on the disk of {} (storage.min_free_mb = {min_free_mb}); new writes are \
                 refused until space is freed",
                free >> 20,
                data_dir.display()
            )),
            Ok(_) => None,
            Err(e) => {
                warn!(path = %data_dir.display(), error = %e, "cannot read free disk space");
                None
            }
        };
        match (health.disk_low(), &low) {
            (None, Some(why)) => warn!(reason = %why, "disk space low"),
            (Some(_), None) => {
                info!(path = %data_dir.display(), "disk space back above the threshold; writes taken again")
            }
            _ => {}
        }
        health.set_disk_low(low);
        tokio::time::sleep(EVERY).await;
    }
}
