//! Messages from a neighbour: applied once each, in link order (a resend is skipped, a gap waits for
//! the sender to resend); a message for a node further on is queued for the next hop.

use crate::code::Code;
use crate::link::{Body, Envelope};

use super::cases::put_case;
use super::command::{Outcome, Refusal};
use super::outbox::enqueue;
use super::store::{Change, Ctx, RestoredLink, Rules, Store};

fn is_neighbour(rules: &Rules<'_>, from: &Code) -> bool {
    rules.parent == Some(from) || rules.children.contains(from)
}

pub(crate) fn receive<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    from: &Code,
    batch: &[(u64, Envelope)],
) -> Result<Outcome, S::Error> {
    if !is_neighbour(rules, from) {
        return Ok(Outcome::Refused(Refusal::NotNeighbour { from: from.to_string() }));
    }
    let mut hwm = store.inbox_hwm(from)?;
    let start = hwm;
    let mut sorted: Vec<&(u64, Envelope)> = batch.iter().collect();
    sorted.sort_by_key(|(seq, _)| *seq);
    // Restored from a backup: the sender discarded what this node acknowledged after the backup, so
    // its first delivery may start past our high-water mark. What lies between is lost to this node.
    let mark = store.restored(from)?;
    if let Some(m) = mark.filter(|m| m.inbox) {
        if let Some((first, _)) = sorted.first() {
            if *first > hwm + 1 {
                hwm = first - 1;
            }
            let left = RestoredLink { inbox: false, ..m };
            let link = (left != RestoredLink::default()).then_some(left);
            store.write(Change::Restored { peer: from.clone(), link })?;
        }
    }
    for (seq, env) in sorted {
        if *seq <= hwm {
            continue; // already applied: a resend
        }
        if *seq != hwm + 1 {
            break; // a gap: the sender resends in order
        }
        deliver(store, rules, ctx, env)?;
        hwm = *seq;
    }
    if hwm != start {
        store.write(Change::InboxHwm { from: from.clone(), hwm })?;
    }
    Ok(Outcome::Received { hwm })
}

fn deliver<S: Store>(store: &mut S, rules: &Rules<'_>, ctx: Ctx, env: &Envelope) -> Result<(), S::Error> {
    if env.to != *rules.node {
        enqueue(store, rules, ctx, env.clone())?; // in transit: on to the next hop
        return Ok(());
    }
    let Some(incoming) = env.case() else {
        if let Body::Boundaries { set } = &env.body {
            // Boundaries flow down only: from a node above this one.
            if rules.node.is_within(&env.origin) && env.origin != *rules.node {
                super::grids::receive(store, rules, ctx, set)?;
            }
        }
        return Ok(());
    };
    let existing = store.case(&incoming.id)?;
    match &env.body {
        Body::Transfer { case } => {
            let newer = existing.as_ref().is_none_or(|e| case.epoch > e.epoch);
            if newer && case.owner == *rules.node {
                let mut taken = (**case).clone();
                taken.intake.owner_name = rules.intake.node_name.clone();
                put_case(store, rules, ctx, existing.as_ref(), taken)?;
            }
        }
        Body::Status { case } => {
            let ours = existing.as_ref().is_some_and(|e| e.owner == *rules.node);
            let newer = existing.as_ref().is_none_or(|e| (case.epoch, case.version) > (e.epoch, e.version));
            if !ours && newer && case.owner != *rules.node {
                put_case(store, rules, ctx, existing.as_ref(), (**case).clone())?;
            }
        }
        Body::Boundaries { .. } => {}
    }
    Ok(())
}
