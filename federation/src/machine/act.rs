//! An action on an owned case: the workflow step (a dispatch to a department with the department's own
//! limit), and the hand-over of ownership when the action escalates or sends the case down.

use crate::case::{Case, MAX_SHORT_CHARS};
use crate::code::{Code, Level};
use crate::intake::photo::{self, PhotoKind};
use crate::link::{Body, Envelope};
use crate::workflow::{self, Action, ClockRules, Step};

use super::cases::put_case;
use super::staff::resolve_worker;

use super::command::{invalid, Act, Outcome, Refusal};
use super::outbox::{enqueue, notify, route};
use super::store::{Ctx, Rules, Store};

/// Where an escalation or a sending-down hands the case, or why it cannot.
fn transfer_target(rules: &Rules<'_>, action: &Action) -> Result<Option<Code>, Refusal> {
    match action {
        Action::Escalate => match rules.parent {
            Some(p) => Ok(Some(p.clone())),
            None => Err(invalid("action", format!("node {} has no parent to escalate to", rules.node))),
        },
        Action::SendDown { to } => {
            if to == rules.node || !to.is_within(rules.node) || to.level() == Level::Grid {
                return Err(invalid("to", format!("{to} is not a node below {}", rules.node)));
            }
            if route(rules, to).is_none() {
                return Err(invalid("to", format!("no configured child of {} leads to {to}", rules.node)));
            }
            Ok(Some(to.clone()))
        }
        _ => Ok(None),
    }
}

/// A check-in's point must be a real WGS-84 point, and only a check-in carries one.
fn check_point(a: &Act) -> Result<(), Refusal> {
    let Some((lat, lon)) = a.point else {
        return Ok(());
    };
    if a.step.action != Action::Arrive {
        return Err(invalid("lat", "a point comes only with the action arrive (到场)"));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(invalid("lat", format!("{lat} is not a latitude (-90 to 90)")));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid("lon", format!("{lon} is not a longitude (-180 to 180)")));
    }
    Ok(())
}

/// `step` with a dispatch to a grid worker resolved through the roster (`auto`, or a worker id
/// checked), the roster's reason put before the operator's note.
fn by_roster<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    case: &Case,
    step: &Step,
) -> Result<Result<Step, Refusal>, S::Error> {
    let mut step = step.clone();
    let Action::Dispatch { handler } = &step.action else {
        return Ok(Ok(step));
    };
    match resolve_worker(store, rules, case, handler)? {
        Ok(Some((handler, why))) => {
            let note = match step.note.trim() {
                "" => why,
                note => format!("{why}; {note}"),
            };
            step.note = note.chars().take(MAX_SHORT_CHARS).collect();
            step.action = Action::Dispatch { handler };
            Ok(Ok(step))
        }
        Ok(None) => Ok(Ok(step)),
        Err(r) => Ok(Err(r)),
    }
}

pub(crate) fn act<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    a: &Act,
) -> Result<Outcome, S::Error> {
    let (case_id, step, photos) = (a.case_id.as_str(), &a.step, a.photos.as_slice());
    let Some(case) = store.case(case_id)? else {
        return Ok(Outcome::Refused(Refusal::NotFound { case: case_id.to_string() }));
    };
    if case.owner != *rules.node {
        return Ok(Outcome::Refused(Refusal::NotOwner { case: case.id, owner: case.owner.to_string() }));
    }
    if let Err(r) = step.validate() {
        return Ok(Outcome::Refused(r));
    }
    if case.is_unplaced() && step.action != Action::Cancel {
        return Ok(Outcome::Refused(invalid(
            "action",
            format!(
                "case {} waits unassigned (待分派): place it on a grid first (action place), or cancel it",
                case.id
            ),
        )));
    }
    if let Err(r) =
        photo::check_new(photos, PhotoKind::After, &case.intake.photos, rules.intake.photo_max_bytes)
    {
        return Ok(Outcome::Refused(r));
    }
    let target = match transfer_target(rules, &step.action) {
        Ok(t) => t,
        Err(r) => return Ok(Outcome::Refused(r)),
    };
    let department = match &step.action {
        Action::Dispatch { handler } if handler.kind == crate::case::HandlerKind::Department => {
            match store.department(&handler.name)? {
                Some(d) => Some(d),
                None => {
                    return Ok(Outcome::Refused(invalid(
                        "handler",
                        format!("{:?} is not a department registered at node {}", handler.name, rules.node),
                    )))
                }
            }
        }
        _ => None,
    };
    let step = match by_roster(store, rules, &case, step)? {
        Ok(s) => s,
        Err(r) => return Ok(Outcome::Refused(r)),
    };
    if let Err(r) = check_point(a) {
        return Ok(Outcome::Refused(r));
    }
    let clocks = ClockRules::of(a.rules);
    // A department's own limit is working time like every other: the workflow reckons it by the calendar.
    let own_limit = department.as_ref().map(|d| d.minutes * 60_000);
    let mut new = match workflow::apply_with(&case, &step, ctx.now, rules.policy, own_limit, clocks) {
        Ok(new) => new,
        Err(e) => return Ok(Outcome::Refused(e.into())),
    };
    if let (ClockRules::Legacy, Some(d), None) = (clocks, &department, case.due_at) {
        // As actions logged before working-time clocks were applied: wall time from the dispatch.
        new.due_at = Some(ctx.now + d.minutes * 60_000);
    }
    if let (Action::Arrive, Some(on_site)) = (&step.action, new.on_site.as_mut()) {
        on_site.point = a.point;
    }
    if a.supervision && step.action == Action::Escalate {
        new.supervised += 1;
    }
    new.intake.photos.extend(photos.iter().cloned().map(|mut p| {
        p.home = Some(rules.node.clone());
        p.at = ctx.now;
        p
    }));
    if target.is_none() {
        new.intake.owner_name = rules.intake.node_name.clone();
    }
    match target {
        Some(to) => {
            new.owner = to.clone();
            if !new.watchers.contains(rules.node) {
                new.watchers.push(rules.node.clone());
            }
            let env = Envelope {
                origin: rules.node.clone(),
                to: to.clone(),
                queued_at: ctx.now,
                body: Body::Transfer { case: Box::new(new.clone()) },
            };
            enqueue(store, rules, ctx, env)?;
            notify(store, rules, ctx, &new, &to)?;
        }
        None => notify(store, rules, ctx, &new, rules.node)?,
    }
    put_case(store, rules, ctx, Some(&case), new.clone())?;
    Ok(Outcome::Acted { case: Box::new(new) })
}
