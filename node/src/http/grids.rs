//! Grid boundaries: the node's places (grids and micro-grids) with their version, locating a point
//! (through the gRPC `GridService` in process, so they equal `gridnode grids list|locate`), and the
//! boundaries as GeoJSON for the console's map.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use federation::access::Need;
use federation::stats::{day_of, format_day};
use proto::v1 as pb;
use proto::v1::grid_service_server::GridService;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Authed;
use super::error::ApiError;
use super::figures::day_param;
use super::HttpCtx;

/// Which import a set of boundaries comes from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MapVersionJson {
    pub at_ms: i64,
    /// The node it was imported at.
    pub origin: String,
    /// Its log index there.
    pub index: u64,
}

fn version_json(v: Option<pb::MapVersion>) -> Option<MapVersionJson> {
    v.map(|v| MapVersionJson { at_ms: v.at_ms, origin: v.origin, index: v.index })
}

/// A grid or micro-grid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridPlaceJson {
    pub code: String,
    pub name: String,
    /// grid | micro
    pub kind: String,
}

/// The node's grid boundaries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridsJson {
    /// Absent when the node holds no boundaries.
    pub version: Option<MapVersionJson>,
    pub places: Vec<GridPlaceJson>,
}

/// A point to locate.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocateQuery {
    pub lat: f64,
    pub lon: f64,
    /// wgs84 (default) or gcj02
    pub crs: Option<String>,
}

/// Where a point lies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LocatedJson {
    pub found: bool,
    pub grid: String,
    pub grid_name: String,
    /// Empty outside every micro-grid.
    pub micro_grid: String,
    pub micro_name: String,
    /// The community that owns the grid's cases.
    pub community: String,
    /// The point in WGS-84.
    pub wgs84_lat: f64,
    pub wgs84_lon: f64,
    pub version: Option<MapVersionJson>,
}

/// The node's grids and micro-grids.
#[utoipa::path(get, path = "/api/v1/grids", tag = "grids", responses((status = 200, body = GridsJson), (status = 403, body = ApiError)))]
pub async fn list(State(ctx): State<HttpCtx>, a: Authed) -> Result<Json<GridsJson>, ApiError> {
    let resp = ctx.grids.list(ctx.request(&a, pb::ListGridsRequest { local: false })).await?.into_inner();
    Ok(Json(GridsJson {
        version: version_json(resp.version),
        places: resp
            .places
            .into_iter()
            .map(|p| GridPlaceJson { code: p.code, name: p.name, kind: p.kind })
            .collect(),
    }))
}

/// Which grid (and micro-grid) a point lies in.
#[utoipa::path(get, path = "/api/v1/grids/locate", tag = "grids", params(LocateQuery),
    responses((status = 200, body = LocatedJson), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn locate(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<LocateQuery>,
) -> Result<Json<LocatedJson>, ApiError> {
    let req = pb::LocateRequest { lat: q.lat, lon: q.lon, crs: q.crs.unwrap_or_default() };
    let r = ctx.grids.locate(ctx.request(&a, req)).await?.into_inner();
    Ok(Json(LocatedJson {
        found: r.found,
        grid: r.grid,
        grid_name: r.grid_name,
        micro_grid: r.micro_grid,
        micro_name: r.micro_name,
        community: r.community,
        wgs84_lat: r.wgs84_lat,
        wgs84_lon: r.wgs84_lon,
        version: version_json(r.version),
    }))
}

/// The node's boundaries as a GeoJSON FeatureCollection (WGS-84; properties `code` and `name`), for
/// maps; an empty collection when it holds none.
#[utoipa::path(get, path = "/api/v1/grids/geojson", tag = "grids",
    responses((status = 200, description = "application/geo+json"), (status = 403, body = ApiError)))]
pub async fn geojson(State(ctx): State<HttpCtx>, a: Authed) -> Result<impl IntoResponse, ApiError> {
    a.require(&ctx, Need::Read)?;
    let body = match ctx.reader.grid_map().map_err(crate::service::commit::store_status)? {
        Some((_, map)) => map.to_geojson(),
        None => "{\"type\":\"FeatureCollection\",\"features\":[]}".to_string(),
    };
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body))
}

/// A range of report days for the map's figures.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GridFiguresQuery {
    /// First report day, YYYY-MM-DD (Beijing time) [default: the beginning].
    pub from: Option<String>,
    /// Last report day, inclusive [default: today].
    pub to: Option<String>,
}

/// One grid's cases, for colouring the map.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridFigureJson {
    /// The 15-digit grid code.
    pub grid: String,
    /// Cases reported in the range.
    pub total: i64,
    /// Of those, not closed or cancelled.
    pub open: i64,
    /// Of those, closed.
    pub closed: i64,
    /// Open cases past their deadline now, among the cases this node owns (a community owns most of
    /// its grids' cases; an upper node sees its own).
    pub overdue: i64,
}

/// Cases per grid of the node's subtree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridFiguresJson {
    /// First and last report day of the range (`from` empty: the beginning).
    pub from: String,
    pub to: String,
    /// Every grid with a case in the range or an overdue case, by code.
    pub grids: Vec<GridFigureJson>,
    /// When the figures were read (ms since the epoch).
    pub at_ms: i64,
}

/// Cases per grid of the subtree from this replica's store (the node's own tallies and those rolled
/// up from below), with the overdue open cases the node owns: what the console's map colours.
#[utoipa::path(get, path = "/api/v1/grids/figures", tag = "grids", params(GridFiguresQuery),
    responses((status = 200, body = GridFiguresJson), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn figures(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<GridFiguresQuery>,
) -> Result<Json<GridFiguresJson>, ApiError> {
    a.require(&ctx, Need::Read)?;
    let now = ctx.clock.now_ms();
    let from = day_param("from", q.from.as_deref())?;
    let to = day_param("to", q.to.as_deref())?.unwrap_or(day_of(now));
    if from.is_some_and(|f| f > to) {
        return Err(ApiError::invalid("from", "is after to"));
    }
    let store = crate::service::commit::store_status;
    let per_grid = ctx.reader.per_grid(from.unwrap_or(i64::MIN), to).map_err(store)?;
    let overdue = ctx.reader.overdue_by_grid(now).map_err(store)?;
    let mut codes: Vec<&String> = per_grid.keys().chain(overdue.keys()).collect();
    codes.sort();
    codes.dedup();
    let grids = codes
        .into_iter()
        .map(|g| {
            let c = per_grid.get(g).cloned().unwrap_or_default();
            let open = c.open();
            GridFigureJson {
                grid: g.clone(),
                total: c.total,
                open,
                closed: c.closed,
                overdue: overdue.get(g).copied().unwrap_or(0),
            }
        })
        .collect();
    Ok(Json(GridFiguresJson {
        from: from.map(format_day).unwrap_or_default(),
        to: format_day(to),
        grids,
        at_ms: now,
    }))
}
