//! Probes and metrics, open without credentials (load balancers and Prometheus call them):
//! `/healthz` (the process serves), `/readyz` (see `health::ready`), `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::dto::ProbeJson;
use super::HttpCtx;
use crate::health::ready::readiness;

fn probe(ctx: &HttpCtx) -> ProbeJson {
    let r = readiness(&ctx.leadership, &ctx.health);
    ProbeJson {
        ready: r.ready,
        node: ctx.local.node.to_string(),
        replica: ctx.local.replica,
        role: r.role.into(),
        leader: r.leader,
        term: r.term,
        committed: r.committed,
        applied: r.applied,
        last_log: r.last_log,
        reasons: r.reasons,
    }
}

/// The process is up and serving HTTP (always 200 while it answers).
#[utoipa::path(get, path = "/healthz", tag = "probes", responses((status = 200, body = ProbeJson)))]
pub async fn healthz(State(ctx): State<HttpCtx>) -> Json<ProbeJson> {
    Json(probe(&ctx))
}

/// Ready to serve: the Raft group has a leader, this replica has applied what it knows committed, it
/// is not repairing its store and its storage has not failed. 503 with the reasons otherwise.
#[utoipa::path(get, path = "/readyz", tag = "probes",
    responses((status = 200, body = ProbeJson), (status = 503, body = ProbeJson)))]
pub async fn readyz(State(ctx): State<HttpCtx>) -> Response {
    let p = probe(&ctx);
    let status = if p.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(p)).into_response()
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "probes", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(ctx): State<HttpCtx>) -> Response {
    crate::metrics::scrape::refresh(&ctx.metrics, &ctx.sources);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], ctx.metrics.encode())
        .into_response()
}
