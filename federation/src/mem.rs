//! An in-memory `machine::Store` for unit tests and the seeded simulation.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use crate::access::AccessToken;
use crate::case::Case;
use crate::code::Code;
use crate::geo::{BBox, Crs, GridMap, Located, PlaceCode};
use crate::grids::{GridSet, MapVersion};
use crate::intake::apikey::ApiKey;
use crate::link::Envelope;
use crate::machine::{Change, Department, RestoredLink, Store};
use crate::people::{Patrol, PatrolId, Roster, WorkerId};
use crate::stats::Counters;
use crate::tally::{Freshness, Tally, TallyKey};
use crate::Millis;

#[derive(Default, Clone)]
pub struct Mem {
    pub cases: BTreeMap<String, Case>,
    pub requests: BTreeMap<String, String>,
    pub seq: u64,
    pub tallies: BTreeMap<TallyKey, Tally>,
    pub due: BTreeMap<(Millis, String), i64>,
    pub outbox: BTreeMap<(Code, u64), Envelope>,
    pub outbox_next: BTreeMap<Code, u64>,
    pub inbox: BTreeMap<Code, u64>,
    pub fresh: BTreeMap<Code, Freshness>,
    pub departments: BTreeMap<String, Department>,
    pub tokens: BTreeMap<String, AccessToken>,
    /// The node's grid boundaries and their index.
    pub grids: Option<(GridSet, GridMap)>,
    pub api_keys: BTreeMap<String, ApiKey>,
    /// The node's roster of grid workers.
    pub roster: Option<Roster>,
    /// The node's patrols, by id.
    pub patrols: BTreeMap<PatrolId, Patrol>,
    /// The last patrol number given.
    pub patrol_number: u32,
    /// The apply index the next writes are made at (as the RocksDB overlay's `index`).
    pub index: u64,
    /// The apply index that last wrote each tally (the push index of rollups).
    pub tally_local: BTreeMap<TallyKey, u64>,
    /// Links restored from a backup.
    pub restored: BTreeMap<Code, RestoredLink>,
}

impl Mem {
    /// Sum of the tallies whose owner lies within `code`.
    pub fn subtree(&self, code: &Code) -> Counters {
        let mut sum = Counters::default();
        for (k, t) in &self.tallies {
            if k.owner.is_within(code) {
                sum.add(&t.counters);
            }
        }
        sum
    }

    /// Tally entries written after apply index `since`, and the highest index among them.
    pub fn tally_changes(&self, since: u64) -> (Vec<(TallyKey, Tally)>, u64) {
        let mut high = since;
        let mut out = Vec::new();
        for (k, local) in &self.tally_local {
            if *local > since {
                high = high.max(*local);
                out.push((k.clone(), self.tallies[k].clone()));
            }
        }
        (out, high)
    }

    /// Queued messages for `peer`, in order.
    pub fn queued(&self, peer: &Code) -> Vec<(u64, Envelope)> {
        self.outbox.iter().filter(|((p, _), _)| p == peer).map(|((_, s), e)| (*s, e.clone())).collect()
    }
}

