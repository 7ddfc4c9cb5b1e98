//! A child's rollup: newer tally versions replace older ones (repeats and late arrivals change
//! nothing); freshness of each node below is kept.

use crate::code::Code;
use crate::tally::{Freshness, Tally, TallyKey};

use super::command::{Outcome, Refusal};
use super::store::{Change, Rules, Store};

pub(crate) fn rollup<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    from: &Code,
    entries: &[(TallyKey, Tally)],
    fresh: &[Freshness],
) -> Result<Outcome, S::Error> {
    if !rules.children.contains(from) {
        return Ok(Outcome::Refused(Refusal::NotNeighbour { from: from.to_string() }));
    }
    for (key, tally) in entries {
        if !key.owner.is_within(from) {
            continue; // a child speaks only for its own subtree
        }
        let mut current = store.tally(key)?.unwrap_or_default();
        if current.merge(tally) {
            store.write(Change::Tally { key: key.clone(), tally: current })?;
        }
    }
    for f in fresh {
        if !f.node.is_within(from) {
            continue;
        }
        let newer = store
            .fresh(&f.node)?
            .is_none_or(|old| f.version > old.version || f.produced_at > old.produced_at);
        if newer {
            store.write(Change::Fresh(f.clone()))?;
        }
    }
    Ok(Outcome::Done)
}
