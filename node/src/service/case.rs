//! `CaseService`: report, get, list, act, stats and categories. Writes go through the leader's Raft log
//! (a follower forwards them); reads are linearizable unless the caller asks for a local read.

use std::sync::Arc;
use std::time::Duration;

use federation::category::Catalog;
use federation::code::{Code, Level};
use federation::light::Light;
use federation::limits::check_case_id;
use federation::machine::{Command, Outcome, Refusal};
use federation::stats::{day_of, format_day, parse_day};
use federation::workflow::WorkflowError;
use federation::CaseState;
use proto::convert;
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::case_service_server::CaseService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::instrument;

use crate::proposer::ProposeError;
use crate::replica::{Replica, Route};
use crate::storage::reader::ListFilter;

/// Metadata key marking a request forwarded by another replica (it is never forwarded twice).
pub const FORWARDED: &str = "x-gridfed-forwarded";
/// How long a write may wait for its commit.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;

/// The client-facing case service of a replica.
#[derive(Clone)]
pub struct CaseApi {
    replica: Arc<Replica>,
}

/// Milliseconds since the Unix epoch on this machine's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn is_forwarded<T>(req: &Request<T>) -> bool {
    req.metadata().contains_key(FORWARDED)
}

/// A copy of `msg` to send on to the leader, marked as forwarded, with a deadline.
pub(crate) fn forwarded<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
    r.set_timeout(WRITE_TIMEOUT);
    r
}

pub(crate) fn refusal_status(r: Refusal) -> Status {
    let msg = r.to_string();
    match r {
        Refusal::Invalid { .. } => Status::invalid_argument(msg),
        Refusal::NotFound { .. } => Status::not_found(msg),
        Refusal::NotOwner { .. } => Status::failed_precondition(msg),
        Refusal::NotNeighbour { .. } => Status::permission_denied(msg),
        Refusal::Workflow(WorkflowError::VersionConflict { .. }) => Status::aborted(msg),
        Refusal::Workflow(WorkflowError::IllegalAction { .. }) => Status::failed_precondition(msg),
        Refusal::Workflow(_) => Status::invalid_argument(msg),
    }
}

fn no_leader() -> Status {
    Status::unavailable("no leader: the node's replicas cannot reach a majority; try again shortly")
}

fn not_leader_here(replica: &Replica) -> Status {
    Status::unavailable(format!(
        "replica {} is not the leader and the request was already forwarded once; retry",
        replica.id
    ))
}

/// Where a request goes: here (None), or the leader's address. A forwarded request is never
/// forwarded again.
pub(crate) async fn leader_route(replica: &Replica, forwarded: bool) -> Result<Option<String>, Status> {
    match replica.route().await {
        None => Err(no_leader()),
        Some(Route::Local) => Ok(None),
        Some(Route::Leader { .. }) if forwarded => Err(not_leader_here(replica)),
        Some(Route::Leader { addr, .. }) => Ok(Some(addr)),
    }
}

/// Commits `cmd` here, or returns the leader's address to forward to.
pub(crate) async fn commit_or_forward(
    replica: &Replica,
    cmd: Command,
    forwarded: bool,
) -> Result<Result<Outcome, String>, Status> {
    if let Some(addr) = leader_route(replica, forwarded).await? {
        return Ok(Err(addr));
    }
    match tokio::time::timeout(WRITE_TIMEOUT, replica.propose(cmd)).await {
        Err(_) => Err(Status::deadline_exceeded(
            "the write was not committed in time; its outcome is unknown: retry (reports with the same request_id are not duplicated)",
        )),
        Ok(Ok(outcome)) => Ok(Ok(outcome)),
        Ok(Err(ProposeError::NotLeader { addr: Some(addr), .. })) if !forwarded => Ok(Err(addr)),
        Ok(Err(ProposeError::NotLeader { .. })) => Err(no_leader()),
        Ok(Err(e)) => Err(Status::unavailable(e.to_string())),
    }
}

impl CaseApi {
    pub fn new(replica: Arc<Replica>) -> CaseApi {
        CaseApi { replica }
    }

    fn client(&self, addr: &str) -> Result<CaseServiceClient<tonic::transport::Channel>, Status> {
        Ok(CaseServiceClient::new(self.replica.channel_to(addr)?))
    }

