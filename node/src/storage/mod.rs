//! RocksDB storage of one replica: the Raft log and vote (`log_store`) and the state machine
//! (`state_machine`), in column families of one database.
//!
//! ```text
//! log       index (u64 BE)            -> bincode Entry
//! raft      "vote" | "committed" | "purged"
//! cases     case id                          -> Case (owned, and read-only copies of watched cases)
//! requests  request id                       -> case id        (idempotent reports)
//! tally     owner 0 day grid                 -> (Tally, local index)  (own and rolled-up statistics)
//! tally_idx local index ++ tally key         -> ()             (what changed since the last rollup push)
//! due       due_at ++ case id                -> day ++ grid    (open deadlines of owned cases)
//! outbox    peer 0 seq                       -> Envelope       (store-and-forward to neighbours)
//! fed       next/peer | hwm/peer | fresh/node | dept/name      (link sequences, freshness, departments)
//! sm        "applied" | "membership" | "seq"
//! ```
//! Every write the Raft protocol relies on (log append, vote, purge) is fsynced before it is reported
//! done. Applied state-machine batches share the same write-ahead log and become durable with the next
//! of those fsyncs (see `state_machine`).

pub mod keys;
pub mod log_store;
mod overlay;
pub mod reader;
pub mod state_machine;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

/// The version of the on-disk layout above (column families, keys, value encodings). Raise it with any
/// change that an older binary could not read or would misread; `gridnode --version` shows it.
pub const STORAGE_FORMAT_VERSION: u32 = 1;

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
    Codec { what: &'static str, source: bincode::Error },
    #[error("column family {name} is missing")]
    MissingCf { name: &'static str },
    #[error("snapshot file {path}: {source}")]
    SnapshotFile { path: String, source: std::io::Error },
}

/// Opens (creating if needed) the replica's database with all column families.
pub fn open(path: &Path) -> Result<Arc<DB>, StoreError> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let cfs = [CF_LOG, CF_RAFT]
        .into_iter()
        .chain(SM_CFS)
        .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    Ok(Arc::new(DB::open_cf_descriptors(&opts, path, cfs)?))
}

pub(crate) fn cf<'a>(db: &'a DB, name: &'static str) -> Result<&'a rocksdb::ColumnFamily, StoreError> {
    db.cf_handle(name).ok_or(StoreError::MissingCf { name })
}

pub(crate) fn encode<T: serde::Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serialize(v).map_err(|source| StoreError::Codec { what, source })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &'static str, b: &[u8]) -> Result<T, StoreError> {
    bincode::deserialize(b).map_err(|source| StoreError::Codec { what, source })
}

/// Write options that fsync the write-ahead log before returning.
pub(crate) fn synced() -> rocksdb::WriteOptions {
    let mut w = rocksdb::WriteOptions::default();
    w.set_sync(true);
    w
}
