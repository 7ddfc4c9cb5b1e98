//! `StaffService`: the roster of grid workers a community keeps (a street for its own staff). Changes
//! need an operator of this node (`Need::Act`) and go through the log as `Staff` commands; the state
//! machine checks them against the roster and the node's grids. Listing shows phone numbers in full
//! only to this node's own operators (a grant scoped exactly at this node, or a plaintext node where
//! nobody is identified); every other caller sees them masked (138****1234).

use std::sync::Arc;

use federation::access::{AccessRole, Need};
use federation::machine::{Staff, StaffOp};
use federation::people::{mask_phone, per_worker, Phone, Worker, WorkerFigures};
use federation::stats::{day_of, format_day};
use proto::people::{add_from_pb, import_from_pb, place, places, worker_id, worker_to_pb};
use proto::v1::staff_service_client::StaffServiceClient;
use proto::v1::staff_service_server::StaffService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{info, instrument};

use super::authz::{caller, Caller};
use super::commit::{commit_or_forward, forwarded, forwarded_for, is_forwarded, read_route, store_status};
use crate::consensus::writer::WRITE_TIMEOUT;
use crate::consensus::{Leadership, Writer};
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::CaseReader;

/// The staff service of a replica.
#[derive(Clone)]
pub struct StaffApi {
    local: Arc<Local>,
    writer: Writer,
    leadership: Leadership,
    reader: CaseReader,
    pool: ChannelPool,
    clock: crate::clock::Clock,
}

fn bad(e: proto::ConvertError) -> Status {
    Status::invalid_argument(e.to_string())
}

impl StaffApi {
    pub fn new(
        local: Arc<Local>,
        writer: Writer,
        leadership: Leadership,
        reader: CaseReader,
        pool: ChannelPool,
        clock: crate::clock::Clock,
    ) -> StaffApi {
        StaffApi { local, writer, leadership, reader, pool, clock }
    }

    /// Whether `req`'s caller sees phone numbers in full: an operator of exactly this node.
    fn sees_phones<T>(&self, req: &Request<T>) -> Result<bool, Status> {
        Ok(match caller(self.local.authenticated, req)? {
            Caller::Anyone => true,
            Caller::Granted(g) => g.scope == self.local.node && g.role == AccessRole::Operator,
        })
    }

    /// Commits roster change `op` for the caller of `req` (or forwards `req` to the leader).
    async fn change<T>(
        &self,
        req: Request<T>,
        op: impl FnOnce(&T) -> Result<StaffOp, Status>,
        there: impl AsyncFnOnce(
            StaffServiceClient<tonic::transport::Channel>,
            Request<T>,
        ) -> Result<Response<WorkersResponse>, Status>,
    ) -> Result<Response<WorkersResponse>, Status> {
        super::authz::operator_of(self.local.authenticated, &self.local.node, Need::Act, &req)?;
        let full = self.sees_phones(&req)?;
        let fwd = is_forwarded(&req);
        let by: String =
            super::authz::who(self.local.authenticated, &self.local.node, &req).chars().take(200).collect();
        let msg = req.into_inner();
        let cmd = Staff { op: op(&msg)?, by: by.clone() };
        let node = self.local.node.clone();
        let here = move |workers: Vec<Worker>| {
            for w in &workers {
                info!(node = %node, worker = %w.id, role = w.role.as_str(), active = w.active, by = %by, "roster changed");
            }
            Ok(WorkersResponse { workers: workers.iter().map(|w| shown(w, full)).collect() })
        };
        let who = cmd.by.clone();
        let there = async move |ch, d| there(StaffServiceClient::new(ch), forwarded_for(msg, d, &who)).await;
        commit_or_forward(&self.writer, &self.pool, cmd, fwd, here, there)
            .await
            .map(|r| masked_unless(r, full))
    }
}

/// The leader answers a forwarded request as it would this node's own replica (phones in full): the
/// replica the caller reached masks them again unless the caller may see them.
fn masked_unless(mut r: Response<WorkersResponse>, full: bool) -> Response<WorkersResponse> {
    if !full {
        for w in &mut r.get_mut().workers {
            if !w.phone.contains('*') {
                w.phone = mask_phone(&w.phone);
            }
        }
    }
    r
}

fn figure_pb(id: String, name: String, role_zh: String, f: &WorkerFigures) -> WorkerFigure {
    WorkerFigure {
        id,
        name,
        role_zh,
        assigned: f.assigned,
        handled: f.handled,
        closed: f.closed,
        closed_on_time: f.closed_on_time,
        returned: f.returned,
        overdue: f.overdue,
        on_site: f.on_site,
        on_site_in_time: f.on_site_in_time,
    }
}

