//! The patrol log (日巡查) in the replicated state, and reports found on a patrol.
//!
//! ```text
//! Patrol { Start { worker, grid } } ─► people::Patrol::start (worker active on this node's roster, not
//!   on another patrol; grid a unit grid of the node, on its map) ─► Change::PatrolNumber + Change::Patrol
//! Patrol { End { id, route } }      ─► people::Patrol::end (once; route in time order, inside the grid's
//!   box on the node's map + 500 m)  ─► Change::Patrol
//! Report { intake.patrol: id }      ─► people::Patrol::admits_case (a patrol of this node, same grid,
//!   during the patrol) before the case is made
//! ```
//! Times are the entry's (the leader's clock); route points keep the phone's. A refusal writes nothing.

use crate::code::Code;
use crate::geo::Crs;
use crate::people::{KnownPlaces, Patrol, PatrolError, PatrolId};
use crate::Millis;

use super::command::{invalid, Outcome, PatrolCmd, PatrolOp, Refusal};
use super::staff::refusal as roster_refusal;
use super::store::{Change, Ctx, Rules, Store};

/// The field a report names its patrol by (`ReportRequest.patrol_id`, `case report --patrol`).
pub const PATROL_FIELD: &str = "patrol_id";

/// A patrol refusal as the state machine's, naming the field at fault (`id` for the patrol ended
/// already, `worker` for a worker on another patrol, [`PATROL_FIELD`] for a case not found on it).
fn refusal(e: PatrolError) -> Refusal {
    let field = match &e {
        PatrolError::Roster(r) => return roster_refusal(r.clone()),
        PatrolError::Field(f) => return invalid(&f.field, f.reason.clone()),
        PatrolError::Ended { .. } => "id",
        PatrolError::OnPatrol { .. } => "worker",
        PatrolError::NotOnPatrol { .. } => PATROL_FIELD,
    };
    let text = e.to_string();
    let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m).to_string();
    invalid(field, message)
}

/// Applies patrol step `p`.
pub(super) fn patrol<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    p: &PatrolCmd,
) -> Result<Outcome, S::Error> {
    let done = match &p.op {
        PatrolOp::Start { worker, grid } => start(store, rules, ctx, worker, grid)?,
        PatrolOp::End { id, route } => match store.patrol(id)? {
            None => Err(unknown(rules, "id", id)),
            Some(mut patrol) => {
                let bounds = store.grid_bounds(&patrol.grid)?;
                patrol
                    .end(ctx.now, route.clone(), bounds.as_ref(), Crs::Wgs84)
                    .map_err(refusal)
                    .map(|()| patrol)
            }
        },
    };
    Ok(match done {
        Ok(patrol) => {
            store.write(Change::Patrol(Box::new(patrol.clone())))?;
            Outcome::Patrol(Box::new(patrol))
        }
        Err(r) => Outcome::Refused(r),
    })
}

fn unknown(rules: &Rules<'_>, field: &str, id: &PatrolId) -> Refusal {
    invalid(field, format!("{id} is not a patrol of node {}", rules.node))
}

/// A new patrol of `grid` by `worker`, its number taken (written) when it is accepted.
fn start<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    worker: &crate::people::WorkerId,
    grid: &Code,
) -> Result<Result<Patrol, Refusal>, S::Error> {
    let Some(roster) = store.roster()? else {
        return Ok(Err(invalid(
            "worker",
            format!(
                "node {} keeps no roster of grid workers; add them with `gridnode staff add`",
                rules.node
            ),
        )));
    };
    let map = store.places()?;
    // Without a map, the node's configured grids (if any) are the known ones.
    if map.is_none() && !rules.grids.is_empty() && !rules.grids.contains(grid) {
        return Ok(Err(invalid("grid", format!("{grid} is not a grid of node {}", rules.node))));
    }
    let known = KnownPlaces::of_map(map.as_ref());
    let number = store.patrol_number()? + 1;
    let id = match PatrolId::new("id", roster.keeper(), number) {
        Ok(id) => id,
        Err(e) => return Ok(Err(invalid("id", e.reason))),
    };
    let open = store.open_patrol(worker)?;
    Ok(match Patrol::start(&roster, open.iter(), known, id, worker, grid, ctx.now) {
        Ok(p) => {
            store.write(Change::PatrolNumber(number))?;
            Ok(p)
        }
        Err(e) => Err(refusal(e)),
    })
}

/// Checks that a case of `grid` reported `at` can have been found on patrol `id` of this node.
pub(super) fn check_found_on<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    id: &PatrolId,
    grid: &Code,
    at: Millis,
) -> Result<Result<(), Refusal>, S::Error> {
    Ok(match store.patrol(id)? {
        None => Err(unknown(rules, PATROL_FIELD, id)),
        Some(p) => p.admits_case(grid, at).map_err(refusal),
    })
}
