//! `ClusterService`: status of the Raft group, and safe membership changes (a new replica joins as a
//! learner, catches up, then becomes a voter).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use federation::access::Need;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ServerState};
use proto::v1::cluster_service_client::ClusterServiceClient;
use proto::v1::cluster_service_server::ClusterService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{info, instrument};

use super::commit::{forwarded, is_forwarded, leader_channel, leader_route, store_status};
use crate::consensus::types::{Raft, ReplicaId};
use crate::consensus::Leadership;
use crate::links::LinkTable;
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::CaseReader;

/// How long a membership change may take (a learner must catch up first).
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

/// The cluster administration service of a replica.
#[derive(Clone)]
pub struct ClusterApi {
    local: Arc<Local>,
    raft: Raft,
    leadership: Leadership,
    reader: CaseReader,
    links: Arc<LinkTable>,
    pool: ChannelPool,
    /// The store backups are taken of (None: backups are not offered).
    store: Option<super::backup::BackupSource>,
}

fn role(s: ServerState) -> &'static str {
    match s {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

impl ClusterApi {
    /// The cluster service of replica `local`, administering `raft`; `links` and `reader` answer for
    /// the node's links.
    pub fn new(
        local: Arc<Local>,
        raft: Raft,
        reader: CaseReader,
        links: Arc<LinkTable>,
        pool: ChannelPool,
    ) -> ClusterApi {
        let leadership = Leadership::new(raft.clone(), local.replica);
        ClusterApi { local, raft, leadership, reader, links, pool, store: None }
    }

    /// Offers backups of this replica's store (`ClusterService.Backup`).
    pub fn with_backups(mut self, source: super::backup::BackupSource) -> ClusterApi {
        self.store = Some(source);
        self
    }

    fn client(&self, addr: &str) -> Result<ClusterServiceClient<tonic::transport::Channel>, Status> {
        Ok(ClusterServiceClient::new(leader_channel(&self.pool, addr)?))
    }

    fn authorize<T>(&self, req: &Request<T>, need: Need) -> Result<(), Status> {
        super::authz::operator_of(self.local.authenticated, &self.local.node, need, req)
    }

    fn local_status(&self) -> StatusResponse {
        let m = self.leadership.metrics();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<ReplicaId> = membership.voter_ids().collect();
        let replicas = membership
            .nodes()
            .map(|(id, node)| ReplicaStatus {
                id: *id,
                addr: node.addr.clone(),
                voter: voters.contains(id),
                matched: m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(id).cloned().flatten())
                    .map(|l| l.index)
                    .or_else(|| (*id == m.id).then_some(m.last_log_index).flatten()),
            })
            .collect();
        StatusResponse {
            node: self.local.node.to_string(),
            name: self.local.name.clone(),
            answered_by: m.id,
            role: role(m.state).into(),
            leader: m.current_leader,
            leader_addr: m.current_leader.and_then(|l| self.leadership.addr_of(l)).unwrap_or_default(),
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            last_applied: m.last_applied.map(|l| l.index).unwrap_or(0),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            replicas,
        }
    }

    /// The leader's address, or None if this replica leads.
    async fn leader(&self, fwd: bool) -> Result<Option<String>, Status> {
        leader_route(&self.leadership, fwd).await
    }

    async fn change_voters(&self, voters: BTreeSet<ReplicaId>) -> Result<MembershipResponse, Status> {
        let fut = self.raft.change_membership(voters, false);
        let resp = tokio::time::timeout(MEMBERSHIP_TIMEOUT, fut)
            .await
            .map_err(|_| Status::deadline_exceeded("membership change did not commit in time"))?
            .map_err(|e| membership_refused("membership change refused", e))?;
        let status = self.local_status();
        Ok(MembershipResponse { replicas: status.replicas, log_index: resp.log_id.index })
    }
}

/// A refused membership change as a status: leadership moving away mid-change is `UNAVAILABLE`, which
/// callers retry (regression: `a_lost_leadership_during_add_replica_is_retried`); anything else is a
/// precondition the operator must fix.
fn membership_refused(what: &str, e: RaftError<ReplicaId, ClientWriteError<ReplicaId, BasicNode>>) -> Status {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
            Status::unavailable(format!("{what}: leadership moved (now {:?}); retry", f.leader_id))
        }
        other => Status::failed_precondition(format!("{what}: {other}")),
    }
}

#[tonic::async_trait]
impl ClusterService for ClusterApi {
    type BackupStream = super::backup::BackupStream;

