//! One task per neighbour: drains this node's replicated outbox for that neighbour, in order, and
//! records the neighbour's acknowledgement through Raft so a new leader resumes where the old one was.
//! Retries back off exponentially with jitter; nothing else waits on a link.

use std::sync::Arc;
use std::time::Duration;

use federation::code::Code;
use federation::machine::Command;
use proto::convert;
use proto::v1::{DeliverRequest, HelloRequest, Sequenced};
use rand::Rng;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::PeerClient;
use crate::config::PeerNode;
use crate::replica::Replica;
use crate::service::now_ms;

/// Messages sent in one delivery.
const BATCH: usize = 256;

/// Waits `d`, or less if shutdown comes first; true if shutting down.
pub(super) async fn pause(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

/// Exponential backoff with jitter, capped.
pub(super) fn next_backoff(current: Duration, max: Duration) -> Duration {
    let doubled = (current * 2).min(max);
    let jitter = rand::thread_rng().gen_range(0..=doubled.as_millis() as u64 / 4 + 1);
    doubled.saturating_sub(Duration::from_millis(jitter))
}

/// Checks that the peer is who the config says: its code and level, and the parent/child relation.
pub(super) async fn handshake(replica: &Replica, client: &PeerClient, peer: &Code) -> Result<(), String> {
    let hello = HelloRequest {
        code: replica.node.to_string(),
        level: replica.node.level().to_string(),
        name: replica.name.clone(),
    };
    let r = client
        .call(hello, async |mut c, req| c.hello(req).await)
        .await
        .map_err(|s| s.message().to_string())?;
    if r.code != peer.as_str() || r.level != peer.level().to_string() {
        return Err(format!(
            "the peer answered as {} ({}), expected {peer} ({})",
            r.code,
            r.level,
            peer.level()
        ));
    }
    Ok(())
}

pub async fn run(replica: Arc<Replica>, peer: PeerNode, mut shutdown: watch::Receiver<bool>) {
    let Ok(code) = Code::parse_node("peer", &peer.code) else { return };
    let tuning = replica.federation.clone();
    let client =
        match PeerClient::new(&peer, Duration::from_millis(tuning.rpc_timeout_ms), replica.tls.as_ref()) {
            Ok(c) => c,
            Err(e) => {
                warn!(peer = %peer.code, error = %e, "link not started");
                return;
            }
        };
    let max_backoff = Duration::from_millis(tuning.max_backoff_ms);
    let mut outbox = replica.signals.outbox.subscribe();
    let mut backoff = Duration::from_millis(100);
    let mut greeted = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if !replica.is_leader() {
            greeted = false;
            if pause(Duration::from_millis(500), &mut shutdown).await {
                return;
            }
            continue;
        }
        let batch = match replica.reader.outbox(&code, BATCH) {
            Ok(b) => b,
            Err(e) => {
                warn!(peer = %code, error = %e, "cannot read outbox");
                if pause(Duration::from_secs(1), &mut shutdown).await {
                    return;
                }
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = outbox.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        if !greeted {
            if let Err(e) = handshake(&replica, &client, &code).await {
                replica.links.failure(code.as_str(), format!("handshake: {e}"));
                debug!(peer = %code, error = %e, "handshake failed");
                if pause(backoff, &mut shutdown).await {
                    return;
                }
                backoff = next_backoff(backoff, max_backoff);
                continue;
            }
            greeted = true;
        }
        let first = batch[0].0;
        let last = batch[batch.len() - 1].0;
        let msg = DeliverRequest {
            from: replica.node.to_string(),
            messages: batch
                .iter()
                .map(|(seq, env)| Sequenced {
                    seq: *seq,
                    envelope: Some(convert::envelope_to_pb(env, federation::category::Catalog::standard())),
                })
                .collect(),
        };
        match client.call(msg, async |mut c, req| c.deliver(req).await).await {
            Ok(resp) => {
                replica.links.success(code.as_str(), now_ms());
                backoff = Duration::from_millis(100);
                if resp.applied >= first {
                    debug!(peer = %code, first, last, applied = resp.applied, "delivered");
                    let ack = Command::Acked { peer: code.clone(), upto: resp.applied.min(last) };
                    if let Err(e) = replica.propose(ack).await {
                        debug!(peer = %code, error = %e, "could not record the acknowledgement");
                    }
                } else {
                    // The receiver is behind our first queued message: it would be a gap.
                    warn!(peer = %code, first, applied = resp.applied, "peer has not applied earlier messages");
                    if pause(backoff, &mut shutdown).await {
                        return;
                    }
                    backoff = next_backoff(backoff, max_backoff);
                }
            }
            Err(s) => {
                let was_up = replica.links.get(code.as_str()).up;
                replica.links.failure(code.as_str(), s.message().to_string());
                greeted = false;
                if was_up {
                    info!(peer = %code, error = %s.message(), "link down; messages stay queued");
                }
                if pause(backoff, &mut shutdown).await {
                    return;
                }
                backoff = next_backoff(backoff, max_backoff);
            }
        }
    }
}
