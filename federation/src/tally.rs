//! Tallies: statistics as versioned, mergeable state, so they can roll up a hierarchy.
//!
//! A tally entry counts the cases one node owns, reported on one day, in one grid:
//! `(owner, day, grid) -> (version, Counters)`. The owner produces its entries with versions that only
//! grow (its Raft log index); every node above keeps, per key, the entry with the highest version it has
//! seen. A repeated, late or reordered rollup therefore changes nothing, and the statistics of any
//! subtree are the sum of the entries whose owner lies in it.

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::code::Code;
use crate::stats::{day_of, Counters};
use crate::Millis;

/// Whose cases, which report day, which grid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TallyKey {
    /// The node that owns the counted cases (a street or community, or the district itself).
    pub owner: Code,
    /// The day the cases were reported, in days since 1970-01-01, Beijing time (see `stats::day_of`).
    pub day: i64,
    /// The cases' 15-digit grid (an unassigned grid for cases waiting to be placed).
    pub grid: Code,
}

/// The counters of one key, with the owner's version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    /// The owner's version when it wrote this entry (its Raft log index); only grows. 0: never written.
    pub version: u64,
    /// The counts of the key's cases as of that version.
    pub counters: Counters,
}

impl Tally {
    /// Keeps `other` if it is newer; true if anything changed.
    pub fn merge(&mut self, other: &Tally) -> bool {
        if other.version > self.version {
            *self = other.clone();
            true
        } else {
            false
        }
    }
}

/// How fresh one node's part of a subtree is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    /// The node this record is about: the pushing child or a node anywhere below it.
    pub node: Code,
    /// The node's version when it produced this rollup.
    pub version: u64,
    /// When it was produced (the node's clock).
    pub produced_at: Millis,
    /// The node's overdue open cases at that moment.
    pub overdue: i64,
}

/// How a case change moves the tallies of `node`: only cases the node owns count there.
pub fn case_deltas(node: &Code, old: Option<&Case>, new: &Case) -> Vec<(TallyKey, Counters)> {
    let key = |c: &Case| TallyKey { owner: node.clone(), day: day_of(c.reported_at), grid: c.grid.clone() };
    let mut out: Vec<(TallyKey, Counters)> = Vec::new();
    let mut add = |k: TallyKey, c: Counters, sign: i64| {
        let slot = match out.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot,
            None => {
                out.push((k, Counters::default()));
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        if sign > 0 {
            slot.1.add(&c)
        } else {
            slot.1.sub(&c)
        }
    };
    if let Some(old) = old.filter(|c| c.owner == *node) {
        add(key(old), Counters::of(old), -1);
    }
    if new.owner == *node {
        add(key(new), Counters::of(new), 1);
    }
    out.retain(|(_, c)| !c.is_zero());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::tests::new_case;
    use proptest::prelude::*;

    #[test]
    fn ownership_moves_counts_between_nodes() {
        let community = Code::parse("n", "370102001001").unwrap();
        let street = Code::parse("n", "370102001").unwrap();
        let owned = new_case("c", 0);
        let mut escalated = owned.clone();
        escalated.owner = street.clone();
        let here = case_deltas(&community, Some(&owned), &escalated);
        assert_eq!(here.len(), 1);
        assert_eq!(here[0].1.total, -1);
        let there = case_deltas(&street, None, &escalated);
        assert_eq!(there[0].1.total, 1);
        assert_eq!(there[0].0.owner, street);
        // An unchanged contribution moves nothing.
        assert!(case_deltas(&community, Some(&owned), &owned).is_empty());
    }

    proptest! {
        /// Whatever order, repetition or staleness rollups arrive in, the newest version wins.
        #[test]
        fn merge_is_order_insensitive(versions in prop::collection::vec(0u64..50, 1..30), seed in any::<u64>()) {
            let tallies: Vec<Tally> = versions.iter().map(|&v| Tally {
                version: v,
                counters: Counters { total: v as i64, ..Default::default() },
            }).collect();
            let mut forward = Tally::default();
            for t in &tallies { forward.merge(t); }
            let mut shuffled = tallies.clone();
            let n = shuffled.len();
            for i in 0..n { shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n); }
            let mut other = Tally::default();
            for t in shuffled.iter().chain(tallies.iter()) { other.merge(t); }
            prop_assert_eq!(forward, other);
        }
    }
}
