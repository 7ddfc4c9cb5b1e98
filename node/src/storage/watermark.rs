//! The durable-index watermark: the highest Raft log index this replica has fsynced, kept in a small
//! file beside RocksDB (`<data_dir>/durable-index`), outside its write-ahead log.
//!
//! A store that comes back from a crash shorter than what it had acknowledged (a write-ahead log replayed
//! only up to a damaged record, a lost file) would otherwise vote and serve with the shorter log; the
//! check at open compares the log's end with this file and refuses such a store (see `integrity`).
//!
//! ```text
//! append ──fsync──▶ advance(i)   ──(every FLUSH_EVERY, off the write path)──▶ file: i
//! truncate(i)     ──▶ lower(i-1) ──(at once, fsynced, before the entries go)──▶ file: i-1
//! ```
//! The file lags the log by at most `FLUSH_EVERY`, never leads it: it is a lower bound of what was
//! acknowledged, so the check has no false alarms and catches every loss larger than that lag.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{Faults, StoreError};

/// How often the file catches up with the fsynced log.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

const MAGIC: &[u8; 4] = b"GFWM";
const LEN: usize = 16;

/// The watermark of one replica's log; cheap to clone.
#[derive(Clone)]
pub struct Watermark {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Highest fsynced index + 1 (0: none).
    synced: AtomicU64,
    /// The open file and the value last written to it.
    file: Mutex<(File, u64)>,
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::File { path: path.display().to_string(), source }
}

fn encode(v: u64) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[..8].copy_from_slice(&v.to_le_bytes());
    let crc = crc32fast::hash(&v.to_le_bytes());
    b[8..12].copy_from_slice(&crc.to_le_bytes());
    b[12..].copy_from_slice(MAGIC);
    b
}

fn decode(b: &[u8]) -> Option<u64> {
    if b.len() != LEN || &b[12..] != MAGIC {
        return None;
    }
    let v: [u8; 8] = b[..8].try_into().ok()?;
    let crc = u32::from_le_bytes(b[8..12].try_into().ok()?);
    (crc32fast::hash(&v) == crc).then_some(u64::from_le_bytes(v))
}

impl Watermark {
    /// Opens (creating) the watermark file at `path`; returns it and the index it records, if any.
    /// An unreadable record (a torn write of the file itself) is reported as `Err`.
    pub fn open(path: &Path) -> Result<(Watermark, Option<u64>), StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io(path, e))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(|e| io(path, e))?;
        let stored = if buf.is_empty() {
            0
        } else {
            decode(&buf).ok_or_else(|| StoreError::Corrupt {
                path: path.display().to_string(),
                detail: format!("the durable-index file holds {} unreadable bytes", buf.len()),
            })?
        };
        let inner = Inner {
            path: path.to_path_buf(),
            synced: AtomicU64::new(stored),
            file: Mutex::new((file, stored)),
        };
        Ok((Watermark { inner: Arc::new(inner) }, stored.checked_sub(1)))
    }

    /// Records that the log is fsynced up to `index`.
    pub fn advance(&self, index: u64) {
        self.inner.synced.fetch_max(index + 1, Ordering::AcqRel);
    }

    /// Lowers the watermark to `index` (None: empty) and writes it through before returning: called
    /// before log entries are truncated, so the file never claims more than the log holds.
    pub fn lower(&self, index: Option<u64>) -> Result<(), StoreError> {
        let v = index.map_or(0, |i| i + 1);
        let mut guard = self.inner.file.lock().unwrap_or_else(|p| p.into_inner());
        if self.inner.synced.load(Ordering::Acquire) <= v && guard.1 <= v {
            return Ok(());
        }
        self.inner.synced.store(v, Ordering::Release);
        self.inner.write(&mut guard, v)
    }

    /// Writes the current watermark to the file if it moved.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }

    /// Flushes every `FLUSH_EVERY` on a thread of its own until the last handle is dropped; a failed
    /// write is reported to `faults` (the disk is failing).
    pub fn spawn_flusher(&self, faults: Faults) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let report = faults.clone();
        let spawned = std::thread::Builder::new().name("watermark".into()).spawn(move || loop {
            std::thread::sleep(FLUSH_EVERY);
            let Some(inner) = weak.upgrade() else { return };
            if let Err(e) = inner.flush() {
                report.report("writing the durable-index file", &e);
                return;
            }
        });
        if let Err(e) = spawned {
            faults.report("starting the durable-index flusher", &e);
        }
    }
}

impl Inner {
    fn flush(&self) -> Result<(), StoreError> {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let v = self.synced.load(Ordering::Acquire);
        if v == guard.1 {
            return Ok(());
        }
        self.write(&mut guard, v)
    }

    fn write(&self, guard: &mut (File, u64), v: u64) -> Result<(), StoreError> {
        let file = &mut guard.0;
        file.seek(SeekFrom::Start(0)).map_err(|e| io(&self.path, e))?;
        file.write_all(&encode(v)).map_err(|e| io(&self.path, e))?;
        file.sync_data().map_err(|e| io(&self.path, e))?;
        guard.1 = v;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_lowers_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durable-index");
        let (w, at) = Watermark::open(&path).unwrap();
        assert_eq!(at, None);
        w.advance(41);
        w.advance(7);
        w.flush().unwrap();
        assert_eq!(Watermark::open(&path).unwrap().1, Some(41));
        w.lower(Some(30)).unwrap();
        assert_eq!(Watermark::open(&path).unwrap().1, Some(30));
        // A flush after lowering does not bring back the old value.
        w.flush().unwrap();
        assert_eq!(Watermark::open(&path).unwrap().1, Some(30));
        w.lower(None).unwrap();
        assert_eq!(Watermark::open(&path).unwrap().1, None);
    }

    #[test]
    fn a_damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("durable-index");
        let (w, _) = Watermark::open(&path).unwrap();
        w.advance(5);
        w.flush().unwrap();
        let mut b = std::fs::read(&path).unwrap();
        b[0] ^= 0xff;
        std::fs::write(&path, b).unwrap();
        assert!(matches!(Watermark::open(&path), Err(StoreError::Corrupt { .. })));
    }
}
