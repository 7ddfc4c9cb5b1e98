//! The roster of grid workers (网格员名册) in the replicated state, and dispatch by it (精准派单).
//!
//! ```text
//! Staff { Add | Assign | Unassign | Deactivate | Reactivate | Import }
//!   └─► people::Roster checks (ids, roles, places within the node, on its map) ─► Change::Roster
//! Act dispatch --to-worker auto ─► people::choose_worker(roster, case's micro-grid or grid)
//!                                   └─► handler = the worker's id, the reason in the audit note
//! Act dispatch --to-worker W…   ─► must be an active worker of this node's roster
//! ```
//! Only a community or a street (for its own staff) keeps a roster. A refused change changes
//! nothing, an import included: its every refused row is named in one refusal.

use std::collections::BTreeSet;

use crate::case::{Case, Handler, HandlerKind};
use crate::geo::PlaceCode;
use crate::people::{choose_worker, import_workers, KnownPlaces, Roster, RosterError, WorkerId};

use super::command::{invalid, Outcome, Refusal, Staff, StaffOp, AUTO_WORKER};
use super::store::{Change, Rules, Store};

/// A roster refusal as the state machine's, naming the same field.
pub(super) fn refusal(e: RosterError) -> Refusal {
    let field = e.field().to_string();
    let text = e.to_string();
    let message = text.strip_prefix(&format!("{field}: ")).unwrap_or(&text).to_string();
    invalid(&field, message)
}

/// The roster this node keeps (an empty one before the first change), or why it keeps none.
fn roster_of<S: Store>(store: &mut S, rules: &Rules<'_>) -> Result<Result<Roster, Refusal>, S::Error> {
    Ok(match store.roster()? {
        Some(r) => Ok(r),
        None => Roster::new(rules.node.clone()).map_err(refusal),
    })
}

/// Checks `places` against the node's known unit grids when it has no map (with a map, the roster
/// checks them against the map).
fn check_known_grids(rules: &Rules<'_>, places: &[PlaceCode], field: &str) -> Result<(), Refusal> {
    if rules.grids.is_empty() {
        return Ok(());
    }
    for (i, p) in places.iter().enumerate() {
        if !rules.grids.contains(p.grid()) {
            return Err(invalid(
                &format!("{field}[{i}]"),
                format!("{} is not a grid of node {}", p.grid(), rules.node),
            ));
        }
    }
    Ok(())
}

/// Applies roster change `s`.
pub(super) fn staff<S: Store>(store: &mut S, rules: &Rules<'_>, s: &Staff) -> Result<Outcome, S::Error> {
    let mut roster = match roster_of(store, rules)? {
        Ok(r) => r,
        Err(r) => return Ok(Outcome::Refused(r)),
    };
    let map = store.places()?;
    let known = KnownPlaces::of_map(map.as_ref());
    let touched = match change(&mut roster, rules, &s.op, known, map.is_none()) {
        Ok(t) => t,
        Err(r) => return Ok(Outcome::Refused(r)),
    };
    let workers = touched.iter().filter_map(|id| roster.get(id).cloned()).collect();
    store.write(Change::Roster(Box::new(roster)))?;
    Ok(Outcome::Staff(workers))
}

/// Makes `op` on `roster`; the ids of the workers it touched.
fn change(
    roster: &mut Roster,
    rules: &Rules<'_>,
    op: &StaffOp,
    known: KnownPlaces<'_>,
    no_map: bool,
) -> Result<Vec<WorkerId>, Refusal> {
    let grids = |places: &[PlaceCode], field: &str| {
        if no_map {
            check_known_grids(rules, places, field)
        } else {
            Ok(())
        }
    };
    match op {
        StaffOp::Add { name, role, phone, places } => {
            grids(places, "places")?;
            let id = roster.next_id().map_err(refusal)?;
            let worker = crate::people::Worker {
                id: id.clone(),
                name: name.trim().to_string(),
                role: *role,
                phone: phone.clone(),
                places: places.iter().cloned().collect(),
                active: true,
            };
            roster.add(worker, known).map_err(refusal)?;
            Ok(vec![id])
        }
        StaffOp::Assign { id, places } => {
            if places.is_empty() {
                return Err(invalid("places", "name at least one grid or micro-grid to assign"));
            }
            grids(places, "places")?;
            roster.assign(id, places, known).map_err(refusal)?;
            Ok(vec![id.clone()])
        }
        StaffOp::Unassign { id, place } => {
            roster.unassign(id, place).map_err(refusal)?;
            Ok(vec![id.clone()])
        }
        StaffOp::Deactivate { id } => {
            roster.deactivate(id).map_err(refusal)?;
            Ok(vec![id.clone()])
        }
        StaffOp::Reactivate { id } => {
            roster.reactivate(id).map_err(refusal)?;
            Ok(vec![id.clone()])
        }
        StaffOp::Import { rows } => {
            let next = import_workers(roster, rows, known).map_err(|errors| {
                let listed: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                invalid(
                    "rows",
                    format!("{} row(s) refused, nothing imported:\n{}", errors.len(), listed.join("\n")),
                )
            })?;
            let places: Vec<PlaceCode> = next.workers().flat_map(|w| w.places.iter().cloned()).collect();
            grids(&places, "rows.负责网格")?;
            let changed: BTreeSet<WorkerId> =
                next.workers().filter(|w| roster.get(&w.id) != Some(*w)).map(|w| w.id.clone()).collect();
            *roster = next;
            Ok(changed.into_iter().collect())
        }
    }
}

/// A dispatch resolved through the roster: the handler, and the reason for the audit note.
pub(super) type Resolved = (Handler, String);

/// The handler a dispatch to a grid worker really goes to: `auto` becomes the worker the roster
/// picks for the case's place (with the reason, for the audit note); a worker id must be an active
/// worker of this node's roster; any other name (a free-text handler, as before rosters) passes.
pub(super) fn resolve_worker<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    case: &Case,
    handler: &Handler,
) -> Result<Result<Option<Resolved>, Refusal>, S::Error> {
    if handler.kind != HandlerKind::GridWorker {
        return Ok(Ok(None));
    }
    let by_id = WorkerId::parse("handler.name", &handler.name).ok();
    if handler.name != AUTO_WORKER && by_id.is_none() {
        return Ok(Ok(None));
    }
    let roster = match store.roster()? {
        Some(r) => r,
        None => {
            return Ok(Err(invalid(
                "handler.name",
                format!(
                    "node {} keeps no roster of grid workers; add them with `gridnode staff add`",
                    rules.node
                ),
            )))
        }
    };
    Ok(match by_id {
        Some(id) => match roster.active("handler.name", &id) {
            Ok(w) => Ok(Some((handler.clone(), format!("派单 {} {} ({})", w.id, w.name, w.role.zh())))),
            Err(e) => Err(refusal(e)),
        },
        None => {
            let place = match case.place() {
                Ok(p) => p,
                Err(e) => return Ok(Err(invalid("grid", e.to_string()))),
            };
            match choose_worker(&roster, &place) {
                Ok(choice) => {
                    let name = roster.get(&choice.worker).map(|w| w.name.as_str()).unwrap_or_default();
                    Ok(Some((choice.handler(), choice.reason(name))))
                }
                Err(e) => {
                    let text = e.to_string();
                    Err(invalid("handler.name", text.strip_prefix("place: ").unwrap_or(&text)))
                }
            }
        }
    })
}
