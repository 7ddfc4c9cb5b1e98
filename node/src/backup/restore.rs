//! Rebuilding a replica's data directory from a backup file (`gridnode restore`).
//!
//! ```text
//! verify the file (checksum, layout, format) and that it is a backup of the config's node
//!   ─▶ refuse a data directory holding a store (unless --replace) or a replica answering at its address
//!   ─▶ extract into <data_dir>/.restore-<time>/db, open it there with every check a replica runs at
//!      start (integrity, format migration), write its durable-index watermark at the log's end, mark
//!      the vote uncommitted (a follower at start)
//!   ─▶ --replace: move db, snapshots, durable-index, REPAIRING into <data_dir>/replaced-<time>/
//!   ─▶ move the new db and durable-index into place; write REPAIRING unless --whole-node
//! ```
//! A replica restored while its node has other replicas holds less than it may have acknowledged: it
//! rejoins like a repairing one (see `crate::repair`: no vote, no campaign until it has caught up with a
//! leader's own-term commit point). Only when the whole node was lost (`--whole-node`: the operator
//! says no replica holds newer data) are the replicas restored without the marker, so they can elect a
//! leader at the backup's index. Each link of such a node is marked restored
//! (`federation::machine::RestoredLink`): the first delivery from a neighbour is taken from where it
//! starts (the neighbour has discarded what the lost node acknowledged after the backup), and the
//! node's own queue for each neighbour is renumbered above the neighbour's high-water mark before it
//! sends anything (`Resequence`), so new messages are not skipped as resends.

use std::path::{Path, PathBuf};

use super::{file, io_err, sync_dir, BackupError, Manifest};
use crate::config::Config;
use crate::repair::MARKER;
use crate::storage::{self, Faults};

/// What the store files of a data directory are called.
const STORE_FILES: [&str; 4] = ["db", "snapshots", "durable-index", MARKER];

/// How to restore.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Move an existing store aside instead of refusing.
    pub replace: bool,
    /// The whole node was lost: restore without the REPAIRING marker.
    pub whole_node: bool,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The replica's data directory.
    pub data_dir: PathBuf,
    /// Where the previous store went (with `--replace`).
    pub moved_aside: Option<PathBuf>,
    /// True when the replica rejoins as a repairing one.
    pub repairing: bool,
    /// The end of the restored Raft log.
    pub last_log_index: u64,
}

/// Whether something answers at the replica's listen address (a running replica).
fn answering(listen: &str) -> bool {
    let Ok(mut addr) = listen.parse::<std::net::SocketAddr>() else { return false };
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300)).is_ok()
}