    async fn route(&self, forwarded: bool) -> Result<Option<String>, Status> {
        leader_route(&self.replica, forwarded).await
    }

    async fn commit(&self, cmd: Command, forwarded: bool) -> Result<Result<Outcome, String>, Status> {
        commit_or_forward(&self.replica, cmd, forwarded).await
    }

    /// Ensures a linearizable read here, or returns the leader's address to forward to.
    async fn read_barrier(&self, local: bool, forwarded: bool) -> Result<Option<String>, Status> {
        if local {
            return Ok(None);
        }
        if let Some(addr) = self.route(forwarded).await? {
            return Ok(Some(addr));
        }
        match self.replica.raft.ensure_linearizable().await {
            Ok(_) => Ok(None),
            Err(e) => {
                Err(Status::unavailable(format!("cannot confirm leadership for a linearizable read: {e}")))
            }
        }
    }

    fn list_departments(&self) -> Result<Response<DepartmentsResponse>, Status> {
        let departments = self
            .replica
            .reader
            .departments()
            .map_err(store_err)?
            .into_iter()
            .map(|d| Department { name: d.name, deadline_hours: (d.minutes / 60) as u32 })
            .collect();
        Ok(Response::new(DepartmentsResponse { departments }))
    }

    fn case_pb(&self, c: &federation::Case) -> proto::v1::Case {
        convert::case_to_pb_at(c, Catalog::standard(), now_ms(), &self.replica.rules.policy)
    }
}

