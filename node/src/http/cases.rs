//! Cases: list (filters, text search, paging), detail with audit trail, ownership history and the
//! actions allowed now, report and act. Every call goes through the gRPC service in process
//! (`CaseApi`), so validation, refusals, leader forwarding and authorization are the CLI's.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use federation::code::{Code, Level};
use federation::workflow::allowed_actions;
use federation::CaseState;
use proto::v1 as pb;
use proto::v1::case_service_server::CaseService;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Authed;
use super::dto::{ActBody, AuditJson, CaseDetail, CaseJson, CasePage, CaseQuery, HandlerJson, OwnershipStep};
use super::error::ApiError;
use super::HttpCtx;

/// List cases with filters, text search and paging.
///
/// `q` matches titles and addresses ignoring case and spaces. A search examines at most
/// `SEARCH_BUDGET` (10,000) stored cases per request; when it stops early the page is short and
/// `next_page_token` continues from where it stopped.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseQuery),
    responses((status = 200, body = CasePage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Query(q): Query<CaseQuery>,
) -> Result<Json<CasePage>, ApiError> {
    let req = pb::ListRequest {
        state: q.state.unwrap_or_default(),
        grid: q.grid.unwrap_or_default(),
        category: q.category.unwrap_or_default(),
        page_size: q.page_size.unwrap_or(0),
        page_token: q.page_token.unwrap_or_default(),
        local: false,
        owned: q.owned.unwrap_or(false),
        light: q.light.unwrap_or_default(),
        text: q.q.unwrap_or_default(),
        ..Default::default()
    };
    let resp = ctx.case.list(ctx.request(&a, req)).await?.into_inner();
    Ok(Json(CasePage {
        cases: resp.cases.iter().map(CaseJson::from).collect(),
        next_page_token: resp.next_page_token,
    }))
}

/// The owners of a case from its audit trail: reported at its origin, then each escalation (to the
/// parent) and sending-down (to the child on the way to its grid).
fn ownership(c: &pb::Case) -> Vec<OwnershipStep> {
    let mut out = Vec::new();
    let Ok(grid) = Code::parse_level("grid", &c.grid, Level::Grid) else { return out };
    let mut owner = Code::parse_node("origin", &c.origin).ok();
    for e in &c.audit {
        let next = match e.action.as_str() {
            "report" => {
                out.push(OwnershipStep {
                    at_ms: e.at_ms,
                    action: e.action.clone(),
                    from: String::new(),
                    to: c.origin.clone(),
                    actor: e.actor.clone(),
                    by: e.by.clone(),
                    note: e.note.clone(),
                });
                continue;
            }
            "escalate" => owner.as_ref().and_then(Code::parent),
            "send_down" => owner.as_ref().and_then(|o| {
                let digits = o.level().digits() + 3;
                Code::parse_node("to", grid.as_str().get(..digits)?).ok()
            }),
            _ => continue,
        };
        out.push(OwnershipStep {
            at_ms: e.at_ms,
            action: e.action.clone(),
            from: owner.as_ref().map(|o| o.to_string()).unwrap_or_default(),
            to: next.as_ref().map(|o| o.to_string()).unwrap_or_default(),
            actor: e.actor.clone(),
            by: e.by.clone(),
            note: e.note.clone(),
        });
        owner = next;
    }
    out
}

/// A case with its audit trail, ownership history and the actions allowed now.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = String, Path, description = "case id")),
    responses((status = 200, body = CaseDetail), (status = 404, body = ApiError)))]
pub async fn detail(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    let resp =
        ctx.case.get(ctx.request(&a, pb::GetRequest { case_id: id, local: false })).await?.into_inner();
    let c = resp.case.ok_or_else(|| ApiError::not_found("case_id: no case"))?;
    Ok(Json(detail_of(&ctx, &c)))
}

fn detail_of(ctx: &HttpCtx, c: &pb::Case) -> CaseDetail {
    let owned = c.owner == ctx.local.node.as_str();
    let mut allowed: Vec<String> = Vec::new();
    if let (true, Ok(state)) = (owned, CaseState::parse("state", &c.state)) {
        // Up only with a parent, down only with children (the workflow allows both in the same states).
        allowed = allowed_actions(state)
            .into_iter()
            .filter(|a| match *a {
                "escalate" => ctx.local.parent.is_some(),
                "send_down" => !ctx.local.children.is_empty(),
                _ => true,
            })
            .map(str::to_string)
            .collect();
    }
    CaseDetail {
        case: CaseJson::from(c),
        audit: c
            .audit
            .iter()
            .map(|e| AuditJson {
                at_ms: e.at_ms,
                actor: e.actor.clone(),
                action: e.action.clone(),
                from_state: e.from_state.clone(),
                to_state: e.to_state.clone(),
                note: e.note.clone(),
                by: e.by.clone(),
            })
            .collect(),
        ownership: ownership(c),
        allowed_actions: allowed,
    }
}

