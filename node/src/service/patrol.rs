//! `PatrolService`: the patrol log (日巡查) a community keeps. Starting and ending a patrol need an
//! operator of this node (`Need::Act`) and go through the log as `Patrol` commands, checked by the
//! state machine against the roster and the node's grids. Listing and the figures read the replica's
//! store after confirming leadership (or at the leader): patrols per grid per day, the grids not
//! patrolled today (coverage), cases found on patrol against cases reported by the public.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use federation::access::Need;
use federation::case::Case;
use federation::code::Code;
use federation::machine::{PatrolCmd, PatrolOp};
use federation::people::{coverage, found_by, patrols_per_grid_per_day, Found, Patrol};
use federation::stats::{day_of, format_day};
use proto::patrol::{end_from_pb, patrol_to_pb, start_from_pb};
use proto::v1::patrol_service_client::PatrolServiceClient;
use proto::v1::patrol_service_server::PatrolService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{info, instrument};

use super::authz::operator_of;
use super::commit::{commit_or_forward, forwarded, forwarded_for, is_forwarded, read_route, store_status};
use super::days::{day_arg, day_range};
use crate::clock::Clock;
use crate::consensus::writer::WRITE_TIMEOUT;
use crate::consensus::{Leadership, Writer};
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::CaseReader;

/// The patrol service of a replica.
#[derive(Clone)]
pub struct PatrolApi {
    local: Arc<Local>,
    writer: Writer,
    leadership: Leadership,
    reader: CaseReader,
    clock: Clock,
    pool: ChannelPool,
}

fn bad(e: proto::ConvertError) -> Status {
    Status::invalid_argument(e.to_string())
}

impl PatrolApi {
    pub fn new(
        local: Arc<Local>,
        writer: Writer,
        leadership: Leadership,
        reader: CaseReader,
        clock: Clock,
        pool: ChannelPool,
    ) -> PatrolApi {
        PatrolApi { local, writer, leadership, reader, clock, pool }
    }

    /// Commits patrol step `op` for the caller of `req` (or forwards `req` to the leader).
    async fn step<T>(
        &self,
        req: Request<T>,
        op: impl FnOnce(&T) -> Result<PatrolOp, proto::ConvertError>,
        there: impl AsyncFnOnce(
            PatrolServiceClient<tonic::transport::Channel>,
            Request<T>,
        ) -> Result<Response<PatrolResponse>, Status>,
    ) -> Result<Response<PatrolResponse>, Status> {
        operator_of(self.local.authenticated, &self.local.node, Need::Act, &req)?;
        let fwd = is_forwarded(&req);
        let by: String =
            super::authz::who(self.local.authenticated, &self.local.node, &req).chars().take(200).collect();
        let msg = req.into_inner();
        let cmd = PatrolCmd { op: op(&msg).map_err(bad)?, by: by.clone() };
        let node = self.local.node.clone();
        let here = move |p: Box<Patrol>| {
            let ended = p.ended_at.is_some();
            info!(node = %node, patrol = %p.id, worker = %p.worker, grid = %p.grid, ended, by = %by, "patrol");
            Ok(PatrolResponse { patrol: Some(patrol_to_pb(&p)) })
        };
        let who = cmd.by.clone();
        let there = async move |ch, d| there(PatrolServiceClient::new(ch), forwarded_for(msg, d, &who)).await;
        commit_or_forward(&self.writer, &self.pool, cmd, fwd, here, there).await
    }

    /// The leader's channel when a read must be served there, after checking the caller may read.
    async fn read_there<T>(
        &self,
        req: &Request<T>,
    ) -> Result<Option<PatrolServiceClient<tonic::transport::Channel>>, Status> {
        operator_of(self.local.authenticated, &self.local.node, Need::Read, req)?;
        Ok(match read_route(&self.leadership, false, is_forwarded(req)).await? {
            Some(addr) => Some(PatrolServiceClient::new(super::commit::leader_channel(&self.pool, &addr)?)),
            None => None,
        })
    }

    /// The node's grids: on its map, configured, of its workers.
    fn grids(&self) -> Result<BTreeSet<Code>, Status> {
        let mut grids: BTreeSet<Code> = self.local.rules.grids.iter().cloned().collect();
        if let Some((_, map)) = self.reader.grid_map().map_err(store_status)? {
            grids.extend(map.grids().into_iter().cloned());
        }
        if let Some(roster) = self.reader.roster().map_err(store_status)? {
            grids.extend(roster.workers().flat_map(|w| w.places.iter().map(|p| p.grid().clone())));
        }
        Ok(grids)
    }
}

