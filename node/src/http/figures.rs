//! Figures: the node's own statistics and its subtree's with freshness (through the gRPC `Stats` in
//! process, so they equal `gridnode stats` for the same moment), daily series, departments and
//! categories. Figures by category, grid and department are the `by_*` counters of the statistics.

use axum::extract::{Query, State};
use axum::Json;
use federation::access::Need;
use federation::code::Code;
use federation::stats::{day_of, format_day, parse_day};
use proto::v1 as pb;
use proto::v1::case_service_server::CaseService;

use super::auth::Authed;
use super::dto::{CategoryJson, DayJson, DepartmentJson, SeriesJson, StatsJson, StatsQuery};
use super::error::ApiError;
use super::HttpCtx;

/// Longest series, in days.
const MAX_SERIES_DAYS: i64 = 366;

/// A day parameter (`YYYY-MM-DD`, Beijing time) as a day number; None when absent or empty.
pub(super) fn day_param(field: &'static str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(s) => parse_day(field, s).map(Some).map_err(|m| ApiError::invalid(field, m)),
    }
}

async fn stats_of(
    ctx: &HttpCtx,
    a: &Authed,
    q: StatsQuery,
    subtree: bool,
) -> Result<Json<StatsJson>, ApiError> {
    if !subtree && q.scope.is_some() {
        return Err(ApiError::invalid("scope", "only for /api/v1/stats/subtree"));
    }
    let req = pb::StatsRequest {
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        // A subtree's figures are mostly rollups, stale by their age whoever reads them: read them
        // from this replica's store, as the tree is, without a round of the Raft group (whose queue
        // behind a stream of rollups set the p99); the node's own figures stay linearizable.
        local: subtree,
        subtree,
        scope: q.scope.unwrap_or_default(),
    };
    let resp = ctx.case.stats(ctx.request(a, req)).await?.into_inner();
    Ok(Json(StatsJson::from_pb(&resp, ctx.clock.now_ms())))
}

/// The standard figures of this node's own cases.
#[utoipa::path(get, path = "/api/v1/stats", tag = "figures", params(StatsQuery),
    responses((status = 200, body = StatsJson), (status = 400, body = ApiError)))]
pub async fn own(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<StatsQuery>,
) -> Result<Json<StatsJson>, ApiError> {
    stats_of(&ctx, &a, q, false).await
}

/// The figures of the subtree (or of `scope`: a node or grid below), from this replica's store, with
/// how fresh each node's part is.
#[utoipa::path(get, path = "/api/v1/stats/subtree", tag = "figures", params(StatsQuery),
    responses((status = 200, body = StatsJson), (status = 400, body = ApiError)))]
pub async fn subtree(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<StatsQuery>,
) -> Result<Json<StatsJson>, ApiError> {
    stats_of(&ctx, &a, q, true).await
}

/// Daily intake and closures by report day for the subtree (or `scope`), from this replica's store;
/// default range: the last 30 days.
#[utoipa::path(get, path = "/api/v1/stats/series", tag = "figures", params(StatsQuery),
    responses((status = 200, body = SeriesJson), (status = 400, body = ApiError)))]
pub async fn series(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<StatsQuery>,
) -> Result<Json<SeriesJson>, ApiError> {
    a.require(&ctx, Need::Read)?;
    let today = day_of(ctx.clock.now_ms());
    let to = day_param("to", q.to.as_deref())?.unwrap_or(today);
    let from = day_param("from", q.from.as_deref())?.unwrap_or(to - 29);
    if from > to || to - from >= MAX_SERIES_DAYS {
        return Err(ApiError::invalid(
            "from",
            format!("the range must run forward and span at most {MAX_SERIES_DAYS} days"),
        ));
    }
    let scope = match q.scope.as_deref() {
        None | Some("") => ctx.local.node.clone(),
        Some(s) => {
            let c = Code::parse("scope", s).map_err(|e| ApiError::invalid("scope", e.to_string()))?;
            if !c.is_within(&ctx.local.node) {
                return Err(ApiError::invalid(
                    "scope",
                    format!("{c} is not in the subtree of node {}", ctx.local.node),
                ));
            }
            c
        }
    };
    let days = ctx
        .reader
        .daily(&scope, from, to)
        .map_err(|e| ApiError::from(tonic::Status::internal(format!("storage: {e}"))))?;
    let days = (from..=to)
        .map(|d| {
            let c = days.get(&d).cloned().unwrap_or_default();
            DayJson {
                day: format_day(d),
                total: c.total,
                registered: c.registered,
                handled: c.handled,
                closed: c.closed,
                closed_on_time: c.closed_on_time,
                returned: c.returned,
                cancelled: c.cancelled,
            }
        })
        .collect();
    Ok(Json(SeriesJson { scope: scope.to_string(), days }))
}

/// The departments cases can be dispatched to here (吹哨).
#[utoipa::path(get, path = "/api/v1/departments", tag = "figures", responses((status = 200, body = [DepartmentJson])))]
pub async fn departments(
    State(ctx): State<HttpCtx>,
    a: Authed,
) -> Result<Json<Vec<DepartmentJson>>, ApiError> {
    let resp = ctx.case.departments(ctx.request(&a, pb::DepartmentsRequest {})).await?.into_inner();
    Ok(Json(
        resp.departments
            .into_iter()
            .map(|d| DepartmentJson { name: d.name, deadline_hours: d.deadline_hours })
            .collect(),
    ))
}

/// The national event/component classification.
#[utoipa::path(get, path = "/api/v1/categories", tag = "figures", responses((status = 200, body = [CategoryJson])))]
pub async fn categories(State(ctx): State<HttpCtx>, a: Authed) -> Result<Json<Vec<CategoryJson>>, ApiError> {
    let resp = ctx.case.categories(ctx.request(&a, pb::CategoriesRequest {})).await?.into_inner();
    Ok(Json(
        resp.categories
            .into_iter()
            .map(|c| CategoryJson { code: c.code, kind: c.kind, major: c.major, minor: c.minor })
            .collect(),
    ))
}