/// `w` as the caller may see it.
fn shown(w: &Worker, full: bool) -> proto::v1::Worker {
    if full {
        worker_to_pb(w, |p: &Phone| p.full().to_string())
    } else {
        worker_to_pb(w, Phone::masked)
    }
}

#[tonic::async_trait]
impl StaffService for StaffApi {
    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn add_worker(&self, req: Request<AddWorkerRequest>) -> Result<Response<WorkersResponse>, Status> {
        self.change(req, |m| add_from_pb(m.clone()).map_err(bad), async |mut c, r| c.add_worker(r).await)
            .await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, worker = %req.get_ref().id))]
    async fn assign_worker(
        &self,
        req: Request<AssignWorkerRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        let op = |m: &AssignWorkerRequest| {
            Ok(StaffOp::Assign {
                id: worker_id("id", &m.id).map_err(bad)?,
                places: places("places", &m.places).map_err(bad)?,
            })
        };
        self.change(req, op, async |mut c, r| c.assign_worker(r).await).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, worker = %req.get_ref().id))]
    async fn unassign_worker(
        &self,
        req: Request<UnassignWorkerRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        let op = |m: &UnassignWorkerRequest| {
            let place = place("place", &m.place).map_err(bad)?;
            Ok(StaffOp::Unassign { id: worker_id("id", &m.id).map_err(bad)?, place })
        };
        self.change(req, op, async |mut c, r| c.unassign_worker(r).await).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, worker = %req.get_ref().id))]
    async fn deactivate_worker(
        &self,
        req: Request<WorkerIdRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        let op = |m: &WorkerIdRequest| Ok(StaffOp::Deactivate { id: worker_id("id", &m.id).map_err(bad)? });
        self.change(req, op, async |mut c, r| c.deactivate_worker(r).await).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, worker = %req.get_ref().id))]
    async fn reactivate_worker(
        &self,
        req: Request<WorkerIdRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        let op = |m: &WorkerIdRequest| Ok(StaffOp::Reactivate { id: worker_id("id", &m.id).map_err(bad)? });
        self.change(req, op, async |mut c, r| c.reactivate_worker(r).await).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, rows = req.get_ref().rows.len()))]
    async fn import_workers(
        &self,
        req: Request<ImportWorkersRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        self.change(req, |m| Ok(import_from_pb(m.clone())), async |mut c, r| c.import_workers(r).await).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn worker_figures(
        &self,
        req: Request<WorkerFiguresRequest>,
    ) -> Result<Response<WorkerFiguresResponse>, Status> {
        super::authz::operator_of(self.local.authenticated, &self.local.node, Need::Read, &req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let now = self.clock.now_ms();
        let (from, to) = super::days::day_range(&msg.from, &msg.to, (0, day_of(now)))?;
        if let Some(addr) = read_route(&self.leadership, false, fwd).await? {
            let ch = super::commit::leader_channel(&self.pool, &addr)?;
            return StaffServiceClient::new(ch).worker_figures(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let cases = self.reader.owned_reported(from, to).map_err(store_status)?;
        let mut figures = per_worker(&cases, now);
        let roster = self.reader.roster().map_err(store_status)?;
        let mut workers = Vec::new();
        for w in roster.iter().flat_map(|r| r.workers()) {
            let f = figures.remove(&w.id).unwrap_or_default();
            workers.push(figure_pb(w.id.to_string(), w.name.clone(), w.role.zh().into(), &f));
        }
        for (id, f) in figures {
            workers.push(figure_pb(id.to_string(), String::new(), String::new(), &f));
        }
        Ok(Response::new(WorkerFiguresResponse { from: format_day(from), to: format_day(to), workers }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn list_workers(
        &self,
        req: Request<ListWorkersRequest>,
    ) -> Result<Response<WorkersResponse>, Status> {
        super::authz::operator_of(self.local.authenticated, &self.local.node, Need::Read, &req)?;
        let full = self.sees_phones(&req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        let place = match msg.place.trim() {
            "" => None,
            p => Some(place("place", p).map_err(bad)?),
        };
        if let Some(addr) = read_route(&self.leadership, false, fwd).await? {
            let ch = super::commit::leader_channel(&self.pool, &addr)?;
            let r = StaffServiceClient::new(ch).list_workers(forwarded(msg, WRITE_TIMEOUT)).await?;
            return Ok(masked_unless(r, full));
        }
        let roster = self.reader.roster().map_err(store_status)?;
        let workers = roster
            .iter()
            .flat_map(|r| r.workers())
            .filter(|w| msg.all || w.active)
            .filter(|w| place.as_ref().is_none_or(|p| w.holds(p)))
            .map(|w| shown(w, full))
            .collect();
        Ok(Response::new(WorkersResponse { workers }))
    }
}
