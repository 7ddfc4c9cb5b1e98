//! The state machine in RocksDB (openraft's v2 `RaftStateMachine`): `federation::machine` applied to an
//! overlay of the column families, written together with the applied log id in one atomic batch.
//! Snapshots are a consistent copy of the state-machine column families.
//!
//! Applied batches are not fsynced on their own: the log and the state machine share one RocksDB
//! write-ahead log, so the next fsynced log append (or vote, or purge) makes every earlier applied batch
//! durable with it. After a power loss the state machine is a consistent prefix (its applied log id is
//! in the same batch), and openraft applies the rest again from the log, which holds every
//! acknowledged entry. Installing a snapshot is still fsynced.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use federation::category::Catalog;
use federation::code::Code;
use federation::deadline::DeadlinePolicy;
use federation::intake::IntakeRules;
use federation::machine::{self, Ctx, Outcome, Rules};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use rocksdb::{IteratorMode, WriteBatch, DB};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use super::grids::GridCache;
pub use super::overlay::CaseChanged;
use super::overlay::Overlay;
use super::reader::CaseReader;
use super::{cf, decode, encode, synced, Faults, StoreError, CF_SM, SM_CFS};
use crate::consensus::types::{
    Entry, LogId, Response, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const KEY_APPLIED: &[u8] = b"applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";

/// What a node's state machine knows about the node itself (from its config; equal on every replica).
#[derive(Debug, Clone)]
pub struct NodeRules {
    pub node: Code,
    pub policy: DeadlinePolicy,
    pub parent: Option<Code>,
    pub children: Vec<Code>,
    pub grids: Vec<Code>,
    pub intake: IntakeRules,
}

impl NodeRules {
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            node: &self.node,
            policy: &self.policy,
            catalog: Catalog::standard(),
            parent: self.parent.as_ref(),
            children: &self.children,
            grids: &self.grids,
            intake: &self.intake,
        }
    }
}

/// Signals for background tasks: bumped whenever an applied entry queued a message or moved a tally;
/// every case written is announced on `cases` (bounded: a receiver that falls behind loses the oldest
/// and is told so).
#[derive(Clone)]
pub struct Signals {
    pub outbox: watch::Sender<u64>,
    pub tally: watch::Sender<u64>,
    pub cases: broadcast::Sender<CaseChanged>,
}

/// Case changes kept for slow receivers of `Signals::cases`.
const CASE_SIGNALS: usize = 1024;

