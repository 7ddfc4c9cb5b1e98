//! The backup file on the operator's side. Writing: the compressed store streams into a temp file
//! beside FILE behind a placeholder tar header that is filled in once its size is known, then the
//! manifest is appended and the temp file fsynced and renamed over FILE. Reading: every byte of the
//! store is hashed and the manifest checked before anything is extracted.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::{hex, io_err, sync_dir, BackupError, Manifest, LAYOUT, MANIFEST, PAYLOAD};
use crate::storage::STORAGE_FORMAT;

/// Largest manifest read (it is a few hundred bytes).
const MAX_MANIFEST: u64 = 64 * 1024;

/// A backup file being written; removed unless finished.
pub struct BackupWriter {
    target: PathBuf,
    temp: PathBuf,
    file: File,
    hasher: Sha256,
    bytes: u64,
    done: bool,
}

fn header(name: &str, size: u64, mtime_ms: i64) -> Result<tar::Header, std::io::Error> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime((mtime_ms / 1000).max(0) as u64);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

impl BackupWriter {
    /// Starts writing the backup file `target` (through a temp file beside it).
    pub fn create(target: &Path) -> Result<BackupWriter, BackupError> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = target.with_file_name(format!(".{name}.part-{}", std::process::id()));
        let mut file = File::create(&temp).map_err(|e| io_err(&temp, e))?;
        // The payload's header, written for real once its size is known.
        file.write_all(&[0u8; 512]).map_err(|e| io_err(&temp, e))?;
        Ok(BackupWriter {
            target: target.to_path_buf(),
            temp,
            file,
            hasher: Sha256::new(),
            bytes: 0,
            done: false,
        })
    }

    /// Appends compressed store bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), BackupError> {
        self.file.write_all(data).map_err(|e| io_err(&self.temp, e))?;
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Compressed bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Checks the stream's end against what arrived, completes the file with `manifest` (its checksum
    /// and size filled in) and renames it into place.
    pub fn finish(
        mut self,
        mut manifest: Manifest,
        sha256: &str,
        payload_bytes: u64,
    ) -> Result<Manifest, BackupError> {
        let found = hex(&self.hasher.clone().finalize());
        if found != sha256 || payload_bytes != self.bytes {
            return Err(BackupError::Stream {
                detail: format!(
                    "the node sent {payload_bytes} bytes with SHA-256 {sha256}, {} bytes with SHA-256 {found} arrived",
                    self.bytes
                ),
            });
        }
        manifest.payload_bytes = self.bytes;
        manifest.sha256 = found;
        let temp = self.temp.clone();
        let io = |e| io_err(&temp, e);
        let pad = (512 - self.bytes % 512) % 512;
        self.file.write_all(&vec![0u8; pad as usize]).map_err(io)?;
        let h = header(PAYLOAD, self.bytes, manifest.taken_at_ms).map_err(io)?;
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.write_all(h.as_bytes()).map_err(io)?;
        self.file.seek(SeekFrom::End(0)).map_err(io)?;
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BackupError::Stream { detail: format!("manifest: {e}") })?;
        let file = self.file.try_clone().map_err(io)?;
        let mut tar = tar::Builder::new(file);
        let mut h = header(MANIFEST, json.len() as u64, manifest.taken_at_ms).map_err(io)?;
        tar.append_data(&mut h, MANIFEST, &json[..]).map_err(io)?;
        let file = tar.into_inner().map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&self.temp, &self.target).map_err(|e| io_err(&self.target, e))?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir)?;
        }
        self.done = true;
        Ok(manifest)
    }
}

impl Drop for BackupWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn truncated(path: &Path, detail: impl Into<String>) -> BackupError {
    BackupError::Truncated { path: path.display().to_string(), detail: detail.into() }
}

fn damaged(path: &Path, detail: impl Into<String>) -> BackupError {
    BackupError::Damaged { path: path.display().to_string(), detail: detail.into() }
}

/// An error reading the archive: an early end is truncation, anything else damage.
fn read_err(path: &Path, what: &str, e: std::io::Error) -> BackupError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        truncated(path, format!("it ends inside {what}"))
    } else {
        damaged(path, format!("{what}: {e}"))
    }
}

