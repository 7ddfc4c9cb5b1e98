//! The HTTP side of a replica: the console's JSON API under `/api/v1/`, its OpenAPI document, live
//! events, `/metrics`, `/healthz` and `/readyz`, and the console's pages (`/`, `/screen`) and files. axum on the replica's runtime;
//! HTTPS with the replica's certificate through the node's own acceptor (`tls::incoming_http`: reload
//! on rotation, handshake limits, identity at the handshake, client certificate optional); plaintext
//! only when the replica runs without TLS, or on loopback for the demo (`http.plaintext_loopback`).
//!
//! Every API call goes through the gRPC service objects in process with the caller attached
//! (`service::authz::Caller`), so validation, refusals, leader forwarding and authorization are the
//! same as for the CLI.
//!
//! ```text
//! listener  connections from the TLS acceptor, with the peer's identity
//! auth      certificate, bearer token or session cookie -> Caller; sign in and out
//! cases     list, search, detail (audit, ownership, allowed actions), report, act
//! figures   statistics (own, subtree with freshness), daily series, departments, categories
//! tree      every node of the subtree with its figures, in one answer
//! cluster   links with backlog, Raft status
//! events    server-sent events: case, stats, links
//! probe     /healthz, /readyz, /metrics
//! openapi   /api/openapi.json          assets the pages and their embedded files
//! dto       JSON shapes                error  { code, field, message } and HTTP statuses
//! ```

mod assets;
mod auth;
mod cases;
mod cluster;
pub mod dto;
mod error;
mod events;
mod figures;
mod grids;
mod listener;
mod open311;
mod openapi;
mod probe;
mod staff;
mod tree;

use std::future::Future;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use openapi::ApiDoc;

use crate::clock::Clock;
use crate::config::{HttpSettings, PeerLimits};
use crate::consensus::Leadership;
use crate::health::Health;
use crate::links::LinkTable;
use crate::local::Local;
use crate::metrics::scrape::Sources;
use crate::metrics::{Metrics, RequestLayer};
use crate::service::authz::Caller;
use crate::service::{CaseApi, ClusterApi};
use crate::storage::reader::CaseReader;
use crate::storage::state_machine::Signals;
use crate::tls::Tls;

/// What the HTTP handlers use; cheap to clone.
#[derive(Clone)]
pub struct HttpCtx {
    pub(crate) local: Arc<Local>,
    pub(crate) case: CaseApi,
    pub(crate) cluster: ClusterApi,
    pub(crate) grids: crate::service::GridApi,
    pub(crate) staff: crate::service::StaffApi,
    pub(crate) reader: CaseReader,
    pub(crate) leadership: Leadership,
    pub(crate) health: Health,
    pub(crate) clock: Clock,
    pub(crate) signals: Signals,
    pub(crate) links: Arc<LinkTable>,
    pub(crate) metrics: Metrics,
    pub(crate) sources: Sources,
    /// Served over TLS: the session cookie is `Secure`.
    pub(crate) https: bool,
    /// Live-event streams still allowed.
    pub(crate) events: Arc<Semaphore>,
    /// Cancelled when the replica stops: live-event streams end.
    pub(crate) stop: CancellationToken,
}

/// The handles the HTTP side is built from.
pub struct HttpParts {
    pub local: Arc<Local>,
    pub case: CaseApi,
    pub cluster: ClusterApi,
    pub grids: crate::service::GridApi,
    pub staff: crate::service::StaffApi,
    pub reader: CaseReader,
    pub leadership: Leadership,
    pub health: Health,
    pub clock: Clock,
    pub signals: Signals,
    pub links: Arc<LinkTable>,
    pub metrics: Metrics,
    pub stop: CancellationToken,
}

impl HttpCtx {
    /// The context of the HTTP side, served over TLS when `https`.
    pub fn new(p: HttpParts, settings: &HttpSettings, https: bool) -> HttpCtx {
        let sources = Sources {
            local: p.local.clone(),
            leadership: p.leadership.clone(),
            reader: p.reader.clone(),
            links: p.links.clone(),
            health: p.health.clone(),
            clock: p.clock.clone(),
        };
        HttpCtx {
            local: p.local,
            case: p.case,
            cluster: p.cluster,
            grids: p.grids,
            staff: p.staff,
            reader: p.reader,
            leadership: p.leadership,
            health: p.health,
            clock: p.clock,
            signals: p.signals,
            links: p.links,
            metrics: p.metrics,
            sources,
            https,
            events: Arc::new(Semaphore::new(settings.max_event_clients)),
            stop: p.stop,
        }
    }

    /// A request to a gRPC service in process, on behalf of the authenticated caller.
    pub(crate) fn request<T>(&self, a: &auth::Authed, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.extensions_mut().insert::<Caller>(a.caller.clone());
        r
    }
}

/// The routes.
pub fn router(ctx: HttpCtx) -> Router {
    let metrics = ctx.metrics.clone();
    Router::new()
        .route("/", get(assets::index))
        .route("/screen", get(assets::screen))
        .route("/assets/{*path}", get(assets::asset))
        .route("/login", get(auth::login))
        .route("/healthz", get(probe::healthz))
        .route("/readyz", get(probe::readyz))
        .route("/metrics", get(probe::metrics))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/session", get(auth::session).post(auth::sign_in).delete(auth::sign_out))
        .route("/api/v1/cases", get(cases::list).post(cases::report))
        .route("/api/v1/cases/{id}", get(cases::detail))
        .route("/api/v1/cases/{id}/actions", post(cases::act))
        .route("/api/v1/stats", get(figures::own))
        .route("/api/v1/stats/subtree", get(figures::subtree))
        .route("/api/v1/stats/series", get(figures::series))
        .route("/api/v1/stats/tree", get(tree::tree))
        .route("/api/v1/grids", get(grids::list))
        .route("/api/v1/grids/locate", get(grids::locate))
        .route("/api/v1/grids/geojson", get(grids::geojson))
        .route("/api/v1/grids/figures", get(grids::figures))
        .route("/api/v1/staff", get(staff::list).post(staff::add))
        .route("/api/v1/staff/{id}", post(staff::change))
        .route("/api/v1/departments", get(figures::departments))
        .route("/api/v1/categories", get(figures::categories))
        .route("/api/v1/links", get(cluster::links))
        .route("/api/v1/cluster", get(cluster::status))
        .route("/api/v1/events", get(events::events))
        .route("/open311/v2/{file}", get(open311::get_root).post(open311::post_root))
        .route("/open311/v2/services/{file}", get(open311::get_service))
        .route("/open311/v2/requests/{file}", get(open311::get_request))
        .route("/open311/v2/tokens/{file}", get(open311::get_token))
        .fallback(|| async { ApiError::not_found("no such route; see /api/openapi.json") })
        .with_state(ctx)
        .layer(RequestLayer::http(metrics))
}

/// Serves the HTTP side on `listener` until `shutdown` resolves: HTTPS when `tls` is given, with the
/// connection limits of `limits`.
pub async fn serve(
    listener: TcpListener,
    ctx: HttpCtx,
    tls: Option<Arc<Tls>>,
    limits: PeerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let incoming = crate::tls::incoming_http(listener, tls, limits);
    let app = router(ctx).into_make_service_with_connect_info::<listener::HttpPeer>();
    axum::serve(listener::ConnListener { incoming, local }, app).with_graceful_shutdown(shutdown).await
}
