//! gRPC plumbing shared by every client and server of a node: channels with deadlines, and the one
//! place where listeners are turned into servers, with TLS and per-peer limits (see `tls`), so the
//! services themselves know nothing of either.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use crate::config::PeerLimits;

use crate::consensus::network::MAX_RAFT_MESSAGE;
use crate::metrics::{Metrics, RequestLayer};
use crate::service::{AccessApi, CaseApi, ClusterApi, GridApi, PatrolApi, PeerApi, RaftApi, StaffApi};
use crate::tls::Tls;

/// How often the standard gRPC health service's status is brought up to date.
const HEALTH_EVERY: Duration = Duration::from_millis(200);

/// What the gRPC server serves besides the four gridfed services: the access-token service, the
/// standard health service (SERVING while `ready` says so) and server reflection, all counted in
/// `metrics`.
pub struct Extras {
    pub access: AccessApi,
    pub grids: GridApi,
    pub staff: StaffApi,
    pub patrols: PatrolApi,
    pub metrics: Metrics,
    /// Whether the replica is ready (see `health::ready`).
    pub ready: Box<dyn Fn() -> bool + Send + Sync>,
}

/// Keeps the health service's overall status ("") and each gridfed service's equal to `ready()`.
async fn follow_health(
    reporter: tonic_health::server::HealthReporter,
    ready: Box<dyn Fn() -> bool + Send + Sync>,
) -> std::convert::Infallible {
    use tonic_health::ServingStatus;
    let names = [
        "",
        "gridfed.v1.CaseService",
        "gridfed.v1.ClusterService",
        "gridfed.v1.AccessService",
        "gridfed.v1.GridService",
        "gridfed.v1.ApiKeyService",
        "gridfed.v1.StaffService",
        "gridfed.v1.PatrolService",
        "gridfed.v1.PeerService",
        "gridfed.v1.RaftService",
    ];
    let mut last = None;
    loop {
        let now = ready();
        if last != Some(now) {
            let status = if now { ServingStatus::Serving } else { ServingStatus::NotServing };
            for n in names {
                reporter.set_service_status(n, status).await;
            }
            last = Some(now);
        }
        tokio::time::sleep(HEALTH_EVERY).await;
    }
}

/// How long to wait for a TCP connection to a replica.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default deadline of a client RPC.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest client message.
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024 * 1024;

/// A channel to `addr` (`ip:port`) that connects on first use, over mutual TLS when `tls` is given
/// (each new connection uses the certificate on disk at that moment).
pub fn lazy_channel(addr: &str, tls: Option<&Arc<Tls>>) -> Result<Channel, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5));
    Ok(match tls {
        Some(t) => crate::tls::channel(endpoint, t.clone()),
        None => endpoint.connect_lazy(),
    })
}

/// Channels to other replicas (of this node, for forwarding; of neighbours, for links), created on
/// first use and reused; cheap to clone.
#[derive(Clone)]
pub struct ChannelPool {
    tls: Option<Arc<Tls>>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl ChannelPool {
    /// Channels over mutual TLS when `tls` is given, plaintext otherwise.
    pub fn new(tls: Option<Arc<Tls>>) -> ChannelPool {
        ChannelPool { tls, channels: Arc::default() }
    }

    /// The channel to `addr` (`ip:port`).
    pub fn get(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let c = lazy_channel(addr, self.tls.as_ref())?;
        channels.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Mutual TLS, when on.
    pub fn tls(&self) -> Option<&Arc<Tls>> {
        self.tls.as_ref()
    }
}

/// Binds a TCP listener (port 0 picks a free port).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the client, cluster, peer and Raft services of one replica on `listener` until
/// `shutdown` resolves: over mutual TLS when `tls` is given, with `limits` per peer.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    case: CaseApi,
    cluster: ClusterApi,
    peer: PeerApi,
    raft: RaftApi,
    extras: Extras,
    tls: Option<Arc<Tls>>,
    limits: PeerLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    use proto::v1::access_service_server::AccessServiceServer;
    use proto::v1::case_service_server::CaseServiceServer;
    use proto::v1::cluster_service_server::ClusterServiceServer;
    use proto::v1::grid_service_server::GridServiceServer;
    use proto::v1::peer_service_server::PeerServiceServer;
    use proto::v1::raft_service_server::RaftServiceServer;
    let reporter = tonic_health::server::HealthReporter::new();
    let health = tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
    );
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| {
            tracing::error!(error = %e, "gRPC reflection cannot start");
            e
        });
    let server = tonic::transport::Server::builder()
        .timeout(Duration::from_secs(60))
        // Connections whose peer stopped answering are dropped instead of holding the peer's budget.
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .layer(RequestLayer::grpc(extras.metrics.clone()))
        .layer(crate::tls::PerPeerLimitLayer)
        .layer(crate::service::StatusCodesLayer)
        .add_service(health)
        .add_service(proto::v1::api_key_service_server::ApiKeyServiceServer::new(extras.access.clone()))
        .add_service(AccessServiceServer::new(extras.access))
        .add_service(proto::v1::staff_service_server::StaffServiceServer::new(extras.staff))
        .add_service(proto::v1::patrol_service_server::PatrolServiceServer::new(extras.patrols))
        .add_service(
            GridServiceServer::new(extras.grids)
                .max_decoding_message_size(crate::service::MAX_GEOJSON_BYTES + 1024 * 1024),
        )
        .add_optional_service(reflection.ok())
        .add_service(
            CaseServiceServer::new(case)
                .max_decoding_message_size(MAX_CLIENT_MESSAGE)
                .max_encoding_message_size(MAX_CLIENT_MESSAGE * 4),
        )
        .add_service(ClusterServiceServer::new(cluster))
        .add_service(
            PeerServiceServer::new(peer)
                .max_decoding_message_size(MAX_RAFT_MESSAGE)
                .max_encoding_message_size(MAX_CLIENT_MESSAGE),
        )
        .add_service(
            RaftServiceServer::new(raft)
                .max_decoding_message_size(MAX_RAFT_MESSAGE)
                .max_encoding_message_size(MAX_RAFT_MESSAGE),
        )
        // `incoming` turns Nagle off on every accepted connection: gRPC writes headers, data and trailers
        // separately, and with Nagle each response would wait for the peer's delayed ACK (~40 ms).
        .serve_with_incoming_shutdown(crate::tls::incoming(listener, tls, limits), shutdown);
    tokio::select! {
        served = server => served,
        never = follow_health(reporter, extras.ready) => match never {},
    }
}
