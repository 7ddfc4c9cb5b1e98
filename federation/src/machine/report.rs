//! 上报: a new case. A community owns what it takes in; an upper node routes it down to the grid's
//! community (精准派单). A retried report (same request id) returns the first case.

use crate::case::{Case, CaseState};
use crate::code::Level;
use crate::link::{Body, Envelope};
use crate::stats::{day_of, format_day};

use super::cases::put_case;
use super::command::{NewCase, Outcome};
use super::outbox::{community_of, enqueue};
use super::store::{Change, Ctx, Rules, Store};

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
    if let Err(refusal) = new.validate(rules) {
        return Ok(Outcome::Refused(refusal));
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
    // A community owns what it takes in; an upper node routes it down to the grid's community (精准派单).
    let local = rules.node.level() == Level::Community;
    let owner = if local { rules.node.clone() } else { community_of(&new.grid) };
    let case = Case {
        id: id.clone(),
        grid: new.grid.clone(),
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
            note: if local {
                format!("source: {}", new.source)
            } else {
                format!("source: {}; dispatched down to {owner}", new.source)
            },
            by: new.by.clone(),
        }],
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