/// Restores the replica of `cfg` (its config file at `config_path`) from the backup at `backup`;
/// `now_s` names the directories moved aside. Nothing is changed unless every check passes.
pub fn restore(
    backup: &Path,
    cfg: &Config,
    config_path: &Path,
    opts: RestoreOptions,
    now_s: i64,
) -> Result<Restored, BackupError> {
    let manifest = file::verify(backup)?;
    if manifest.node != cfg.node {
        return Err(BackupError::WrongNode {
            path: backup.display().to_string(),
            found: manifest.node.clone(),
            config: config_path.display().to_string(),
            expected: cfg.node.clone(),
        });
    }
    let data_dir = cfg.data_dir.clone();
    let present: Vec<&str> = STORE_FILES.into_iter().filter(|n| data_dir.join(n).exists()).collect();
    if !present.is_empty() && !opts.replace {
        return Err(BackupError::NotEmpty { path: data_dir.display().to_string(), what: present.join(", ") });
    }
    if answering(&cfg.listen) {
        return Err(BackupError::Running { addr: cfg.listen.clone() });
    }
    std::fs::create_dir_all(&data_dir).map_err(|e| io_err(&data_dir, e))?;
    let staging = data_dir.join(format!(".restore-{now_s}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
    }
    let whole = opts.whole_node || cfg.replicas.len() == 1;
    let built = build(backup, cfg, &staging, whole);
    let last_log_index = match built {
        Ok(last) => last,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let moved_aside = if present.is_empty() {
        None
    } else {
        let aside = data_dir.join(format!("replaced-{now_s}"));
        std::fs::create_dir_all(&aside).map_err(|e| io_err(&aside, e))?;
        for name in &present {
            let from = data_dir.join(name);
            std::fs::rename(&from, aside.join(name)).map_err(|e| io_err(&from, e))?;
        }
        Some(aside)
    };
    for name in ["db", "durable-index"] {
        let from = staging.join(name);
        std::fs::rename(&from, data_dir.join(name)).map_err(|e| io_err(&from, e))?;
    }
    std::fs::remove_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
    let repairing = !whole;
    if repairing {
        let marker = data_dir.join(MARKER);
        let text = format!(
            "Restored from the backup {} (node {}, index {}, taken {} on replica {}).\n\
             This replica holds less than it may have acknowledged: it does not vote until it has caught up \
             with the other replicas.\n",
            backup.display(),
            manifest.node,
            manifest.applied_index,
            manifest.taken_at,
            manifest.replica
        );
        std::fs::write(&marker, text).map_err(|e| io_err(&marker, e))?;
        std::fs::File::open(&marker).and_then(|f| f.sync_all()).map_err(|e| io_err(&marker, e))?;
    }
    sync_dir(&data_dir)?;
    Ok(Restored { manifest, data_dir, moved_aside, repairing, last_log_index })
}

/// Marks every link of the node as restored (see `federation::machine::RestoredLink`): its neighbours
/// may hold newer state of it; and moves its case counter on by `RESTORED_SEQ_GAP`. Written the same on every replica restored from the same file, as part
/// of the state machine (no log entry).
fn mark_links(db: &rocksdb::DB, cfg: &Config) -> Result<(), BackupError> {
    let mark = federation::machine::RestoredLink { inbox: true, outbox: true };
    let value = storage::encode("restored link", &mark)?;
    let fed = storage::cf(db, storage::CF_FED)?;
    for peer in cfg.parent.iter().chain(&cfg.children) {
        db.put_cf_opt(fed, storage::keys::fed("restored", &peer.code), &value, &storage::synced())
            .map_err(|source| BackupError::Store { source: source.into() })?;
    }
    // New cases must not take the ids of cases made after the backup (see RESTORED_SEQ_GAP).
    let sm = storage::cf(db, storage::CF_SM)?;
    let seq: u64 =
        match db.get_cf(sm, b"seq").map_err(|source| BackupError::Store { source: source.into() })? {
            Some(b) => storage::decode("sequence", &b)?,
            None => 0,
        };
    let bumped = storage::encode("sequence", &(seq + federation::machine::RESTORED_SEQ_GAP))?;
    db.put_cf_opt(sm, b"seq", bumped, &storage::synced())
        .map_err(|source| BackupError::Store { source: source.into() })?;
    Ok(())
}

/// Extracts and prepares the store in `staging`; returns the end of its log.
fn build(backup: &Path, cfg: &Config, staging: &Path, whole: bool) -> Result<u64, BackupError> {
    std::fs::create_dir_all(staging).map_err(|e| io_err(staging, e))?;
    file::extract(backup, staging)?;
    let faults = Faults::new();
    let store = storage::open(staging, &cfg.storage.options(), &faults)?;
    let extent = storage::integrity::check_log(&store.db, &storage::db_path(staging))?;
    let last = extent.last.unwrap_or(0);
    if let Some(l) = extent.last {
        store.watermark.advance(l);
    }
    store.watermark.flush()?;
    storage::log_store::uncommit_vote(&store.db)?;
    if whole {
        mark_links(&store.db, cfg)?;
    }
    storage::flush(&store.db)?;
    drop(store);
    Ok(last)
}
