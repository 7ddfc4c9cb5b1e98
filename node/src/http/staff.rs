//! The roster of grid workers (网格员名册) over HTTP, through the gRPC `StaffService` in process, so the
//! answers, the refusals and the phone masking equal `gridnode staff ...`.

use axum::extract::{Path, Query, State};
use axum::Json;
use proto::v1 as pb;
use proto::v1::staff_service_server::StaffService;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Authed;
use super::error::ApiError;
use super::HttpCtx;

/// A worker on the roster.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkerJson {
    /// W370102001001-007
    pub id: String,
    pub name: String,
    /// grid_leader | full_time | part_time | building_leader | informant
    pub role: String,
    /// 网格长 | 专职网格员 | 兼职网格员 | 楼栋长 | 网格信息员
    pub role_zh: String,
    /// In full for the node's own operators, else masked (138****1234).
    pub phone: String,
    /// Unit grids and micro-grids.
    pub places: Vec<String>,
    pub active: bool,
}

/// Workers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkersJson {
    pub workers: Vec<WorkerJson>,
}

fn workers_json(r: pb::WorkersResponse) -> Json<WorkersJson> {
    let workers = r
        .workers
        .into_iter()
        .map(|w| WorkerJson {
            id: w.id,
            name: w.name,
            role: w.role,
            role_zh: w.role_zh,
            phone: w.phone,
            places: w.places,
            active: w.active,
        })
        .collect();
    Json(WorkersJson { workers })
}

/// Which workers to list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StaffQuery {
    /// Include deactivated workers.
    #[serde(default)]
    pub all: bool,
    /// Only workers assigned this grid or micro-grid.
    #[serde(default)]
    pub place: String,
}

/// A worker to add; the node gives the id.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AddWorkerBody {
    pub name: String,
    /// As `WorkerJson.role`, or its Chinese label.
    pub role: String,
    /// 11-digit mobile number.
    pub phone: String,
    #[serde(default)]
    pub places: Vec<String>,
}

/// A change to one worker: `assign` (places), `unassign` (place), `deactivate`, `reactivate`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WorkerChangeBody {
    pub op: String,
    #[serde(default)]
    pub places: Vec<String>,
    #[serde(default)]
    pub place: String,
}

/// The node's workers.
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff", params(StaffQuery),
    responses((status = 200, body = WorkersJson), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<StaffQuery>,
) -> Result<Json<WorkersJson>, ApiError> {
    let req = pb::ListWorkersRequest { all: q.all, place: q.place };
    Ok(workers_json(ctx.staff.list_workers(ctx.request(&a, req)).await?.into_inner()))
}

/// Add a worker.
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", request_body = AddWorkerBody,
    responses((status = 200, body = WorkersJson), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn add(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Json(b): Json<AddWorkerBody>,
) -> Result<Json<WorkersJson>, ApiError> {
    let req = pb::AddWorkerRequest { name: b.name, role: b.role, phone: b.phone, places: b.places };
    Ok(workers_json(ctx.staff.add_worker(ctx.request(&a, req)).await?.into_inner()))
}

/// Assign or take places, deactivate or reactivate a worker.
#[utoipa::path(post, path = "/api/v1/staff/{id}", tag = "staff", request_body = WorkerChangeBody,
    params(("id" = String, Path, description = "the worker's id")),
    responses((status = 200, body = WorkersJson), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn change(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Path(id): Path<String>,
    Json(b): Json<WorkerChangeBody>,
) -> Result<Json<WorkersJson>, ApiError> {
    let s = &ctx.staff;
    let r = match b.op.as_str() {
        "assign" => s.assign_worker(ctx.request(&a, pb::AssignWorkerRequest { id, places: b.places })).await,
        "unassign" => {
            s.unassign_worker(ctx.request(&a, pb::UnassignWorkerRequest { id, place: b.place })).await
        }
        "deactivate" => s.deactivate_worker(ctx.request(&a, pb::WorkerIdRequest { id })).await,
        "reactivate" => s.reactivate_worker(ctx.request(&a, pb::WorkerIdRequest { id })).await,
        other => Err(tonic::Status::invalid_argument(format!(
            "op: {other:?} is not one of assign, unassign, deactivate, reactivate"
        ))),
    };
    Ok(workers_json(r?.into_inner()))
}
