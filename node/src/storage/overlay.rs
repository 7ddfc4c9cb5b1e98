//! The state machine's view of RocksDB during one `apply` call: reads see the writes of earlier commands
//! of the same call; all writes go into one batch, written (fsynced) with the applied log id.

use std::collections::{BTreeSet, HashMap};

use federation::access::AccessToken;
use federation::case::Case;
use federation::code::Code;
use federation::geo::{BBox, Located, PlaceCode};
use federation::grids::MapVersion;
use federation::intake::apikey::ApiKey;
use federation::link::Envelope;
use federation::machine::{self, Change, Department, RestoredLink};
use federation::people::{Patrol, PatrolId, Roster, WorkerId};
use federation::tally::{Freshness, Tally, TallyKey};
use rocksdb::{Direction, IteratorMode, WriteBatch, DB};
use serde::{Deserialize, Serialize};

use super::grids::{self, GridCache, Indexed};
use super::{cf, decode, encode, keys, StoreError};
use super::{CF_CASES, CF_DUE, CF_FED, CF_OUTBOX, CF_REQUESTS, CF_SM, CF_TALLY, CF_TALLY_IDX};

pub(crate) const KEY_SEQ: &[u8] = b"seq";

/// A tally as stored: the entry and the local apply index that last wrote it (its push-index key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredTally {
    pub tally: Tally,
    pub local: u64,
}

/// What an apply call changed that background tasks (and the console's live events) care about.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    pub outbox: bool,
    pub tally: bool,
    /// The cases written, in order (a case written twice appears twice).
    pub cases: Vec<CaseChanged>,
}

/// A case written by an applied entry, for live updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseChanged {
    pub id: String,
    pub state: &'static str,
    pub version: u64,
    pub owner: String,
    /// The log index of the entry that wrote it.
    pub index: u64,
}

/// One pending write: column family, key, value (None deletes).
type Op = (&'static str, Vec<u8>, Option<Vec<u8>>);

pub(crate) struct Overlay<'a> {
    db: &'a DB,
    /// The log index of the entry being applied.
    pub index: u64,
    view: HashMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    ops: Vec<Op>,
    pub touched: Touched,
    grids: &'a GridCache,
    /// Grid boundaries written in this batch, indexed (the cache takes them once the batch is written).
    pub new_grids: Option<Indexed>,
}

impl<'a> Overlay<'a> {
    pub fn new(db: &'a DB, grids: &'a GridCache) -> Overlay<'a> {
        Overlay {
            db,
            index: 0,
            view: HashMap::new(),
            ops: Vec::new(),
            touched: Touched::default(),
            grids,
            new_grids: None,
        }
    }

    fn get(&self, name: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.view.get(&(name, key.to_vec())) {
            return Ok(v.clone());
        }
        Ok(self.db.get_cf(cf(self.db, name)?, key)?)
    }

    /// The node's grid boundaries as this batch sees them.
    fn map(&self) -> Result<Option<std::sync::Arc<federation::geo::GridMap>>, StoreError> {
        Ok(match &self.new_grids {
            Some((_, m)) => Some(m.clone()),
            None => self.grids.map(self.db)?.map(|(_, m)| m),
        })
    }

    fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        name: &'static str,
        what: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        self.get(name, key)?.map(|b| decode(what, &b)).transpose()
    }

    fn set(&mut self, name: &'static str, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.view.insert((name, key.clone()), value.clone());
        self.ops.push((name, key, value));
    }

    fn put<T: Serialize>(
        &mut self,
        name: &'static str,
        what: &'static str,
        key: Vec<u8>,
        v: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode(what, v)?;
        self.set(name, key, Some(bytes));
        Ok(())
    }

    /// Deletes the outbox entries of `peer` up to `upto`, in the database and in this batch.
    fn ack_outbox(&mut self, peer: &Code, upto: u64) -> Result<(), StoreError> {
        let start = keys::outbox(peer, 0);
        let end = keys::outbox(peer, upto.saturating_add(1));
        let mut doomed = Vec::new();
        for item in
            self.db.iterator_cf(cf(self.db, CF_OUTBOX)?, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, _) = item?;
            if k.as_ref() >= end.as_slice() {
                break;
            }
            doomed.push(k.to_vec());
        }
        doomed.extend(
            self.view
                .keys()
                .filter(|(n, k)| {
                    *n == CF_OUTBOX && k.as_slice() >= start.as_slice() && k.as_slice() < end.as_slice()
                })
                .map(|(_, k)| k.clone()),
        );
        for k in doomed {
            self.set(CF_OUTBOX, k, None);
        }
        Ok(())
    }

    /// The finished batch.
    pub fn into_batch(self) -> Result<WriteBatch, StoreError> {
        let mut batch = WriteBatch::default();
        for (name, k, v) in self.ops {
            let handle = cf(self.db, name)?;
            match v {
                Some(v) => batch.put_cf(handle, k, v),
                None => batch.delete_cf(handle, k),
            }
        }
        Ok(batch)
    }
}

