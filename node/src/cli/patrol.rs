//! `gridnode patrol start|end|list|figures`: the patrol log (日巡查) a community keeps. A worker of the
//! roster starts a patrol of a grid, reports what they find with `case report --patrol ID`, and ends
//! it with the route walked.
//!
//! The route file of `patrol end --route FILE` is a JSON array of points as the phone took them:
//! `[{"lat": 36.6612, "lon": 117.0412, "at": 1795000000000}, ...]`, `at` in milliseconds since the
//! Unix epoch (the phone's clock), in time order; the datum is given by `--crs` (wgs84 or gcj02).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use proto::v1::{
    EndPatrolRequest, ListPatrolsRequest, Patrol, PatrolFiguresRequest, PatrolFiguresResponse, RoutePoint,
    StartPatrolRequest,
};
use serde::Deserialize;
use serde_json::json;

use super::output::{table, time};
use super::NodeArgs;
use crate::client::with_deadline;

#[derive(Subcommand, Debug)]
pub enum PatrolCmd {
    /// Start a patrol now; the id (P<node>-<nnnnnn>) is given by the node.
    Start {
        #[command(flatten)]
        node: NodeArgs,
        /// The worker who walks it: an active worker of the roster, e.g. W370102001001-002.
        #[arg(long)]
        worker: String,
        /// The unit grid patrolled (15 digits).
        #[arg(long)]
        grid: String,
        #[arg(long)]
        json: bool,
    },
    /// End a patrol now, with the route walked.
    End {
        #[command(flatten)]
        node: NodeArgs,
        /// The patrol's id, e.g. P370102001001-000123.
        id: String,
        /// The route: a JSON array of {"lat", "lon", "at"} (`at` in ms since the epoch, the phone's
        /// clock), in time order; at most 1000 points.
        #[arg(long)]
        route: Option<PathBuf>,
        /// The datum of the route's points: wgs84 (GPS) or gcj02 (Chinese map apps).
        #[arg(long, default_value = "wgs84", value_parser = ["wgs84", "gcj02"])]
        crs: String,
        #[arg(long)]
        json: bool,
    },
    /// The node's patrols, in id order.
    List {
        #[command(flatten)]
        node: NodeArgs,
        /// Only patrols started on this day, YYYY-MM-DD (Beijing time).
        #[arg(long)]
        day: Option<String>,
        /// Only patrols of this grid.
        #[arg(long)]
        grid: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Per grid: ended patrols per day, whether patrolled today (日巡查覆盖), cases found on patrol
    /// against cases reported by the public.
    Figures {
        #[command(flatten)]
        node: NodeArgs,
        /// First day, YYYY-MM-DD [default: today].
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD [default: today].
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// One point of a route file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePoint {
    lat: f64,
    lon: f64,
    at: i64,
}

/// The route in `path`.
fn read_route(path: &Path) -> anyhow::Result<Vec<RoutePoint>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--route: {}", path.display()))?;
    let points: Vec<FilePoint> = serde_json::from_str(&text).with_context(|| {
        format!("--route: {} is not a JSON array of {{\"lat\", \"lon\", \"at\"}}", path.display())
    })?;
    Ok(points.into_iter().map(|p| RoutePoint { lat: p.lat, lon: p.lon, at_ms: p.at }).collect())
}

fn patrol_json(p: &Patrol) -> serde_json::Value {
    let route: Vec<_> =
        p.route.iter().map(|r| json!({ "lat": r.lat, "lon": r.lon, "at": r.at_ms })).collect();
    json!({
        "id": p.id, "worker": p.worker, "grid": p.grid, "day": p.day, "started_at": p.started_at_ms,
        "ended_at": p.ended_at_ms, "route": route,
    })
}

fn ended(p: &Patrol) -> String {
    p.ended_at_ms.map(time).unwrap_or_else(|| "巡查中".into())
}

/// The patrols as a table, a line each.
fn patrol_rows(patrols: &[Patrol]) -> String {
    let columns = [("ID", 20), ("网格员", 17), ("网格", 15), ("开始", 19), ("结束", 19), ("轨迹点", 0)];
    table(
        &columns,
        patrols.iter().map(|p| {
            vec![
                p.id.clone(),
                p.worker.clone(),
                p.grid.clone(),
                time(p.started_at_ms),
                ended(p),
                p.route.len().to_string(),
            ]
        }),
    )
}

/// The figures as a table: a line per grid, then the grids not patrolled today.
fn figure_rows(f: &PatrolFiguresResponse) -> String {
    let days = |g: &proto::v1::GridPatrolFigures| {
        let listed: Vec<String> = g.days.iter().map(|d| format!("{} {}", d.day, d.patrols)).collect();
        if listed.is_empty() {
            "-".to_string()
        } else {
            listed.join(", ")
        }
    };
    let columns = [
        ("网格", 15),
        ("巡查次数", 8),
        ("今日已巡查", 10),
        ("巡查发现", 8),
        ("群众上报", 8),
        ("每日巡查", 0),
    ];
    let mut s = format!("巡查统计 {} ~ {} (今日 {})\n", f.from, f.to, f.today);
    s += &table(
        &columns,
        f.grids.iter().map(|g| {
            vec![
                g.grid.clone(),
                g.patrols.to_string(),
                if g.patrolled_today { "yes" } else { "no" }.to_string(),
                g.found_on_patrol.to_string(),
                g.reported_by_public.to_string(),
                days(g),
            ]
        }),
    );
    if !f.unpatrolled_today.is_empty() {
        s += &format!("今日未巡查: {}\n", f.unpatrolled_today.join("、"));
    }
    s
}

fn print_one(p: Option<Patrol>, json: bool, what: &str) -> anyhow::Result<()> {
    let p = p.context("the node answered without the patrol")?;
    if json {
        say!("{}", patrol_json(&p));
    } else {
        say!("{what} {} {} {} ({} point(s))", p.id, p.worker, p.grid, p.route.len());
    }
    Ok(())
}

pub async fn run(cmd: PatrolCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PatrolCmd::Start { node, worker, grid, json } => {
            let msg = StartPatrolRequest { worker, grid };
            let r = node
                .client()?
                .patrol(async |mut c, d| c.start_patrol(with_deadline(msg.clone(), d)).await)
                .await?;
            print_one(r.patrol, json, "started")?;
        }
        PatrolCmd::End { node, id, route, crs, json } => {
            let route = match route {
                Some(path) => read_route(&path)?,
                None => Vec::new(),
            };
            let msg = EndPatrolRequest { id, route, crs };
            let r = node
                .client()?
                .patrol(async |mut c, d| c.end_patrol(with_deadline(msg.clone(), d)).await)
                .await?;
            print_one(r.patrol, json, "ended")?;
        }
        PatrolCmd::List { node, day, grid, json } => {
            let msg = ListPatrolsRequest { day: day.unwrap_or_default(), grid: grid.unwrap_or_default() };
            let r = node
                .client()?
                .patrol(async |mut c, d| c.list_patrols(with_deadline(msg.clone(), d)).await)
                .await?;
            if json {
                let list: Vec<_> = r.patrols.iter().map(patrol_json).collect();
                say!("{}", json!({ "patrols": list }));
            } else if r.patrols.is_empty() {
                say!("no patrols (start one with `gridnode patrol start`)");
            } else {
                say_raw!("{}", patrol_rows(&r.patrols));
            }
        }
        PatrolCmd::Figures { node, from, to, json } => {
            let msg = PatrolFiguresRequest { from: from.unwrap_or_default(), to: to.unwrap_or_default() };
            let r = node
                .client()?
                .patrol(async |mut c, d| c.patrol_figures(with_deadline(msg.clone(), d)).await)
                .await?;
            if json {
                let grids: Vec<_> = r
                    .grids
                    .iter()
                    .map(|g| {
                        let days: Vec<_> =
                            g.days.iter().map(|d| json!({ "day": d.day, "patrols": d.patrols })).collect();
                        json!({
                            "grid": g.grid, "patrols": g.patrols, "days": days,
                            "patrolled_today": g.patrolled_today, "found_on_patrol": g.found_on_patrol,
                            "reported_by_public": g.reported_by_public, "other": g.other,
                        })
                    })
                    .collect();
                say!(
                    "{}",
                    json!({
                        "from": r.from, "to": r.to, "today": r.today, "grids": grids,
                        "unpatrolled_today": r.unpatrolled_today,
                    })
                );
            } else {
                say_raw!("{}", figure_rows(&r));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
