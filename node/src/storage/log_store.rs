//! The Raft log and vote in RocksDB (openraft's v2 `RaftLogStorage`). An append is written as one
//! batch and handed to the `syncer`, which fsyncs once for every append waiting and only then tells
//! openraft they are durable: entries are readable (and replicated) at once, durable shortly after. Each entry is stored with its checksum
//! (`integrity::seal`) and verified when read; the durable-index watermark follows the fsynced end of
//! the log (see `watermark`).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{RaftLogReader, StorageIOError};
use rocksdb::{Direction, IteratorMode, WriteBatch, DB};

use super::integrity::{seal, unseal};
use super::syncer::Syncer;
use super::{cf, decode, encode, synced, Faults, StoreError, Watermark, CF_LOG, CF_RAFT};
use crate::consensus::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_PURGED: &[u8] = b"purged";

fn index_key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

/// The replica's Raft log; cheap to clone (readers share the database).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    watermark: Watermark,
    syncer: Syncer,
}

fn key_index(k: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(k).map(u64::from_be_bytes).map_err(|_| StoreError::Corrupt {
        path: "raft log".into(),
        detail: format!("a log key of {} bytes", k.len()),
    })
}

impl LogStore {
    /// The log of the store whose fsynced end `watermark` records; fsync failures go to `faults`.
    pub fn new(db: Arc<DB>, watermark: Watermark, faults: Faults) -> LogStore {
        let syncer = Syncer::start(db.clone(), watermark.clone(), faults);
        LogStore { db, watermark, syncer }
    }

    fn get_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        let cf = cf(&self.db, CF_RAFT)?;
        match self.db.get_cf(cf, key)? {
            Some(b) => Ok(Some(decode("raft metadata", &b)?)),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(&self, key: &[u8], v: &T, sync: bool) -> Result<(), StoreError> {
        let cf = cf(&self.db, CF_RAFT)?;
        let bytes = encode("raft metadata", v)?;
        if sync {
            self.db.put_cf_opt(cf, key, bytes, &synced())?;
        } else {
            self.db.put_cf(cf, key, bytes)?;
        }
        Ok(())
    }

    fn last_entry_id(&self) -> Result<Option<LogId>, StoreError> {
        let cf = cf(&self.db, CF_LOG)?;
        match self.db.iterator_cf(cf, IteratorMode::End).next() {
            Some(item) => {
                let (k, v) = item?;
                Ok(Some(unseal(key_index(&k)?, &v)?.log_id))
            }
            None => Ok(None),
        }
    }

    fn read_range(&self, start: u64, end: Option<u64>) -> Result<Vec<Entry>, StoreError> {
        let cf = cf(&self.db, CF_LOG)?;
        let mut out = Vec::new();
        let from = index_key(start);
        for item in self.db.iterator_cf(cf, IteratorMode::From(&from, Direction::Forward)) {
            let (k, v) = item?;
            let idx = key_index(&k)?;
            if end.is_some_and(|e| idx >= e) {
                break;
            }
            out.push(unseal(idx, &v)?);
        }
        Ok(out)
    }

    /// Writes `entries` fsynced (for tests; Raft's appends go through the syncer).
    #[cfg(test)]
    pub(crate) fn write_entries(&self, entries: Vec<Entry>) -> Result<(), StoreError> {
        let last = self.write_unsynced(&entries)?;
        self.db.flush_wal(true)?;
        if let Some(last) = last {
            self.watermark.advance(last);
        }
        Ok(())
    }

    /// Writes `entries` without waiting for the disk; returns the last index written.
    fn write_unsynced(&self, entries: &[Entry]) -> Result<Option<u64>, StoreError> {
        let cf = cf(&self.db, CF_LOG)?;
        let mut batch = WriteBatch::default();
        let mut last = None;
        for e in entries {
            batch.put_cf(cf, index_key(e.log_id.index), seal(e)?);
            last = Some(e.log_id.index);
        }
        self.db.write(batch)?;
        Ok(last)
    }

    fn delete_from(&self, start: u64, end: u64) -> Result<(), StoreError> {
        let cf = cf(&self.db, CF_LOG)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(cf, index_key(start), index_key(end));
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }
}

fn read_err(e: StoreError) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: StoreError) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => Some(e + 1),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => None,
        };
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_range(start, end))
            .await
            .map_err(|e| StorageIOError::read_logs(&e))?
            .map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.get_meta(KEY_PURGED).map_err(read_err)?;
        let last = self.last_entry_id().map_err(read_err)?.or(last_purged);
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.put_meta(KEY_VOTE, vote, true).map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.get_meta(KEY_VOTE).map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.put_meta(KEY_COMMITTED, &committed, false).map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED).map_err(read_err)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        match tokio::task::block_in_place(|| self.write_unsynced(&entries)) {
            // Durable (and reported so) once the syncer has fsynced.
            Ok(Some(last)) => {
                self.syncer.appended(last, callback).map_err(|e| StorageIOError::write_logs(&e).into())
            }
            Ok(None) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Appends still being synced move the watermark up: let them finish, then lower it, then
        // delete, so the watermark never claims entries the log no longer holds.
        tokio::task::block_in_place(|| self.syncer.barrier()).map_err(|e| StorageIOError::write_logs(&e))?;
        self.watermark.lower(log_id.index.checked_sub(1)).map_err(write_err)?;
        self.delete_from(log_id.index, u64::MAX).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.put_meta(KEY_PURGED, &log_id, true).map_err(write_err)?;
        self.delete_from(0, log_id.index + 1).map_err(write_err)
    }
}

/// Marks the vote stored in `db` as not committed (same term and candidate), so a replica restored
/// from a backup starts as a follower instead of resuming a leadership it no longer holds.
pub fn uncommit_vote(db: &DB) -> Result<(), StoreError> {
    let cf = cf(db, CF_RAFT)?;
    if let Some(b) = db.get_cf(cf, KEY_VOTE)? {
        let mut vote: Vote = decode("raft metadata", &b)?;
        vote.committed = false;
        db.put_cf_opt(cf, KEY_VOTE, encode("raft metadata", &vote)?, &synced())?;
    }
    Ok(())
}