    #[instrument(skip_all, fields(node = %self.local.node))]
    async fn backup(&self, req: Request<BackupRequest>) -> Result<Response<Self::BackupStream>, Status> {
        // A copy of everything the node holds: operator certificates only, never a token.
        self.authorize(&req, Need::Manage)?;
        let source =
            self.store.clone().ok_or_else(|| Status::unimplemented("this replica offers no backups"))?;
        source.start(&self.local).await.map(Response::new)
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn status(&self, req: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let fwd = is_forwarded(&req);
        let local = req.get_ref().local;
        let here = self.local_status();
        let leader_addr = match here.leader {
            Some(l) if l != self.local.replica && !local && !fwd => self.leadership.addr_of(l),
            _ => None,
        };
        if let Some(addr) = leader_addr {
            // The leader knows every replica's log position; fall back to this view if it is unreachable.
            let req = forwarded(StatusRequest { local: true }, Duration::from_secs(3));
            if let Ok(r) = self.client(&addr)?.status(req).await {
                return Ok(r);
            }
        }
        Ok(Response::new(here))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn links(&self, req: Request<LinksRequest>) -> Result<Response<LinksResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let fwd = is_forwarded(&req);
        if let Some(addr) = self.leader(fwd).await? {
            return self.client(&addr)?.links(forwarded(LinksRequest {}, Duration::from_secs(10))).await;
        }
        let mut links = Vec::new();
        for (relation, peer) in self
            .local
            .parent
            .iter()
            .map(|p| ("parent", p))
            .chain(self.local.children.iter().map(|c| ("child", c)))
        {
            let state = self.links.get(&peer.code);
            let code = federation::code::Code::parse_node("peer", &peer.code)
                .map_err(|e| Status::internal(e.to_string()))?;
            let (backlog, oldest) = self.reader.backlog(&code).map_err(store_status)?;
            links.push(LinkStatus {
                peer: peer.code.clone(),
                peer_name: peer.name.clone(),
                relation: relation.into(),
                up: state.health == federation::link::Health::Up,
                state: state.health.as_str().into(),
                last_success_ms: state.last_success,
                backlog,
                oldest_queued_ms: oldest,
                last_error: state.last_error,
                last_rollup_ms: state.last_rollup,
            });
        }
        Ok(Response::new(LinksResponse { node: self.local.node.to_string(), links }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, at = self.local.replica, replica = req.get_ref().id))]
    async fn add_replica(
        &self,
        req: Request<AddReplicaRequest>,
    ) -> Result<Response<MembershipResponse>, Status> {
        self.authorize(&req, Need::Act)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if msg.id == 0 {
            return Err(Status::invalid_argument("id: replica ids start at 1"));
        }
        if msg.addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(Status::invalid_argument(format!("addr: {:?} is not an ip:port address", msg.addr)));
        }
        if let Some(addr) = self.leader(fwd).await? {
            return self.client(&addr)?.add_replica(forwarded(msg, MEMBERSHIP_TIMEOUT)).await;
        }
        let m = self.leadership.metrics();
        if let Some(existing) = m.membership_config.membership().get_node(&msg.id) {
            if existing.addr != msg.addr {
                return Err(Status::already_exists(format!(
                    "id: replica {} already exists at {}",
                    msg.id, existing.addr
                )));
            }
        }
        info!(replica = msg.id, addr = %msg.addr, "adding learner");
        let add = self.raft.add_learner(msg.id, BasicNode::new(msg.addr.clone()), true);
        tokio::time::timeout(MEMBERSHIP_TIMEOUT, add)
            .await
            .map_err(|_| {
                Status::deadline_exceeded("the new replica did not catch up in time; is it running?")
            })?
            .map_err(|e| membership_refused("cannot add learner", e))?;
        let mut voters: BTreeSet<ReplicaId> = m.membership_config.membership().voter_ids().collect();
        voters.insert(msg.id);
        info!(replica = msg.id, "promoting learner to voter");
        Ok(Response::new(self.change_voters(voters).await?))
    }

    #[instrument(skip_all, fields(node = %self.local.node, at = self.local.replica, replica = req.get_ref().id))]
    async fn remove_replica(
        &self,
        req: Request<RemoveReplicaRequest>,
    ) -> Result<Response<MembershipResponse>, Status> {
        self.authorize(&req, Need::Act)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if let Some(addr) = self.leader(fwd).await? {
            return self.client(&addr)?.remove_replica(forwarded(msg, MEMBERSHIP_TIMEOUT)).await;
        }
        let m = self.leadership.metrics();
        let mut voters: BTreeSet<ReplicaId> = m.membership_config.membership().voter_ids().collect();
        if !voters.remove(&msg.id) {
            return Err(Status::not_found(format!("id: replica {} is not a voter of this node", msg.id)));
        }
        if voters.is_empty() {
            return Err(Status::failed_precondition("id: cannot remove the last replica"));
        }
        info!(replica = msg.id, "removing replica");
        Ok(Response::new(self.change_voters(voters).await?))
    }
}

#[cfg(test)]
mod tests {
    use openraft::error::ForwardToLeader;

    use super::*;

    /// CI once saw `add-replica` fail with "has to forward request to: None, None" when an election
    /// started between adding the learner and promoting it: the CLI retries UNAVAILABLE, not this.
    #[test]
    fn a_lost_leadership_during_add_replica_is_retried() {
        let lost = RaftError::APIError(ClientWriteError::ForwardToLeader(ForwardToLeader::empty()));
        let status = membership_refused("membership change refused", lost);
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(crate::client::is_retryable(&status));
    }
}
