//! What a replica checks about its store before it runs Raft on it, so that it never votes or serves
//! with less than it acknowledged:
//!
//! - RocksDB replays its write-ahead log refusing any damaged record but a torn final one
//!   (`TolerateCorruptedTailRecords`; the default point-in-time mode silently stops at the first bad
//!   record and drops everything after it);
//! - the storage format is known, and older formats are migrated in place;
//! - the Raft log is contiguous from the purge point to its end, every entry's checksum holds and
//!   every entry sits under its own index;
//! - the log reaches the durable-index watermark (see `watermark`);
//! - optionally, every block of every column family is read back with its checksum verified.
//!
//! A failed check is `StoreError::Corrupt` naming the file or the entry and what is wrong; what to do
//! about it is the replica's decision (see `crate::repair`).

use std::path::Path;

use rocksdb::{IteratorMode, ReadOptions, WriteBatch, DB};

use super::{cf, StoreError, CF_LOG, CF_RAFT};
use crate::consensus::types::{Entry, LogId};

/// The storage format this binary writes (see `migrate` for the older ones): MessagePack with named
/// fields for every record (`codec`), every log entry `crc32 (4 bytes, little endian) ++ encoding`.
pub const STORAGE_FORMAT: u32 = 2;

const KEY_FORMAT: &[u8] = b"format";
const KEY_PURGED: &[u8] = b"purged";

fn corrupt(path: &Path, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt { path: path.display().to_string(), detail: detail.into() }
}

/// A log entry as stored: its checksum, then its encoding.
pub fn seal(e: &Entry) -> Result<Vec<u8>, StoreError> {
    Ok(seal_bytes(super::encode("log entry", e)?))
}

/// An encoded log entry with its checksum in front.
pub fn seal_bytes(body: Vec<u8>) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    v.extend_from_slice(&body);
    v
}

