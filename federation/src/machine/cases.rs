//! Writing a case: its tallies and its entry in the open-deadline index move with it.

use crate::case::Case;
use crate::stats::day_of;
use crate::tally::case_deltas;

use super::store::{Change, Ctx, Rules, Store};

/// Stores `new` (replacing `old`), moving this node's tallies and open-deadline index.
pub(crate) fn put_case<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    old: Option<&Case>,
    new: Case,
) -> Result<(), S::Error> {
    let node = rules.node;
    for (key, delta) in case_deltas(node, old, &new) {
        let mut tally = store.tally(&key)?.unwrap_or_default();
        tally.counters.add(&delta);
        tally.version = ctx.index;
        store.write(Change::Tally { key, tally })?;
    }
    let due = |c: &Case| if c.owner == *node { c.open_deadline() } else { None };
    let old_due = old.and_then(due);
    let new_due = due(&new);
    if old_due != new_due {
        if let Some(d) = old_due {
            store.write(Change::DueRemove { due: d, case_id: new.id.clone() })?;
        }
        if let Some(d) = new_due {
            store.write(Change::DueAdd {
                due: d,
                case_id: new.id.clone(),
                day: day_of(new.reported_at),
                grid: new.grid.clone(),
            })?;
        }
    }
    store.write(Change::Case(Box::new(new)))
}
