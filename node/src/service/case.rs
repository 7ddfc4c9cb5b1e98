//! `CaseService`: report, get, list, act, stats and categories. Writes go through the leader's Raft log
//! (a follower forwards them); reads are linearizable unless the caller asks for a local read.

use std::sync::Arc;
use std::time::Duration;

use federation::category::Catalog;
use federation::code::{Code, Level};
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
use crate::storage::state_machine::ListFilter;

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

pub(crate) fn now_ms() -> i64 {
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
    r.metadata_mut()
        .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
    r.set_timeout(WRITE_TIMEOUT);
    r
}

pub(crate) fn refusal_status(r: Refusal) -> Status {
    let msg = r.to_string();
    match r {
        Refusal::Invalid { .. } => Status::invalid_argument(msg),
        Refusal::NotFound { .. } => Status::not_found(msg),
        Refusal::NotOwner { .. } => Status::failed_precondition(msg),
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

impl CaseApi {
    pub fn new(replica: Arc<Replica>) -> CaseApi {
        CaseApi { replica }
    }

    fn client(addr: &str) -> Result<CaseServiceClient<tonic::transport::Channel>, Status> {
        let ch = crate::rpc::lazy_channel(addr)
            .map_err(|e| Status::unavailable(format!("leader address {addr}: {e}")))?;
        Ok(CaseServiceClient::new(ch))
    }

    /// Where a request goes: here, or the leader's address. A forwarded request is never forwarded again.
    async fn route(&self, forwarded: bool) -> Result<Option<String>, Status> {
        match self.replica.route().await {
            None => Err(no_leader()),
            Some(Route::Local) => Ok(None),
            Some(Route::Leader { .. }) if forwarded => Err(not_leader_here(&self.replica)),
            Some(Route::Leader { addr, .. }) => Ok(Some(addr)),
        }
    }

    /// Commits a command here if this replica leads; returns the leader's address to forward to if not.
    async fn commit(&self, cmd: Command, forwarded: bool) -> Result<Result<Outcome, String>, Status> {
        if let Some(addr) = self.route(forwarded).await? {
            return Ok(Err(addr));
        }
        match tokio::time::timeout(WRITE_TIMEOUT, self.replica.propose(cmd)).await {
            Err(_) => Err(Status::deadline_exceeded(
                "the write was not committed in time; its outcome is unknown: retry (reports with the same request_id are not duplicated)",
            )),
            Ok(Ok(outcome)) => Ok(Ok(outcome)),
            Ok(Err(ProposeError::NotLeader { addr: Some(addr), .. })) if !forwarded => Ok(Err(addr)),
            Ok(Err(ProposeError::NotLeader { .. })) => Err(no_leader()),
            Ok(Err(e)) => Err(Status::unavailable(e.to_string())),
        }
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
            Err(e) => Err(Status::unavailable(format!(
                "cannot confirm leadership for a linearizable read: {e}"
            ))),
        }
    }

    fn case_pb(&self, c: &federation::Case) -> proto::v1::Case {
        convert::case_to_pb(c, Catalog::standard())
    }
}

fn store_err(e: crate::storage::StoreError) -> Status {
    Status::internal(format!("storage: {e}"))
}

#[tonic::async_trait]
impl CaseService for CaseApi {
    #[instrument(skip_all, fields(node = %self.replica.node, grid = %req.get_ref().grid))]
    async fn report(&self, req: Request<ReportRequest>) -> Result<Response<ReportResponse>, Status> {
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let new = convert::new_case_from_pb(msg.clone(), Catalog::standard())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        new.validate(&self.replica.rules.rules())
            .map_err(refusal_status)?;
        if self.replica.node.level() == Level::Community
            && !self.replica.grids.is_empty()
            && !self.replica.grids.contains(&new.grid)
        {
            return Err(Status::invalid_argument(format!(
                "grid: {} is not a grid of community {} (its grids: {})",
                new.grid,
                self.replica.node,
                self.replica
                    .grids
                    .iter()
                    .map(Code::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        match self.commit(Command::Report(new), fwd).await? {
            Ok(Outcome::Reported { case, duplicate }) => {
                tracing::info!(case = %case.id, duplicate, "reported");
                Ok(Response::new(ReportResponse {
                    case: Some(self.case_pb(&case)),
                    duplicate,
                }))
            }
            Ok(Outcome::Refused(r)) => Err(refusal_status(r)),
            Ok(other) => Err(Status::internal(format!("unexpected outcome {other:?}"))),
            Err(addr) => Self::client(&addr)?.report(forwarded(msg)).await,
        }
    }

    #[instrument(skip_all, fields(node = %self.replica.node, case = %req.get_ref().case_id))]
    async fn get(&self, req: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if let Some(addr) = self.read_barrier(msg.local, fwd).await? {
            return Self::client(&addr)?.get(forwarded(msg)).await;
        }
        match self.replica.reader.case(&msg.case_id).map_err(store_err)? {
            Some(c) => Ok(Response::new(GetResponse {
                case: Some(self.case_pb(&c)),
            })),
            None => Err(Status::not_found(format!(
                "case_id: no case {:?} on node {}",
                msg.case_id, self.replica.node
            ))),
        }
    }

    #[instrument(skip_all, fields(node = %self.replica.node))]
    async fn list(&self, req: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
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
        let filter = ListFilter {
            state: match msg.state.as_str() {
                "" => None,
                s => Some(
                    CaseState::parse("state", s)
                        .map_err(Status::invalid_argument)?
                        .as_str()
                        .to_string(),
                ),
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
        };
        if let Some(addr) = self.read_barrier(msg.local, fwd).await? {
            return Self::client(&addr)?.list(forwarded(msg)).await;
        }
        let (cases, more) = self
            .replica
            .reader
            .list(&filter, &msg.page_token, limit as usize)
            .map_err(store_err)?;
        let next_page_token = if more {
            cases.last().map(|c| c.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListResponse {
            cases: cases.iter().map(|c| self.case_pb(c)).collect(),
            next_page_token,
        }))
    }

    #[instrument(skip_all, fields(node = %self.replica.node, case = %req.get_ref().case_id, action = %req.get_ref().action))]
    async fn act(&self, req: Request<ActRequest>) -> Result<Response<ActResponse>, Status> {
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let (case_id, step) =
            convert::step_from_pb(msg.clone()).map_err(|e| Status::invalid_argument(e.to_string()))?;
        step.validate().map_err(refusal_status)?;
        match self.commit(Command::Act { case_id, step }, fwd).await? {
            Ok(Outcome::Acted { case }) => {
                tracing::info!(case = %case.id, state = %case.state, "acted");
                Ok(Response::new(ActResponse {
                    case: Some(self.case_pb(&case)),
                }))
            }
            Ok(Outcome::Refused(r)) => Err(refusal_status(r)),
            Ok(other) => Err(Status::internal(format!("unexpected outcome {other:?}"))),
            Err(addr) => Self::client(&addr)?.act(forwarded(msg)).await,
        }
    }

    #[instrument(skip_all, fields(node = %self.replica.node))]
    async fn stats(&self, req: Request<StatsRequest>) -> Result<Response<StatsResponse>, Status> {
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
        if let Some(addr) = self.read_barrier(msg.local, fwd).await? {
            return Self::client(&addr)?.stats(forwarded(msg)).await;
        }
        let report = self.replica.reader.stats(from, to, now).map_err(store_err)?;
        let from_s = if msg.from.is_empty() {
            String::new()
        } else {
            format_day(from)
        };
        Ok(Response::new(StatsResponse {
            stats: Some(convert::stats_to_pb(
                self.replica.node.as_str(),
                &from_s,
                &format_day(to),
                &report,
            )),
        }))
    }

    async fn categories(
        &self,
        _req: Request<CategoriesRequest>,
    ) -> Result<Response<CategoriesResponse>, Status> {
        Ok(Response::new(CategoriesResponse {
            categories: convert::categories_to_pb(Catalog::standard()),
        }))
    }
}
