//! Backups of a node (`gridnode backup`) and restores of a replica from one (`gridnode restore`).
//!
//! A backup is a RocksDB checkpoint of one replica's store (every column family, the Raft log and vote
//! with the state machine, at one consistent point), taken by that replica and streamed to the
//! operator over the authenticated cluster service (`ClusterService.Backup`). The backup file is an
//! uncompressed tar of two members:
//!
//! ```text
//! store.tar.gz    the checkpoint's files under db/, as a gzip-compressed tar
//! manifest.json   node, replica, applied index and term, end of the log, time, storage format,
//!                 gridnode version, and the SHA-256 and size of store.tar.gz
//! ```
//! (`tar tvf FILE` lists them; `tar xOf FILE manifest.json` prints the manifest.) The manifest comes
//! last because its checksum is known only once the store has been streamed; a file that ends early
//! has none and is refused as truncated.
//!
//! ```text
//! take      the replica's side: checkpoint, read its applied index, stream the tar.gz with its hash
//! file      the operator's side: write the file atomically; read it back, verify, extract the store
//! restore   rebuild a replica's data directory from a file (REPAIRING marker unless --whole-node)
//! ```

pub mod file;
pub mod restore;
pub mod take;

use serde::{Deserialize, Serialize};

/// The name of the compressed store inside a backup file.
pub const PAYLOAD: &str = "store.tar.gz";
/// The name of the manifest inside a backup file.
pub const MANIFEST: &str = "manifest.json";
/// The layout version of backup files this binary writes and reads.
pub const LAYOUT: &str = "gridfed-backup/1";

/// What a backup file holds (its `manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`LAYOUT`].
    pub layout: String,
    /// The node's code.
    pub node: String,
    /// The replica the copy was taken on.
    pub replica: u64,
    /// The state machine's applied log index in the copy.
    pub applied_index: u64,
    /// The term of that entry.
    pub applied_term: u64,
    /// The last index of the Raft log in the copy (at or after the applied index).
    pub last_log_index: u64,
    /// When the copy was taken (milliseconds since the Unix epoch).
    pub taken_at_ms: i64,
    /// The same in Beijing time, for people.
    pub taken_at: String,
    /// The store's format (`storage::STORAGE_FORMAT` of the gridnode that took it).
    pub storage_format: u32,
    /// The gridnode that took it (`gridnode --version`).
    pub gridnode_version: String,
    /// Size of the store's files, uncompressed.
    pub store_bytes: u64,
    /// Size of `store.tar.gz`.
    pub payload_bytes: u64,
    /// SHA-256 of `store.tar.gz`, lowercase hex.
    pub sha256: String,
}

/// Why a backup could not be taken, written, read or restored. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("storage: {source}")]
    Store {
        #[from]
        source: crate::storage::StoreError,
    },
    #[error("rocksdb checkpoint at {path}: {source}")]
    Checkpoint { path: String, source: rocksdb::Error },
    /// The file ends early (an interrupted copy or download).
    #[error("{path} is truncated: {detail}; nothing was changed")]
    Truncated { path: String, detail: String },
    /// The file is not a gridfed backup, or is damaged.
    #[error("{path} is not a usable gridfed backup: {detail}; nothing was changed")]
    Damaged { path: String, detail: String },
    /// The payload's checksum does not match the manifest's.
    #[error(
        "{path} is corrupted: the store's SHA-256 is {found}, the manifest says {expected}; nothing was changed"
    )]
    Checksum { path: String, expected: String, found: String },
    /// The backup's store is of a newer format than this gridnode reads.
    #[error(
        "{path} holds storage format {found}, newer than this gridnode reads ({supported}); restore it with \
         gridnode {version} or newer; nothing was changed"
    )]
    Format { path: String, found: u32, supported: u32, version: String },
    /// The backup is of another node.
    #[error(
        "{path} is a backup of node {found}, but {config} is a replica of node {expected}; nothing was changed"
    )]
    WrongNode { path: String, found: String, config: String, expected: String },
    /// The data directory holds a store and `--replace` was not given.
    #[error(
        "{path} already holds a store ({what}); give --replace to move it aside (into replaced-<time>/, \
         nothing is deleted); nothing was changed"
    )]
    NotEmpty { path: String, what: String },
    /// A replica answers at the config's address.
    #[error(
        "a replica is running at {addr} (the config's listen address); stop it first; nothing was changed"
    )]
    Running { addr: String },
    /// The stream from the replica broke or disagreed with itself.
    #[error("the backup stream from the node failed: {detail}")]
    Stream { detail: String },
}

pub(crate) fn io_err(path: &std::path::Path, source: std::io::Error) -> BackupError {
    BackupError::File { path: path.display().to_string(), source }
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fsyncs a directory, so renames in it are durable.
pub(crate) fn sync_dir(dir: &std::path::Path) -> Result<(), BackupError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_err(dir, e))
}
