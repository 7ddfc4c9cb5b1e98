//! The figures of every node of a subtree at once, for the console's tree and wall screen: one pass
//! over the tallies instead of one `subtree` query per node. Each node's figures are exactly what
//! `subtree(node)` answers (the same tallies, the same overdue rule), so a page built from this equals
//! `gridnode stats --subtree CODE` for every node; and the traffic lights of this node's own open cases.

use std::collections::BTreeMap;

use federation::case::Case;
use federation::code::Code;
use federation::deadline::DeadlinePolicy;
use federation::light::Light;
use federation::stats::{Counters, Report};
use federation::tally::Freshness;
use rocksdb::IteratorMode;

use super::super::{cf, decode, StoreError, CF_CASES, CF_DUE};
use super::Raw;

/// One node of a subtree with its figures.
#[derive(Debug, Clone)]
pub struct TreeNode {
    pub node: Code,
    /// Its subtree's figures, equal to `subtree(node)`.
    pub report: Report,
    /// How fresh its last rollup is (None for this node itself, whose figures are live).
    pub fresh: Option<Freshness>,
}

/// Counts of traffic lights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lights {
    pub green: i64,
    pub yellow: i64,
    pub red: i64,
}

impl Raw {
    /// Every node of this node's subtree that has tallies or has rolled up, with its figures for
    /// report days `from..=to`, overdue counted at `now`; ordered by code (parents before children).
    pub fn tree(&self, from: i64, to: i64, now: i64) -> Result<Vec<TreeNode>, StoreError> {
        let mut sums: BTreeMap<Code, Counters> = BTreeMap::new();
        sums.insert(self.node.clone(), Counters::default());
        self.each_tally(self.node.as_str().as_bytes(), |key, counters| {
            if !(from..=to).contains(&key.day) {
                return;
            }
            // The tally counts for its owner and every node above it, up to this one.
            let mut at = Some(key.owner);
            while let Some(code) = at.filter(|c| c.is_within(&self.node)) {
                at = code.parent();
                sums.entry(code).or_default().add(&counters);
            }
        })?;
        let fresh = self.fresh_all()?;
        for f in &fresh {
            if f.node.is_within(&self.node) {
                sums.entry(f.node.clone()).or_default();
            }
        }
        let own_overdue = self.own_overdue(None, from, to, now)?;
        Ok(sums
            .into_iter()
            .map(|(node, sum)| {
                // As `subtree`: this node's own overdue cases, and every rolled-up part's within.
                let mut overdue = if node == self.node { own_overdue } else { 0 };
                overdue += fresh.iter().filter(|f| f.node.is_within(&node)).map(|f| f.overdue).sum::<i64>();
                let part = fresh.iter().find(|f| f.node == node).cloned();
                TreeNode { report: Report::new(sum, overdue), fresh: part, node }
            })
            .collect())
    }

    /// The traffic lights at `now` of this node's own open cases whose handling clock runs (those in the
    /// open-deadline index: dispatched or being handled).
    pub fn own_lights(&self, now: i64, policy: &DeadlinePolicy) -> Result<Lights, StoreError> {
        let mut lights = Lights::default();
        let cases = cf(&self.db, CF_CASES)?;
        for item in self.db.iterator_cf(cf(&self.db, CF_DUE)?, IteratorMode::Start) {
            let (k, _) = item?;
            let Some(id) = k.get(8..) else { continue };
            let Some(bytes) = self.db.get_cf(cases, id)? else { continue };
            match decode::<Case>("case", &bytes)?.light(now, policy) {
                Some(Light::Green) => lights.green += 1,
                Some(Light::Yellow) => lights.yellow += 1,
                Some(Light::Red) => lights.red += 1,
                None => {}
            }
        }
        Ok(lights)
    }
}
