//! `GridService`: importing grid boundaries (operators), listing them and locating a point. An import
//! is checked here in full (every feature's geometry, overlaps, community outlines, and the grids this
//! node may hold) so a bad file is refused with every problem listed and nothing written; the state
//! machine checks the stored form again. Reads are served from the replica's indexed copy, the leader's
//! unless the caller asks for a local read.

use std::sync::Arc;

use federation::access::Need;
use federation::code::Code;
use federation::geo::{GridMap, ImportOptions, PlaceCode};
use federation::grids::{check_size, placement_problems};
use federation::machine::{GridsImport, Refusal};
use proto::intake::{crs_from_str, map_version_to_pb};
use proto::v1::grid_service_client::GridServiceClient;
use proto::v1::grid_service_server::GridService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{info, instrument};

use super::commit::{commit_or_forward, forwarded, is_forwarded, read_route, refusal_status, store_status};
use crate::consensus::writer::WRITE_TIMEOUT;
use crate::consensus::{Leadership, Writer};
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::CaseReader;

/// Largest GeoJSON file an import takes, in bytes (10,000 grids of a few dozen vertices fit).
pub const MAX_GEOJSON_BYTES: usize = 24 * 1024 * 1024;

/// The grid service of a replica.
#[derive(Clone)]
pub struct GridApi {
    local: Arc<Local>,
    writer: Writer,
    leadership: Leadership,
    reader: CaseReader,
    pool: ChannelPool,
}

impl GridApi {
    pub fn new(
        local: Arc<Local>,
        writer: Writer,
        leadership: Leadership,
        reader: CaseReader,
        pool: ChannelPool,
    ) -> GridApi {
        GridApi { local, writer, leadership, reader, pool }
    }

    fn client(&self, addr: &str) -> Result<GridServiceClient<tonic::transport::Channel>, Status> {
        Ok(GridServiceClient::new(super::commit::leader_channel(&self.pool, addr)?)
            .max_decoding_message_size(MAX_GEOJSON_BYTES + 1024 * 1024)
            .max_encoding_message_size(MAX_GEOJSON_BYTES + 1024 * 1024))
    }

    fn authorize<T>(&self, req: &Request<T>, need: Need) -> Result<(), Status> {
        super::authz::operator_of(self.local.authenticated, &self.local.node, need, req)
    }

    /// The grid or micro-grid's name in `map`.
    fn name_of(map: &GridMap, code: &PlaceCode) -> String {
        map.get(code).and_then(|p| p.name()).unwrap_or_default().to_string()
    }
}

#[tonic::async_trait]
impl GridService for GridApi {
    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn import(
        &self,
        req: Request<ImportGridsRequest>,
    ) -> Result<Response<ImportGridsResponse>, Status> {
        self.authorize(&req, Need::Act)?;
        let fwd = is_forwarded(&req);
        let by = super::authz::who(self.local.authenticated, &self.local.node, &req);
        let msg = req.into_inner();
        if msg.geojson.len() > MAX_GEOJSON_BYTES {
            return Err(Status::invalid_argument(format!(
                "geojson: {} bytes; at most {MAX_GEOJSON_BYTES}",
                msg.geojson.len()
            )));
        }
        let options = ImportOptions {
            code_property: match msg.code_property.trim() {
                "" => ImportOptions::default().code_property,
                p => p.to_string(),
            },
            crs: crs_from_str("crs", &msg.crs).map_err(|e| Status::invalid_argument(e.to_string()))?,
            ..Default::default()
        };
        // Geometry is checked off the async threads: a large file takes a while.
        let text = msg.geojson.clone();
        let parsed = tokio::task::spawn_blocking(move || GridMap::import(&text, &options))
            .await
            .map_err(|e| Status::internal(format!("checking the boundaries failed: {e}")))?;
        let map = parsed.map_err(|e| Status::invalid_argument(e.to_string()))?;
        let stored = map.to_stored();
        check_size(&stored).map_err(refusal_status)?;
        let problems = placement_problems(&stored, &self.local.rules.rules());
        if !problems.is_empty() {
            let why = federation::grids::listed(&problems);
            return Err(refusal_status(Refusal::Invalid { field: "places".into(), message: why }));
        }
        let micro = map.places().iter().filter(|p| p.code().is_micro()).count() as u64;
        let grids = map.len() as u64 - micro;
        let cmd = GridsImport { map: stored, by };
        let here = |(version, places): (federation::grids::MapVersion, u64)| {
            info!(origin = %version.origin, index = version.index, places, "grid boundaries imported");
            Ok(ImportGridsResponse {
                version: Some(map_version_to_pb(&version)),
                places,
                grids,
                micro_grids: micro,
            })
        };
        let there = async |ch, d| {
            GridServiceClient::new(ch)
                .max_encoding_message_size(MAX_GEOJSON_BYTES + 1024 * 1024)
                .import(forwarded(msg, d))
                .await
        };
        commit_or_forward(&self.writer, &self.pool, cmd, fwd, here, there).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn list(&self, req: Request<ListGridsRequest>) -> Result<Response<ListGridsResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if let Some(addr) = read_route(&self.leadership, msg.local, fwd).await? {
            return self.client(&addr)?.list(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let Some((version, map)) = self.reader.grid_map().map_err(store_status)? else {
            return Ok(Response::new(ListGridsResponse { version: None, places: Vec::new() }));
        };
        let places = map
            .places()
            .iter()
            .map(|p| GridEntry {
                code: p.code().to_string(),
                name: p.name().unwrap_or_default().to_string(),
                kind: if p.code().is_micro() { "micro" } else { "grid" }.to_string(),
            })
            .collect();
        Ok(Response::new(ListGridsResponse { version: Some(map_version_to_pb(&version)), places }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn locate(&self, req: Request<LocateRequest>) -> Result<Response<LocateResponse>, Status> {
        self.authorize(&req, Need::Read)?;
        let msg = req.into_inner();
        let crs = crs_from_str("crs", &msg.crs).map_err(|e| Status::invalid_argument(e.to_string()))?;
        if !(-90.0..=90.0).contains(&msg.lat) {
            return Err(Status::invalid_argument(format!("lat: {} is outside -90..90", msg.lat)));
        }
        if !(-180.0..=180.0).contains(&msg.lon) {
            return Err(Status::invalid_argument(format!("lon: {} is outside -180..180", msg.lon)));
        }
        // Boundaries change rarely and every replica applies them: this replica's copy answers.
        let (wgs84_lat, wgs84_lon) = crs.to_wgs84(msg.lat, msg.lon);
        let mut out = LocateResponse { wgs84_lat, wgs84_lon, ..Default::default() };
        let Some((version, map)) = self.reader.grid_map().map_err(store_status)? else {
            return Ok(Response::new(out));
        };
        out.version = Some(map_version_to_pb(&version));
        if let Some(l) = map.locate(msg.lat, msg.lon, crs) {
            out.found = true;
            out.grid = l.grid.to_string();
            if let Ok(unit) = PlaceCode::unit("grid", &l.grid) {
                out.grid_name = Self::name_of(&map, &unit);
            }
            if let Some(m) = &l.micro {
                out.micro_grid = m.to_string();
                out.micro_name = Self::name_of(&map, m);
            }
            out.community = l.grid.parent().map(|c: Code| c.to_string()).unwrap_or_default();
        }
        Ok(Response::new(out))
    }
}