/// Act on a case: the same actions, checks and refusals as `gridnode case act`.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", request_body = ActBody,
    params(("id" = String, Path, description = "case id")),
    responses((status = 200, body = CaseDetail), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "illegal in the case's state, not owned here, or changed meanwhile")))]
pub async fn act(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Path(id): Path<String>,
    Json(body): Json<ActBody>,
) -> Result<Json<CaseDetail>, ApiError> {
    let actor = if body.actor.trim().is_empty() { a.describe() } else { body.actor };
    let req = pb::ActRequest {
        case_id: id,
        action: body.action,
        actor,
        note: body.note,
        expected_version: body.expected_version,
        handler: body.handler.map(|h: HandlerJson| pb::Handler { kind: h.kind, name: h.name }),
        new_due_ms: body.new_due_ms,
        to: body.to,
        grid: body.grid,
        photos: Vec::new(),
        lat: body.lat,
        lon: body.lon,
        crs: body.crs,
    };
    let resp = ctx.case.act(ctx.request(&a, req)).await?.into_inner();
    let c =
        resp.case.ok_or_else(|| ApiError::from(tonic::Status::internal("the action returned no case")))?;
    Ok(Json(detail_of(&ctx, &c)))
}

/// A new case (上报).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReportBody {
    /// A retried report with the same id returns the first case.
    pub request_id: Option<String>,
    /// 15-digit grid code; empty or absent to locate the case by `lat`/`lon`.
    #[serde(default)]
    pub grid: String,
    /// Code, "major/minor", or an unambiguous minor class.
    pub category: String,
    /// patrol | hotline | public | video | assigned_from_above
    pub source: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub reporter: String,
    /// low | normal | high | urgent (default normal)
    #[serde(default)]
    pub priority: String,
    /// The datum of `lat`/`lon` when the case is located by them: wgs84 (default) or gcj02.
    #[serde(default)]
    pub crs: String,
}

/// Report a case.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = ReportBody,
    responses((status = 201, body = CaseDetail), (status = 200, body = CaseDetail, description = "a retried report: the first case"),
        (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn report(
    State(ctx): State<HttpCtx>,
    a: Authed,
    Json(b): Json<ReportBody>,
) -> Result<(StatusCode, Json<CaseDetail>), ApiError> {
    let req = pb::ReportRequest {
        request_id: b.request_id,
        grid: b.grid,
        category: b.category,
        source: b.source,
        title: b.title,
        description: b.description,
        location: Some(pb::Location { lat: b.lat, lon: b.lon, address: b.address }),
        reporter: b.reporter,
        priority: b.priority,
        crs: b.crs,
        ..Default::default()
    };
    let resp = ctx.case.report(ctx.request(&a, req)).await?.into_inner();
    let c =
        resp.case.ok_or_else(|| ApiError::from(tonic::Status::internal("the report returned no case")))?;
    let status = if resp.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(detail_of(&ctx, &c))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> pb::AuditEntry {
        pb::AuditEntry { action: action.into(), ..Default::default() }
    }

    #[test]
    fn ownership_follows_escalations_and_sending_down_toward_the_grid() {
        let c = pb::Case {
            grid: "370102001002003".into(),
            origin: "370102001002".into(),
            audit: vec![
                entry("report"),
                entry("register"),
                entry("escalate"),
                entry("escalate"),
                entry("send_down"),
            ],
            ..Default::default()
        };
        let steps: Vec<_> = ownership(&c).into_iter().map(|s| (s.action, s.from, s.to)).collect();
        assert_eq!(
            steps,
            vec![
                ("report".into(), "".into(), "370102001002".into()),
                ("escalate".into(), "370102001002".into(), "370102001".into()),
                ("escalate".into(), "370102001".into(), "370102".into()),
                ("send_down".into(), "370102".into(), "370102001".into()),
            ]
        );
    }
}
