//! Messages for other nodes: which neighbour a destination is reached through, queueing in the
//! replicated outbox under the link's next sequence number, and status updates to watchers (反馈).

use crate::case::Case;
use crate::code::Code;
use crate::link::{next_hop, Body, Envelope, Hop};

use super::command::{Outcome, Refusal};
use super::store::{Change, Ctx, RestoredLink, Rules, Store};

/// The community a grid belongs to.
pub(crate) fn community_of(grid: &Code) -> Code {
    grid.parent().unwrap_or_else(|| grid.clone())
}

/// The neighbour a message to `dest` leaves through, if that neighbour is configured.
pub fn route(rules: &Rules<'_>, dest: &Code) -> Option<Code> {
    match next_hop(rules.node, dest)? {
        Hop::Parent => rules.parent.cloned(),
        Hop::Child(c) => rules.children.contains(&c).then_some(c),
    }
}

/// Queues `body` for node `to` on the link of the next hop. False if no configured neighbour leads there.
pub(crate) fn enqueue<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    envelope: Envelope,
) -> Result<bool, S::Error> {
    let Some(peer) = route(rules, &envelope.to) else {
        return Ok(false);
    };
    let _ = ctx;
    let seq = store.outbox_next(&peer)?;
    store.write(Change::OutboxNext { peer: peer.clone(), next: seq + 1 })?;
    store.write(Change::Outbox { peer, seq, envelope: Box::new(envelope) })?;
    Ok(true)
}

/// Sends the case's new state to every watcher but `skip` (反馈).
pub(crate) fn notify<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    case: &Case,
    skip: &Code,
) -> Result<(), S::Error> {
    for w in &case.watchers {
        if w == rules.node || w == skip {
            continue;
        }
        let env = Envelope {
            origin: rules.node.clone(),
            to: w.clone(),
            queued_at: ctx.now,
            body: Body::Status { case: Box::new(case.clone()) },
        };
        enqueue(store, rules, ctx, env)?;
    }
    Ok(())
}

/// Numbers every message queued for `peer` again, in order, from `applied + 1` (see
/// [`Resequence`](super::Resequence)), and clears the link's restored mark for the outbox. Does nothing
/// to a link whose numbering is already above `applied` and that is not marked restored.
pub(crate) fn resequence<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    peer: &Code,
    applied: u64,
) -> Result<Outcome, S::Error> {
    if rules.parent != Some(peer) && !rules.children.contains(peer) {
        return Ok(Outcome::Refused(Refusal::NotNeighbour { from: peer.to_string() }));
    }
    let mark = store.restored(peer)?;
    let next = store.outbox_next(peer)?;
    let marked = mark.is_some_and(|m| m.outbox);
    if !marked && applied < next {
        return Ok(Outcome::Done);
    }
    let queued = store.queued(peer)?;
    if let Some((last, _)) = queued.last() {
        store.write(Change::OutboxAck { peer: peer.clone(), upto: *last })?;
    }
    let count = queued.len() as u64;
    for (i, (_, envelope)) in queued.into_iter().enumerate() {
        store.write(Change::Outbox {
            peer: peer.clone(),
            seq: applied + 1 + i as u64,
            envelope: Box::new(envelope),
        })?;
    }
    store.write(Change::OutboxNext { peer: peer.clone(), next: applied + 1 + count })?;
    if let Some(m) = mark {
        let left = RestoredLink { outbox: false, ..m };
        store.write(Change::Restored {
            peer: peer.clone(),
            link: (left != RestoredLink::default()).then_some(left),
        })?;
    }
    Ok(Outcome::Done)
}
