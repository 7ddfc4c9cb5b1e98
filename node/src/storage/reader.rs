//! Queries over the state machine: cases, a node's own and subtree statistics, the outbox, the push
//! index of tallies. Statistics come from the incrementally kept tallies and the open-deadline index,
//! never from a scan of the cases.

use std::collections::BTreeMap;
use std::sync::Arc;

use federation::access::AccessToken;
use federation::case::Case;
use federation::code::{Code, Level};
use federation::intake::apikey::ApiKey;
use federation::link::Envelope;
use federation::machine::Department;
use federation::people::{Patrol, Roster};
use federation::stats::{Counters, Report};
use federation::tally::{Freshness, Tally, TallyKey};
use rocksdb::{Direction, IteratorMode, ReadOptions, DB};

use super::grids::{GridCache, Indexed};
use super::overlay::StoredTally;
use super::{
    cf, decode, keys, Faults, StoreError, CF_CASES, CF_DUE, CF_FED, CF_OUTBOX, CF_TALLY, CF_TALLY_IDX,
};

mod tree;

pub use tree::{Lights, TreeNode};

/// Tally entries changed after a push-index position, and the position they reach.
pub type TallyBatch = (Vec<(TallyKey, Tally)>, Vec<u8>);

/// Read access to the state machine; cheap to clone. A read that finds the store damaged reports it
/// to the replica's storage-failure latch (see `faults`), which stops the replica.
#[derive(Clone)]
pub struct CaseReader {
    raw: Raw,
    faults: Faults,
    grids: GridCache,
}

/// The reads themselves.
#[derive(Clone)]
struct Raw {
    db: Arc<DB>,
    node: Code,
}

/// Filters of a case listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<String>,
    pub grid: Option<String>,
    pub category: Option<String>,
    /// Only cases this node owns (false: also read-only copies of escalated or dispatched cases).
    pub owned_only: bool,
    /// Only cases reported in `[from, before)` (milliseconds since the epoch).
    pub reported: Option<(i64, i64)>,
    /// Only cases whose grid lies within this node or grid.
    pub within: Option<Code>,
    /// Only cases whose title or address contains this, normalized by [`normalize`] (empty: any).
    pub text: String,
}

