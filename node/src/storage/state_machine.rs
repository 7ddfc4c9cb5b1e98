//! The state machine in RocksDB (openraft's v2 `RaftStateMachine`): cases, idempotency keys, per-day
//! statistics and the open-deadline index, applied by `federation::machine` and written together with the
//! applied log id in one fsynced batch. Snapshots are a consistent copy of these column families.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use federation::case::Case;
use federation::category::Catalog;
use federation::code::Code;
use federation::deadline::DeadlinePolicy;
use federation::machine::{self, Change, Outcome, Rules};
use federation::stats::{day_of, Counters, Report};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch, DB};
use serde::{Deserialize, Serialize};

use super::{cf, decode, encode, synced, StoreError, CF_CASES, CF_DUE, CF_REQUESTS, CF_SM, CF_STATS, SM_CFS};
use crate::types::{
    Entry, LogId, Response, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const KEY_APPLIED: &[u8] = b"applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";
const KEY_SEQ: &[u8] = b"seq";

fn day_key(day: i64) -> [u8; 8] {
    (day.max(0) as u64).to_be_bytes()
}

fn due_key(due: i64, case_id: &str) -> Vec<u8> {
    let mut k = (due.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(case_id.as_bytes());
    k
}

/// What a node's state machine needs to know about the node itself.
#[derive(Debug, Clone)]
pub struct NodeRules {
    pub node: Code,
    pub policy: DeadlinePolicy,
}

impl NodeRules {
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            node: &self.node,
            policy: &self.policy,
            catalog: Catalog::standard(),
        }
    }
}

/// Read access to the state machine for queries; cheap to clone.
#[derive(Clone)]
pub struct CaseReader {
    db: Arc<DB>,
}

/// Filters of a case listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<String>,
    pub grid: Option<String>,
    pub category: Option<String>,
}

impl CaseReader {
    pub fn new(db: Arc<DB>) -> CaseReader {
        CaseReader { db }
    }

