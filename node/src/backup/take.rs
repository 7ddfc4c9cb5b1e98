//! The replica's side of a backup: a RocksDB checkpoint of its store (hard links of the table files
//! plus the memtables flushed, one consistent point across the column families) in
//! `<data_dir>/backup-<id>/`, opened read-only to read the applied index it holds and to verify its
//! log, then streamed as a gzip-compressed tar with its SHA-256. The checkpoint is removed when done,
//! whether the stream finished or not.

use std::cell::Cell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;
use proto::v1::{backup_chunk::Part, BackupChunk, BackupEnd, BackupManifest};
use rocksdb::checkpoint::Checkpoint;
use rocksdb::{Options, DB};
use sha2::{Digest, Sha256};

use super::{hex, io_err, BackupError, Manifest, LAYOUT};
use crate::consensus::types::LogId;
use crate::storage::{self, integrity, CF_LOG, CF_RAFT, CF_SM, SM_CFS, STORAGE_FORMAT};

/// Bytes per streamed message.
pub const CHUNK: usize = 256 * 1024;

/// One backup at a time per replica (each holds a checkpoint on the replica's disk).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// A checkpoint on disk, removed when dropped; with what it holds.
pub struct Checkpointed {
    dir: PathBuf,
    /// The manifest, without the payload's size and checksum (known once streamed).
    pub manifest: Manifest,
    files: Vec<(String, u64)>,
}

impl Drop for Checkpointed {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove the backup checkpoint");
        }
        RUNNING.store(false, Ordering::Release);
    }
}

/// Takes a checkpoint of `db` (the store of replica `replica` of `node` in `data_dir`). Returns None
/// if a backup of this replica is already under way.
pub fn checkpoint(
    db: &DB,
    data_dir: &Path,
    node: &str,
    replica: u64,
    now_ms: i64,
) -> Result<Option<Checkpointed>, BackupError> {
    if RUNNING.swap(true, Ordering::AcqRel) {
        return Ok(None);
    }
    let dir = data_dir.join(format!("backup-{}", uuid::Uuid::new_v4().simple()));
    let mut cp = Checkpointed {
        dir: dir.clone(),
        manifest: Manifest {
            layout: LAYOUT.into(),
            node: node.into(),
            replica,
            applied_index: 0,
            applied_term: 0,
            last_log_index: 0,
            taken_at_ms: now_ms,
            taken_at: crate::cli::output::time(now_ms),
            storage_format: STORAGE_FORMAT,
            gridnode_version: crate::version::long().lines().next().unwrap_or_default().to_string(),
            store_bytes: 0,
            payload_bytes: 0,
            sha256: String::new(),
        },
        files: Vec::new(),
    };
    let failed = |source| BackupError::Checkpoint { path: dir.display().to_string(), source };
    Checkpoint::new(db).and_then(|c| c.create_checkpoint(&dir)).map_err(failed)?;
    {
        let names: Vec<&str> = [CF_LOG, CF_RAFT].into_iter().chain(SM_CFS).collect();
        let ro = DB::open_cf_for_read_only(&Options::default(), &dir, names, false).map_err(failed)?;
        let applied: Option<LogId> = match ro.get_cf(storage::cf(&ro, CF_SM)?, b"applied").map_err(failed)? {
            Some(b) => storage::decode("applied log id", &b)?,
            None => None,
        };
        let extent = integrity::check_log(&ro, &dir)?;
        cp.manifest.applied_index = applied.map_or(0, |l| l.index);
        cp.manifest.applied_term = applied.map_or(0, |l| l.leader_id.term);
        cp.manifest.last_log_index = extent.last.unwrap_or(0).max(cp.manifest.applied_index);
    }
    for entry in std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))? {
        let entry = entry.map_err(|e| io_err(&dir, e))?;
        let meta = entry.metadata().map_err(|e| io_err(&entry.path(), e))?;
        if meta.is_file() {
            cp.files.push((entry.file_name().to_string_lossy().into_owned(), meta.len()));
        }
    }
    cp.files.sort();
    cp.manifest.store_bytes = cp.files.iter().map(|(_, n)| n).sum();
    Ok(Some(cp))
}

/// The manifest's first message.
fn manifest_chunk(m: &Manifest) -> BackupChunk {
    BackupChunk {
        part: Some(Part::Manifest(BackupManifest {
            node: m.node.clone(),
            replica: m.replica,
            applied_index: m.applied_index,
            applied_term: m.applied_term,
            last_log_index: m.last_log_index,
            taken_at_ms: m.taken_at_ms,
            storage_format: m.storage_format,
            gridnode_version: m.gridnode_version.clone(),
            store_bytes: m.store_bytes,
        })),
        done_bytes: 0,
    }
}

/// Sends the compressed bytes in chunks, hashing them.
struct ChunkWriter<F: FnMut(BackupChunk) -> bool> {
    send: F,
    buf: Vec<u8>,
    hasher: Sha256,
    sent: u64,
    /// Store bytes read so far (shared with the readers).
    done: Rc<Cell<u64>>,
}

impl<F: FnMut(BackupChunk) -> bool> ChunkWriter<F> {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.hasher.update(&data);
        self.sent += data.len() as u64;
        if !(self.send)(BackupChunk { part: Some(Part::Data(data)), done_bytes: self.done.get() }) {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"));
        }
        Ok(())
    }
}

impl<F: FnMut(BackupChunk) -> bool> Write for ChunkWriter<F> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Counts what is read from a store file, for progress.
struct Counted<R> {
    inner: R,
    done: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(b)?;
        self.done.set(self.done.get() + n as u64);
        Ok(n)
    }
}

/// Streams the checkpoint through `send` (false: the receiver is gone): the manifest, the compressed
/// store, then its checksum. Blocking; run it off the async runtime.
pub fn stream(cp: Checkpointed, send: impl FnMut(BackupChunk) -> bool) -> Result<Manifest, BackupError> {
    let done = Rc::new(Cell::new(0u64));
    let mut writer = ChunkWriter {
        send,
        buf: Vec::with_capacity(CHUNK),
        hasher: Sha256::new(),
        sent: 0,
        done: done.clone(),
    };
    let gone = || BackupError::Stream { detail: "the client went away".into() };
    if !(writer.send)(manifest_chunk(&cp.manifest)) {
        return Err(gone());
    }
    let gz = GzEncoder::new(writer, Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, size) in &cp.files {
        let path = cp.dir.join(name);
        let file = std::fs::File::open(&path).map_err(|e| io_err(&path, e))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(*size);
        header.set_mode(0o600);
        header.set_mtime((cp.manifest.taken_at_ms / 1000).max(0) as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut header,
            format!("db/{name}"),
            Counted { inner: file.take(*size), done: done.clone() },
        )
        .map_err(|e| io_err(&path, e))?;
    }
    let gz = tar.into_inner().map_err(|e| io_err(&cp.dir, e))?;
    let mut writer = gz.finish().map_err(|e| io_err(&cp.dir, e))?;
    writer.flush_chunk().map_err(|e| io_err(&cp.dir, e))?;
    let mut manifest = cp.manifest.clone();
    manifest.payload_bytes = writer.sent;
    manifest.sha256 = hex(&writer.hasher.clone().finalize());
    let end = BackupChunk {
        part: Some(Part::End(BackupEnd {
            sha256: manifest.sha256.clone(),
            payload_bytes: manifest.payload_bytes,
        })),
        done_bytes: done.get(),
    };
    if !(writer.send)(end) {
        return Err(gone());
    }
    Ok(manifest)
}
