//! The CLI's gRPC client: any replica address (or several) of a node, every call with a deadline,
//! retried on another replica while the node elects a leader or a replica is down.

use std::time::{Duration, Instant};

use proto::v1::access_service_client::AccessServiceClient;
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::cluster_service_client::ClusterServiceClient;
use proto::v1::grid_service_client::GridServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};

/// A call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--node: {message}")]
    BadAddress { message: String },
    /// The node answered with an error (bad input, illegal action, ...).
    #[error("{message}")]
    Refused { code: Code, message: String },
    /// No replica could serve the call before the deadline.
    #[error("no replica of {addrs} answered within {secs}s: {last}")]
    Unreachable { addrs: String, secs: u64, last: String },
}

/// A client of one node.
#[derive(Clone)]
pub struct Client {
    addrs: Vec<String>,
    channels: Vec<Channel>,
    timeout: Duration,
}

/// Whether a call that failed with `s` is tried again (on the next replica, within the deadline).
pub fn is_retryable(s: &Status) -> bool {
    matches!(s.code(), Code::Unavailable | Code::Unknown | Code::Cancelled)
        || (s.code() == Code::DeadlineExceeded && s.message().contains("Timeout expired"))
}

impl Client {
    /// `spec` is one or more comma-separated `ip:port` (or `host:port`) addresses of the node's replicas.
    pub fn new(
        spec: &str,
        timeout: Duration,
        tls: Option<&std::sync::Arc<crate::tls::Tls>>,
    ) -> Result<Client, ClientError> {
        let addrs: Vec<String> =
            spec.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        if addrs.is_empty() {
            return Err(ClientError::BadAddress { message: "give at least one replica address".into() });
        }
        let mut channels = Vec::new();
        for a in &addrs {
            if !a.contains(':') || a.starts_with("http") {
                return Err(ClientError::BadAddress {
                    message: format!("{a:?} is not a host:port address (e.g. 127.0.0.1:7101)"),
                });
            }
            channels.push(
                crate::rpc::lazy_channel(a, tls)
                    .map_err(|e| ClientError::BadAddress { message: format!("{a:?}: {e}") })?,
            );
        }
        Ok(Client { addrs, channels, timeout })
    }

    /// Runs `call` against the replicas in turn until one answers or the deadline passes.
    async fn retry<C, T, F>(&self, make: impl Fn(Channel) -> C, mut call: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(C, Duration) -> Result<Response<T>, Status>,
    {
        let start = Instant::now();
        let mut backoff = Duration::from_millis(50);
        let mut last = String::from("no attempt");
        loop {
            for ch in &self.channels {
                let left = self.timeout.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(ClientError::Unreachable {
                        addrs: self.addrs.join(","),
                        secs: self.timeout.as_secs(),
                        last,
                    });
                }
                match call(make(ch.clone()), left).await {
                    Ok(r) => return Ok(r.into_inner()),
                    Err(s) if is_retryable(&s) => last = s.message().to_string(),
                    Err(s) => {
                        return Err(ClientError::Refused { code: s.code(), message: s.message().to_string() })
                    }
                }
            }
            tokio::time::sleep(backoff.min(self.timeout.saturating_sub(start.elapsed()))).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Calls the case service; `f` gets a client and a request-builder setting the deadline.
    pub async fn case<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(CaseServiceClient<Channel>, Duration) -> Result<Response<T>, Status>,
    {
        self.retry(CaseServiceClient::new, f).await
    }

    /// Calls the access-token service.
    pub async fn access<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(AccessServiceClient<Channel>, Duration) -> Result<Response<T>, Status>,
    {
        self.retry(AccessServiceClient::new, f).await
    }

    /// Calls the Open311 key service.
    pub async fn api_keys<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(
            proto::v1::api_key_service_client::ApiKeyServiceClient<Channel>,
            Duration,
        ) -> Result<Response<T>, Status>,
    {
        self.retry(proto::v1::api_key_service_client::ApiKeyServiceClient::new, f).await
    }

    /// Calls the grid service (a whole GeoJSON file may go in one import).
    pub async fn grids<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(GridServiceClient<Channel>, Duration) -> Result<Response<T>, Status>,
    {
        let limit = crate::service::MAX_GEOJSON_BYTES + 1024 * 1024;
        self.retry(
            |ch| GridServiceClient::new(ch).max_encoding_message_size(limit).max_decoding_message_size(limit),
            f,
        )
        .await
    }

    /// Calls the staff (roster) service.
    pub async fn staff<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(
            proto::v1::staff_service_client::StaffServiceClient<Channel>,
            Duration,
        ) -> Result<Response<T>, Status>,
    {
        self.retry(proto::v1::staff_service_client::StaffServiceClient::new, f).await
    }

    /// Calls the patrol service.
    pub async fn patrol<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(
            proto::v1::patrol_service_client::PatrolServiceClient<Channel>,
            Duration,
        ) -> Result<Response<T>, Status>,
    {
        self.retry(proto::v1::patrol_service_client::PatrolServiceClient::new, f).await
    }

    /// Calls the cluster service.
    pub async fn cluster<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        F: AsyncFnMut(ClusterServiceClient<Channel>, Duration) -> Result<Response<T>, Status>,
    {
        self.retry(ClusterServiceClient::new, f).await
    }
}

/// A request with a deadline.
pub fn with_deadline<T>(msg: T, deadline: Duration) -> Request<T> {
    let mut r = Request::new(msg);
    r.set_timeout(deadline);
    r
}
