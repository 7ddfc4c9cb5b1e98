//! `RaftService`: hands openraft's messages from the other replicas to the local Raft instance.

use openraft::raft::AppendEntriesRequest;
use proto::v1::raft_service_server::RaftService;
use proto::v1::{RaftPayload, TimeRequest, TimeResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};
use tracing::{instrument, warn};

use crate::clock::Clock;
use crate::consensus::network::{NODE_HEADER, TARGET_HEADER};
use crate::consensus::types::{Raft, ReplicaId, TypeConfig};
use crate::repair::Repair;

/// The Raft transport's server side.
#[derive(Clone)]
pub struct RaftApi {
    raft: Raft,
    node: String,
    id: ReplicaId,
    /// Mutual TLS is on: only certificates of this node's replicas may call.
    tls: bool,
    /// While repairing a damaged store, this replica does not vote.
    repair: Repair,
    clock: Clock,
    protocol: crate::protocol::Protocol,
}

impl RaftApi {
    /// The Raft service of replica `id` of `node`.
    pub fn new(raft: Raft, node: &str, id: ReplicaId, tls: bool, repair: Repair, clock: Clock) -> RaftApi {
        RaftApi { raft, node: node.to_string(), id, tls, repair, clock, protocol: Default::default() }
    }

    /// Checks callers' protocol versions with `protocol` (see `crate::protocol`).
    pub fn with_protocol(mut self, protocol: crate::protocol::Protocol) -> RaftApi {
        self.protocol = protocol;
        self
    }

    /// Only messages for this node and this replica are accepted: a replica that reuses an address
    /// another node's replica had must not take part in that node's Raft group.
    fn check<T>(&self, req: &Request<T>) -> Result<(), Status> {
        if let Ok(node) = federation::code::Code::parse_node("node", &self.node) {
            super::authz::replica_of(self.tls, &node, req)?;
            self.protocol.admit(&super::authz::who(self.tls, &node, req), req.metadata())?;
        }
        let md = req.metadata();
        let node = md.get(NODE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        let target =
            md.get(TARGET_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<ReplicaId>().ok());
        if node != self.node || target != Some(self.id) {
            warn!(node = %self.node, replica = self.id, from_node = node, for_replica = ?target, "refused a Raft message not meant for this replica");
            return Err(Status::permission_denied(format!(
                "this is replica {} of node {}, not replica {target:?} of node {node:?}",
                self.id, self.node
            )));
        }
        Ok(())
    }
}

fn decode<T: DeserializeOwned>(p: &RaftPayload) -> Result<T, Status> {
    crate::codec::decode(&p.data)
        .map_err(|e| Status::invalid_argument(format!("data: undecodable Raft message: {e}")))
}

fn reply<T: Serialize>(v: &T) -> Result<Response<RaftPayload>, Status> {
    let mut r = crate::codec::encode(v)
        .map(|data| Response::new(RaftPayload { data }))
        .map_err(|e| Status::internal(format!("cannot encode Raft reply: {e}")))?;
    crate::protocol::stamp(r.metadata_mut());
    Ok(r)
}

#[tonic::async_trait]
impl RaftService for RaftApi {
    #[instrument(level = "trace", skip_all)]
    async fn append_entries(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        self.check(&req)?;
        let rpc: AppendEntriesRequest<TypeConfig> = decode(req.get_ref())?;
        self.repair.observe(rpc.vote.leader_id().term, rpc.leader_commit.as_ref());
        reply(&self.raft.append_entries(rpc).await)
    }

    #[instrument(level = "debug", skip_all)]
    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        self.check(&req)?;
        if self.repair.active() {
            return Err(Status::unavailable(format!(
                "replica {} of node {} is repairing a damaged store and does not vote until it has caught up",
                self.id, self.node
            )));
        }
        let rpc = decode(req.get_ref())?;
        reply(&self.raft.vote(rpc).await)
    }

    async fn time(&self, req: Request<TimeRequest>) -> Result<Response<TimeResponse>, Status> {
        self.check(&req)?;
        let mut r = Response::new(TimeResponse { now_ms: self.clock.now_ms() });
        crate::protocol::stamp(r.metadata_mut());
        Ok(r)
    }

    #[instrument(level = "debug", skip_all)]
    async fn install_snapshot(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        self.check(&req)?;
        let rpc = decode(req.get_ref())?;
        reply(&self.raft.install_snapshot(rpc).await)
    }
}
