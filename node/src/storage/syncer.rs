//! Group fsync of the log, off Raft's path. An append writes its entries without waiting for the disk
//! (they are readable at once, so replication to the followers starts while the leader's own fsync is
//! under way) and hands its completion to this thread, which fsyncs the write-ahead log once for every
//! append waiting and only then tells openraft each one is durable (and moves the durable-index
//! watermark). An append is never reported done before its data is fsynced.
//!
//! ```text
//! append(e1) ─write─▶ ┐                          ┌─▶ callback(e1): durable
//! append(e2) ─write─▶ ├─ queue ─▶ one fsync ─────┼─▶ callback(e2): durable
//! truncate ──barrier─▶┘                          └─▶ barrier released (then the watermark may go down)
//! ```

use std::sync::mpsc;
use std::sync::Arc;

use openraft::storage::LogFlushed;
use rocksdb::DB;

use super::{Faults, Watermark};
use crate::consensus::types::TypeConfig;

enum Job {
    /// Entries up to `last` were written; report them durable after the next fsync.
    Appended { last: u64, done: LogFlushed<TypeConfig> },
    /// Released after every job queued before it has been fsynced and reported.
    Barrier(std::sync::mpsc::SyncSender<()>),
}

/// The handle appends and truncations use; cheap to clone. When the last clone goes, the thread
/// finishes what is queued and is joined, so the database is closed when the log store is.
#[derive(Clone)]
pub struct Syncer {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::other("the log syncer has stopped")
}

impl Syncer {
    /// Starts the syncing thread for `db`; failures are reported to `faults`.
    pub fn start(db: Arc<DB>, watermark: Watermark, faults: Faults) -> Syncer {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("log-sync".into())
            .spawn(move || run(&db, &watermark, &faults, &rx))
            .inspect_err(|e| tracing::error!(error = %e, "cannot start the log syncer"))
            .ok();
        Syncer { inner: Arc::new(Inner { tx: Some(tx), thread }) }
    }

    fn send(&self, job: Job) -> Result<(), std::io::Error> {
        self.inner.tx.as_ref().ok_or_else(stopped)?.send(job).map_err(|_| stopped())
    }

    /// Reports `done` once entries up to `last` are fsynced.
    pub fn appended(&self, last: u64, done: LogFlushed<TypeConfig>) -> Result<(), std::io::Error> {
        self.send(Job::Appended { last, done })
    }

    /// Waits until every append handed over before now has been fsynced and reported.
    pub fn barrier(&self) -> Result<(), std::io::Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Job::Barrier(tx))?;
        rx.recv().map_err(|_| stopped())
    }
}

fn run(db: &DB, watermark: &Watermark, faults: &Faults, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        let synced = db.flush_wal(true);
        if let Err(e) = &synced {
            faults.report("fsyncing the log", e);
        }
        for job in jobs {
            match job {
                Job::Appended { last, done } => match &synced {
                    Ok(()) => {
                        watermark.advance(last);
                        done.log_io_completed(Ok(()));
                    }
                    Err(e) => done.log_io_completed(Err(std::io::Error::other(e.to_string()))),
                },
                Job::Barrier(tx) => {
                    let _ = tx.send(());
                }
            }
        }
    }
}