/// The entry stored under `index`, its checksum verified.
pub fn unseal(index: u64, v: &[u8]) -> Result<Entry, StoreError> {
    let bad = |detail: String| StoreError::Corrupt { path: format!("log entry {index}"), detail };
    if v.len() < 4 {
        return Err(bad(format!("{} bytes, too short to hold a checksum", v.len())));
    }
    let (crc, body) = v.split_at(4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != crc {
        return Err(bad("checksum mismatch".into()));
    }
    let e: Entry = super::decode("log entry", body)?;
    if e.log_id.index != index {
        return Err(bad(format!("holds the entry of index {}", e.log_id.index)));
    }
    Ok(e)
}

/// Turns a RocksDB error at open into a clear one: a damaged write-ahead log or table names the file
/// RocksDB found it in (from its own `LOG`).
pub fn open_error(path: &Path, e: rocksdb::Error) -> StoreError {
    if e.kind() != rocksdb::ErrorKind::Corruption {
        return StoreError::Rocks { source: e };
    }
    let files = damaged_files(path);
    let detail = if files.is_empty() { e.to_string() } else { format!("{e} (in {})", files.join(", ")) };
    corrupt(path, detail)
}

/// The files RocksDB's info log says it found damaged records in.
fn damaged_files(path: &Path) -> Vec<String> {
    let Ok(log) = std::fs::read_to_string(path.join("LOG")) else { return Vec::new() };
    let mut files: Vec<String> = log
        .lines()
        .filter(|l| l.contains("dropping") || l.contains("Corruption"))
        .flat_map(|l| l.split_whitespace())
        .map(|w| w.trim_end_matches([':', ',', ';']))
        .filter(|w| w.ends_with(".log") || w.ends_with(".sst"))
        .map(str::to_string)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Reads the storage format, migrating older formats to [`STORAGE_FORMAT`] in one fsynced batch;
/// returns the format found.
pub fn upgrade_format(db: &DB, path: &Path) -> Result<u32, StoreError> {
    let raft = cf(db, CF_RAFT)?;
    let found: u32 = match db.get_cf(raft, KEY_FORMAT)? {
        // Formats 0 and 1 wrote this marker with bincode, format 2 on with `codec`: a u32 fits in the
        // first byte of both for small numbers, so read it by length.
        Some(b) if b.len() == 4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        Some(b) => super::decode("storage format", &b)?,
        None => 0,
    };
    if found > STORAGE_FORMAT {
        return Err(StoreError::Format {
            path: path.display().to_string(),
            found,
            supported: STORAGE_FORMAT,
        });
    }
    if found == STORAGE_FORMAT {
        return Ok(found);
    }
    let mut batch = WriteBatch::default();
    let migrated = if db.iterator_cf(cf(db, CF_LOG)?, IteratorMode::Start).next().is_some()
        || db.iterator_cf(raft, IteratorMode::Start).next().is_some()
    {
        super::migrate::to_current(db, path, found, &mut batch)?
    } else {
        0
    };
    batch.put_cf(raft, KEY_FORMAT, super::encode("storage format", &STORAGE_FORMAT)?);
    super::migrate::commit(db, batch)?;
    if migrated > 0 {
        tracing::info!(path = %path.display(), from = found, to = STORAGE_FORMAT, values = migrated, "storage format migrated");
    }
    Ok(found)
}

/// What the log check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogExtent {
    /// The purge point (entries up to it live in the snapshot).
    pub purged: Option<u64>,
    /// The last index the log holds (the purge point if it holds no entry after it).
    pub last: Option<u64>,
    /// Entries read and verified.
    pub entries: u64,
}

/// Verifies every log entry: checksum, index, and no gap from the purge point to the end.
pub fn check_log(db: &DB, path: &Path) -> Result<LogExtent, StoreError> {
    let purged: Option<LogId> = match db.get_cf(cf(db, CF_RAFT)?, KEY_PURGED)? {
        Some(b) => super::decode("raft metadata", &b)?,
        None => None,
    };
    let purged = purged.map(|l| l.index);
    let mut prev: Option<u64> = None;
    let mut last_term = 0u64;
    let mut entries = 0u64;
    for item in db.iterator_cf_opt(cf(db, CF_LOG)?, verifying(), IteratorMode::Start) {
        let (k, v) = item.map_err(|e| open_error(path, e))?;
        let index = match <[u8; 8]>::try_from(k.as_ref()) {
            Ok(b) => u64::from_be_bytes(b),
            Err(_) => return Err(corrupt(path, format!("a log key of {} bytes", k.len()))),
        };
        let e = unseal(index, &v).map_err(|e| match e {
            StoreError::Corrupt { path: what, detail } => corrupt(path, format!("{what}: {detail}")),
            other => other,
        })?;
        let expected = match prev {
            Some(p) => Some(p + 1),
            // The first entry follows the purge point (entries at or below it may remain when a crash
            // came between recording the purge and deleting them).
            None => purged.map(|p| p + 1).filter(|&next| index > next),
        };
        if let Some(want) = expected {
            if index != want {
                return Err(corrupt(
                    path,
                    format!("the Raft log has a gap: index {want} is missing (the next entry is {index})"),
                ));
            }
        }
        if e.log_id.leader_id.term < last_term {
            return Err(corrupt(
                path,
                format!("log entry {index} has term {} after term {last_term}", e.log_id.leader_id.term),
            ));
        }
        last_term = e.log_id.leader_id.term;
        prev = Some(index);
        entries += 1;
    }
    let last = match (prev, purged) {
        (Some(l), Some(p)) => Some(l.max(p)),
        (l, p) => l.or(p),
    };
    Ok(LogExtent { purged, last, entries })
}

/// Refuses a log that ends before the durable-index watermark: acknowledged entries were lost.
pub fn check_watermark(path: &Path, log: &LogExtent, acknowledged: Option<u64>) -> Result<(), StoreError> {
    let Some(acked) = acknowledged else { return Ok(()) };
    if log.last.is_none_or(|last| last < acked) {
        let ends = log.last.map_or("is empty".to_string(), |l| format!("ends at index {l}"));
        return Err(corrupt(
            path,
            format!(
                "the Raft log {ends}, but this replica had fsynced and acknowledged entries up to index \
                 {acked}: acknowledged entries were lost (a damaged or replaced write-ahead log)"
            ),
        ));
    }
    Ok(())
}

/// Reads every entry of every column family with block checksums verified.
pub fn scan(db: &DB, path: &Path, names: &[&'static str]) -> Result<u64, StoreError> {
    let mut n = 0u64;
    for name in names {
        for item in db.iterator_cf_opt(cf(db, name)?, verifying(), IteratorMode::Start) {
            item.map_err(|e| open_error(path, e))?;
            n += 1;
        }
    }
    Ok(n)
}

fn verifying() -> ReadOptions {
    let mut r = ReadOptions::default();
    r.set_verify_checksums(true);
    r.fill_cache(false);
    r
}
