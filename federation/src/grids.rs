//! Grid boundaries as replicated state: the set a node holds for its subtree, its version, the bounds
//! on one import (it travels in one Raft entry), and the part each child receives.
//!
//! ```text
//! import at node N ─▶ GridSet { version: (time, N, log index), places } ─▶ N's state
//!                                   │ the places under each child
//!                                   ▼
//!                    child C ─▶ kept if newer than C's own ─▶ on to C's children, and so on down
//! ```
//! A node holds one set, the newest it has seen: its own import or the part of an import above it. A
//! re-import is a new version and replaces the old one everywhere below; nothing flows up. Cases keep
//! the grid they were given, whatever later imports say.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::code::{Code, Level};
use crate::geo::{GridMap, Problem, StoredMap};
use crate::machine::{invalid, Refusal, Rules};
use crate::Millis;

/// Most places (grids and micro-grids) one import may hold.
pub const MAX_PLACES: usize = 20_000;
/// Most vertices (positions of every ring) one import may hold: about 6 MB in the Raft entry.
pub const MAX_VERTICES: usize = 300_000;

/// Which import a set comes from: when (the importing leader's clock), where, and at which log index
/// there. Newer means imported later; the node and index only break ties, the same way everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapVersion {
    /// When the import was applied, by the clock of the importing node's leader.
    pub at: Millis,
    /// The node where the boundaries were imported (`gridnode grids import`).
    pub origin: Code,
    /// The Raft log index of the import entry at `origin`.
    pub index: u64,
}

impl Ord for MapVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, &self.origin, self.index).cmp(&(other.at, &other.origin, other.index))
    }
}

impl PartialOrd for MapVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The boundaries a node holds for its subtree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSet {
    /// Which import the set comes from; a set replaces the one held only if this is newer.
    pub version: MapVersion,
    /// The grids and micro-grids of the subtree, with their outlines.
    pub map: StoredMap,
}

impl GridSet {
    /// The places of this set that lie under `node`, with the same version.
    pub fn part_for(&self, node: &Code) -> GridSet {
        GridSet {
            version: self.version.clone(),
            map: StoredMap {
                places: self.map.places.iter().filter(|p| p.code.grid().is_within(node)).cloned().collect(),
            },
        }
    }
}

/// Number of positions of every ring of every place.
pub fn vertices(map: &StoredMap) -> usize {
    map.places.iter().flat_map(|p| &p.outline.0).flatten().map(Vec::len).sum()
}

/// The bounds of one import, naming the count at fault.
pub fn check_size(map: &StoredMap) -> Result<(), Refusal> {
    if map.places.len() > MAX_PLACES {
        return Err(invalid(
            "places",
            format!(
                "{} places in one import; at most {MAX_PLACES}: import each street's grids at its street node",
                map.places.len()
            ),
        ));
    }
    let v = vertices(map);
    if v > MAX_VERTICES {
        return Err(invalid(
            "places",
            format!(
                "{v} vertices in one import; at most {MAX_VERTICES}: simplify the outlines or import each \
                 street's grids at its street node"
            ),
        ));
    }
    Ok(())
}

/// Lines of a problem list given in one refusal.
const LISTED: usize = 50;

/// The problems of an import as one refusal's text: a count, then one line each (the first 50).
pub fn listed(problems: &[Problem]) -> String {
    let mut out = format!("{} problem(s), nothing imported:", problems.len());
    for p in problems.iter().take(LISTED) {
        out.push_str(&format!("\n  {p}"));
    }
    if problems.len() > LISTED {
        out.push_str(&format!("\n  ... and {} more", problems.len() - LISTED));
    }
    out
}

/// Every place of `map` that node `rules.node` cannot hold: not under it, numbered 000 (reserved for
/// unassigned cases), unknown to its configured grids, or in a community no configured child leads to.
pub fn placement_problems(map: &StoredMap, rules: &Rules<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, place) in map.places.iter().enumerate() {
        let grid = place.code.grid();
        let problem = |reason: String| Problem { feature: i, code: Some(place.code.to_string()), reason };
        if !grid.is_within(rules.node) {
            out.push(problem(format!("grid {grid} is not under node {}", rules.node)));
        } else if grid.is_unassigned_grid() {
            out.push(problem("grid number 000 is reserved for cases waiting to be placed".into()));
        } else if !rules.grids.is_empty() && !rules.grids.contains(grid) {
            out.push(problem(format!(
                "grid {grid} is not among the grids configured for node {}",
                rules.node
            )));
        } else if rules.node.level() != Level::Community {
            let community = grid.parent().unwrap_or_else(|| grid.clone());
            if crate::machine::route(rules, &community).is_none() {
                out.push(problem(format!(
                    "no configured child of {} leads to community {community}",
                    rules.node
                )));
            }
        }
    }
    out
}

/// The map of a stored set, checked place by place; a set that fails (which only a damaged store or
/// a change of the checks can cause) locates nothing.
pub fn index(set: &GridSet) -> Result<GridMap, crate::geo::ImportError> {
    GridMap::from_stored(set.map.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::{ImportOptions, StoredPlace};

    const FIXTURE: &str = include_str!("../tests/data/lixia_grids.geojson");

    fn code(s: &str) -> Code {
        Code::parse("c", s).unwrap()
    }

    fn set(at: Millis, origin: &str) -> GridSet {
        let map = GridMap::import(FIXTURE, &ImportOptions::default()).unwrap().to_stored();
        GridSet { version: MapVersion { at, origin: code(origin), index: 7 }, map }
    }

    #[test]
    fn newer_means_imported_later_then_by_node_and_index() {
        let v = |at, origin: &str, index| MapVersion { at, origin: code(origin), index };
        assert!(v(2, "370102", 1) > v(1, "370102001", 9));
        assert!(v(1, "370102001", 1) > v(1, "370102", 9));
        assert!(v(1, "370102", 2) > v(1, "370102", 1));
    }

    #[test]
    fn each_child_gets_the_places_under_it() {
        let s = set(1, "370102");
        assert_eq!(s.part_for(&code("370102001")).map.places.len(), 10);
        assert_eq!(s.part_for(&code("370102001001")).map.places.len(), 10);
        assert!(s.part_for(&code("370102001002")).map.places.is_empty());
        assert_eq!(s.part_for(&code("370102001002")).version, s.version);
        assert_eq!(vertices(&s.map), s.map.places.iter().map(|p| p.outline.0[0][0].len()).sum::<usize>());
    }

    #[test]
    fn imports_are_bounded_with_the_count_named() {
        let s = set(1, "370102");
        check_size(&s.map).unwrap();
        let many = StoredMap { places: vec![s.map.places[0].clone(); MAX_PLACES + 1] };
        let e = check_size(&many).unwrap_err().to_string();
        assert!(e.starts_with("places: 20001 places in one import"), "{e}");
        let mut big: StoredPlace = s.map.places[0].clone();
        let ring = big.outline.0[0][0].clone();
        big.outline.0[0][0] = ring.iter().cycle().take(MAX_VERTICES + 1).copied().collect();
        let e = check_size(&StoredMap { places: vec![big] }).unwrap_err().to_string();
        assert!(e.contains("vertices in one import"), "{e}");
    }
}