/// The figures of `grids` over days `from..=to` from `patrols` and `cases`, `today` for coverage.
fn figures(
    grids: BTreeSet<Code>,
    patrols: &[Patrol],
    cases: &[Case],
    (from, to, today): (i64, i64, i64),
) -> PatrolFiguresResponse {
    let in_range: Vec<&Patrol> =
        patrols.iter().filter(|p| (from..=to).contains(&day_of(p.started_at))).collect();
    let per_day = patrols_per_grid_per_day(in_range.iter().copied());
    let found = found_by(cases.iter().map(|c| Found {
        grid: &c.grid,
        source: c.source,
        patrol: c.intake.patrol.as_ref(),
    }));
    let mut all = grids;
    all.extend(in_range.iter().map(|p| p.grid.clone()));
    all.extend(found.keys().cloned());
    all.retain(|g| !g.is_unassigned_grid());
    let cov = coverage(&all, patrols, today);
    let mut days: BTreeMap<&Code, Vec<PatrolDay>> = BTreeMap::new();
    for ((grid, day), n) in &per_day {
        days.entry(grid).or_default().push(PatrolDay { day: format_day(*day), patrols: *n });
    }
    let grids = all
        .iter()
        .map(|g| {
            let days = days.remove(g).unwrap_or_default();
            let by = found.get(g).copied().unwrap_or_default();
            GridPatrolFigures {
                grid: g.to_string(),
                patrols: days.iter().map(|d| d.patrols).sum(),
                days,
                patrolled_today: !cov.unpatrolled.contains(g),
                found_on_patrol: by.patrol,
                reported_by_public: by.public,
                other: by.other,
            }
        })
        .collect();
    PatrolFiguresResponse {
        from: format_day(from),
        to: format_day(to),
        today: format_day(today),
        grids,
        unpatrolled_today: cov.unpatrolled.iter().map(ToString::to_string).collect(),
    }
}

#[tonic::async_trait]
impl PatrolService for PatrolApi {
    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, worker = %req.get_ref().worker))]
    async fn start_patrol(
        &self,
        req: Request<StartPatrolRequest>,
    ) -> Result<Response<PatrolResponse>, Status> {
        self.step(req, start_from_pb, async |mut c, r| c.start_patrol(r).await).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, patrol = %req.get_ref().id))]
    async fn end_patrol(&self, req: Request<EndPatrolRequest>) -> Result<Response<PatrolResponse>, Status> {
        self.step(req, end_from_pb, async |mut c, r| c.end_patrol(r).await).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn list_patrols(
        &self,
        req: Request<ListPatrolsRequest>,
    ) -> Result<Response<ListPatrolsResponse>, Status> {
        let leader = self.read_there(&req).await?;
        let msg = req.into_inner();
        let day = match msg.day.trim() {
            "" => None,
            d => Some(day_arg("day", d, 0)?),
        };
        let grid = match msg.grid.trim() {
            "" => None,
            g => Some(Code::parse("grid", g).map_err(|e| Status::invalid_argument(e.to_string()))?),
        };
        if let Some(mut c) = leader {
            return c.list_patrols(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let patrols = self.reader.patrols().map_err(store_status)?;
        let patrols = patrols
            .iter()
            .filter(|p| day.is_none_or(|d| day_of(p.started_at) == d))
            .filter(|p| grid.as_ref().is_none_or(|g| &p.grid == g))
            .map(patrol_to_pb)
            .collect();
        Ok(Response::new(ListPatrolsResponse { patrols }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn patrol_figures(
        &self,
        req: Request<PatrolFiguresRequest>,
    ) -> Result<Response<PatrolFiguresResponse>, Status> {
        let leader = self.read_there(&req).await?;
        let msg = req.into_inner();
        let today = day_of(self.clock.now_ms());
        let (from, to) = day_range(&msg.from, &msg.to, (today, today))?;
        if let Some(mut c) = leader {
            return c.patrol_figures(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let patrols = self.reader.patrols().map_err(store_status)?;
        let cases = self.reader.owned_reported(from, to).map_err(store_status)?;
        Ok(Response::new(figures(self.grids()?, &patrols, &cases, (from, to, today))))
    }
}
