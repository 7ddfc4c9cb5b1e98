//! `GET /api/v1/stats/tree`: every node of the subtree with its figures, in one answer read from this
//! replica's store at one moment (the console's tree and the wall screen's rankings). Each node's
//! figures equal `/api/v1/stats/subtree?scope=NODE` and `gridnode stats --subtree NODE` for the same
//! moment; one pass over the tallies instead of a query per node.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use federation::access::Need;
use federation::stats::{day_of, format_day};

use super::auth::Authed;
use super::dto::{CountersJson, FiguresJson, FreshnessJson, LightsJson, StatsQuery, TreeJson, TreeNodeJson};
use super::error::ApiError;
use super::figures::day_param;
use super::HttpCtx;
use crate::storage::reader::TreeNode;

fn storage(e: crate::storage::StoreError) -> ApiError {
    ApiError::from(tonic::Status::internal(format!("storage: {e}")))
}

/// Every node of this node's subtree with its subtree's figures and freshness, parents first.
#[utoipa::path(get, path = "/api/v1/stats/tree", tag = "figures", params(StatsQuery),
    responses((status = 200, body = TreeJson), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn tree(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<StatsQuery>,
) -> Result<Json<TreeJson>, ApiError> {
    crate::service::authz::authorize(&a.caller, &ctx.local.node, Need::Read)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "permission_denied", None, e.to_string()))?;
    if q.scope.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid("scope", "the tree is always of this node's whole subtree"));
    }
    let now = ctx.clock.now_ms();
    let from = day_param("from", q.from.as_deref())?.unwrap_or(0);
    let to = day_param("to", q.to.as_deref())?.unwrap_or(day_of(now));
    if from > to {
        return Err(ApiError::invalid(
            "from",
            format!("{} is after to ({})", format_day(from), format_day(to)),
        ));
    }
    let reader = ctx.reader.clone();
    let policy = ctx.local.rules.policy.clone();
    let (nodes, lights) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::storage::StoreError>((reader.tree(from, to, now)?, reader.own_lights(now, &policy)?))
    })
    .await
    .map_err(|e| ApiError::from(tonic::Status::internal(format!("tree: {e}"))))?
    .map_err(storage)?;
    let lights = LightsJson { green: lights.green, yellow: lights.yellow, red: lights.red };
    Ok(Json(TreeJson {
        node: ctx.local.node.to_string(),
        from: if from == 0 { String::new() } else { format_day(from) },
        to: format_day(to),
        nodes: nodes.iter().map(|n| node_json(&ctx, n, now, &lights)).collect(),
        at_ms: now,
    }))
}

fn node_json(ctx: &HttpCtx, n: &TreeNode, now: i64, lights: &LightsJson) -> TreeNodeJson {
    let root = n.node == ctx.local.node;
    let name = if root {
        ctx.local.name.clone()
    } else {
        ctx.local.neighbour(n.node.as_str()).map(|p| p.name.clone()).unwrap_or_default()
    };
    let r = &n.report;
    let mut counters = CountersJson::from(&proto::convert::counters_to_pb(&r.counters));
    counters.by_category.clear();
    counters.by_grid.clear();
    counters.by_department.clear();
    let open = r.counters.open();
    TreeNodeJson {
        node: n.node.to_string(),
        name,
        level: n.node.level().to_string(),
        parent: if root { None } else { n.node.parent().map(|p| p.to_string()) },
        counters,
        open,
        figures: FiguresJson::from(r),
        lights: root.then(|| lights.clone()),
        freshness: n.fresh.as_ref().map(|f| FreshnessJson {
            node: f.node.to_string(),
            version: f.version,
            produced_at_ms: f.produced_at,
            age_ms: crate::clock::age_ms(now, f.produced_at),
            overdue: f.overdue,
        }),
    }
}
