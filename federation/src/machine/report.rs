//! 上报: a new case. A community owns what it takes in; an upper node routes it down to the grid's
//! community (精准派单). A case reported by place (no grid, a point) is located on the node's grid
//! boundaries first, micro-grid first; a point in no grid is refused naming it, or parked at this node
//! unassigned (待分派) when its rules say so. A retried report (same request id) returns the first case.

use crate::case::{Case, CaseState};
use crate::code::{Code, Level};
use crate::geo::PlaceCode;
use crate::intake::Unlocated;
use crate::link::{Body, Envelope};
use crate::stats::{day_of, format_day};

use super::cases::put_case;
use super::command::{invalid, NewCase, Outcome, Refusal};
use super::outbox::{community_of, enqueue};
use super::patrol::check_found_on;
use super::store::{Change, Ctx, Rules, Store};
use super::validate::check_grid;

/// Where a new case goes: its grid, the micro-grid its point lies in, and whether it waits unassigned.
struct Placed {
    grid: Code,
    micro: Option<PlaceCode>,
    parked: bool,
}

/// The grid of a new case: the one given, or the one its point lies in.
fn place<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    new: &NewCase,
) -> Result<Result<Placed, Refusal>, S::Error> {
    if let Some(grid) = &new.grid {
        return Ok(check_grid(grid, rules).map(|()| Placed {
            grid: grid.clone(),
            micro: None,
            parked: false,
        }));
    }
    let (why, located) = match new.point() {
        Some((lat, lon)) => {
            let why = format!("point ({lat}, {lon}) (WGS-84) lies in no grid of node {}", rules.node);
            let why = match store.grid_version()? {
                None => format!("{why}: it holds no grid boundaries (gridnode grids import)"),
                Some(_) => why,
            };
            (why, store.locate(lat, lon)?)
        }
        None => ("the report has an address but no point (lat and lon) to locate it by".to_string(), None),
    };
    Ok(match (located, rules.intake.unlocated) {
        (Some(l), _) => {
            let within = match &new.within {
                Some(w) if !l.grid.is_within(w) => Err(invalid(
                    "location",
                    format!("the point lies in grid {}, outside {w}, where this sender may report", l.grid),
                )),
                _ => Ok(()),
            };
            within.and_then(|()| check_grid(&l.grid, rules)).map(|()| Placed {
                grid: l.grid,
                micro: l.micro,
                parked: false,
            })
        }
        (None, Unlocated::Refuse) => Err(invalid("location", why)),
        (None, Unlocated::Park) => {
            Ok(Placed { grid: rules.node.unassigned_grid(), micro: None, parked: true })
        }
    })
}

pub(crate) fn report<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    new: &NewCase,
) -> Result<Outcome, S::Error> {
    if let Some(rid) = &new.request_id {
        if let Some(existing) = store.request(rid)? {
            if let Some(case) = store.case(&existing)? {
                return Ok(Outcome::Reported { case: Box::new(case), duplicate: true });
            }
        }
    }
    if let Err(refusal) = new.validate_fields(rules) {
        return Ok(Outcome::Refused(refusal));
    }
    let placed = match place(store, rules, new)? {
        Ok(p) => p,
        Err(refusal) => return Ok(Outcome::Refused(refusal)),
    };
    if let (Some(w), false) = (&new.within, placed.parked) {
        if !placed.grid.is_within(w) {
            return Ok(Outcome::Refused(invalid(
                "grid",
                format!("{} is outside {w}, where this sender may report", placed.grid),
            )));
        }
    }
    if let Some(patrol) = &new.intake.patrol {
        if let Err(refusal) = check_found_on(store, rules, patrol, &placed.grid, ctx.now)? {
            return Ok(Outcome::Refused(refusal));
        }
    }
    let day = format_day(day_of(ctx.now)).replace('-', "");
    let mut seq = store.seq()? + 1;
    let mut id = format!("{}-{day}-{seq:06}", rules.node);
    // After a restore from a backup, a case made after the backup may come back from a neighbour
    // under a number the restored counter gives again: never reuse an id.
    while store.case(&id)?.is_some() {
        seq += 1;
        id = format!("{}-{day}-{seq:06}", rules.node);
    }
    // A community owns what it takes in, and an unassigned case waits where it came in; an upper node
    // routes the rest down to the grid's community (精准派单).
    let local = rules.node.level() == Level::Community || placed.parked;
    let owner = if local { rules.node.clone() } else { community_of(&placed.grid) };
    let mut intake = new.intake.clone();
    intake.micro = placed.micro;
    intake.owner_name = if local { rules.intake.node_name.clone() } else { String::new() };
    for p in &mut intake.photos {
        p.home = Some(rules.node.clone());
        p.at = ctx.now;
    }
    let note = match (local, placed.parked) {
        (_, true) => format!("source: {}; unassigned (待分派): no grid known for its location", new.source),
        (true, false) => format!("source: {}", new.source),
        (false, false) => format!("source: {}; dispatched down to {owner}", new.source),
    };
    let case = Case {
        id: id.clone(),
        grid: placed.grid,
        category: new.category.clone(),
        source: new.source,
        title: new.title.clone(),
        description: new.description.clone(),
        location: new.location.clone(),
        reporter: new.reporter.clone(),
        priority: new.priority,
        origin: rules.node.clone(),
        owner: owner.clone(),
        version: 1,
        state: CaseState::Reported,
        suspended_from: None,
        handler: None,
        reported_at: ctx.now,
        registered_at: None,
        dispatched_at: None,
        handled_at: None,
        closed_at: None,
        suspended_at: None,
        register_due: rules.policy.register_due(&new.category, ctx.now),
        due_at: None,
        overall_due: None,
        on_site: None,
        urges: 0,
        supervised: 0,
        returns: 0,
        extensions: 0,
        epoch: 1,
        watchers: if local { vec![] } else { vec![rules.node.clone()] },
        audit: vec![crate::case::AuditEntry {
            at: ctx.now,
            actor: new.reporter.clone(),
            action: "report".into(),
            from: None,
            to: CaseState::Reported,
            note,
            by: new.by.clone(),
        }],
        intake,
    };
    store.write(Change::Seq(seq))?;
    if let Some(rid) = &new.request_id {
        store.write(Change::Request { request_id: rid.clone(), case_id: id })?;
    }
    if !local {
        let env = Envelope {
            origin: rules.node.clone(),
            to: owner,
            queued_at: ctx.now,
            body: Body::Transfer { case: Box::new(case.clone()) },
        };
        enqueue(store, rules, ctx, env)?;
    }
    put_case(store, rules, ctx, None, case.clone())?;
    Ok(Outcome::Reported { case: Box::new(case), duplicate: false })
}
