//! Placing an unassigned case (待分派) on a grid: an operator decides where a point in no known grid
//! (or an address alone) belongs. The case then goes where a report on that grid would: it stays at a
//! community, and an upper node hands it down to the grid's community (精准派单).

use crate::case::AuditEntry;
use crate::code::Level;
use crate::link::{Body, Envelope};
use crate::workflow::WorkflowError;

use super::cases::put_case;
use super::command::{invalid, Outcome, Place, Refusal};
use super::outbox::{community_of, enqueue};
use super::store::{Ctx, Rules, Store};
use super::validate::{check_grid, check_short};

pub(super) fn place<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    p: &Place,
) -> Result<Outcome, S::Error> {
    let Some(case) = store.case(&p.case_id)? else {
        return Ok(Outcome::Refused(Refusal::NotFound { case: p.case_id.clone() }));
    };
    if case.owner != *rules.node {
        return Ok(Outcome::Refused(Refusal::NotOwner { case: case.id, owner: case.owner.to_string() }));
    }
    let checked = check_short("actor", &p.actor, true)
        .and_then(|()| check_short("note", &p.note, false))
        .and_then(|()| check_grid(&p.grid, rules));
    if let Err(r) = checked {
        return Ok(Outcome::Refused(r));
    }
    if let Some(expected) = p.expected_version.filter(|v| *v != case.version) {
        return Ok(Outcome::Refused(Refusal::Workflow(WorkflowError::VersionConflict {
            case: case.id,
            expected,
            actual: case.version,
        })));
    }
    if !case.is_unplaced() || case.state.is_terminal() {
        return Ok(Outcome::Refused(invalid(
            "action",
            format!("case {} is not waiting to be placed (grid {}, {})", case.id, case.grid, case.state),
        )));
    }
    let mut new = case.clone();
    new.grid = p.grid.clone();
    new.version += 1;
    let local = rules.node.level() == Level::Community;
    let note = match (local, p.note.trim()) {
        (true, "") => format!("placed on grid {}", p.grid),
        (true, n) => format!("placed on grid {}: {n}", p.grid),
        (false, "") => format!("placed on grid {}; dispatched down to {}", p.grid, community_of(&p.grid)),
        (false, n) => format!("placed on grid {}; dispatched down to {}: {n}", p.grid, community_of(&p.grid)),
    };
    new.audit.push(AuditEntry {
        at: ctx.now,
        actor: p.actor.clone(),
        action: "place".into(),
        from: Some(case.state),
        to: case.state,
        note,
        by: p.by.clone(),
    });
    if local {
        new.intake.owner_name = rules.intake.node_name.clone();
    } else {
        let owner = community_of(&p.grid);
        new.owner = owner.clone();
        new.epoch += 1;
        new.intake.owner_name.clear();
        if !new.watchers.contains(rules.node) {
            new.watchers.push(rules.node.clone());
        }
        let env = Envelope {
            origin: rules.node.clone(),
            to: owner,
            queued_at: ctx.now,
            body: Body::Transfer { case: Box::new(new.clone()) },
        };
        enqueue(store, rules, ctx, env)?;
    }
    put_case(store, rules, ctx, Some(&case), new.clone())?;
    Ok(Outcome::Acted { case: Box::new(new) })
}
