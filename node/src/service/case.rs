//! `CaseService`: report, get, list, act, stats and categories. Writes go through the leader's Raft log
//! (a follower forwards them); reads are linearizable unless the caller asks for a local read.

use std::sync::Arc;

use federation::access::Need;
use federation::bounds::check_case_id;
use federation::category::Catalog;
use federation::code::{Code, Level};
use federation::light::Light;
use federation::machine::Act;
use federation::stats::{day_of, format_day};
use federation::CaseState;
use proto::convert;
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::case_service_server::CaseService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::commit::{
    commit_or_forward, forwarded, forwarded_for, is_forwarded, read_route, refusal_status, store_status,
};
use crate::clock::Clock;
use crate::consensus::writer::WRITE_TIMEOUT;
use crate::consensus::{Leadership, Writer};
use crate::health::Health;
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::{CaseReader, ListFilter};

const DEFAULT_PAGE: u32 = 50;
/// Stored cases a text search examines per call (a short page with a token continues it).
pub const SEARCH_BUDGET: usize = 10_000;
/// Longest search text, in characters.
const MAX_SEARCH_CHARS: usize = 100;
const MAX_PAGE: u32 = 500;

/// The client-facing case service of a replica.
#[derive(Clone)]
pub struct CaseApi {
    local: Arc<Local>,
    writer: Writer,
    leadership: Leadership,
    reader: CaseReader,
    clock: Clock,
    pool: ChannelPool,
    health: Health,
}

impl CaseApi {
    /// The service of replica `local`: writes through `writer`, reads from `reader`.
    pub fn new(
        local: Arc<Local>,
        writer: Writer,
        leadership: Leadership,
        reader: CaseReader,
        clock: Clock,
        pool: ChannelPool,
        health: Health,
    ) -> CaseApi {
        CaseApi { local, writer, leadership, reader, clock, pool, health }
    }

    fn client(&self, addr: &str) -> Result<CaseServiceClient<tonic::transport::Channel>, Status> {
        Ok(CaseServiceClient::new(super::commit::leader_channel(&self.pool, addr)?))
    }

    fn authorize<T>(&self, req: &Request<T>, need: Need) -> Result<(), Status> {
        super::authz::operator_of(self.local.authenticated, &self.local.node, need, req)
    }

    /// Where a read is served: here (None), or the leader's address. A replica repairing its store
    /// has not caught up, so it serves no local read.
    async fn read_here(&self, local: bool, fwd: bool) -> Result<Option<String>, Status> {
        if local && self.health.repairing() {
            return Err(Status::unavailable(format!(
                "replica {} is repairing its store from the other replicas; read without --local",
                self.local.replica
            )));
        }
        // A leader stepping down must not renew its lease by confirming reads.
        if !local && self.leadership.is_leader() {
            if let Err(why) = self.health.may_lead() {
                return Err(Status::unavailable(format!(
                    "replica {} is stepping down ({why}); retry",
                    self.local.replica
                )));
            }
        }
        read_route(&self.leadership, local, fwd).await
    }

    fn list_departments(&self) -> Result<Response<DepartmentsResponse>, Status> {
        let departments = self
            .reader
            .departments()
            .map_err(store_status)?
            .into_iter()
            .map(|d| Department { name: d.name, deadline_hours: (d.minutes / 60) as u32 })
            .collect();
        Ok(Response::new(DepartmentsResponse { departments }))
    }

    /// Reports `new`, whose sender the node authenticated elsewhere (an Open311 key; `new.by` names it):
    /// checked, then committed here or forwarded to the leader on the sender's behalf.
    pub async fn report_for(&self, new: federation::machine::NewCase) -> Result<ReportResponse, Status> {
        new.validate(&self.local.rules.rules()).map_err(refusal_status)?;
        let msg = proto::intake::new_case_to_pb(&new);
        let by = new.by.clone();
        let here = |r: federation::machine::Reported| {
            tracing::info!(case = %r.case.id, duplicate = r.duplicate, by = %by, "reported");
            Ok(ReportResponse { case: Some(self.case_pb(&r.case)), duplicate: r.duplicate })
        };
        let there = async |ch, d| CaseServiceClient::new(ch).report(forwarded_for(msg, d, &by)).await;
        commit_or_forward(&self.writer, &self.pool, new, false, here, there).await.map(Response::into_inner)
    }

