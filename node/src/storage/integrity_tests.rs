//! The store's checks at open, on real RocksDB files damaged the way disks and crashes damage them.

use std::path::{Path, PathBuf};

use openraft::{CommittedLeaderId, EntryPayload, RaftLogReader};

use super::integrity::{seal, STORAGE_FORMAT};
use super::log_store::LogStore;
use super::{cf, open, Store, StoreError, StoreOptions, CF_LOG, CF_RAFT};
use crate::consensus::types::{Entry, LogId, Request};

fn entry(index: u64) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Request { at: 1_795_400_000_000 + index as i64, commands: vec![] }),
    }
}

/// Appends entries `from..to` through the log store's append path, one fsynced write each.
async fn write_log(store: &Store, from: u64, to: u64) {
    let log = LogStore::new(store.db.clone(), store.watermark.clone(), super::Faults::new());
    for i in from..to {
        log.write_entries(vec![entry(i)]).unwrap();
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// Overwrites `len` bytes in the middle of `file` with garbage.
fn damage_middle(file: &Path, len: usize) {
    let mut b = std::fs::read(file).unwrap();
    let mid = b.len() / 2;
    for (i, x) in b[mid..mid + len].iter_mut().enumerate() {
        *x = (i as u8).wrapping_mul(31) ^ 0x5a;
    }
    std::fs::write(file, b).unwrap();
}

fn expect_corrupt(dir: &Path, needle: &str) -> String {
    match open(dir, &StoreOptions::default(), &super::Faults::new()) {
        Err(e @ StoreError::Corrupt { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg}");
            msg
        }
        Err(e) => panic!("expected a damaged-store error, got {e}"),
        Ok(_) => panic!("a damaged store was opened"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wal_damaged_in_the_middle_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    write_log(&store, 0, 400).await;
    drop(store);
    let wal = files(&dir.path().join("db"), "log").pop().expect("a write-ahead log");
    damage_middle(&wal, 512);
    let name = wal.file_name().unwrap().to_string_lossy().into_owned();
    let msg = expect_corrupt(dir.path(), &name);
    assert!(msg.contains("damaged"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_torn_final_record_is_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    write_log(&store, 0, 50).await;
    drop(store);
    // The torn record was never acknowledged, so the watermark never covered it.
    std::fs::remove_file(super::watermark_path(dir.path())).unwrap();
    let wal = files(&dir.path().join("db"), "log").pop().unwrap();
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&wal).unwrap().set_len(len - 7).unwrap();
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    let mut log = LogStore::new(store.db.clone(), store.watermark.clone(), super::Faults::new());
    let entries = log.try_get_log_entries(0..).await.unwrap();
    assert_eq!(entries.len(), 49, "only the torn final entry is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_shorter_than_acknowledged_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    write_log(&store, 0, 10).await;
    store.watermark.flush().unwrap();
    // Entries 6..10 vanish the way a write-ahead log replayed only up to a damaged record loses them.
    let handle = cf(&store.db, CF_LOG).unwrap();
    store.db.delete_range_cf(handle, 6u64.to_be_bytes(), 10u64.to_be_bytes()).unwrap();
    drop(store);
    expect_corrupt(dir.path(), "acknowledged entries up to index 9");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gap_or_a_bad_checksum_in_the_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    write_log(&store, 0, 10).await;
    let handle = cf(&store.db, CF_LOG).unwrap();
    store.db.delete_cf(handle, 4u64.to_be_bytes()).unwrap();
    drop(store);
    expect_corrupt(dir.path(), "index 4 is missing");

    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    write_log(&store, 0, 10).await;
    let handle = cf(&store.db, CF_LOG).unwrap();
    let mut v = seal(&entry(3)).unwrap();
    let last = v.len() - 1;
    v[last] ^= 1;
    store.db.put_cf(handle, 3u64.to_be_bytes(), v).unwrap();
    drop(store);
    expect_corrupt(dir.path(), "log entry 3: checksum mismatch");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_table_is_found_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    write_log(&store, 0, 2000).await;
    store.db.flush_cf(cf(&store.db, CF_LOG).unwrap()).unwrap();
    drop(store);
    let sst = files(&dir.path().join("db"), "sst")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a table file");
    damage_middle(&sst, 512);
    expect_corrupt(dir.path(), "damaged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_format_0_store_is_migrated_and_reads_back() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format0/data/370102001001/r1");
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    std::fs::create_dir_all(&db_dir).unwrap();
    for f in std::fs::read_dir(fixture.join("db")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), db_dir.join(f.file_name())).unwrap();
    }
    let store = open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
    let format: u32 = super::decode(
        "format",
        &store.db.get_cf(cf(&store.db, CF_RAFT).unwrap(), b"format").unwrap().unwrap(),
    )
    .unwrap();
    assert_eq!(format, STORAGE_FORMAT);
    let mut log = LogStore::new(store.db.clone(), store.watermark.clone(), super::Faults::new());
    let entries = log.try_get_log_entries(0..).await.unwrap();
    assert!(entries.len() > 20, "{} entries", entries.len());
    drop((log, store));
    // Opened again, it is already in the current format and checks clean.
    open(dir.path(), &StoreOptions::default(), &super::Faults::new()).unwrap();
}
