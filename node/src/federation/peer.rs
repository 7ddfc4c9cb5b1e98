//! A client of another node: any of its replicas, every call with a deadline. A follower forwards to
//! its leader, so a call only moves on to the next address when a replica cannot be reached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proto::v1::federation_service_client::FederationServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::config::PeerNode;

/// Calls a neighbour node's federation service.
#[derive(Clone)]
pub struct PeerClient {
    pub code: String,
    channels: Arc<Vec<(String, Channel)>>,
    preferred: Arc<AtomicUsize>,
    timeout: Duration,
}

impl PeerClient {
    pub fn new(
        peer: &PeerNode,
        timeout: Duration,
        tls: Option<&std::sync::Arc<crate::tls::Tls>>,
    ) -> Result<PeerClient, Status> {
        let channels = peer
            .replicas
            .iter()
            .map(|a| {
                crate::rpc::lazy_channel(a, tls)
                    .map(|c| (a.clone(), c))
                    .map_err(|e| Status::invalid_argument(format!("peer {} address {a}: {e}", peer.code)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PeerClient {
            code: peer.code.clone(),
            channels: Arc::new(channels),
            preferred: Arc::default(),
            timeout,
        })
    }

    /// Runs `call` on the preferred replica, then the others, until one answers with anything but
    /// "unavailable". Returns the last error if none does.
    pub async fn call<T, M, F>(&self, msg: M, mut call: F) -> Result<T, Status>
    where
        M: Clone,
        F: AsyncFnMut(FederationServiceClient<Channel>, Request<M>) -> Result<tonic::Response<T>, Status>,
    {
        let n = self.channels.len();
        let first = self.preferred.load(Ordering::Relaxed) % n.max(1);
        let mut last = Status::unavailable(format!("node {} has no replica addresses", self.code));
        for i in 0..n {
            let idx = (first + i) % n;
            let (addr, ch) = &self.channels[idx];
            let mut req = Request::new(msg.clone());
            req.set_timeout(self.timeout);
            match call(FederationServiceClient::new(ch.clone()), req).await {
                Ok(r) => {
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
                Err(s) => return Err(s),
            }
        }
        Err(last)
    }
}
