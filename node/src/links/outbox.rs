//! The outbox task of one link: drives `federation::link::OutboxSender` for one neighbour. It loads
//! queued messages from the replicated outbox, greets and delivers through the neighbour's peer
//! service, and commits the neighbour's acknowledgement through Raft, so a new leader resumes where the
//! old one stopped.

use std::collections::VecDeque;

use federation::category::Catalog;
use federation::code::Code;
use federation::link::{Body, Envelope, Health, OutboxSender, SendCommand, SendEvent};
use federation::machine::{Acked, Resequence};
use proto::convert;
use proto::v1::{DeliverRequest, Sequenced};
use tracing::{debug, info, warn};

use super::driver::{wait, Wake};
use super::neighbour::handshake;
use super::status::Engine;
use super::LinkCtx;
use crate::config::Neighbour;

/// Messages sent in one delivery.
pub(super) const BATCH: usize = 256;

pub(super) async fn run(ctx: LinkCtx, peer: Neighbour) {
    let Ok(code) = Code::parse_node("peer", &peer.code) else { return };
    let Some(client) = ctx.client(&peer) else { return };
    let mut engine = OutboxSender::new(ctx.timing(), rand::random());
    let mut changes = ctx.signals.outbox.subscribe();
    let mut leader = ctx.leadership.changes();
    let mut leading = false;
    let mut wake_at = None;
    let mut loaded: Vec<(u64, Envelope)> = Vec::new();
    let mut events = VecDeque::new();
    loop {
        if ctx.leadership.is_leader() != leading {
            leading = !leading;
            events.push_back(SendEvent::Leading { now: ctx.clock.now_ms(), leading });
        }
        while let Some(ev) = events.pop_front() {
            let before = engine.health().health;
            for cmd in engine.step(ev) {
                let next = match cmd {
                    SendCommand::Load { max } => {
                        loaded = match ctx.reader.outbox(&code, max) {
                            Ok(b) => b,
                            Err(e) => {
                                warn!(peer = %code, error = %e, "cannot read the outbox");
                                Vec::new()
                            }
                        };
                        let range = loaded.first().zip(loaded.last()).map(|(f, l)| (f.0, l.0));
                        let (next, resync) = ctx.reader.link_numbering(&code).unwrap_or_else(|e| {
                            warn!(peer = %code, error = %e, "cannot read the link's numbering");
                            (u64::MAX, false)
                        });
                        SendEvent::Loaded { now: ctx.clock.now_ms(), range, next, resync }
                    }
                    SendCommand::Greet => {
                        let result = handshake(&ctx.local, &client, &code).await.map_err(|e| e.to_string());
                        SendEvent::Greeted { now: ctx.clock.now_ms(), result }
                    }
                    SendCommand::Deliver { first, last } => {
                        match boundaries_wait(&loaded, first, last, &client) {
                            Some(why) => {
                                debug!(peer = %code, "{why}");
                                SendEvent::Delivered { now: ctx.clock.now_ms(), result: Err(why) }
                            }
                            None => {
                                let msg = DeliverRequest {
                                    from: ctx.local.node.to_string(),
                                    messages: loaded
                                        .iter()
                                        .filter(|(seq, _)| (first..=last).contains(seq))
                                        .map(|(seq, env)| Sequenced {
                                            seq: *seq,
                                            envelope: Some(convert::envelope_to_pb(env, Catalog::standard())),
                                        })
                                        .collect(),
                                };
                                let result = client
                                    .call(msg, async |mut c, req| c.deliver(req).await)
                                    .await
                                    .map(|r| r.applied)
                                    .map_err(|s| s.message().to_string());
                                if let Ok(applied) = result {
                                    debug!(peer = %code, first, last, applied, "delivered");
                                    if applied < first {
                                        warn!(peer = %code, first, applied, "peer has not applied earlier messages");
                                    }
                                }
                                SendEvent::Delivered { now: ctx.clock.now_ms(), result }
                            }
                        }
                    }
                    SendCommand::Ack { upto } => {
                        let result = match ctx.writer.propose(Acked { peer: code.clone(), upto }).await {
                            Ok(Ok(())) => Ok(()),
                            Ok(Err(refusal)) => Err(refusal.to_string()),
                            Err(e) => Err(e.to_string()),
                        };
                        if let Err(e) = &result {
                            debug!(peer = %code, error = %e, "could not record the acknowledgement");
                        }
                        SendEvent::Acked { now: ctx.clock.now_ms(), result }
                    }
                    SendCommand::AskApplied => {
                        // An empty delivery: the neighbour answers with its high-water mark.
                        let msg = DeliverRequest { from: ctx.local.node.to_string(), messages: Vec::new() };
                        let result = client
                            .call(msg, async |mut c, req| c.deliver(req).await)
                            .await
                            .map(|r| r.applied)
                            .map_err(|s| s.message().to_string());
                        SendEvent::Applied { now: ctx.clock.now_ms(), result }
                    }
                    SendCommand::Resequence { applied } => {
                        warn!(
                            peer = %code,
                            applied,
                            "RESTORED LINK: the neighbour has applied more of this link than this node's store \
                             accounts for (a restore from a backup); queued messages are numbered again above it"
                        );
                        let result =
                            match ctx.writer.propose(Resequence { peer: code.clone(), applied }).await {
                                Ok(Ok(())) => Ok(()),
                                Ok(Err(refusal)) => Err(refusal.to_string()),
                                Err(e) => Err(e.to_string()),
                            };
                        if let Err(e) = &result {
                            warn!(peer = %code, error = %e, "could not resequence the link; retrying");
                        }
                        SendEvent::Resequenced { now: ctx.clock.now_ms(), result }
                    }
                    SendCommand::Sleep { until } => {
                        wake_at = Some(until);
                        continue;
                    }
                };
                events.push_back(next);
            }
            let health = engine.health();
            match (before, health.health) {
                (Health::Up, Health::Down) => {
                    info!(peer = %code, error = %health.last_error, "link down; messages stay queued")
                }
                (Health::Down, Health::Up) => info!(peer = %code, "link up"),
                _ => {}
            }
            ctx.table.set(code.as_str(), Engine::Outbox, health);
        }
        match wait(&ctx.clock, if leading { wake_at } else { None }, &mut changes, &mut leader).await {
            Wake::Timer => {
                wake_at = None;
                events.push_back(SendEvent::Tick { now: ctx.clock.now_ms() });
            }
            Wake::Changed => events.push_back(SendEvent::OutboxChanged { now: ctx.clock.now_ms() }),
            Wake::Leadership => {}
            Wake::Closed => return,
        }
    }
}

/// Why messages `first..=last` wait: grid boundaries among them and a neighbour that has not answered
/// with the protocol version that reads them (it would refuse the whole delivery). The link retries
/// with its backoff until the neighbour is upgraded.
fn boundaries_wait(
    loaded: &[(u64, Envelope)],
    first: u64,
    last: u64,
    client: &super::neighbour::NeighbourClient,
) -> Option<String> {
    let boundaries = loaded
        .iter()
        .any(|(seq, env)| (first..=last).contains(seq) && matches!(env.body, Body::Boundaries { .. }));
    let version = client.version();
    (boundaries && version.is_none_or(|v| v < federation::protocol::INTAKE)).then(|| {
        format!(
            "grid boundaries wait until node {} speaks protocol {} (it answered {})",
            client.code,
            federation::protocol::INTAKE,
            version.map_or("nothing yet".to_string(), |v| v.to_string())
        )
    })
}
