//! RocksDB storage of one replica: the Raft log and vote (`log_store`) and the state machine
//! (`state_machine`), in column families of one database.
//!
//! ```text
//! log       index (u64 BE)            -> crc32 ++ Entry   (values in `codec`'s encoding)
//! raft      "vote" | "committed" | "purged"
//! cases     case id                          -> Case (owned, and read-only copies of watched cases)
//! requests  request id                       -> case id        (idempotent reports)
//! tally     owner 0 day grid                 -> (Tally, local index)  (own and rolled-up statistics)
//! tally_idx local index ++ tally key         -> ()             (what changed since the last rollup push)
//! due       due_at ++ case id                -> day ++ grid    (open deadlines of owned cases)
//! outbox    peer 0 seq                       -> Envelope       (store-and-forward to neighbours)
//! fed       next/peer | hwm/peer | fresh/node | dept/name      (link sequences, freshness, departments)
//! sm        "applied" | "membership" | "seq"
//! durable-index              highest fsynced log index, outside RocksDB (see `watermark`)
//! ```
//! Every write the Raft protocol relies on (log append, vote, purge) is fsynced before it is reported
//! done. Applied state-machine batches share the same write-ahead log and become durable with the next
//! of those fsyncs (see `state_machine`). Log entries carry checksums, and a store is checked before
//! Raft runs on it (see `integrity`).

pub mod faults;
pub mod grids;
pub mod integrity;
#[cfg(test)]
mod integrity_tests;
pub mod keys;
mod legacy;
pub mod log_store;
mod migrate;
mod overlay;
pub mod reader;
pub mod state_machine;
mod syncer;
#[cfg(test)]
mod tests;
pub mod watermark;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, DBRecoveryMode, Options, DB};

pub use faults::Faults;
pub use integrity::STORAGE_FORMAT;
pub use watermark::Watermark;

pub const CF_LOG: &str = "log";
pub const CF_RAFT: &str = "raft";
pub const CF_CASES: &str = "cases";
pub const CF_REQUESTS: &str = "requests";
pub const CF_TALLY: &str = "tally";
pub const CF_TALLY_IDX: &str = "tally_idx";
pub const CF_DUE: &str = "due";
pub const CF_OUTBOX: &str = "outbox";
pub const CF_FED: &str = "fed";
pub const CF_SM: &str = "sm";
/// The column families that make up the state machine (what a snapshot carries).
pub const SM_CFS: [&str; 8] =
    [CF_CASES, CF_REQUESTS, CF_TALLY, CF_TALLY_IDX, CF_DUE, CF_OUTBOX, CF_FED, CF_SM];

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {source}")]
    Rocks {
        #[from]
        source: rocksdb::Error,
    },
    #[error("corrupt {what}: {source}")]
    Codec { what: &'static str, source: crate::codec::CodecError },
    #[error("column family {name} is missing")]
    MissingCf { name: &'static str },
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    /// The store cannot be trusted: a damaged write-ahead log or table, a log with a gap or a bad
    /// checksum, or a log shorter than what this replica acknowledged.
    #[error("the store at {path} is damaged: {detail}")]
    Corrupt { path: String, detail: String },
    #[error(
        "the store at {path} has storage format {found}, newer than this gridnode reads ({supported}); \
         run the gridnode version that wrote it"
    )]
    Format { path: String, found: u32, supported: u32 },
    /// A log entry holds a command of a protocol version this replica does not speak.
    #[error("log entry {index} holds a command of protocol {since}; this replica speaks protocol {own}")]
    Protocol { index: u64, since: u32, own: u32 },
}

impl StoreError {
    /// Errors that mean the store itself is damaged (as opposed to a bad request or a full disk).
    pub fn is_corruption(&self) -> bool {
        match self {
            StoreError::Corrupt { .. } | StoreError::Codec { .. } => true,
            StoreError::Rocks { source } => source.kind() == rocksdb::ErrorKind::Corruption,
            _ => false,
        }
    }
}

