//! The rollup task: drives `federation::link::RollupSender` toward the parent. It loads the tallies
//! changed since the last accepted push (a position in the push index), greets, and pushes them with the
//! freshness of every part of the subtree.

use std::collections::VecDeque;

use federation::code::Code;
use federation::link::{RollupCommand, RollupEvent, RollupSender};
use federation::tally::{Freshness, Tally, TallyKey};
use proto::convert;
use proto::v1::RollupRequest;
use tracing::debug;

use super::driver::{wait, Wake};
use super::neighbour::handshake;
use super::status::Engine;
use super::LinkCtx;
use crate::config::Neighbour;

/// Tally entries sent in one push.
const BATCH: usize = 4096;

pub(super) async fn run(ctx: LinkCtx, parent: Neighbour) {
    let Ok(code) = Code::parse_node("parent", &parent.code) else { return };
    let Some(client) = ctx.client(&parent) else { return };
    let timing = federation::link::LinkTiming { batch: BATCH, ..ctx.timing() };
    let mut engine: RollupSender<Vec<u8>> = RollupSender::new(timing, rand::random());
    let mut changes = ctx.signals.tally.subscribe();
    let mut leader = ctx.leadership.changes();
    let mut leading = false;
    let mut wake_at = None;
    let mut loaded: Vec<(TallyKey, Tally)> = Vec::new();
    let mut events = VecDeque::new();
    loop {
        if ctx.leadership.is_leader() != leading {
            leading = !leading;
            events.push_back(RollupEvent::Leading { now: ctx.clock.now_ms(), leading });
        }
        while let Some(ev) = events.pop_front() {
            for cmd in engine.step(ev) {
                let next = match cmd {
                    RollupCommand::Load { since, max } => {
                        let (entries, high) = match ctx.reader.tally_changes(&since, max) {
                            Ok(c) => c,
                            Err(e) => {
                                debug!(error = %e, "cannot read tallies");
                                (Vec::new(), since)
                            }
                        };
                        loaded = entries;
                        RollupEvent::Loaded { now: ctx.clock.now_ms(), entries: loaded.len(), high }
                    }
                    RollupCommand::Greet => {
                        let result = handshake(&ctx.local, &client, &code).await.map_err(|e| e.to_string());
                        RollupEvent::Greeted { now: ctx.clock.now_ms(), result }
                    }
                    RollupCommand::Push => {
                        let now = ctx.clock.now_ms();
                        let own = Freshness {
                            node: ctx.local.node.clone(),
                            version: ctx.leadership.applied_index(),
                            produced_at: now,
                            overdue: ctx.reader.overdue_count(now).unwrap_or(0),
                        };
                        let mut fresh = vec![convert::freshness_to_pb(&own)];
                        fresh.extend(
                            ctx.reader.fresh_all().unwrap_or_default().iter().map(convert::freshness_to_pb),
                        );
                        let msg = RollupRequest {
                            from: ctx.local.node.to_string(),
                            entries: loaded.iter().map(|(k, t)| convert::tally_to_pb(k, t)).collect(),
                            fresh,
                        };
                        let result = client
                            .call(msg, async |mut c, req| c.push_rollup(req).await)
                            .await
                            .map(|_| ())
                            .map_err(|s| s.message().to_string());
                        RollupEvent::Pushed { now: ctx.clock.now_ms(), result }
                    }
                    RollupCommand::Sleep { until } => {
                        wake_at = Some(until);
                        continue;
                    }
                };
                events.push_back(next);
            }
            ctx.table.set(code.as_str(), Engine::Rollup, engine.health());
        }
        match wait(&ctx.clock, if leading { wake_at } else { None }, &mut changes, &mut leader).await {
            Wake::Timer => {
                wake_at = None;
                events.push_back(RollupEvent::Tick { now: ctx.clock.now_ms() });
            }
            Wake::Changed => events.push_back(RollupEvent::Changed { now: ctx.clock.now_ms() }),
            Wake::Leadership => {}
            Wake::Closed => return,
        }
    }
}
