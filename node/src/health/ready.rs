//! Whether this replica is ready to serve (`/readyz`, the standard gRPC health service): its Raft group
//! has a leader, it has applied what it knows to be committed, it is not repairing its store, and its
//! storage has not failed.
//!
//! openraft 0.9 does not publish a follower's commit index; a follower applies each entry as soon as
//! it learns it is committed, so the gap between its log and what it applied is what it holds but has
//! not applied yet. The leader knows the commit index: the highest index a majority holds.

use serde::Serialize;

use super::Health;
use crate::consensus::types::RaftMetrics;
use crate::consensus::Leadership;

/// Entries a replica may be behind (committed or held but not applied yet) and still be ready: entries
/// in flight under load.
pub const READY_LAG: u64 = 256;

/// The parts of a readiness verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub leader: Option<u64>,
    pub role: &'static str,
    pub term: u64,
    /// The commit index this replica knows: the majority-held index on the leader, the applied index on
    /// a follower.
    pub committed: u64,
    pub applied: u64,
    pub last_log: u64,
    /// Reasons it is not ready (empty when ready).
    pub reasons: Vec<String>,
}

/// The highest index a majority of the voters hold, as the leader sees it (None elsewhere).
pub fn leader_commit(m: &RaftMetrics) -> Option<u64> {
    let replication = m.replication.as_ref()?;
    let membership = m.membership_config.membership();
    let mut held: Vec<u64> = membership
        .voter_ids()
        .map(|id| {
            if id == m.id {
                m.last_log_index.unwrap_or(0)
            } else {
                replication.get(&id).cloned().flatten().map(|l| l.index).unwrap_or(0)
            }
        })
        .collect();
    if held.is_empty() {
        return None;
    }
    held.sort_unstable_by(|a, b| b.cmp(a));
    Some(held[held.len() / 2])
}

/// The Raft role's name.
pub fn role_name(s: openraft::ServerState) -> &'static str {
    match s {
        openraft::ServerState::Leader => "leader",
        openraft::ServerState::Follower => "follower",
        openraft::ServerState::Candidate => "candidate",
        openraft::ServerState::Learner => "learner",
        openraft::ServerState::Shutdown => "shutdown",
    }
}

/// The verdict now.
pub fn readiness(leadership: &Leadership, health: &Health) -> Readiness {
    let m = leadership.metrics();
    let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
    let last_log = m.last_log_index.unwrap_or(0);
    let committed = leader_commit(&m).unwrap_or(applied);
    let mut reasons = Vec::new();
    if m.current_leader.is_none() {
        reasons.push("the Raft group has no leader".to_string());
    }
    if let Some(c) = leader_commit(&m) {
        if applied.saturating_add(READY_LAG) < c {
            reasons.push(format!("applied {applied} of {c} committed entries"));
        }
    } else if last_log.saturating_sub(applied) > READY_LAG {
        reasons.push(format!("holds {} entries it has not applied yet", last_log - applied));
    }
    if health.repairing() {
        reasons.push("repairing its store from the other replicas".to_string());
    }
    if let Some(f) = health.faults().failure() {
        reasons.push(format!("its storage failed: {f}"));
    }
    if m.running_state.is_err() {
        reasons.push("Raft stopped".to_string());
    }
    Readiness {
        ready: reasons.is_empty(),
        leader: m.current_leader,
        role: role_name(m.state),
        term: m.current_term,
        committed,
        applied,
        last_log,
        reasons,
    }
}
