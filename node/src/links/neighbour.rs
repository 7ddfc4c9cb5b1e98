//! A client of another node: any of its replicas, every call with a deadline. A follower forwards to
//! its leader, so a call only moves on to the next address when a replica cannot be reached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proto::v1::peer_service_client::PeerServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Status};

use federation::code::Code;
use proto::v1::HelloRequest;

use crate::config::Neighbour;
use crate::local::Local;

/// Calls a neighbour node's peer service.
#[derive(Clone)]
pub struct NeighbourClient {
    pub code: String,
    channels: Arc<Vec<(String, Channel)>>,
    preferred: Arc<AtomicUsize>,
    timeout: Duration,
    protocol: crate::protocol::Protocol,
}

impl NeighbourClient {
    /// The protocol version the neighbour's preferred replica last answered with, if it answered.
    pub fn version(&self) -> Option<u32> {
        let idx = self.preferred.load(Ordering::Relaxed) % self.channels.len().max(1);
        let (addr, _) = self.channels.get(idx)?;
        self.protocol.of(&format!("node {} at {addr}", self.code))
    }

    pub fn new(
        peer: &Neighbour,
        timeout: Duration,
        pool: &crate::rpc::ChannelPool,
    ) -> Result<NeighbourClient, Status> {
        let channels = peer
            .replicas
            .iter()
            .map(|a| {
                pool.get(a)
                    .map(|c| (a.clone(), c))
                    .map_err(|e| Status::invalid_argument(format!("peer {} address {a}: {e}", peer.code)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NeighbourClient {
            code: peer.code.clone(),
            channels: Arc::new(channels),
            preferred: Arc::default(),
            timeout,
            protocol: crate::protocol::Protocol::new(),
        })
    }

    /// Runs `call` on the preferred replica, then the others, until one answers with anything but
    /// "unavailable". Returns the last error if none does.
    pub async fn call<T, M, F>(&self, msg: M, mut call: F) -> Result<T, Status>
    where
        M: Clone,
        F: AsyncFnMut(PeerServiceClient<Channel>, Request<M>) -> Result<tonic::Response<T>, Status>,
    {
        let n = self.channels.len();
        let first = self.preferred.load(Ordering::Relaxed) % n.max(1);
        let mut last = Status::unavailable(format!("node {} has no replica addresses", self.code));
        for i in 0..n {
            let idx = (first + i) % n;
            let (addr, ch) = &self.channels[idx];
            let mut req = Request::new(msg.clone());
            req.set_timeout(self.timeout);
            self.protocol.stamp(req.metadata_mut());
            match call(PeerServiceClient::new(ch.clone()), req).await {
                Ok(r) => {
                    self.protocol.heard(&format!("node {} at {addr}", self.code), r.metadata());
                    self.preferred.store(idx, Ordering::Relaxed);
                    return Ok(r.into_inner());
                }
                Err(s)
                    if matches!(
                        s.code(),
                        tonic::Code::Unavailable
                            | tonic::Code::DeadlineExceeded
                            | tonic::Code::Unknown
                            | tonic::Code::Cancelled
                    ) =>
                {
                    last = Status::new(s.code(), format!("{addr}: {}", s.message()));
                }
                Err(s) => {
                    self.protocol.refused_by(&format!("node {} at {addr}", self.code), &s);
                    return Err(s);
                }
            }
        }
        Err(last)
    }
}

/// Checks that the neighbour is who the config says: its code and level, and the parent/child relation.
pub(super) async fn handshake(
    local: &Local,
    client: &NeighbourClient,
    peer: &Code,
) -> Result<(), HandshakeError> {
    let hello = HelloRequest {
        code: local.node.to_string(),
        level: local.node.level().to_string(),
        name: local.name.clone(),
    };
    let r = client
        .call(hello, async |mut c, req| c.hello(req).await)
        .await
        .map_err(|s| HandshakeError::Call { message: s.message().to_string() })?;
    if r.code != peer.as_str() || r.level != peer.level().to_string() {
        return Err(HandshakeError::Stranger {
            code: r.code,
            level: r.level,
            expected: peer.clone(),
            expected_level: peer.level().to_string(),
        });
    }
    Ok(())
}

/// Why a neighbour's greeting failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum HandshakeError {
    #[error("{message}")]
    Call { message: String },
    #[error("the peer answered as {code} ({level}), expected {expected} ({expected_level})")]
    Stranger { code: String, level: String, expected: Code, expected_level: String },
}
