//! Migrations of older storage formats to the current one, in place, in one fsynced batch, before Raft
//! runs on the store:
//!
//! ```text
//! 0  bincode everywhere; log entries without checksums           (gridnode before 2026-11-25)
//! 1  bincode everywhere; log entries crc32 ++ bincode
//! 2  MessagePack with named fields everywhere (see `codec`); log entries crc32 ++ MessagePack
//! ```
//! Every value is decoded as what its column family and key say it is, in the shape it had then
//! (`legacy`), and re-encoded; the live types read it with the fields added since at their defaults. A
//! value that does not decode stops the migration with the store untouched. The snapshot file of an
//! older format is removed (openraft builds a new one from the state machine when one is needed).

use std::path::Path;

use rocksdb::{IteratorMode, WriteBatch, DB};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::legacy;
use super::{cf, synced, StoreError, CF_CASES, CF_DUE, CF_FED, CF_LOG, CF_OUTBOX, CF_RAFT, CF_REQUESTS};
use super::{CF_SM, CF_TALLY, CF_TALLY_IDX};
use crate::consensus::types::{LogId, StoredMembership, Vote};

fn key_index(k: &[u8]) -> u64 {
    <[u8; 8]>::try_from(k).map(u64::from_be_bytes).unwrap_or(u64::MAX)
}

fn corrupt(path: &Path, what: String) -> StoreError {
    StoreError::Corrupt { path: path.display().to_string(), detail: what }
}

/// A bincode value of type `T`, re-encoded in the current encoding.
fn reencode<T: DeserializeOwned + Serialize>(
    path: &Path,
    what: &str,
    key: &[u8],
    bytes: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let v: T = bincode::deserialize(bytes)
        .map_err(|e| corrupt(path, format!("cannot migrate {what} {}: {e}", String::from_utf8_lossy(key))))?;
    super::encode("migrated value", &v)
}

/// How the value under `key` in column family `name` was encoded in formats 0 and 1, and re-encoded
/// now. None: raw bytes that stay as they are.
fn convert(
    path: &Path,
    name: &str,
    key: &[u8],
    value: &[u8],
    from: u32,
) -> Result<Option<Vec<u8>>, StoreError> {
    let text = String::from_utf8_lossy(key);
    Ok(Some(match name {
        CF_LOG => {
            // Format 1 sealed entries with a checksum: verified before anything is rewritten.
            let body = if from >= 1 {
                let (crc, body) = value.split_at(value.len().min(4));
                if crc.len() < 4 || crc32fast::hash(body).to_le_bytes() != crc {
                    return Err(corrupt(path, format!("log entry {}: checksum mismatch", key_index(key))));
                }
                body
            } else {
                value
            };
            let e: legacy::Entry = bincode::deserialize(body)
                .map_err(|e| corrupt(path, format!("cannot migrate log entry {}: {e}", key_index(key))))?;
            super::integrity::seal_bytes(super::encode("migrated log entry", &e)?)
        }
        CF_RAFT => match key {
            b"vote" => reencode::<Vote>(path, "vote", key, value)?,
            b"committed" => reencode::<Option<LogId>>(path, "committed", key, value)?,
            b"purged" => reencode::<LogId>(path, "purge point", key, value)?,
            b"format" => return Ok(None),
            _ => return Err(corrupt(path, format!("unknown Raft metadata {text}"))),
        },
        CF_CASES => reencode::<legacy::Case>(path, "case", key, value)?,
        CF_TALLY => reencode::<legacy::StoredTally>(path, "tally", key, value)?,
        CF_OUTBOX => reencode::<legacy::Envelope>(path, "outbox message", key, value)?,
        CF_FED if text.starts_with("next/") || text.starts_with("hwm/") => {
            reencode::<u64>(path, "link sequence", key, value)?
        }
        CF_FED if text.starts_with("fresh/") => reencode::<legacy::Freshness>(path, "freshness", key, value)?,
        CF_FED if text.starts_with("dept/") => {
            reencode::<legacy::Department>(path, "department", key, value)?
        }
        CF_FED => return Err(corrupt(path, format!("unknown federation record {text}"))),
        CF_SM => match key {
            b"applied" => reencode::<Option<LogId>>(path, "applied log id", key, value)?,
            b"membership" => reencode::<StoredMembership>(path, "membership", key, value)?,
            b"seq" => reencode::<u64>(path, "case sequence", key, value)?,
            _ => return Err(corrupt(path, format!("unknown state-machine record {text}"))),
        },
        CF_REQUESTS | CF_TALLY_IDX | CF_DUE => return Ok(None),
        other => return Err(corrupt(path, format!("unknown column family {other}"))),
    }))
}

/// Re-encodes every value of a format-0 or format-1 store; returns how many were rewritten. The caller
/// records the new format in the same batch.
pub fn to_current(db: &DB, path: &Path, from: u32, batch: &mut WriteBatch) -> Result<u64, StoreError> {
    let mut n = 0;
    let names =
        [CF_LOG, CF_RAFT, CF_CASES, CF_REQUESTS, CF_TALLY, CF_TALLY_IDX, CF_DUE, CF_OUTBOX, CF_FED, CF_SM];
    for name in names {
        let handle = cf(db, name)?;
        for item in db.iterator_cf(handle, IteratorMode::Start) {
            let (k, v) = item?;
            if let Some(new) = convert(path, name, &k, &v, from)? {
                batch.put_cf(handle, k, new);
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Writes `batch` (the migration and the new format marker) fsynced.
pub fn commit(db: &DB, batch: WriteBatch) -> Result<(), StoreError> {
    db.write_opt(batch, &synced())?;
    Ok(())
}
