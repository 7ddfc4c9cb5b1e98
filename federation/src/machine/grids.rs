//! Grid boundaries in the replicated state: an import makes a new version of the node's set; a set
//! from the parent replaces the node's own when it is newer. Either way, each child is sent the part
//! under it, through the outbox, so each node holds the boundaries of its subtree.

use crate::geo::{GridMap, ImportError};
use crate::grids::{check_size, listed, placement_problems, GridSet, MapVersion};
use crate::link::{Body, Envelope};

use super::command::{invalid, GridsImport, Outcome};
use super::outbox::enqueue;
use super::store::{Change, Ctx, Rules, Store};

/// Imports `cmd.map` as a new version of this node's boundaries.
pub(super) fn import<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    cmd: &GridsImport,
) -> Result<Outcome, S::Error> {
    if let Err(r) = check_size(&cmd.map) {
        return Ok(Outcome::Refused(r));
    }
    if cmd.map.places.is_empty() {
        return Ok(Outcome::Refused(invalid("places", "the import holds no place")));
    }
    if let Err(e) = GridMap::from_stored(cmd.map.clone()) {
        let why = match e {
            ImportError::Invalid { problems } => listed(&problems),
            other => other.to_string(),
        };
        return Ok(Outcome::Refused(invalid("places", why)));
    }
    let problems = placement_problems(&cmd.map, rules);
    if !problems.is_empty() {
        return Ok(Outcome::Refused(invalid("places", listed(&problems))));
    }
    let set = GridSet {
        version: MapVersion { at: ctx.now, origin: rules.node.clone(), index: ctx.index },
        map: cmd.map.clone(),
    };
    let (version, places) = (set.version.clone(), set.map.places.len() as u64);
    keep(store, rules, ctx, set)?;
    Ok(Outcome::Imported { version, places })
}

/// A set from a node above: kept (and passed down) only if newer than what this node holds.
pub(super) fn receive<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    set: &GridSet,
) -> Result<(), S::Error> {
    if store.grid_version()?.is_some_and(|v| v >= set.version) {
        return Ok(()); // an older or repeated version: the newest wins
    }
    keep(store, rules, ctx, set.part_for(rules.node))
}

/// Stores `set` and queues each child's part.
fn keep<S: Store>(store: &mut S, rules: &Rules<'_>, ctx: Ctx, set: GridSet) -> Result<(), S::Error> {
    for child in rules.children {
        let env = Envelope {
            origin: rules.node.clone(),
            to: child.clone(),
            queued_at: ctx.now,
            body: Body::Boundaries { set: Box::new(set.part_for(child)) },
        };
        enqueue(store, rules, ctx, env)?;
    }
    store.write(Change::Grids(Box::new(set)))
}

#[cfg(test)]
#[path = "grids_tests.rs"]
mod tests;