impl Default for Signals {
    fn default() -> Self {
        Signals {
            outbox: watch::channel(0).0,
            tally: watch::channel(0).0,
            cases: broadcast::channel(CASE_SIGNALS).0,
        }
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
    signals: Signals,
    snapshot_path: PathBuf,
    applied: Option<LogId>,
    membership: StoredMembership,
    snapshots_built: u64,
    grids: GridCache,
}

impl StateMachine {
    /// Opens the state machine; `snapshot_dir` holds the newest snapshot file.
    pub fn open(
        db: Arc<DB>,
        rules: NodeRules,
        signals: Signals,
        snapshot_dir: PathBuf,
    ) -> Result<StateMachine, StoreError> {
        std::fs::create_dir_all(&snapshot_dir)
            .map_err(|source| StoreError::File { path: snapshot_dir.display().to_string(), source })?;
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
            signals,
            snapshot_path: snapshot_dir.join("snapshot.bin"),
            applied,
            membership,
            snapshots_built: 0,
            grids: GridCache::default(),
        })
    }

    /// Reads of this state machine's store; damage found is reported to `faults`.
    pub fn reader(&self, faults: Faults) -> CaseReader {
        CaseReader::new(self.db.clone(), self.rules.node.clone(), faults).with_grids(self.grids.clone())
    }

    fn apply_entries(&mut self, entries: Vec<Entry>) -> Result<Vec<Response>, StoreError> {
        let mut overlay = Overlay::new(&self.db, &self.grids);
        let rules = self.rules.rules();
        let mut responses = Vec::with_capacity(entries.len());
        let mut applied = self.applied;
        let mut membership = self.membership.clone();
        for entry in entries {
            applied = Some(entry.log_id);
            overlay.index = entry.log_id.index;
            let mut outcomes: Vec<Outcome> = Vec::new();
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(req) => {
                    let ctx = Ctx { now: req.at, index: entry.log_id.index };
                    for cmd in &req.commands {
                        // What a gridnode of an older protocol does with a command it does not know:
                        // it cannot decode the entry (see `crate::protocol`; only with the test switch).
                        let own = crate::protocol::announced();
                        if cmd.since() > own {
                            return Err(StoreError::Protocol {
                                index: entry.log_id.index,
                                since: cmd.since(),
                                own,
                            });
                        }
                        outcomes.push(machine::apply(&mut overlay, &rules, ctx, cmd)?);
                    }
                }
                EntryPayload::Membership(m) => membership = StoredMembership::new(Some(entry.log_id), m),
            }
            responses.push(Response { outcomes });
        }
        let touched = std::mem::take(&mut overlay.touched);
        let new_grids = overlay.new_grids.take();
        let sm_cf = cf(&self.db, CF_SM)?;
        let mut batch = overlay.into_batch()?;
        batch.put_cf(sm_cf, KEY_APPLIED, encode("applied log id", &applied)?);
        batch.put_cf(sm_cf, KEY_MEMBERSHIP, encode("membership", &membership)?);
        // Durable with the next fsynced log write (one shared WAL); see the module docs.
        self.db.write(batch)?;
        if let Some((version, map)) = new_grids {
            self.grids.put(version, map);
        }
        self.applied = applied;
        self.membership = membership;
        if touched.outbox {
            self.signals.outbox.send_modify(|n| *n += 1);
        }
        if touched.tally {
            self.signals.tally.send_modify(|n| *n += 1);
        }
        for change in touched.cases {
            // No receiver is not an error: nobody is watching.
            let _ = self.signals.cases.send(change);
        }
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
            meta: SnapshotMeta { last_log_id: applied, last_membership: membership, snapshot_id },
            entries,
        };
        self.save(&stored)?;
        Ok(stored)
    }

    /// Writes the snapshot file atomically (temp file, fsync, rename).
    fn save(&self, s: &StoredSnapshot) -> Result<Vec<u8>, StoreError> {
        let bytes = encode("snapshot", s)?;
        let tmp = self.snapshot_path.with_extension("tmp");
        let io = |source| StoreError::File { path: tmp.display().to_string(), source };
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
            Err(source) => Err(StoreError::File { path: self.snapshot_path.display().to_string(), source }),
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
            let name =
                SM_CFS.into_iter().find(|n| n == name).ok_or(StoreError::MissingCf { name: "unknown" })?;
            batch.put_cf(cf(&self.db, name)?, k, v);
        }
        let sm_cf = cf(&self.db, CF_SM)?;
        batch.put_cf(sm_cf, KEY_APPLIED, encode("applied log id", &stored.meta.last_log_id)?);
        batch.put_cf(sm_cf, KEY_MEMBERSHIP, encode("membership", &stored.meta.last_membership)?);
        self.db.write_opt(batch, &synced())?;
        self.save(stored)?;
        self.applied = stored.meta.last_log_id;
        self.membership = stored.meta.last_membership.clone();
        self.signals.outbox.send_modify(|n| *n += 1);
        self.signals.tally.send_modify(|n| *n += 1);
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
        Ok(Snapshot { meta: stored.meta, snapshot: Box::new(Cursor::new(data)) })
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
                signals: self.signals.clone(),
                snapshot_path: self.snapshot_path.clone(),
                applied: self.applied,
                membership: self.membership.clone(),
                snapshots_built: self.snapshots_built + 1,
                grids: self.grids.clone(),
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
        Ok(Some(Snapshot { meta: stored.meta, snapshot: Box::new(Cursor::new(data)) }))
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
