//! `gridnode grids import|list|locate`: the node's grid boundaries (GeoJSON polygons of grids and
//! micro-grids, flowing down to every node below) and locating a point on them.

use std::process::ExitCode;

use clap::Subcommand;
use proto::v1::{ImportGridsRequest, ListGridsRequest, LocateRequest, MapVersion};
use serde_json::json;

use super::NodeArgs;
use crate::client::with_deadline;

#[derive(Subcommand, Debug)]
pub enum GridsCmd {
    /// Import grid boundaries from a GeoJSON FeatureCollection: a new version of the node's set, passed
    /// down to the nodes below. Every problem is listed with its feature; nothing is imported if any.
    Import {
        /// The GeoJSON file: Polygons or MultiPolygons, each with its 15-digit grid code (or
        /// micro-grid code, e.g. 370102001001001-03) in a property; 12-digit codes are community
        /// outlines the grids must lie in.
        file: std::path::PathBuf,
        #[command(flatten)]
        node: NodeArgs,
        /// The feature property holding the code.
        #[arg(long, default_value = "code")]
        code_property: String,
        /// The datum of the file's coordinates.
        #[arg(long, default_value = "wgs84", value_parser = ["wgs84", "gcj02"])]
        crs: String,
        #[arg(long)]
        json: bool,
    },
    /// The node's grids and micro-grids and the version of its boundaries.
    List {
        #[command(flatten)]
        node: NodeArgs,
        /// Read this replica's copy without asking the leader.
        #[arg(long)]
        local: bool,
        #[arg(long)]
        json: bool,
    },
    /// Which grid (and micro-grid) a point lies in.
    Locate {
        #[command(flatten)]
        node: NodeArgs,
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// The datum of the point: wgs84 (GPS) or gcj02 (Chinese map apps).
        #[arg(long, default_value = "wgs84", value_parser = ["wgs84", "gcj02"])]
        crs: String,
        #[arg(long)]
        json: bool,
    },
}

fn version_json(v: &Option<MapVersion>) -> serde_json::Value {
    match v {
        Some(v) => json!({"at_ms": v.at_ms, "origin": v.origin, "index": v.index}),
        None => serde_json::Value::Null,
    }
}

fn version_text(v: &Option<MapVersion>) -> String {
    match v {
        Some(v) => {
            format!("imported at {} on {} (index {})", super::output::time(v.at_ms), v.origin, v.index)
        }
        None => "none".to_string(),
    }
}

pub async fn run(cmd: GridsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        GridsCmd::Import { file, node, code_property, crs, json } => {
            let geojson = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", file.display()))?;
            let client = node.client()?;
            let msg = ImportGridsRequest { geojson, code_property, crs };
            let r = client.grids(async |mut c, d| c.import(with_deadline(msg.clone(), d)).await).await?;
            if json {
                say!(
                    "{}",
                    json!({"version": version_json(&r.version), "places": r.places, "grids": r.grids, "micro_grids": r.micro_grids})
                );
            } else {
                say!(
                    "imported {} grids and {} micro-grids: version {}",
                    r.grids,
                    r.micro_grids,
                    version_text(&r.version)
                );
            }
        }
        GridsCmd::List { node, local, json } => {
            let client = node.client()?;
            let msg = ListGridsRequest { local };
            let r = client.grids(async |mut c, d| c.list(with_deadline(msg, d)).await).await?;
            if json {
                let places: Vec<_> = r
                    .places
                    .iter()
                    .map(|p| json!({"code": p.code, "name": p.name, "kind": p.kind}))
                    .collect();
                say!("{}", json!({"version": version_json(&r.version), "places": places}));
            } else {
                say!("version: {}", version_text(&r.version));
                for p in &r.places {
                    say!(
                        "{}  {}  {}",
                        super::output::pad(&p.code, 18),
                        super::output::pad(&p.kind, 5),
                        p.name
                    );
                }
            }
        }
        GridsCmd::Locate { node, lat, lon, crs, json } => {
            let client = node.client()?;
            let msg = LocateRequest { lat, lon, crs };
            let r = client.grids(async |mut c, d| c.locate(with_deadline(msg.clone(), d)).await).await?;
            if json {
                say!(
                    "{}",
                    json!({"found": r.found, "grid": r.grid, "grid_name": r.grid_name, "micro_grid": r.micro_grid,
                        "micro_name": r.micro_name, "community": r.community, "wgs84_lat": r.wgs84_lat,
                        "wgs84_lon": r.wgs84_lon, "version": version_json(&r.version)})
                );
            } else if !r.found {
                say!(
                    "({lat}, {lon}) lies in no grid of this node (WGS-84 {:.6}, {:.6})",
                    r.wgs84_lat,
                    r.wgs84_lon
                );
                return Ok(ExitCode::from(3));
            } else {
                let micro = if r.micro_grid.is_empty() {
                    String::new()
                } else {
                    format!("  micro-grid {} {}", r.micro_grid, r.micro_name)
                };
                say!("grid {} {}{micro}  (community {})", r.grid, r.grid_name, r.community);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