/// Search text as compared: lowercase, without white space.
pub fn normalize(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

fn text_matches(case: &Case, needle: &str) -> bool {
    needle.is_empty()
        || normalize(&case.title).contains(needle)
        || case.location.as_ref().is_some_and(|l| normalize(&l.address).contains(needle))
}

/// Statistics of a subtree, and how fresh each part is.
#[derive(Debug, Clone)]
pub struct SubtreeReport {
    pub report: Report,
    /// The freshness of every node below that has reported, plus this node itself.
    pub parts: Vec<Freshness>,
}

/// Forwards each read to `Raw`, reporting a damaged store to the latch.
macro_rules! reads {
    ($( $(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl CaseReader {
            $(
                $(#[$doc])*
                pub fn $name(&self $(, $arg: $ty)*) -> Result<$ret, StoreError> {
                    self.raw.$name($($arg),*).inspect_err(|e| {
                        if e.is_corruption() {
                            self.faults.report(concat!("reading (", stringify!($name), ")"), e);
                        }
                    })
                }
            )*
        }
    };
}

reads! {
    /// The case with `id`, owned or a read-only copy.
    fn case(&self, id: &str) -> Option<Case>;
    /// Up to `limit` cases after `after` (exclusive) matching `filter`, and whether more remain.
    fn list(&self, filter: &ListFilter, after: &str, limit: usize) -> (Vec<Case>, bool);
    /// As `list`, examining at most `budget` stored cases; returns the key to resume after when it
    /// stopped before the end (with a full page or an exhausted budget).
    fn search(&self, filter: &ListFilter, after: &str, limit: usize, budget: usize) -> (Vec<Case>, Option<String>);
    /// This node's open cases past their deadline at `now`.
    fn overdue_count(&self, now: i64) -> i64;
    /// Up to `limit` ids of this node's open cases past their deadline at `now`, oldest deadline first.
    fn overdue_cases(&self, now: i64, limit: usize) -> Vec<String>;
    /// The figures of this node's own cases reported on days `from..=to`.
    fn stats(&self, from: i64, to: i64, now: i64) -> Report;
    /// The figures of the subtree under `code`, from this node's own store, with each part's freshness.
    fn subtree(&self, code: &Code, from: i64, to: i64, now: i64) -> SubtreeReport;
    /// Every node of this node's subtree with its figures (each equal to `subtree(node)`), one pass.
    fn tree(&self, from: i64, to: i64, now: i64) -> Vec<TreeNode>;
    /// The traffic lights of this node's own open cases whose handling clock runs.
    fn own_lights(&self, now: i64, policy: &federation::deadline::DeadlinePolicy) -> Lights;
    /// Counters per report day in `from..=to` of the subtree under `code` (a node or a grid).
    fn daily(&self, code: &Code, from: i64, to: i64) -> std::collections::BTreeMap<i64, Counters>;
    /// Counters per grid of every case in this node's subtree reported on days `from..=to`.
    fn per_grid(&self, from: i64, to: i64) -> BTreeMap<String, Counters>;
    /// This node's own open cases past their deadline at `now`, per grid.
    fn overdue_by_grid(&self, now: i64) -> BTreeMap<String, i64>;
    /// The freshness of every node below that has reported.
    fn fresh_all(&self) -> Vec<Freshness>;
    /// The departments registered here.
    fn departments(&self) -> Vec<Department>;
    /// The access token with `id`.
    fn token(&self, id: &str) -> Option<AccessToken>;
    /// Every access token of this node, revoked and expired ones included.
    fn tokens(&self) -> Vec<AccessToken>;
    /// The key of an integrating system with `id`.
    fn api_key(&self, id: &str) -> Option<ApiKey>;
    /// Every key of an integrating system, revoked ones included.
    fn api_keys(&self) -> Vec<ApiKey>;
    /// The roster of grid workers this node keeps, if it has one.
    fn roster(&self) -> Option<Roster>;
    /// Every patrol of this node, in id order.
    fn patrols(&self) -> Vec<Patrol>;
    /// Up to `limit` queued messages for `peer`, in order.
    fn outbox(&self, peer: &Code, limit: usize) -> Vec<(u64, Envelope)>;
    /// How many messages wait for `peer`, and when the oldest was queued.
    fn backlog(&self, peer: &Code) -> (u64, Option<i64>);
    /// The next sequence number of the link to `peer`, and whether the link was restored from a
    /// backup and must be resequenced before it sends.
    fn link_numbering(&self, peer: &Code) -> (u64, bool);
    /// Up to `limit` tally entries changed after push-index position `after`, and the position reached.
    fn tally_changes(&self, after: &[u8], limit: usize) -> TallyBatch;
}

impl CaseReader {
    /// Reads of `db` for node `node`; damage found is reported to `faults`.
    pub fn new(db: Arc<DB>, node: Code, faults: Faults) -> CaseReader {
        CaseReader { raw: Raw { db, node }, faults, grids: GridCache::default() }
    }

    /// Reads grid boundaries through `grids` (the state machine's index).
    pub fn with_grids(mut self, grids: GridCache) -> CaseReader {
        self.grids = grids;
        self
    }

    /// Every case this node owns reported on days `from..=to` (Beijing time), read page by page: for
    /// figures of a community's own work (patrols, workers), which holds thousands of cases, not millions.
    pub fn owned_reported(&self, from: i64, to: i64) -> Result<Vec<Case>, StoreError> {
        let filter = ListFilter {
            owned_only: true,
            reported: Some((federation::stats::day_start(from), federation::stats::day_start(to + 1))),
            ..ListFilter::default()
        };
        let (mut out, mut after) = (Vec::new(), String::new());
        loop {
            let (page, more) = self.list(&filter, &after, 500)?;
            if let Some(last) = page.last() {
                after = last.id.clone();
            }
            out.extend(page);
            if !more {
                return Ok(out);
            }
        }
    }

    /// The node's grid boundaries, indexed: their version and map; none when it holds none.
    pub fn grid_map(&self) -> Result<Option<Indexed>, StoreError> {
        self.grids.map(&self.raw.db).inspect_err(|e| {
            if e.is_corruption() {
                self.faults.report("reading (grid_map)", e);
            }
        })
    }
}

impl Raw {
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
        let mode = if after.is_empty() {
            IteratorMode::Start
        } else {
            IteratorMode::From(after.as_bytes(), Direction::Forward)
        };
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf(&self.db, CF_CASES)?, mode) {
            let (k, v) = item?;
            if k.as_ref() == after.as_bytes() {
                continue;
            }
            let case: Case = decode("case", &v)?;
            if self.keeps(filter, &case) {
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(case);
            }
        }
        Ok((out, false))
    }

    pub fn search(
        &self,
        filter: &ListFilter,
        after: &str,
        limit: usize,
        budget: usize,
    ) -> Result<(Vec<Case>, Option<String>), StoreError> {
        let mode = if after.is_empty() {
            IteratorMode::Start
        } else {
            IteratorMode::From(after.as_bytes(), Direction::Forward)
        };
        let mut out = Vec::new();
        let mut seen = 0;
        let mut last = String::new();
        for item in self.db.iterator_cf(cf(&self.db, CF_CASES)?, mode) {
            let (k, v) = item?;
            if k.as_ref() == after.as_bytes() {
                continue;
            }
            if out.len() == limit || seen == budget {
                return Ok((out, Some(last)));
            }
            seen += 1;
            last = String::from_utf8_lossy(&k).into_owned();
            let case: Case = decode("case", &v)?;
            if self.keeps(filter, &case) {
                out.push(case);
            }
        }
        Ok((out, None))
    }

    fn keeps(&self, filter: &ListFilter, case: &Case) -> bool {
        filter.state.as_deref().is_none_or(|s| case.state.as_str() == s)
            && filter.grid.as_deref().is_none_or(|g| case.grid.as_str() == g)
            && filter.category.as_deref().is_none_or(|c| case.category == c)
            && (!filter.owned_only || case.owner == self.node)
            && text_matches(case, &filter.text)
            && filter.reported.is_none_or(|(from, before)| (from..before).contains(&case.reported_at))
            && filter.within.as_ref().is_none_or(|w| case.grid.is_within(w))
    }

    /// Sums the tallies whose owner lies within `code` (exactly `code` if `exact`), for days `from..=to`,
    /// restricted to `grid` if given.
    fn sum(
        &self,
        code: &Code,
        exact: bool,
        grid: Option<&Code>,
        from: i64,
        to: i64,
    ) -> Result<Counters, StoreError> {
        let prefix = if exact { keys::tally_owner_from(code, 0) } else { code.as_str().as_bytes().to_vec() };
        let start = if exact { keys::tally_owner_from(code, from) } else { prefix.clone() };
        let mut sum = Counters::default();
        for item in
            self.db.iterator_cf(cf(&self.db, CF_TALLY)?, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(&prefix[..if exact { prefix.len() - 8 } else { prefix.len() }]) {
                break;
            }
            let Some(key) = keys::parse_tally(&k) else { continue };
            if exact && key.day > to {
                break;
            }
            if key.day < from || key.day > to || grid.is_some_and(|g| *g != key.grid) {
                continue;
            }
            sum.add(&decode::<StoredTally>("tally", &v)?.tally.counters);
        }
        Ok(sum)
    }

    /// Calls `each` with every tally entry whose key starts with `prefix` (owners within a code).
    pub(super) fn each_tally(
        &self,
        prefix: &[u8],
        mut each: impl FnMut(TallyKey, Counters),
    ) -> Result<(), StoreError> {
        for item in
            self.db.iterator_cf(cf(&self.db, CF_TALLY)?, IteratorMode::From(prefix, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            let Some(key) = keys::parse_tally(&k) else { continue };
            each(key, decode::<StoredTally>("tally", &v)?.tally.counters);
        }
        Ok(())
    }

    /// Counters per report day of the subtree (or grid) at `code`, one pass over its tallies.
    pub fn daily(
        &self,
        code: &Code,
        from: i64,
        to: i64,
    ) -> Result<std::collections::BTreeMap<i64, Counters>, StoreError> {
        let grid = (code.level() == Level::Grid).then_some(code);
        let prefix = match grid {
            Some(_) => self.node.as_str().as_bytes().to_vec(),
            None => code.as_str().as_bytes().to_vec(),
        };
        let mut days = std::collections::BTreeMap::new();
        self.each_tally(&prefix, |key, counters| {
            if (from..=to).contains(&key.day) && grid.is_none_or(|g| *g == key.grid) {
                days.entry(key.day).or_insert_with(Counters::default).add(&counters);
            }
        })?;
        Ok(days)
    }

    /// Calls `each(report day, grid)` for every owned open case past its deadline at `now` (only the
    /// overdue entries of the deadline index are visited).
    fn each_overdue(&self, now: i64, mut each: impl FnMut(i64, &[u8])) -> Result<(), StoreError> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound((now.max(0) as u64).to_be_bytes().to_vec());
        for item in self.db.iterator_cf_opt(cf(&self.db, CF_DUE)?, opts, IteratorMode::Start) {
            let (_, v) = item?;
            let day = v.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes).unwrap_or(0);
            each(day, v.get(8..).unwrap_or_default());
        }
        Ok(())
    }

    /// This node's overdue open cases at `now`, reported on days `from..=to`.
    fn own_overdue(&self, grid: Option<&Code>, from: i64, to: i64, now: i64) -> Result<i64, StoreError> {
        let mut overdue = 0;
        self.each_overdue(now, |day, g| {
            if grid.is_none_or(|want| g == want.as_str().as_bytes()) && (from..=to).contains(&day) {
                overdue += 1;
            }
        })?;
        Ok(overdue)
    }

    /// This node's own open cases past their deadline at `now`, counted per grid.
    pub fn overdue_by_grid(&self, now: i64) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut out = BTreeMap::new();
        self.each_overdue(now, |_, grid| {
            *out.entry(String::from_utf8_lossy(grid).into_owned()).or_insert(0) += 1
        })?;
        Ok(out)
    }

    /// Counters per grid of every case in this node's subtree reported on days `from..=to`: one pass
    /// over the tallies (the node's own and those rolled up from below).
    pub fn per_grid(&self, from: i64, to: i64) -> Result<BTreeMap<String, Counters>, StoreError> {
        let mut grids: BTreeMap<String, Counters> = BTreeMap::new();
        self.each_tally(self.node.as_str().as_bytes(), |key, counters| {
            if (from..=to).contains(&key.day) {
                grids.entry(key.grid.as_str().to_string()).or_default().add(&counters);
            }
        })?;
        Ok(grids)
    }

    /// How many owned open cases are past their deadline at `now` (whatever their report day).
    pub fn overdue_count(&self, now: i64) -> Result<i64, StoreError> {
        self.own_overdue(None, i64::MIN, i64::MAX, now)
    }

    /// Ids of owned open cases past their deadline at `now`, oldest deadline first.
    pub fn overdue_cases(&self, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound((now.max(0) as u64).to_be_bytes().to_vec());
        let mut out = Vec::new();
        for item in self.db.iterator_cf_opt(cf(&self.db, CF_DUE)?, opts, IteratorMode::Start).take(limit) {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k[8..]).into_owned());
        }
        Ok(out)
    }

    /// Statistics of this node's own cases reported on days `from..=to`, overdue counted at `now`.
    pub fn stats(&self, from: i64, to: i64, now: i64) -> Result<Report, StoreError> {
        let sum = self.sum(&self.node, true, None, from, to)?;
        Ok(Report::new(sum, self.own_overdue(None, from, to, now)?))
    }

    /// Statistics of the subtree at `code` (a node, or a grid) from this node's store alone. Overdue
    /// counts of nodes below are as of their last rollup.
    pub fn subtree(&self, code: &Code, from: i64, to: i64, now: i64) -> Result<SubtreeReport, StoreError> {
        let grid = (code.level() == Level::Grid).then_some(code);
        // A grid's cases may be owned by any node from its community up to this one.
        let sum = match grid {
            Some(g) => self.sum(&self.node, false, Some(g), from, to)?,
            None => self.sum(code, false, None, from, to)?,
        };
        let mut parts = Vec::new();
        let mut overdue = 0;
        if grid.is_some() || self.node.is_within(code) {
            overdue += self.own_overdue(grid, from, to, now)?;
        }
        for f in self.fresh_all()? {
            if grid.is_none() && f.node.is_within(code) {
                // Overdue counts of nodes below are whole-range, as of their last rollup.
                overdue += f.overdue;
                parts.push(f);
            }
        }
        Ok(SubtreeReport { report: Report::new(sum, overdue), parts })
    }

    /// Every value in the federation column family under `prefix`.
    fn fed_values<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &[u8],
        what: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf(&self.db, CF_FED)?, IteratorMode::From(prefix, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push(decode(what, &v)?);
        }
        Ok(out)
    }

    /// Freshness of every node below, as last rolled up.
    pub fn fresh_all(&self) -> Result<Vec<Freshness>, StoreError> {
        self.fed_values(b"fresh/", "freshness")
    }

    pub fn departments(&self) -> Result<Vec<Department>, StoreError> {
        self.fed_values(b"dept/", "department")
    }

    pub fn token(&self, id: &str) -> Result<Option<AccessToken>, StoreError> {
        match self.db.get_cf(cf(&self.db, CF_FED)?, keys::fed("token", id))? {
            Some(b) => Ok(Some(decode("access token", &b)?)),
            None => Ok(None),
        }
    }

    pub fn tokens(&self) -> Result<Vec<AccessToken>, StoreError> {
        self.fed_values(b"token/", "access token")
    }

    pub fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        match self.db.get_cf(cf(&self.db, CF_FED)?, keys::fed("apikey", id))? {
            Some(b) => Ok(Some(decode("api key", &b)?)),
            None => Ok(None),
        }
    }

    pub fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.fed_values(b"apikey/", "api key")
    }

    pub fn roster(&self) -> Result<Option<Roster>, StoreError> {
        match self.db.get_cf(cf(&self.db, CF_FED)?, keys::roster())? {
            Some(b) => Ok(Some(decode("roster", &b)?)),
            None => Ok(None),
        }
    }

    pub fn patrols(&self) -> Result<Vec<Patrol>, StoreError> {
        self.fed_values(keys::PATROLS, "patrol")
    }

    /// Up to `limit` queued messages for `peer`, in order.
    pub fn outbox(&self, peer: &Code, limit: usize) -> Result<Vec<(u64, Envelope)>, StoreError> {
        let start = keys::outbox(peer, 0);
        let mut out = Vec::new();
        for item in
            self.db.iterator_cf(cf(&self.db, CF_OUTBOX)?, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(&start[..start.len() - 8]) || out.len() == limit {
                break;
            }
            let seq = keys::outbox_seq(&k).unwrap_or(0);
            out.push((seq, decode("outbox message", &v)?));
        }
        Ok(out)
    }

    /// The next sequence number of the link to `peer`, and whether it must be resequenced.
    pub fn link_numbering(&self, peer: &Code) -> Result<(u64, bool), StoreError> {
        let fed = cf(&self.db, CF_FED)?;
        let next = match self.db.get_cf(fed, keys::fed("next", peer.as_str()))? {
            Some(b) => decode("outbox sequence", &b)?,
            None => 1,
        };
        let restored: Option<federation::machine::RestoredLink> =
            match self.db.get_cf(fed, keys::fed("restored", peer.as_str()))? {
                Some(b) => Some(decode("restored link", &b)?),
                None => None,
            };
        Ok((next, restored.is_some_and(|r| r.outbox)))
    }

    /// Messages waiting for `peer`, and when the oldest was queued.
    pub fn backlog(&self, peer: &Code) -> Result<(u64, Option<i64>), StoreError> {
        let start = keys::outbox(peer, 0);
        let mut count = 0;
        let mut oldest = None;
        for item in
            self.db.iterator_cf(cf(&self.db, CF_OUTBOX)?, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            if !k.starts_with(&start[..start.len() - 8]) {
                break;
            }
            if oldest.is_none() {
                oldest = Some(decode::<Envelope>("outbox message", &v)?.queued_at);
            }
            count += 1;
        }
        Ok((count, oldest))
    }

    /// Up to `limit` tally entries changed after push-index position `after` (empty: from the
    /// start), and the position they reach. Positions are keys of the push index (local apply index,
    /// then tally key), so a batch may end inside one apply's changes and the next resumes right
    /// after it.
    pub fn tally_changes(&self, after: &[u8], limit: usize) -> Result<TallyBatch, StoreError> {
        let mut out = Vec::new();
        let mut high = after.to_vec();
        let tally_cf = cf(&self.db, CF_TALLY)?;
        let mode = IteratorMode::From(after, Direction::Forward);
        for item in self.db.iterator_cf(cf(&self.db, CF_TALLY_IDX)?, mode) {
            let (k, _) = item?;
            if k.as_ref() == after {
                continue;
            }
            if out.len() == limit {
                break;
            }
            high = k.to_vec();
            let Some(key) = k.get(8..).and_then(keys::parse_tally) else { continue };
            if let Some(v) = self.db.get_cf(tally_cf, &k[8..])? {
                out.push((key, decode::<StoredTally>("tally", &v)?.tally));
            }
        }
        Ok((out, high))
    }
}