/// Reads the whole file: hashes the store, reads the manifest, and checks the layout, checksum, size
/// and storage format. Changes nothing.
pub fn verify(path: &Path) -> Result<Manifest, BackupError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let len = file.metadata().map_err(|e| io_err(path, e))?.len();
    if len < 512 {
        return Err(truncated(path, format!("it has {len} bytes, less than one tar header")));
    }
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let entries = archive.entries().map_err(|e| read_err(path, "the archive", e))?;
    let mut payload: Option<(String, u64)> = None;
    let mut manifest: Option<Manifest> = None;
    for entry in entries {
        let mut entry = entry.map_err(|e| read_err(path, "a tar header", e))?;
        let name = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let size = entry.header().size().map_err(|e| damaged(path, format!("{name}: {e}")))?;
        match name.as_str() {
            PAYLOAD => {
                let mut hasher = Sha256::new();
                let mut buf = vec![0u8; 1 << 16];
                let mut n = 0u64;
                loop {
                    let k = entry.read(&mut buf).map_err(|e| read_err(path, PAYLOAD, e))?;
                    if k == 0 {
                        break;
                    }
                    hasher.update(&buf[..k]);
                    n += k as u64;
                }
                if n != size {
                    return Err(truncated(
                        path,
                        format!("{PAYLOAD} should have {size} bytes, {n} are there"),
                    ));
                }
                payload = Some((hex(&hasher.finalize()), n));
            }
            MANIFEST => {
                if size > MAX_MANIFEST {
                    return Err(damaged(path, format!("{MANIFEST} has {size} bytes")));
                }
                let mut text = Vec::new();
                entry.read_to_end(&mut text).map_err(|e| read_err(path, MANIFEST, e))?;
                if (text.len() as u64) < size {
                    return Err(truncated(path, format!("it ends inside {MANIFEST}")));
                }
                manifest = Some(
                    serde_json::from_slice(&text).map_err(|e| damaged(path, format!("{MANIFEST}: {e}")))?,
                );
            }
            other => return Err(damaged(path, format!("unexpected member {other:?}"))),
        }
    }
    let Some((found, bytes)) = payload else {
        return Err(truncated(path, format!("{PAYLOAD} is missing")));
    };
    let Some(manifest) = manifest else {
        return Err(truncated(path, format!("{MANIFEST} is missing (it is written last)")));
    };
    if manifest.layout != LAYOUT {
        return Err(damaged(path, format!("layout {:?}, this gridnode reads {LAYOUT:?}", manifest.layout)));
    }
    if found != manifest.sha256 || bytes != manifest.payload_bytes {
        return Err(BackupError::Checksum {
            path: path.display().to_string(),
            expected: format!("{} ({} bytes)", manifest.sha256, manifest.payload_bytes),
            found: format!("{found} ({bytes} bytes)"),
        });
    }
    if manifest.storage_format > STORAGE_FORMAT {
        return Err(BackupError::Format {
            path: path.display().to_string(),
            found: manifest.storage_format,
            supported: STORAGE_FORMAT,
            version: manifest.gridnode_version.clone(),
        });
    }
    Ok(manifest)
}

/// Extracts the store of a verified backup file into `dest` (which gets `db/`). Only regular files
/// under `db/` are accepted.
pub fn extract(path: &Path, dest: &Path) -> Result<(), BackupError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let mut entries = archive.entries().map_err(|e| read_err(path, "the archive", e))?;
    let entry = match entries.next() {
        Some(e) => e.map_err(|e| read_err(path, "a tar header", e))?,
        None => return Err(truncated(path, "it is empty")),
    };
    if entry.path().map(|p| p.to_string_lossy() != PAYLOAD).unwrap_or(true) {
        return Err(damaged(path, format!("the first member is not {PAYLOAD}")));
    }
    let mut inner = tar::Archive::new(GzDecoder::new(entry));
    for item in inner.entries().map_err(|e| read_err(path, PAYLOAD, e))? {
        let mut item = item.map_err(|e| read_err(path, PAYLOAD, e))?;
        let name = item.path().map(|p| p.to_path_buf()).map_err(|e| damaged(path, e.to_string()))?;
        let ok = item.header().entry_type() == tar::EntryType::Regular
            && name.starts_with("db")
            && name.components().count() == 2;
        if !ok {
            return Err(damaged(path, format!("unexpected member {} in {PAYLOAD}", name.display())));
        }
        item.unpack_in(dest).map_err(|e| read_err(path, PAYLOAD, e))?;
    }
    Ok(())
}
