//! Raft transport between the replicas of one node: openraft's messages, encoded by `codec`, carried by
//! the `RaftService` gRPC service. Every RPC has a deadline (openraft's TTL for it).

use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use proto::v1::raft_service_client::RaftServiceClient;
use proto::v1::RaftPayload;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::Channel;

use crate::consensus::types::{ReplicaId, TypeConfig};
use crate::rpc;

/// Largest Raft message (log batches, snapshot chunks).
pub const MAX_RAFT_MESSAGE: usize = 64 * 1024 * 1024;

/// The longest wait between calls to a replica that refused this one's protocol version.
const MAX_PROTOCOL_BACKOFF: Duration = Duration::from_secs(30);

/// Metadata naming the node a Raft message belongs to; a replica refuses messages for another node.
pub const NODE_HEADER: &str = "x-gridfed-node";
/// Metadata naming the replica a Raft message is for; a replica refuses messages for another id.
pub const TARGET_HEADER: &str = "x-gridfed-replica";

/// Creates connections to the other replicas of this node.
#[derive(Clone)]
pub struct Network {
    node: String,
    tls: Option<std::sync::Arc<crate::tls::Tls>>,
    protocol: crate::protocol::Protocol,
}

impl Network {
    /// The network of a replica of node `node`, over mutual TLS when `tls` is given.
    pub fn new(node: &str, tls: Option<std::sync::Arc<crate::tls::Tls>>) -> Network {
        Network { node: node.to_string(), tls, protocol: crate::protocol::Protocol::new() }
    }

    /// Records the versions the other replicas announce in `protocol` (see `crate::protocol`).
    pub fn with_protocol(mut self, protocol: crate::protocol::Protocol) -> Network {
        self.protocol = protocol;
        self
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: ReplicaId, node: &BasicNode) -> Connection {
        Connection {
            node: self.node.clone(),
            tls: self.tls.clone(),
            target,
            addr: node.addr.clone(),
            client: None,
            protocol: self.protocol.clone(),
        }
    }
}

/// A lazily connected client to one replica.
pub struct Connection {
    node: String,
    tls: Option<std::sync::Arc<crate::tls::Tls>>,
    target: ReplicaId,
    addr: String,
    client: Option<RaftServiceClient<Channel>>,
    protocol: crate::protocol::Protocol,
}

type RpcResult<T, E> = Result<T, RPCError<ReplicaId, BasicNode, RaftError<ReplicaId, E>>>;

#[derive(Clone, Copy)]
enum Kind {
    Append,
    Vote,
    Snapshot,
}

impl Connection {
    fn client(&mut self) -> Result<RaftServiceClient<Channel>, tonic::transport::Error> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let channel = rpc::lazy_channel(&self.addr, self.tls.as_ref())?;
        let c = RaftServiceClient::new(channel)
            .max_decoding_message_size(MAX_RAFT_MESSAGE)
            .max_encoding_message_size(MAX_RAFT_MESSAGE);
        self.client = Some(c.clone());
        Ok(c)
    }

    async fn call<Req, Resp, E>(&mut self, kind: Kind, req: &Req, ttl: Duration) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let data = crate::codec::encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut client = self.client().map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        let mut request = tonic::Request::new(RaftPayload { data });
        request.set_timeout(ttl);
        // Name the node and replica this is for: a process that reused the address refuses it.
        if let Ok(v) = self.node.parse() {
            request.metadata_mut().insert(NODE_HEADER, v);
        }
        request.metadata_mut().insert(TARGET_HEADER, self.target.into());
        self.protocol.stamp(request.metadata_mut());
        let reply = match kind {
            Kind::Append => client.append_entries(request).await,
            Kind::Vote => client.vote(request).await,
            Kind::Snapshot => client.install_snapshot(request).await,
        };
        let reply = match reply {
            Ok(r) => {
                self.protocol.heard(&crate::protocol::replica(self.target), r.metadata());
                r.into_inner()
            }
            Err(status) => {
                if self.protocol.refused_by(&crate::protocol::replica(self.target), &status) {
                    // Retried with a growing backoff (see `backoff`), like an unreachable replica.
                    self.client = None;
                    return Err(RPCError::Unreachable(Unreachable::new(&status)));
                }
                // Drop the channel so the next call reconnects (the peer may have restarted).
                self.client = None;
                return Err(match status.code() {
                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                        RPCError::Unreachable(Unreachable::new(&status))
                    }
                    _ => RPCError::Network(NetworkError::new(&status)),
                });
            }
        };
        let result: Result<Resp, RaftError<ReplicaId, E>> =
            crate::codec::decode(&reply.data).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<ReplicaId>, openraft::error::Infallible> {
        self.call(Kind::Append, &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<ReplicaId>, InstallSnapshotError> {
        self.call(Kind::Snapshot, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<ReplicaId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<ReplicaId>, openraft::error::Infallible> {
        self.call(Kind::Vote, &rpc, option.hard_ttl()).await
    }

    /// A replica that refused this one's protocol version is retried ever more slowly (up to every
    /// 30 s), so the logs do not fill; others every 500 ms, openraft's default.
    fn backoff(&self) -> openraft::network::Backoff {
        if self.protocol.refusing(&crate::protocol::replica(self.target)) {
            let steps = (0u32..)
                .map(|i| Duration::from_millis(500).saturating_mul(1 << i.min(6)).min(MAX_PROTOCOL_BACKOFF));
            openraft::network::Backoff::new(steps)
        } else {
            openraft::network::Backoff::new(std::iter::repeat(Duration::from_millis(500)))
        }
    }
}