fn store_err(e: crate::storage::StoreError) -> Status {
    Status::internal(format!("storage: {e}"))
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    #[instrument(skip_all, fields(node = %self.replica.node, grid = %req.get_ref().grid))]
    async fn report(&self, req: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let new = convert::new_case_from_pb(msg.clone(), Catalog::standard())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        new.validate(&self.replica.rules.rules()).map_err(refusal_status)?;
        match self.commit(Command::Report(new), fwd).await? {
            Ok(Outcome::Reported { case, duplicate }) => {
                tracing::info!(case = %case.id, duplicate, "reported");
                Ok(Response::new(ReportResponse { case: Some(self.case_pb(&case)), duplicate }))
            }
            Ok(Outcome::Refused(r)) => Err(refusal_status(r)),
            Ok(other) => Err(Status::internal(format!("unexpected outcome {other:?}"))),
            Err(addr) => self.client(&addr)?.report(forwarded(msg)).await,
        }
    }

    #[instrument(skip_all, fields(node = %self.replica.node, case = %req.get_ref().case_id))]
    async fn get(&self, req: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        check_case_id("case_id", &msg.case_id).map_err(refusal_status)?;
        if let Some(addr) = self.read_barrier(msg.local, fwd).await? {
            return self.client(&addr)?.get(forwarded(msg)).await;
        }
        match self.replica.reader.case(&msg.case_id).map_err(store_err)? {
            Some(c) => Ok(Response::new(GetResponse { case: Some(self.case_pb(&c)) })),
            None => Err(Status::not_found(format!(
                "case_id: no case {:?} on node {}",
                msg.case_id, self.replica.node
            ))),
        }
    }

    #[instrument(skip_all, fields(node = %self.replica.node))]
    async fn list(&self, req: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
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
        };
        if let Some(addr) = self.read_barrier(msg.local, fwd).await? {
            return self.client(&addr)?.list(forwarded(msg)).await;
        }
        let (cases, more) =
            self.replica.reader.list(&filter, &msg.page_token, limit as usize).map_err(store_err)?;
        let next_page_token =
            if more { cases.last().map(|c| c.id.clone()).unwrap_or_default() } else { String::new() };
        let cases = cases
            .iter()
            .map(|c| self.case_pb(c))
            .filter(|c| light.as_ref().is_none_or(|l| c.light == l.as_str()))
            .collect();
        Ok(Response::new(ListResponse { cases, next_page_token }))
    }

    #[instrument(skip_all, fields(node = %self.replica.node, case = %req.get_ref().case_id, action = %req.get_ref().action))]
    async fn act(&self, req: Request<ActRequest>) -> Result<Response<ActResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let (case_id, step) =
            convert::step_from_pb(msg.clone()).map_err(|e| Status::invalid_argument(e.to_string()))?;
        check_case_id("case_id", &case_id).map_err(refusal_status)?;
        step.validate().map_err(refusal_status)?;
        match self.commit(Command::Act { case_id, step }, fwd).await? {
            Ok(Outcome::Acted { case }) => {
                tracing::info!(case = %case.id, state = %case.state, "acted");
                Ok(Response::new(ActResponse { case: Some(self.case_pb(&case)) }))
            }
            Ok(Outcome::Refused(r)) => Err(refusal_status(r)),
            Ok(other) => Err(Status::internal(format!("unexpected outcome {other:?}"))),
            Err(addr) => self.client(&addr)?.act(forwarded(msg)).await,
        }
    }

    #[instrument(skip_all, fields(node = %self.replica.node))]
    async fn stats(&self, req: Request<StatsRequest>) -> Result<Response<StatsResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let now = now_ms();
        let from = match msg.from.as_str() {
            "" => 0,
            s => parse_day("from", s).map_err(Status::invalid_argument)?,
        };
        let to = match msg.to.as_str() {
            "" => day_of(now),
            s => parse_day("to", s).map_err(Status::invalid_argument)?,
        };
        if from > to {
            return Err(Status::invalid_argument(format!(
                "from: {} is after to ({})",
                format_day(from),
                format_day(to)
            )));
        }
        let scope = match (msg.subtree, msg.scope.as_str()) {
            (false, _) => None,
            (true, "") => Some(self.replica.node.clone()),
            (true, c) => {
                let code = Code::parse("scope", c).map_err(|e| Status::invalid_argument(e.to_string()))?;
                if !code.is_within(&self.replica.node) {
                    return Err(Status::invalid_argument(format!(
                        "scope: {code} is not in the subtree of node {}",
                        self.replica.node
                    )));
                }
                Some(code)
            }
        };
        if let Some(addr) = self.read_barrier(msg.local, fwd).await? {
            return self.client(&addr)?.stats(forwarded(msg)).await;
        }
        let from_s = if msg.from.is_empty() { String::new() } else { format_day(from) };
        let (node, report, parts) = match scope {
            None => (
                self.replica.node.clone(),
                self.replica.reader.stats(from, to, now).map_err(store_err)?,
                vec![],
            ),
            Some(code) => {
                let sub = self.replica.reader.subtree(&code, from, to, now).map_err(store_err)?;
                (code, sub.report, sub.parts.iter().map(convert::freshness_to_pb).collect())
            }
        };
        Ok(Response::new(StatsResponse {
            stats: Some(convert::stats_to_pb(node.as_str(), &from_s, &format_day(to), &report)),
            parts,
        }))
    }

    #[instrument(skip_all, fields(node = %self.replica.node, department = %req.get_ref().name))]
    async fn register_department(
        &self,
        req: Request<Department>,
    ) -> Result<Response<DepartmentsResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if self.replica.node.level() == Level::Community {
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
        match self.commit(Command::Department(dept), fwd).await? {
            Ok(Outcome::Done) => self.list_departments(),
            Ok(Outcome::Refused(r)) => Err(refusal_status(r)),
            Ok(other) => Err(Status::internal(format!("unexpected outcome {other:?}"))),
            Err(addr) => self.client(&addr)?.register_department(forwarded(msg)).await,
        }
    }

    async fn departments(
        &self,
        req: Request<DepartmentsRequest>,
    ) -> Result<Response<DepartmentsResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        let fwd = is_forwarded(&req);
        if let Some(addr) = self.read_barrier(false, fwd).await? {
            return self.client(&addr)?.departments(forwarded(req.into_inner())).await;
        }
        self.list_departments()
    }

    async fn categories(
        &self,
        req: Request<CategoriesRequest>,
    ) -> Result<Response<CategoriesResponse>, Status> {
        super::authz::operator_of(self.replica.tls.is_some(), &self.replica.node, &req)?;
        Ok(Response::new(CategoriesResponse { categories: convert::categories_to_pb(Catalog::standard()) }))
    }
}