impl Store for Mem {
    type Error = Infallible;
    fn case(&mut self, id: &str) -> Result<Option<Case>, Infallible> {
        Ok(self.cases.get(id).cloned())
    }
    fn request(&mut self, r: &str) -> Result<Option<String>, Infallible> {
        Ok(self.requests.get(r).cloned())
    }
    fn seq(&mut self) -> Result<u64, Infallible> {
        Ok(self.seq)
    }
    fn tally(&mut self, key: &TallyKey) -> Result<Option<Tally>, Infallible> {
        Ok(self.tallies.get(key).cloned())
    }
    fn outbox_next(&mut self, peer: &Code) -> Result<u64, Infallible> {
        Ok(self.outbox_next.get(peer).copied().unwrap_or(1))
    }
    fn inbox_hwm(&mut self, from: &Code) -> Result<u64, Infallible> {
        Ok(self.inbox.get(from).copied().unwrap_or(0))
    }
    fn fresh(&mut self, node: &Code) -> Result<Option<Freshness>, Infallible> {
        Ok(self.fresh.get(node).cloned())
    }
    fn department(&mut self, name: &str) -> Result<Option<Department>, Infallible> {
        Ok(self.departments.get(name).cloned())
    }
    fn token(&mut self, id: &str) -> Result<Option<AccessToken>, Infallible> {
        Ok(self.tokens.get(id).cloned())
    }
    fn grid_version(&mut self) -> Result<Option<MapVersion>, Infallible> {
        Ok(self.grids.as_ref().map(|(s, _)| s.version.clone()))
    }
    fn locate(&mut self, lat: f64, lon: f64) -> Result<Option<Located>, Infallible> {
        Ok(self.grids.as_ref().and_then(|(_, m)| m.locate(lat, lon, Crs::Wgs84)))
    }
    fn api_key(&mut self, id: &str) -> Result<Option<ApiKey>, Infallible> {
        Ok(self.api_keys.get(id).cloned())
    }
    fn roster(&mut self) -> Result<Option<Roster>, Infallible> {
        Ok(self.roster.clone())
    }
    fn places(&mut self) -> Result<Option<BTreeSet<PlaceCode>>, Infallible> {
        Ok(self.grids.as_ref().map(|(_, m)| m.places().iter().map(|p| p.code().clone()).collect()))
    }
    fn grid_bounds(&mut self, grid: &Code) -> Result<Option<BBox>, Infallible> {
        Ok(self.grids.as_ref().and_then(|(_, m)| m.bounds(grid)))
    }
    fn patrol(&mut self, id: &PatrolId) -> Result<Option<Patrol>, Infallible> {
        Ok(self.patrols.get(id).cloned())
    }
    fn open_patrol(&mut self, worker: &WorkerId) -> Result<Option<Patrol>, Infallible> {
        let latest = self.patrols.values().filter(|p| &p.worker == worker).max_by_key(|p| p.started_at);
        Ok(latest.filter(|p| p.ended_at.is_none()).cloned())
    }
    fn patrol_number(&mut self) -> Result<u32, Infallible> {
        Ok(self.patrol_number)
    }
    fn queued(&mut self, peer: &Code) -> Result<Vec<(u64, Envelope)>, Infallible> {
        Ok(Mem::queued(self, peer))
    }
    fn restored(&mut self, peer: &Code) -> Result<Option<RestoredLink>, Infallible> {
        Ok(self.restored.get(peer).copied())
    }
    fn write(&mut self, c: Change) -> Result<(), Infallible> {
        match c {
            Change::Case(case) => {
                self.cases.insert(case.id.clone(), *case);
            }
            Change::DueAdd { due, case_id, day, .. } => {
                self.due.insert((due, case_id), day);
            }
            Change::DueRemove { due, case_id } => {
                self.due.remove(&(due, case_id));
            }
            Change::Request { request_id, case_id } => {
                self.requests.insert(request_id, case_id);
            }
            Change::Seq(s) => self.seq = s,
            Change::Tally { key, tally } => {
                self.tally_local.insert(key.clone(), self.index);
                self.tallies.insert(key, tally);
            }
            Change::Outbox { peer, seq, envelope } => {
                self.outbox.insert((peer, seq), *envelope);
            }
            Change::OutboxNext { peer, next } => {
                self.outbox_next.insert(peer, next);
            }
            Change::OutboxAck { peer, upto } => {
                self.outbox.retain(|(p, s), _| !(p == &peer && *s <= upto));
            }
            Change::InboxHwm { from, hwm } => {
                self.inbox.insert(from, hwm);
            }
            Change::Fresh(f) => {
                self.fresh.insert(f.node.clone(), f);
            }
            Change::Department(d) => {
                self.departments.insert(d.name.clone(), d);
            }
            Change::Token(t) => {
                self.tokens.insert(t.id.clone(), *t);
            }
            Change::Grids(set) => {
                let map = crate::grids::index(&set).unwrap_or_default();
                self.grids = Some((*set, map));
            }
            Change::Roster(r) => self.roster = Some(*r),
            Change::Patrol(p) => {
                self.patrols.insert(p.id.clone(), *p);
            }
            Change::PatrolNumber(n) => self.patrol_number = n,
            Change::ApiKey(k) => {
                self.api_keys.insert(k.id.clone(), *k);
            }
            Change::Restored { peer, link: Some(l) } => {
                self.restored.insert(peer, l);
            }
            Change::Restored { peer, link: None } => {
                self.restored.remove(&peer);
            }
        }
        Ok(())
    }
}
