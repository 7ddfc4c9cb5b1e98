//! Messages for other nodes: which neighbour a destination is reached through, queueing in the
//! replicated outbox under the link's next sequence number, and status updates to watchers (反馈).

use crate::case::Case;
use crate::code::Code;
use crate::link::{next_hop, Body, Envelope, Hop};

use super::store::{Change, Ctx, Rules, Store};

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
