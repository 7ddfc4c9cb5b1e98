//! `ClusterService`: status of the Raft group, and safe membership changes (a new replica joins as a
//! learner, catches up, then becomes a voter).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, ServerState};
use proto::v1::cluster_service_client::ClusterServiceClient;
use proto::v1::cluster_service_server::ClusterService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{info, instrument};

use super::case::{forwarded, is_forwarded};
use crate::replica::{Replica, Route};
use crate::types::ReplicaId;

/// How long a membership change may take (a learner must catch up first).
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(120);

/// The cluster administration service of a replica.
#[derive(Clone)]
pub struct ClusterApi {
    replica: Arc<Replica>,
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
    pub fn new(replica: Arc<Replica>) -> ClusterApi {
        ClusterApi { replica }
    }

    fn client(&self, addr: &str) -> Result<ClusterServiceClient<tonic::transport::Channel>, Status> {
        Ok(ClusterServiceClient::new(self.replica.channel_to(addr)?))
    }

    fn local_status(&self) -> StatusResponse {
        let m = self.replica.raft.metrics().borrow().clone();
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
            node: self.replica.node.to_string(),
            name: self.replica.name.clone(),
            answered_by: m.id,
            role: role(m.state).into(),
            leader: m.current_leader,
            leader_addr: m.current_leader.and_then(|l| self.replica.addr_of(l)).unwrap_or_default(),
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
        match self.replica.route().await {
            None => Err(Status::unavailable("no leader: the replicas cannot reach a majority")),
            Some(Route::Local) => Ok(None),
            Some(Route::Leader { .. }) if fwd => Err(Status::unavailable("not the leader; retry")),
            Some(Route::Leader { addr, .. }) => Ok(Some(addr)),
        }
    }

    async fn change_voters(&self, voters: BTreeSet<ReplicaId>) -> Result<MembershipResponse, Status> {
        let fut = self.replica.raft.change_membership(voters, false);
        let resp = tokio::time::timeout(MEMBERSHIP_TIMEOUT, fut)
            .await
            .map_err(|_| Status::deadline_exceeded("membership change did not commit in time"))?
            .map_err(|e| Status::failed_precondition(format!("membership change refused: {e}")))?;
        let status = self.local_status();
        Ok(MembershipResponse { replicas: status.replicas, log_index: resp.log_id.index })
    }
}

#[tonic::async_trait]
impl ClusterService for ClusterApi {
    #[instrument(skip_all, fields(node = %self.replica.node))]
    async fn status(&self, req: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let local = req.get_ref().local;
        let here = self.local_status();
        let leader_addr = match here.leader {
            Some(l) if l != self.replica.id && !local && !fwd => self.replica.addr_of(l),
            _ => None,
        };
        if let Some(addr) = leader_addr {
            // The leader knows every replica's log position; fall back to this view if it is unreachable.
            let mut req = forwarded(StatusRequest { local: true });
            req.set_timeout(Duration::from_secs(3));
            if let Ok(r) = self.client(&addr)?.status(req).await {
                return Ok(r);
            }
        }
        Ok(Response::new(here))
    }

    #[instrument(skip_all, fields(node = %self.replica.node))]
    async fn links(&self, req: Request<LinksRequest>) -> Result<Response<LinksResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        if let Some(addr) = self.leader(fwd).await? {
            return self.client(&addr)?.links(forwarded(LinksRequest {})).await;
        }
        let mut links = Vec::new();
        for (relation, peer) in self
            .replica
            .parent
            .iter()
            .map(|p| ("parent", p))
            .chain(self.replica.children.iter().map(|c| ("child", c)))
        {
            let state = self.replica.links.get(&peer.code);
            let code = federation::code::Code::parse_node("peer", &peer.code)
                .map_err(|e| Status::internal(e.to_string()))?;
            let (backlog, oldest) =
                self.replica.reader.backlog(&code).map_err(|e| Status::internal(format!("storage: {e}")))?;
            links.push(LinkStatus {
                peer: peer.code.clone(),
                peer_name: peer.name.clone(),
                relation: relation.into(),
                up: state.up,
                last_success_ms: state.last_success,
                backlog,
                oldest_queued_ms: oldest,
                last_error: state.last_error,
                last_rollup_ms: state.last_rollup,
            });
        }
        Ok(Response::new(LinksResponse { node: self.replica.node.to_string(), links }))
    }

    #[instrument(skip_all, fields(node = %self.replica.node, replica = req.get_ref().id))]
    async fn add_replica(
        &self,
        req: Request<AddReplicaRequest>,
    ) -> Result<Response<MembershipResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if msg.id == 0 {
            return Err(Status::invalid_argument("id: replica ids start at 1"));
        }
        if msg.addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(Status::invalid_argument(format!("addr: {:?} is not an ip:port address", msg.addr)));
        }
        if let Some(addr) = self.leader(fwd).await? {
            let mut r = forwarded(msg);
            r.set_timeout(MEMBERSHIP_TIMEOUT);
            return self.client(&addr)?.add_replica(r).await;
        }
        let m = self.replica.raft.metrics().borrow().clone();
        if let Some(existing) = m.membership_config.membership().get_node(&msg.id) {
            if existing.addr != msg.addr {
                return Err(Status::already_exists(format!(
                    "id: replica {} already exists at {}",
                    msg.id, existing.addr
                )));
            }
        }
        info!(replica = msg.id, addr = %msg.addr, "adding learner");
        let add = self.replica.raft.add_learner(msg.id, BasicNode::new(msg.addr.clone()), true);
        tokio::time::timeout(MEMBERSHIP_TIMEOUT, add)
            .await
            .map_err(|_| {
                Status::deadline_exceeded("the new replica did not catch up in time; is it running?")
            })?
            .map_err(|e| Status::failed_precondition(format!("cannot add learner: {e}")))?;
        let mut voters: BTreeSet<ReplicaId> = m.membership_config.membership().voter_ids().collect();
        voters.insert(msg.id);
        info!(replica = msg.id, "promoting learner to voter");
        Ok(Response::new(self.change_voters(voters).await?))
    }

    #[instrument(skip_all, fields(node = %self.replica.node, replica = req.get_ref().id))]
    async fn remove_replica(
        &self,
        req: Request<RemoveReplicaRequest>,
    ) -> Result<Response<MembershipResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if let Some(addr) = self.leader(fwd).await? {
            let mut r = forwarded(msg);
            r.set_timeout(MEMBERSHIP_TIMEOUT);
            return self.client(&addr)?.remove_replica(r).await;
        }
        let m = self.replica.raft.metrics().borrow().clone();
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