    /// Places an unassigned case (待分派) on a grid (`case place`, action "place").
    async fn place(&self, msg: ActRequest, fwd: bool, by: String) -> Result<Response<ActResponse>, Status> {
        check_case_id("case_id", &msg.case_id).map_err(refusal_status)?;
        let grid = Code::parse_level("grid", &msg.grid, Level::Grid)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let cmd = federation::machine::Place {
            case_id: msg.case_id.clone(),
            grid,
            actor: msg.actor.clone(),
            note: msg.note.clone(),
            expected_version: msg.expected_version,
            by: by.clone(),
        };
        let here = |case: Box<federation::Case>| {
            tracing::info!(case = %case.id, grid = %case.grid, "placed");
            Ok(ActResponse { case: Some(self.case_pb(&case)) })
        };
        let there = async |ch, d| CaseServiceClient::new(ch).act(forwarded_for(msg, d, &by)).await;
        commit_or_forward(&self.writer, &self.pool, cmd, fwd, here, there).await
    }

    fn case_pb(&self, c: &federation::Case) -> proto::v1::Case {
        convert::case_to_pb_at(c, Catalog::standard(), self.clock.now_ms(), &self.local.rules.policy)
    }
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, grid = %req.get_ref().grid))]
    async fn report(&self, req: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        self.authorize(&req, Need::Act)?;
        let fwd = is_forwarded(&req);
        let by = super::authz::who(self.local.authenticated, &self.local.node, &req);
        let msg = req.into_inner();
        let mut new = convert::new_case_from_pb(msg.clone(), Catalog::standard())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        new.by = by.clone();
        new.validate(&self.local.rules.rules()).map_err(refusal_status)?;
        let here = |r: federation::machine::Reported| {
            tracing::info!(case = %r.case.id, duplicate = r.duplicate, "reported");
            Ok(ReportResponse { case: Some(self.case_pb(&r.case)), duplicate: r.duplicate })
        };
        let there = async |ch, d| CaseServiceClient::new(ch).report(forwarded_for(msg, d, &by)).await;
        commit_or_forward(&self.writer, &self.pool, new, fwd, here, there).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, case = %req.get_ref().case_id))]
    async fn get(&self, req: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        check_case_id("case_id", &msg.case_id).map_err(refusal_status)?;
        if let Some(addr) = self.read_here(msg.local, fwd).await? {
            return self.client(&addr)?.get(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        match self.reader.case(&msg.case_id).map_err(store_status)? {
            Some(c) => Ok(Response::new(GetResponse { case: Some(self.case_pb(&c)) })),
            None => Err(Status::not_found(format!(
                "case_id: no case {:?} on node {}",
                msg.case_id, self.local.node
            ))),
        }
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn list(&self, req: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let limit = match msg.page_size {
            0 => DEFAULT_PAGE,
            n if n > MAX_PAGE => {
                return Err(Status::invalid_argument(format!(
                    "page_size: {n} is above the maximum {MAX_PAGE}"
                )))
            }
            n => n,
        };
        if !msg.page_token.is_empty() {
            check_case_id("page_token", &msg.page_token).map_err(refusal_status)?;
        }
        let light = match msg.light.as_str() {
            "" => None,
            l => Some(Light::parse("light", l).map_err(Status::invalid_argument)?),
        };
        let filter = ListFilter {
            state: match msg.state.as_str() {
                "" => None,
                s => {
                    Some(CaseState::parse("state", s).map_err(Status::invalid_argument)?.as_str().to_string())
                }
            },
            grid: match msg.grid.as_str() {
                "" => None,
                g => Some(
                    Code::parse_level("grid", g, Level::Grid)
                        .map_err(|e| Status::invalid_argument(e.to_string()))?
                        .to_string(),
                ),
            },
            category: match msg.category.as_str() {
                "" => None,
                c => Some(
                    Catalog::standard()
                        .resolve("category", c)
                        .map_err(|e| Status::invalid_argument(e.to_string()))?
                        .code
                        .clone(),
                ),
            },
            owned_only: msg.owned,
            reported: match (msg.reported_from_ms, msg.reported_before_ms) {
                (None, None) => None,
                (from, before) => Some((from.unwrap_or(i64::MIN), before.unwrap_or(i64::MAX))),
            },
            within: match msg.within.as_str() {
                "" => None,
                w => Some(Code::parse("within", w).map_err(|e| Status::invalid_argument(e.to_string()))?),
            },
            text: crate::storage::reader::normalize(&msg.text),
        };
        if msg.text.chars().count() > MAX_SEARCH_CHARS {
            return Err(Status::invalid_argument(format!("text: longer than {MAX_SEARCH_CHARS} characters")));
        }
        if let Some(addr) = self.read_here(msg.local, fwd).await? {
            return self.client(&addr)?.list(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let (cases, next_page_token) = if filter.text.is_empty() {
            let (cases, more) =
                self.reader.list(&filter, &msg.page_token, limit as usize).map_err(store_status)?;
            let next =
                if more { cases.last().map(|c| c.id.clone()).unwrap_or_default() } else { String::new() };
            (cases, next)
        } else {
            let (cases, resume) = self
                .reader
                .search(&filter, &msg.page_token, limit as usize, SEARCH_BUDGET)
                .map_err(store_status)?;
            (cases, resume.unwrap_or_default())
        };
        let cases = cases
            .iter()
            .map(|c| self.case_pb(c))
            .filter(|c| light.as_ref().is_none_or(|l| c.light == l.as_str()))
            .collect();
        Ok(Response::new(ListResponse { cases, next_page_token }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, case = %req.get_ref().case_id, action = %req.get_ref().action))]
    async fn act(&self, req: Request<ActRequest>) -> Result<Response<ActResponse>, Status> {
        self.authorize(&req, Need::Act)?;
        let fwd = is_forwarded(&req);
        let by = super::authz::who(self.local.authenticated, &self.local.node, &req);
        let msg = req.into_inner();
        if msg.action == "place" {
            return self.place(msg, fwd, by).await;
        }
        let point = convert::point_from_pb(&msg).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let (case_id, mut step) =
            convert::step_from_pb(msg.clone()).map_err(|e| Status::invalid_argument(e.to_string()))?;
        step.by = by.clone();
        check_case_id("case_id", &case_id).map_err(refusal_status)?;
        step.validate().map_err(refusal_status)?;
        let here = |case: Box<federation::Case>| {
            tracing::info!(case = %case.id, state = %case.state, "acted");
            Ok(ActResponse { case: Some(self.case_pb(&case)) })
        };
        let there = async |ch, d| CaseServiceClient::new(ch).act(forwarded_for(msg, d, &by)).await;
        let act = Act { point, ..Act::new(case_id, step) };
        commit_or_forward(&self.writer, &self.pool, act, fwd, here, there).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn stats(&self, req: Request<StatsRequest>) -> Result<Response<StatsResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let now = self.clock.now_ms();
        let (from, to) = super::days::day_range(&msg.from, &msg.to, (0, day_of(now)))?;
        let scope = match (msg.subtree, msg.scope.as_str()) {
            (false, _) => None,
            (true, "") => Some(self.local.node.clone()),
            (true, c) => {
                let code = Code::parse("scope", c).map_err(|e| Status::invalid_argument(e.to_string()))?;
                if !code.is_within(&self.local.node) {
                    return Err(Status::invalid_argument(format!(
                        "scope: {code} is not in the subtree of node {}",
                        self.local.node
                    )));
                }
                Some(code)
            }
        };
        if let Some(addr) = self.read_here(msg.local, fwd).await? {
            return self.client(&addr)?.stats(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let from_s = if msg.from.is_empty() { String::new() } else { format_day(from) };
        let (node, report, parts) = match scope {
            None => {
                (self.local.node.clone(), self.reader.stats(from, to, now).map_err(store_status)?, vec![])
            }
            Some(code) => {
                let sub = self.reader.subtree(&code, from, to, now).map_err(store_status)?;
                (code, sub.report, sub.parts.iter().map(convert::freshness_to_pb).collect())
            }
        };
        Ok(Response::new(StatsResponse {
            stats: Some(convert::stats_to_pb(node.as_str(), &from_s, &format_day(to), &report)),
            parts,
        }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, department = %req.get_ref().name))]
    async fn register_department(
        &self,
        req: Request<Department>,
    ) -> Result<Response<DepartmentsResponse>, Status> {
        self.authorize(&req, Need::Act)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if self.local.node.level() == Level::Community {
            return Err(Status::failed_precondition(
                "departments are registered at a street or district node",
            ));
        }
        if msg.deadline_hours == 0 || msg.deadline_hours > 24 * 366 {
            return Err(Status::invalid_argument("deadline_hours: must be 1 to 8784"));
        }
        let dept = federation::machine::Department {
            name: msg.name.clone(),
            minutes: msg.deadline_hours as i64 * 60,
        };
        let here = |()| self.list_departments().map(Response::into_inner);
        let there = async |ch, d| CaseServiceClient::new(ch).register_department(forwarded(msg, d)).await;
        commit_or_forward(&self.writer, &self.pool, dept, fwd, here, there).await
    }

    async fn departments(
        &self,
        req: Request<DepartmentsRequest>,
    ) -> Result<Response<DepartmentsResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let fwd = is_forwarded(&req);
        if let Some(addr) = self.read_here(false, fwd).await? {
            return self.client(&addr)?.departments(forwarded(req.into_inner(), WRITE_TIMEOUT)).await;
        }
        self.list_departments()
    }

    async fn categories(
        &self,
        req: Request<CategoriesRequest>,
    ) -> Result<Response<CategoriesResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        Ok(Response::new(CategoriesResponse { categories: convert::categories_to_pb(Catalog::standard()) }))
    }
}
