//! Pushes this node's tallies (its own and those rolled up from below) to the parent: what changed
//! since the last accepted push, plus the freshness of every part, at least once a second. Entries are
//! versioned, so a repeated, late or reordered push changes nothing at the parent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use federation::tally::Freshness;
use proto::convert;
use proto::v1::RollupRequest;
use tokio::sync::watch;
use tracing::debug;

use super::links::{handshake, next_backoff, pause};
use super::PeerClient;
use crate::config::PeerNode;
use crate::replica::Replica;
use crate::service::now_ms;

/// Tally entries sent in one push.
const BATCH: usize = 4096;
const HEARTBEAT: Duration = Duration::from_secs(1);

pub async fn run(replica: Arc<Replica>, parent: PeerNode, mut shutdown: watch::Receiver<bool>) {
    let Ok(code) = federation::code::Code::parse_node("parent", &parent.code) else { return };
    let tuning = replica.federation.clone();
    let Ok(client) =
        PeerClient::new(&parent, Duration::from_millis(tuning.rpc_timeout_ms), replica.tls.as_ref())
    else {
        return;
    };
    let interval = Duration::from_millis(tuning.rollup_ms);
    let max_backoff = Duration::from_millis(tuning.max_backoff_ms);
    let mut changes = replica.signals.tally.subscribe();
    let mut pushed = 0u64; // local apply index up to which the parent has everything
    let mut last_push = Instant::now() - HEARTBEAT;
    let mut backoff = interval;
    let mut greeted = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if !replica.is_leader() {
            pushed = 0; // whoever leads next pushes everything once
            greeted = false;
            if pause(Duration::from_millis(500), &mut shutdown).await {
                return;
            }
            continue;
        }
        let (entries, high) = match replica.reader.tally_changes(pushed, BATCH) {
            Ok(c) => c,
            Err(e) => {
                debug!(error = %e, "cannot read tallies");
                if pause(Duration::from_secs(1), &mut shutdown).await {
                    return;
                }
                continue;
            }
        };
        if entries.is_empty() && last_push.elapsed() < HEARTBEAT {
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep(HEARTBEAT.saturating_sub(last_push.elapsed())) => {}
                _ = shutdown.changed() => return,
            }
            // Let a burst of changes settle into one push.
            if pause(interval, &mut shutdown).await {
                return;
            }
            continue;
        }
        if !greeted {
            if let Err(e) = handshake(&replica, &client, &code).await {
                replica.links.failure(code.as_str(), format!("handshake: {e}"));
                if pause(backoff, &mut shutdown).await {
                    return;
                }
                backoff = next_backoff(backoff, max_backoff);
                continue;
            }
            greeted = true;
        }
        let now = now_ms();
        let own = Freshness {
            node: replica.node.clone(),
            version: replica.applied_index(),
            produced_at: now,
            overdue: replica.reader.overdue_count(now).unwrap_or(0),
        };
        let mut fresh = vec![convert::freshness_to_pb(&own)];
        fresh.extend(replica.reader.fresh_all().unwrap_or_default().iter().map(convert::freshness_to_pb));
        let msg = RollupRequest {
            from: replica.node.to_string(),
            entries: entries.iter().map(|(k, t)| convert::tally_to_pb(k, t)).collect(),
            fresh,
        };
        match client.call(msg, async |mut c, req| c.push_rollup(req).await).await {
            Ok(_) => {
                pushed = high;
                last_push = Instant::now();
                backoff = interval;
                replica.links.rollup(code.as_str(), now);
            }
            Err(s) => {
                replica.links.failure(code.as_str(), format!("rollup: {}", s.message()));
                greeted = false;
                if pause(backoff, &mut shutdown).await {
                    return;
                }
                backoff = next_backoff(backoff, max_backoff);
            }
        }
    }
}
