//! Applies `Health::may_lead` to Raft: a replica unfit to lead (clock off, repairing, storage failed)
//! does not campaign; if it leads, it stops its heartbeats (and its `Writer` refuses writes), so the
//! other replicas time out and elect a fit leader. Once fit again it campaigns and beats again.

use std::time::Duration;

use tracing::{info, warn};

use super::Health;
use crate::consensus::types::Raft;
use crate::consensus::Leadership;

/// How often fitness is re-checked.
const EVERY: Duration = Duration::from_millis(250);

/// Keeps Raft's campaigning and heartbeats in line with `health` until the replica stops.
pub async fn run(health: Health, raft: Raft, leadership: Leadership) {
    let mut fit = true;
    loop {
        let now = health.may_lead();
        match (&now, fit) {
            (Err(why), true) => {
                if leadership.is_leader() {
                    warn!(reason = %why, "this replica is unfit to lead and steps down");
                } else {
                    warn!(reason = %why, "this replica is unfit to lead; it will not campaign");
                }
                raft.runtime_config().elect(false);
                raft.runtime_config().heartbeat(false);
                fit = false;
            }
            (Ok(()), false) => {
                info!("this replica is fit to lead again");
                raft.runtime_config().elect(true);
                raft.runtime_config().heartbeat(true);
                fit = true;
            }
            _ => {}
        }
        tokio::time::sleep(EVERY).await;
    }
}