/// How a replica's store is opened (`[storage]` in its config).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Read every block back with its checksum verified before Raft starts.
    pub verify_on_start: bool,
    /// RocksDB's memtable size per column family, in MiB.
    pub write_buffer_mb: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { verify_on_start: true, write_buffer_mb: 64 }
    }
}

/// A replica's opened and checked store: the database and the log's durable-index watermark.
pub struct Store {
    pub db: Arc<DB>,
    pub watermark: Watermark,
}

/// Where a replica keeps its database, inside its data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("db")
}

/// Where a replica keeps its durable-index watermark, inside its data directory.
pub fn watermark_path(data_dir: &Path) -> PathBuf {
    data_dir.join("durable-index")
}

/// Opens (creating if needed) the replica's store in `data_dir` and checks it (see `integrity`): a
/// damaged store is refused with `StoreError::Corrupt`, never opened shortened. Failures found later
/// in the background are reported to `faults`.
pub fn open(data_dir: &Path, options: &StoreOptions, faults: &Faults) -> Result<Store, StoreError> {
    let path = db_path(data_dir);
    let db = open_db(&path, options)?;
    if integrity::upgrade_format(&db, &path)? < STORAGE_FORMAT {
        // A snapshot file of an older format: openraft builds a new one when one is needed.
        let old = data_dir.join("snapshots").join("snapshot.bin");
        if old.exists() {
            std::fs::remove_file(&old)
                .map_err(|source| StoreError::File { path: old.display().to_string(), source })?;
        }
    }
    let extent = integrity::check_log(&db, &path)?;
    let (watermark, acknowledged) = Watermark::open(&watermark_path(data_dir))?;
    integrity::check_watermark(&path, &extent, acknowledged)?;
    if options.verify_on_start {
        let all: Vec<&'static str> = std::iter::once(CF_RAFT).chain(SM_CFS).collect();
        integrity::scan(&db, &path, &all)?;
    }
    if let Some(last) = extent.last {
        watermark.advance(last);
    }
    watermark.spawn_flusher(faults.clone());
    Ok(Store { db, watermark })
}

/// Writes every column family's memtable to tables (at a clean stop, so the next start has no
/// write-ahead log to replay).
pub fn flush(db: &DB) -> Result<(), StoreError> {
    for name in [CF_LOG, CF_RAFT].into_iter().chain(SM_CFS) {
        db.flush_cf(cf(db, name)?)?;
    }
    Ok(())
}

fn open_db(path: &Path, options: &StoreOptions) -> Result<Arc<DB>, StoreError> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    opts.set_paranoid_checks(true);
    // Refuse a write-ahead log damaged anywhere but in a torn final record (never acknowledged:
    // appends are fsynced before they are reported done), instead of replaying up to the damage and
    // silently dropping everything after it.
    opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    let cf_opts = || {
        let mut o = Options::default();
        o.set_write_buffer_size(options.write_buffer_mb.max(1) << 20);
        o
    };
    let cfs =
        [CF_LOG, CF_RAFT].into_iter().chain(SM_CFS).map(|name| ColumnFamilyDescriptor::new(name, cf_opts()));
    DB::open_cf_descriptors(&opts, path, cfs).map(Arc::new).map_err(|e| integrity::open_error(path, e))
}

pub(crate) fn cf<'a>(db: &'a DB, name: &'static str) -> Result<&'a rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(name).ok_or(StoreError::MissingCf { name })
}

pub(crate) fn encode<T: serde::Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    crate::codec::encode(v).map_err(|source| StoreError::Codec { what, source })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &'static str, b: &[u8]) -> Result<T, StoreError> {
    crate::codec::decode(b).map_err(|source| StoreError::Codec { what, source })
}

/// Write options that fsync the write-ahead log before returning.
pub(crate) fn synced() -> rocksdb::WriteOptions {
    let mut w = rocksdb::WriteOptions::default();
    w.set_sync(true);
    w
}
