//! The node's Raft group and its federation links (through the gRPC `ClusterService` in process: the
//! same answer as `gridnode cluster status` and `gridnode federation status`).

use axum::extract::State;
use axum::Json;
use proto::v1 as pb;
use proto::v1::cluster_service_server::ClusterService;

use super::auth::Authed;
use super::dto::{ClusterJson, LinksJson};
use super::error::ApiError;
use super::HttpCtx;

/// The node's links to its parent and children with their backlogs (answered by the leader).
#[utoipa::path(get, path = "/api/v1/links", tag = "cluster", responses((status = 200, body = LinksJson)))]
pub async fn links(State(ctx): State<HttpCtx>, a: Authed) -> Result<Json<LinksJson>, ApiError> {
    let resp = ctx.cluster.links(ctx.request(&a, pb::LinksRequest {})).await?.into_inner();
    Ok(Json(LinksJson::from_pb(&resp, ctx.clock.now_ms())))
}

/// The node's Raft group: leader, term, every replica and its log position.
#[utoipa::path(get, path = "/api/v1/cluster", tag = "cluster", responses((status = 200, body = ClusterJson)))]
pub async fn status(State(ctx): State<HttpCtx>, a: Authed) -> Result<Json<ClusterJson>, ApiError> {
    let resp = ctx.cluster.status(ctx.request(&a, pb::StatusRequest { local: false })).await?.into_inner();
    Ok(Json(ClusterJson::from(&resp)))
}