impl machine::Store for Overlay<'_> {
    type Error = StoreError;

    fn case(&mut self, id: &str) -> Result<Option<Case>, StoreError> {
        self.get_as(CF_CASES, "case", id.as_bytes())
    }

    fn request(&mut self, request_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(CF_REQUESTS, request_id.as_bytes())?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn seq(&mut self) -> Result<u64, StoreError> {
        Ok(self.get_as(CF_SM, "sequence", KEY_SEQ)?.unwrap_or(0))
    }

    fn tally(&mut self, key: &TallyKey) -> Result<Option<Tally>, StoreError> {
        Ok(self.get_as::<StoredTally>(CF_TALLY, "tally", &keys::tally(key))?.map(|s| s.tally))
    }

    fn outbox_next(&mut self, peer: &Code) -> Result<u64, StoreError> {
        Ok(self.get_as(CF_FED, "outbox sequence", &keys::fed("next", peer.as_str()))?.unwrap_or(1))
    }

    fn inbox_hwm(&mut self, from: &Code) -> Result<u64, StoreError> {
        Ok(self.get_as(CF_FED, "inbox sequence", &keys::fed("hwm", from.as_str()))?.unwrap_or(0))
    }

    fn fresh(&mut self, node: &Code) -> Result<Option<Freshness>, StoreError> {
        self.get_as(CF_FED, "freshness", &keys::fed("fresh", node.as_str()))
    }

    fn department(&mut self, name: &str) -> Result<Option<Department>, StoreError> {
        self.get_as(CF_FED, "department", &keys::fed("dept", name))
    }

    fn token(&mut self, id: &str) -> Result<Option<AccessToken>, StoreError> {
        self.get_as(CF_FED, "access token", &keys::fed("token", id))
    }

    fn roster(&mut self) -> Result<Option<Roster>, StoreError> {
        self.get_as(CF_FED, "roster", &keys::roster())
    }

    fn places(&mut self) -> Result<Option<BTreeSet<PlaceCode>>, StoreError> {
        Ok(self.map()?.map(|m| m.places().iter().map(|p| p.code().clone()).collect()))
    }

    fn grid_bounds(&mut self, grid: &Code) -> Result<Option<BBox>, StoreError> {
        Ok(self.map()?.and_then(|m| m.bounds(grid)))
    }

    fn patrol(&mut self, id: &PatrolId) -> Result<Option<Patrol>, StoreError> {
        self.get_as(CF_FED, "patrol", &keys::patrol(id))
    }

    fn open_patrol(&mut self, worker: &WorkerId) -> Result<Option<Patrol>, StoreError> {
        match self.get_as::<PatrolId>(CF_FED, "open patrol", &keys::open_patrol(worker))? {
            Some(id) => Ok(self.patrol(&id)?.filter(|p| p.ended_at.is_none())),
            None => Ok(None),
        }
    }

    fn patrol_number(&mut self) -> Result<u32, StoreError> {
        Ok(self.get_as(CF_FED, "patrol number", &keys::patrol_number())?.unwrap_or(0))
    }

    fn queued(&mut self, peer: &Code) -> Result<Vec<(u64, Envelope)>, StoreError> {
        let start = keys::outbox(peer, 0);
        let prefix = &start[..start.len() - 8];
        let mut merged: std::collections::BTreeMap<u64, Option<Vec<u8>>> = std::collections::BTreeMap::new();
        for item in
            self.db.iterator_cf(cf(self.db, CF_OUTBOX)?, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            merged.insert(keys::outbox_seq(&k).unwrap_or(0), Some(v.to_vec()));
        }
        for ((name, k), v) in &self.view {
            if *name == CF_OUTBOX && k.starts_with(prefix) && k.len() == start.len() {
                merged.insert(keys::outbox_seq(k).unwrap_or(0), v.clone());
            }
        }
        merged
            .into_iter()
            .filter_map(|(seq, v)| v.map(|v| (seq, v)))
            .map(|(seq, v)| Ok((seq, decode("outbox message", &v)?)))
            .collect()
    }

    fn grid_version(&mut self) -> Result<Option<MapVersion>, StoreError> {
        self.get_as(CF_FED, "grid boundaries version", &grids::version_key())
    }

    fn locate(&mut self, lat: f64, lon: f64) -> Result<Option<Located>, StoreError> {
        let map = match &self.new_grids {
            Some((_, m)) => Some(m.clone()),
            None => self.grids.map(self.db)?.map(|(_, m)| m),
        };
        Ok(map.and_then(|m| m.locate(lat, lon, federation::geo::Crs::Wgs84)))
    }

    fn api_key(&mut self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_as(CF_FED, "api key", &keys::fed("apikey", id))
    }

    fn restored(&mut self, peer: &Code) -> Result<Option<RestoredLink>, StoreError> {
        self.get_as(CF_FED, "restored link", &keys::fed("restored", peer.as_str()))
    }

    fn write(&mut self, change: Change) -> Result<(), StoreError> {
        match change {
            Change::Case(case) => {
                self.touched.cases.push(CaseChanged {
                    id: case.id.clone(),
                    state: case.state.as_str(),
                    version: case.version,
                    owner: case.owner.to_string(),
                    index: self.index,
                });
                self.put(CF_CASES, "case", case.id.as_bytes().to_vec(), &*case)?
            }
            Change::DueAdd { due, case_id, day, grid } => {
                let mut v = day.to_be_bytes().to_vec();
                v.extend_from_slice(grid.as_str().as_bytes());
                self.set(CF_DUE, keys::due(due, &case_id), Some(v))
            }
            Change::DueRemove { due, case_id } => self.set(CF_DUE, keys::due(due, &case_id), None),
            Change::Request { request_id, case_id } => {
                self.set(CF_REQUESTS, request_id.into_bytes(), Some(case_id.into_bytes()))
            }
            Change::Seq(s) => self.put(CF_SM, "sequence", KEY_SEQ.to_vec(), &s)?,
            Change::Tally { key, tally } => {
                let k = keys::tally(&key);
                if let Some(old) = self.get_as::<StoredTally>(CF_TALLY, "tally", &k)? {
                    self.set(CF_TALLY_IDX, keys::tally_index(old.local, &k), None);
                }
                self.set(CF_TALLY_IDX, keys::tally_index(self.index, &k), Some(Vec::new()));
                self.put(CF_TALLY, "tally", k, &StoredTally { tally, local: self.index })?;
                self.touched.tally = true;
            }
            Change::Outbox { peer, seq, envelope } => {
                self.put(CF_OUTBOX, "outbox message", keys::outbox(&peer, seq), &*envelope)?;
                self.touched.outbox = true;
            }
            Change::OutboxNext { peer, next } => {
                self.put(CF_FED, "outbox sequence", keys::fed("next", peer.as_str()), &next)?
            }
            Change::OutboxAck { peer, upto } => self.ack_outbox(&peer, upto)?,
            Change::InboxHwm { from, hwm } => {
                self.put(CF_FED, "inbox sequence", keys::fed("hwm", from.as_str()), &hwm)?
            }
            Change::Fresh(f) => {
                self.put(CF_FED, "freshness", keys::fed("fresh", f.node.as_str()), &f)?;
                self.touched.tally = true;
            }
            Change::Department(d) => self.put(CF_FED, "department", keys::fed("dept", &d.name), &d)?,
            Change::Token(t) => self.put(CF_FED, "access token", keys::fed("token", &t.id), &*t)?,
            Change::Grids(set) => {
                self.put(CF_FED, "grid boundaries", grids::set_key(), &*set)?;
                self.put(CF_FED, "grid boundaries version", grids::version_key(), &set.version)?;
                // The state machine checked the set; one that fails here locates nothing.
                self.new_grids = federation::grids::index(&set)
                    .ok()
                    .map(|m| (set.version.clone(), std::sync::Arc::new(m)));
            }
            Change::ApiKey(k) => self.put(CF_FED, "api key", keys::fed("apikey", &k.id), &*k)?,
            Change::Roster(r) => self.put(CF_FED, "roster", keys::roster(), &*r)?,
            Change::Patrol(p) => {
                let open = keys::open_patrol(&p.worker);
                if p.ended_at.is_none() {
                    self.put(CF_FED, "open patrol", open, &p.id)?;
                } else if self.get_as::<PatrolId>(CF_FED, "open patrol", &open)?.as_ref() == Some(&p.id) {
                    self.set(CF_FED, open, None);
                }
                self.put(CF_FED, "patrol", keys::patrol(&p.id), &*p)?
            }
            Change::PatrolNumber(n) => self.put(CF_FED, "patrol number", keys::patrol_number(), &n)?,
            Change::Restored { peer, link: Some(l) } => {
                self.put(CF_FED, "restored link", keys::fed("restored", peer.as_str()), &l)?;
                self.touched.outbox = true;
            }
            Change::Restored { peer, link: None } => {
                self.set(CF_FED, keys::fed("restored", peer.as_str()), None);
                self.touched.outbox = true;
            }
        }
        Ok(())
    }
}
