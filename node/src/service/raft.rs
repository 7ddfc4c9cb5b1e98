//! `RaftService`: hands openraft's messages from the other replicas to the local Raft instance.

use proto::v1::raft_service_server::RaftService;
use proto::v1::RaftPayload;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};
use tracing::instrument;

use crate::types::Raft;

/// The Raft transport's server side.
#[derive(Clone)]
pub struct RaftApi {
    raft: Raft,
}

impl RaftApi {
    pub fn new(raft: Raft) -> RaftApi {
        RaftApi { raft }
    }
}

fn decode<T: DeserializeOwned>(p: &RaftPayload) -> Result<T, Status> {
    bincode::deserialize(&p.data)
        .map_err(|e| Status::invalid_argument(format!("data: undecodable Raft message: {e}")))
}

fn reply<T: Serialize>(v: &T) -> Result<Response<RaftPayload>, Status> {
    bincode::serialize(v)
        .map(|data| Response::new(RaftPayload { data }))
        .map_err(|e| Status::internal(format!("cannot encode Raft reply: {e}")))
}

#[tonic::async_trait]
impl RaftService for RaftApi {
    #[instrument(level = "trace", skip_all)]
    async fn append_entries(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(req.get_ref())?;
        reply(&self.raft.append_entries(rpc).await)
    }

    #[instrument(level = "debug", skip_all)]
    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(req.get_ref())?;
        reply(&self.raft.vote(rpc).await)
    }

    #[instrument(level = "debug", skip_all)]
    async fn install_snapshot(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(req.get_ref())?;
        reply(&self.raft.install_snapshot(rpc).await)
    }
}
