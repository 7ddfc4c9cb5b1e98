//! Rejoining after a damaged store, after "Protocol-Aware Recovery for Consensus-Based Storage"
//! (FAST 2018): a replica whose store fails its checks at open never runs Raft on it. If its node has
//! other replicas, it moves the damaged store aside, starts empty as a replica that neither votes nor
//! campaigns, copies the log (or a snapshot) from the leader, and votes again only once it holds at
//! least everything it could have acknowledged before the damage.
//!
//! ```text
//! open finds damage ─▶ quarantine: db, snapshots, durable-index ─▶ damaged-<unix time>/, write REPAIRING
//!                   ─▶ empty store; no bootstrap, no campaign; vote requests refused
//! AppendEntries from a leader whose commit point is an entry of its own term ─▶ target = that index
//! applied ≥ target ─▶ remove REPAIRING; vote and campaign again
//! ```
//! Why that target suffices: an entry this replica acknowledged and that counted toward a commit is in
//! the log of every leader elected since (leader completeness), and a leader's commit point in its own
//! term lies at or after every entry committed before it. Until the target is reached this replica's
//! vote is withheld, so a candidate missing such an entry cannot win with it; if no leader can be
//! elected without it, the node waits (for the replica that still holds the entries) rather than lose
//! them. The `REPAIRING` marker survives restarts, so an interrupted repair resumes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{error, info};

use crate::consensus::types::LogId;
use crate::consensus::Leadership;
use crate::health::Health;
use crate::storage::StoreError;

/// The marker file in the data directory while a repair is under way.
pub const MARKER: &str = "REPAIRING";

/// A replica's repair state; cheap to clone.
#[derive(Clone)]
pub struct Repair {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    active: AtomicBool,
    /// The index the log must reach before this replica votes again.
    target: Mutex<Option<u64>>,
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::File { path: path.display().to_string(), source }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))
}

impl Repair {
    /// The repair state of the replica in `data_dir`: under way when its marker is there.
    pub fn load(data_dir: &Path) -> Repair {
        let active = data_dir.join(MARKER).exists();
        Repair {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_path_buf(),
                active: AtomicBool::new(active),
                target: Mutex::new(None),
            }),
        }
    }

    /// Moves the damaged store in `data_dir` aside (into `damaged-<unix time>/`) and marks the replica
    /// as repairing; the caller then opens a fresh store.
    pub fn quarantine(data_dir: &Path, damage: &StoreError, now_s: i64) -> Result<Repair, StoreError> {
        let aside = data_dir.join(format!("damaged-{now_s}"));
        std::fs::create_dir_all(&aside).map_err(|e| io(&aside, e))?;
        for name in ["db", "snapshots", "durable-index"] {
            let from = data_dir.join(name);
            if from.exists() {
                std::fs::rename(&from, aside.join(name)).map_err(|e| io(&from, e))?;
            }
        }
        let marker = data_dir.join(MARKER);
        let text = format!("{damage}\nThe damaged store was moved to {}.\n", aside.display());
        std::fs::write(&marker, text).map_err(|e| io(&marker, e))?;
        std::fs::File::open(&marker).and_then(|f| f.sync_all()).map_err(|e| io(&marker, e))?;
        sync_dir(data_dir)?;
        error!(
            damage = %damage,
            moved_to = %aside.display(),
            "DAMAGED STORE: moved aside; this replica starts empty, copies the log from the other replicas \
             and votes again only once it has caught up"
        );
        Ok(Repair::load(data_dir))
    }

    /// True while the replica copies its log from its peers.
    pub fn active(&self) -> bool {
        self.inner.active.load(Ordering::Acquire)
    }

    /// Notes an AppendEntries from the leader of `term` with commit point `committed`: the first whose
    /// commit point is an entry of the leader's own term sets the target.
    pub fn observe(&self, term: u64, committed: Option<&LogId>) {
        if !self.active() {
            return;
        }
        if let Some(c) = committed.filter(|c| c.leader_id.term == term) {
            let mut target = self.inner.target.lock().unwrap_or_else(|p| p.into_inner());
            if target.is_none() {
                info!(target = c.index, term, "repair: copying the log up to the leader's commit point");
                *target = Some(c.index);
            }
        }
    }

    fn finish(&self) -> Result<(), StoreError> {
        let marker = self.inner.data_dir.join(MARKER);
        std::fs::remove_file(&marker).map_err(|e| io(&marker, e))?;
        sync_dir(&self.inner.data_dir)?;
        self.inner.active.store(false, Ordering::Release);
        Ok(())
    }

    /// Waits until this replica has applied up to the target, then ends the repair and lets it vote
    /// and lead again.
    pub async fn run(self, health: Health, leadership: Leadership) {
        let step = Duration::from_millis(200);
        let mut rounds = 0u64;
        while self.active() {
            let target = *self.inner.target.lock().unwrap_or_else(|p| p.into_inner());
            let applied = leadership.applied_index();
            if target.is_some_and(|t| applied >= t) {
                match self.finish() {
                    Ok(()) => {
                        info!(applied, "repair finished: the store has caught up with the node; this replica votes again");
                        health.set_repairing(false);
                    }
                    Err(e) => health.faults().report("ending the repair", &e),
                }
                return;
            }
            rounds += 1;
            // Every 30 s, say where the repair stands.
            if rounds.is_multiple_of(150) {
                match target {
                    None => info!("repair: waiting for a leader to copy the log from"),
                    Some(t) => info!(applied, target = t, "repair: copying the log"),
                }
            }
            tokio::time::sleep(step).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_moves_the_store_aside_and_marks_the_replica() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("db")).unwrap();
        std::fs::write(dir.path().join("db/000004.log"), b"x").unwrap();
        std::fs::write(dir.path().join("durable-index"), b"y").unwrap();
        let damage = StoreError::Corrupt { path: "db".into(), detail: "checksum mismatch".into() };
        let r = Repair::quarantine(dir.path(), &damage, 1_795_000_000).unwrap();
        assert!(r.active());
        assert!(!dir.path().join("db").exists());
        assert!(dir.path().join("damaged-1795000000/db/000004.log").exists());
        assert!(dir.path().join("damaged-1795000000/durable-index").exists());
        assert!(std::fs::read_to_string(dir.path().join(MARKER)).unwrap().contains("checksum mismatch"));
        // The marker survives a restart.
        assert!(Repair::load(dir.path()).active());
    }

    #[test]
    fn only_a_commit_point_of_the_leaders_own_term_sets_the_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER), b"").unwrap();
        let r = Repair::load(dir.path());
        let id = |term, index| LogId::new(openraft::CommittedLeaderId::new(term, 1), index);
        r.observe(5, Some(&id(4, 90)));
        assert_eq!(*r.inner.target.lock().unwrap(), None);
        r.observe(5, Some(&id(5, 120)));
        r.observe(5, Some(&id(5, 130)));
        assert_eq!(*r.inner.target.lock().unwrap(), Some(120));
        r.finish().unwrap();
        assert!(!r.active() && !dir.path().join(MARKER).exists());
    }
}