    pub fn case(&self, id: &str) -> Result<Option<Case>, StoreError> {
        match self.db.get_cf(cf(&self.db, CF_CASES)?, id.as_bytes())? {
            Some(b) => Ok(Some(decode("case", &b)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` cases after `after` (exclusive) matching `filter`, and whether more remain.
    pub fn list(
        &self,
        filter: &ListFilter,
        after: &str,
        limit: usize,
    ) -> Result<(Vec<Case>, bool), StoreError> {
        let cf = cf(&self.db, CF_CASES)?;
        let mut out = Vec::new();
        let mode = if after.is_empty() {
            IteratorMode::Start
        } else {
            IteratorMode::From(after.as_bytes(), Direction::Forward)
        };
        for item in self.db.iterator_cf(cf, mode) {
            let (k, v) = item?;
            if k.as_ref() == after.as_bytes() {
                continue;
            }
            let case: Case = decode("case", &v)?;
            let keep = filter.state.as_deref().is_none_or(|s| case.state.as_str() == s)
                && filter.grid.as_deref().is_none_or(|g| case.grid.as_str() == g)
                && filter.category.as_deref().is_none_or(|c| case.category == c);
            if keep {
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(case);
            }
        }
        Ok((out, false))
    }

    /// Statistics of the cases reported on days `from..=to`, with overdue counted at `now`.
    pub fn stats(&self, from: i64, to: i64, now: i64) -> Result<Report, StoreError> {
        let mut sum = Counters::default();
        let cf_stats = cf(&self.db, CF_STATS)?;
        let start = day_key(from);
        for item in self
            .db
            .iterator_cf(cf_stats, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            if k.as_ref() > day_key(to).as_slice() {
                break;
            }
            sum.add(&decode::<Counters>("statistics", &v)?);
        }
        // Only overdue entries are visited: the index is ordered by deadline.
        let mut overdue = 0;
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound((now.max(0) as u64).to_be_bytes().to_vec());
        for item in self
            .db
            .iterator_cf_opt(cf(&self.db, CF_DUE)?, opts, IteratorMode::Start)
        {
            let (_, v) = item?;
            let day = i64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8]));
            if (from..=to).contains(&day) {
                overdue += 1;
            }
        }
        Ok(Report::new(sum, overdue))
    }
}

/// The buffered writes of one `apply` call, visible to later commands of the same call.
struct Overlay<'a> {
    db: &'a DB,
    batch: WriteBatch,
    cases: HashMap<String, Case>,
    requests: HashMap<String, String>,
    seq: Option<u64>,
    stats: BTreeMap<i64, Counters>,
}

impl machine::Store for Overlay<'_> {
    type Error = StoreError;

    fn case(&mut self, id: &str) -> Result<Option<Case>, StoreError> {
        if let Some(c) = self.cases.get(id) {
            return Ok(Some(c.clone()));
        }
        match self.db.get_cf(cf(self.db, CF_CASES)?, id.as_bytes())? {
            Some(b) => Ok(Some(decode("case", &b)?)),
            None => Ok(None),
        }
    }

    fn request(&mut self, request_id: &str) -> Result<Option<String>, StoreError> {
        if let Some(c) = self.requests.get(request_id) {
            return Ok(Some(c.clone()));
        }
        Ok(self
            .db
            .get_cf(cf(self.db, CF_REQUESTS)?, request_id.as_bytes())?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn seq(&mut self) -> Result<u64, StoreError> {
        if let Some(s) = self.seq {
            return Ok(s);
        }
        match self.db.get_cf(cf(self.db, CF_SM)?, KEY_SEQ)? {
            Some(b) => decode("sequence", &b),
            None => Ok(0),
        }
    }

    fn write(&mut self, change: Change) -> Result<(), StoreError> {
        match change {
            Change::Case { old, new } => {
                let day = day_of(new.reported_at);
                self.stats
                    .entry(day)
                    .or_default()
                    .add(&Counters::delta(old.as_deref(), &new));
                let due_cf = cf(self.db, CF_DUE)?;
                if let Some(due) = old.as_deref().and_then(Case::open_deadline) {
                    self.batch.delete_cf(due_cf, due_key(due, &new.id));
                }
                if let Some(due) = new.open_deadline() {
                    self.batch
                        .put_cf(due_cf, due_key(due, &new.id), day.to_be_bytes());
                }
                self.batch
                    .put_cf(cf(self.db, CF_CASES)?, new.id.as_bytes(), encode("case", &new)?);
                self.cases.insert(new.id.clone(), *new);
            }
            Change::Request { request_id, case_id } => {
                self.batch.put_cf(
                    cf(self.db, CF_REQUESTS)?,
                    request_id.as_bytes(),
                    case_id.as_bytes(),
                );
                self.requests.insert(request_id, case_id);
            }
            Change::Seq(s) => {
                self.batch
                    .put_cf(cf(self.db, CF_SM)?, KEY_SEQ, encode("sequence", &s)?);
                self.seq = Some(s);
            }
        }
        Ok(())
    }
}

impl Overlay<'_> {
    /// Adds the statistics deltas to their day buckets and returns the finished batch.
    fn finish(mut self) -> Result<WriteBatch, StoreError> {
        let stats_cf = cf(self.db, CF_STATS)?;
        for (day, delta) in std::mem::take(&mut self.stats) {
            let mut bucket: Counters = match self.db.get_cf(stats_cf, day_key(day))? {
                Some(b) => decode("statistics", &b)?,
                None => Counters::default(),
            };
            bucket.add(&delta);
            self.batch
                .put_cf(stats_cf, day_key(day), encode("statistics", &bucket)?);
        }
        Ok(self.batch)
    }
}

/// A snapshot as kept on disk and sent to lagging replicas.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    /// (column family, key, value) of every state-machine entry.
    entries: Vec<(String, Vec<u8>, Vec<u8>)>,
}

/// The replica's state machine, owned by openraft.
pub struct StateMachine {
    db: Arc<DB>,
    rules: NodeRules,
    snapshot_path: PathBuf,
    applied: Option<LogId>,
    membership: StoredMembership,
    snapshots_built: u64,
}

impl StateMachine {
    /// Opens the state machine; `snapshot_dir` holds the newest snapshot file.
    pub fn open(db: Arc<DB>, rules: NodeRules, snapshot_dir: PathBuf) -> Result<StateMachine, StoreError> {
        std::fs::create_dir_all(&snapshot_dir).map_err(|source| StoreError::SnapshotFile {
            path: snapshot_dir.display().to_string(),
            source,
        })?;
        let sm_cf = cf(&db, CF_SM)?;
        let applied = match db.get_cf(sm_cf, KEY_APPLIED)? {
            Some(b) => decode("applied log id", &b)?,
            None => None,
        };
        let membership = match db.get_cf(sm_cf, KEY_MEMBERSHIP)? {
            Some(b) => decode("membership", &b)?,
            None => StoredMembership::default(),
        };
        Ok(StateMachine {
            db,
            rules,
            snapshot_path: snapshot_dir.join("snapshot.bin"),
            applied,
            membership,
            snapshots_built: 0,
        })
    }

    pub fn reader(&self) -> CaseReader {
        CaseReader::new(self.db.clone())
    }

    fn apply_entries(&mut self, entries: Vec<Entry>) -> Result<Vec<Response>, StoreError> {
        let mut overlay = Overlay {
            db: &self.db,
            batch: WriteBatch::default(),
            cases: HashMap::new(),
            requests: HashMap::new(),
            seq: None,
            stats: BTreeMap::new(),
        };
        let rules = self.rules.rules();
        let mut responses = Vec::with_capacity(entries.len());
        let mut applied = self.applied;
        let mut membership = self.membership.clone();
        for entry in entries {
            applied = Some(entry.log_id);
            let mut outcomes: Vec<Outcome> = Vec::new();
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(req) => {
                    for cmd in &req.commands {
                        outcomes.push(machine::apply(&mut overlay, &rules, req.at, cmd)?);
                    }
                }
                EntryPayload::Membership(m) => membership = StoredMembership::new(Some(entry.log_id), m),
            }
            responses.push(Response { outcomes });
        }
        let sm_cf = cf(&self.db, CF_SM)?;
        let mut batch = overlay.finish()?;
        batch.put_cf(sm_cf, KEY_APPLIED, encode("applied log id", &applied)?);
        batch.put_cf(sm_cf, KEY_MEMBERSHIP, encode("membership", &membership)?);
        self.db.write_opt(batch, &synced())?;
        self.applied = applied;
        self.membership = membership;
        Ok(responses)
    }

    /// A consistent copy of the state machine, read from one RocksDB snapshot.
    fn build(&mut self) -> Result<StoredSnapshot, StoreError> {
        let snap = self.db.snapshot();
        let mut entries = Vec::new();
        for name in SM_CFS {
            let cf = cf(&self.db, name)?;
            for item in snap.iterator_cf(cf, IteratorMode::Start) {
                let (k, v) = item?;
                entries.push((name.to_string(), k.to_vec(), v.to_vec()));
            }
        }
        let sm_cf = cf(&self.db, CF_SM)?;
        let applied: Option<LogId> = match snap.get_cf(sm_cf, KEY_APPLIED)? {
            Some(b) => decode("applied log id", &b)?,
            None => None,
        };
        let membership: StoredMembership = match snap.get_cf(sm_cf, KEY_MEMBERSHIP)? {
            Some(b) => decode("membership", &b)?,
            None => StoredMembership::default(),
        };
        self.snapshots_built += 1;
        let snapshot_id = match applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, self.snapshots_built),
            None => format!("0-0-{}", self.snapshots_built),
        };
        let stored = StoredSnapshot {
            meta: SnapshotMeta {
                last_log_id: applied,
                last_membership: membership,
                snapshot_id,
            },
            entries,
        };
        self.save(&stored)?;
        Ok(stored)
    }

    /// Writes the snapshot file atomically (temp file, fsync, rename).
    fn save(&self, s: &StoredSnapshot) -> Result<Vec<u8>, StoreError> {
        let bytes = encode("snapshot", s)?;
        let tmp = self.snapshot_path.with_extension("tmp");
        let io = |source| StoreError::SnapshotFile {
            path: tmp.display().to_string(),
            source,
        };
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.snapshot_path).map_err(io)?;
        Ok(bytes)
    }

    fn load(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        match std::fs::read(&self.snapshot_path) {
            Ok(b) => Ok(Some(decode("snapshot", &b)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::SnapshotFile {
                path: self.snapshot_path.display().to_string(),
                source,
            }),
        }
    }

    /// Replaces the whole state machine with a snapshot's content, in one fsynced batch.
    fn install(&mut self, stored: &StoredSnapshot) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for name in SM_CFS {
            let cf = cf(&self.db, name)?;
            for item in self.db.iterator_cf(cf, IteratorMode::Start) {
                let (k, _) = item?;
                batch.delete_cf(cf, k);
            }
        }
        for (name, k, v) in &stored.entries {
            let name = SM_CFS
                .into_iter()
                .find(|n| n == name)
                .ok_or(StoreError::MissingCf { name: "unknown" })?;
            batch.put_cf(cf(&self.db, name)?, k, v);
        }
        let sm_cf = cf(&self.db, CF_SM)?;
        batch.put_cf(
            sm_cf,
            KEY_APPLIED,
            encode("applied log id", &stored.meta.last_log_id)?,
        );
        batch.put_cf(
            sm_cf,
            KEY_MEMBERSHIP,
            encode("membership", &stored.meta.last_membership)?,
        );
        self.db.write_opt(batch, &synced())?;
        self.save(stored)?;
        self.applied = stored.meta.last_log_id;
        self.membership = stored.meta.last_membership.clone();
        Ok(())
    }
}

fn sm_write_err(e: StoreError) -> StorageError {
    StorageIOError::write_state_machine(&e).into()
}

fn snapshot_err(e: StoreError) -> StorageError {
    StorageIOError::write_snapshot(None, &e).into()
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let stored = tokio::task::block_in_place(|| self.build()).map_err(snapshot_err)?;
        let data = encode("snapshot", &stored).map_err(snapshot_err)?;
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        tokio::task::block_in_place(|| self.apply_entries(entries)).map_err(sm_write_err)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            sm: StateMachine {
                db: self.db.clone(),
                rules: self.rules.clone(),
                snapshot_path: self.snapshot_path.clone(),
                applied: self.applied,
                membership: self.membership.clone(),
                snapshots_built: self.snapshots_built + 1,
            },
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let mut stored: StoredSnapshot = decode("snapshot", snapshot.get_ref()).map_err(snapshot_err)?;
        stored.meta = meta.clone();
        tokio::task::block_in_place(|| self.install(&stored)).map_err(snapshot_err)
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let Some(stored) = self.load().map_err(|e| StorageIOError::read_snapshot(None, &e))? else {
            return Ok(None);
        };
        let data = encode("snapshot", &stored).map_err(snapshot_err)?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

/// Builds snapshots off the state machine's task, from a RocksDB snapshot.
pub struct SnapshotBuilder {
    sm: StateMachine,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        self.sm.build_snapshot().await
    }
}
