//! The OpenAPI document of every route (`/api/openapi.json`), generated from the handlers' and JSON
//! types' annotations (utoipa).

use axum::Json;
use utoipa::OpenApi;

use super::{assets, auth, cases, cluster, dto, error, events, figures, grids, open311, probe, staff, tree};

/// Every route of the console's API.
#[derive(OpenApi)]
#[openapi(
    info(title = "gridfed console API", version = "1",
        description = "The JSON API of a gridfed replica: cases, figures, links and cluster status, with the same authorization as gRPC (operator certificates, or access tokens as a session cookie or Authorization: Bearer). Errors are { code, field, message }."),
    paths(
        auth::session, auth::sign_in, auth::sign_out, auth::login,
        cases::list, cases::detail, cases::act, cases::report,
        figures::own, figures::subtree, figures::series, tree::tree, figures::departments, figures::categories,
        cluster::links, cluster::status,
        grids::list, grids::locate, grids::geojson, grids::figures,
        staff::list, staff::add, staff::change,
        open311::get_root, open311::post_root, open311::get_service, open311::get_request, open311::get_token,
        events::events,
        probe::healthz, probe::readyz, probe::metrics,
        document, assets::index, assets::screen, assets::asset,
    ),
    components(schemas(
        error::ApiError, dto::CaseJson, dto::CaseDetail, dto::CasePage, dto::AuditJson, dto::OwnershipStep,
        dto::HandlerJson, dto::ActBody, cases::ReportBody, dto::StatsJson, dto::FiguresJson, dto::CountersJson, dto::FreshnessJson,
        dto::SeriesJson, dto::DayJson, dto::DepartmentJson, dto::CategoryJson, dto::LinksJson, dto::LinkJson,
        dto::ClusterJson, dto::ReplicaJson, dto::TreeJson, dto::TreeNodeJson, dto::LightsJson, dto::SessionBody, dto::WhoAmI, dto::ProbeJson,
        grids::GridsJson, grids::GridPlaceJson, grids::LocatedJson, grids::MapVersionJson, grids::GridFiguresJson, grids::GridFigureJson,
        staff::WorkerJson, staff::WorkersJson, staff::AddWorkerBody, staff::WorkerChangeBody,
    )),
    tags(
        (name = "session", description = "signing in with an access token"),
        (name = "cases", description = "案件: list, search, detail, report, act"),
        (name = "figures", description = "statistics with freshness, daily series, departments, categories"),
        (name = "cluster", description = "federation links and the Raft group"),
        (name = "grids", description = "grid boundaries: places, locating a point, GeoJSON for maps"),
        (name = "staff", description = "the roster of grid workers (网格员名册), which dispatch by place uses"),
        (name = "events", description = "server-sent events"),
        (name = "open311", description = "Open311 GeoReport v2 for the 12345 hotline and city apps (api_key on POST)"),
        (name = "probes", description = "health, readiness, Prometheus metrics"),
        (name = "console", description = "the console's pages (/, /screen) and their embedded files"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "probes", responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
