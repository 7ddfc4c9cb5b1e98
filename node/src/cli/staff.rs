//! `gridnode staff add|list|assign|unassign|deactivate|reactivate|import|export`: the roster of grid
//! workers a community keeps (a street for its own staff), which `case act ID dispatch --to-worker
//! auto` dispatches by.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use proto::v1::import_workers_request::Row;
use proto::v1::{
    AddWorkerRequest, AssignWorkerRequest, ImportWorkersRequest, ListWorkersRequest, UnassignWorkerRequest,
    Worker, WorkerFigure, WorkerFiguresRequest, WorkerIdRequest, WorkersResponse,
};
use serde_json::json;

use super::output::table;
use super::NodeArgs;
use crate::client::{with_deadline, Client, ClientError};
use crate::export::columns::STAFF_COLUMNS;
use crate::export::{open, Cell, Format, Lang};

#[derive(Subcommand, Debug)]
pub enum StaffCmd {
    /// Add a worker to the node's roster; the id (W<node>-<nnn>) is given by the node.
    Add {
        #[command(flatten)]
        node: NodeArgs,
        /// Full name, e.g. 刘晓燕.
        #[arg(long)]
        name: String,
        /// grid_leader (网格长) | full_time (专职网格员) | part_time (兼职网格员) | building_leader (楼栋长) |
        /// informant (网格信息员); the Chinese label works too.
        #[arg(long)]
        role: String,
        /// Mobile number, 11 digits.
        #[arg(long)]
        phone: String,
        /// A grid (15 digits) or micro-grid (370102001001001-03) they are responsible for; repeat.
        #[arg(long = "place")]
        places: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// The node's workers (active ones; --all for deactivated ones too). Phone numbers are shown in
    /// full only to the node's own operators.
    List {
        #[command(flatten)]
        node: NodeArgs,
        #[arg(long)]
        all: bool,
        /// Only workers assigned this grid or micro-grid.
        #[arg(long)]
        place: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Assign grids or micro-grids to a worker, in addition to theirs.
    Assign {
        #[command(flatten)]
        node: NodeArgs,
        /// The worker's id, e.g. W370102001001-007.
        id: String,
        #[arg(long = "place", required = true)]
        places: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take a grid or micro-grid from a worker.
    Unassign {
        #[command(flatten)]
        node: NodeArgs,
        id: String,
        #[arg(long)]
        place: String,
        #[arg(long)]
        json: bool,
    },
    /// Deactivate a worker (left, long leave): kept for history, never dispatched to.
    Deactivate {
        #[command(flatten)]
        node: NodeArgs,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Reactivate a deactivated worker.
    Reactivate {
        #[command(flatten)]
        node: NodeArgs,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Import a roster sheet (.xlsx or .csv) with the headers 工号 姓名 岗位 手机号 负责网格 状态 (any order;
    /// an empty 工号 gets the next id). Every row is checked; if any is refused, none is imported and
    /// each refused row is listed with its row number and column.
    Import {
        #[command(flatten)]
        node: NodeArgs,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Figures per worker (by post), next to the figures by area: the node's cases reported in the
    /// range that were dispatched to each worker, handled, closed on time, returned, overdue now, and
    /// checked in on site (within 7 minutes).
    Figures {
        #[command(flatten)]
        node: NodeArgs,
        /// First report day, YYYY-MM-DD [default: the beginning].
        #[arg(long)]
        from: Option<String>,
        /// Last report day, inclusive [default: today].
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write the roster to a sheet with the same Chinese headers (re-importable).
    Export {
        #[command(flatten)]
        node: NodeArgs,
        /// The file to write (written whole or not at all).
        #[arg(long)]
        out: PathBuf,
        /// xlsx, csv or json [default: from the file's extension].
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Deactivated workers too.
        #[arg(long)]
        all: bool,
    },
}

/// The format named by `out`'s extension.
fn format_of(out: &std::path::Path) -> anyhow::Result<Format> {
    let ext = out.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
    Ok(match ext.as_str() {
        "xlsx" => Format::Xlsx,
        "csv" => Format::Csv,
        "json" => Format::Json,
        _ => anyhow::bail!("--format: give xlsx, csv or json ({} has no such extension)", out.display()),
    })
}

fn figure_json(f: &WorkerFigure) -> serde_json::Value {
    json!({
        "id": f.id, "name": f.name, "role_zh": f.role_zh, "assigned": f.assigned, "handled": f.handled,
        "closed": f.closed, "closed_on_time": f.closed_on_time, "returned": f.returned,
        "overdue": f.overdue, "on_site": f.on_site, "on_site_in_time": f.on_site_in_time,
    })
}

fn figure_rows(rows: &[WorkerFigure]) -> String {
    let columns = [
        ("ID", 19),
        ("姓名", 8),
        ("岗位", 12),
        ("派遣", 6),
        ("反馈", 6),
        ("结案", 6),
        ("按期", 6),
        ("返工", 6),
        ("超期", 6),
        ("到场", 6),
        ("7分钟到场", 10),
    ];
    let cells = rows.iter().map(|f| {
        let n = [
            f.assigned,
            f.handled,
            f.closed,
            f.closed_on_time,
            f.returned,
            f.overdue,
            f.on_site,
            f.on_site_in_time,
        ];
        let mut r = vec![f.id.clone(), f.name.clone(), f.role_zh.clone()];
        r.extend(n.iter().map(ToString::to_string));
        r
    });
    table(&columns, cells)
}

fn worker_json(w: &Worker) -> serde_json::Value {
    json!({
        "id": w.id, "name": w.name, "role": w.role, "role_zh": w.role_zh, "phone": w.phone,
        "places": w.places, "active": w.active,
    })
}

fn state(w: &Worker) -> &'static str {
    if w.active {
        "在岗"
    } else {
        "离岗"
    }
}

/// The workers as a table, a line each.
pub fn worker_rows(workers: &[Worker]) -> String {
    let columns = [("ID", 19), ("姓名", 8), ("岗位", 12), ("手机号", 12), ("状态", 5), ("负责网格", 0)];
    table(
        &columns,
        workers.iter().map(|w| {
            vec![
                w.id.clone(),
                w.name.clone(),
                w.role_zh.clone(),
                w.phone.clone(),
                state(w).to_string(),
                w.places.join("、"),
            ]
        }),
    )
}

fn print(r: &WorkersResponse, json: bool, what: &str) {
    if json {
        let list: Vec<_> = r.workers.iter().map(worker_json).collect();
        say!("{}", json!({ "workers": list }));
    } else {
        for w in &r.workers {
            say!("{what} {} {} {} ({})", w.id, w.name, w.role_zh, state(w));
        }
    }
}

async fn list(client: &Client, all: bool, place: String) -> Result<WorkersResponse, ClientError> {
    let msg = ListWorkersRequest { all, place };
    client.staff(async |mut c, d| c.list_workers(with_deadline(msg.clone(), d)).await).await
}

pub async fn run(cmd: StaffCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        StaffCmd::Add { node, name, role, phone, places, json } => {
            let msg = AddWorkerRequest { name, role, phone, places };
            let r = node
                .client()?
                .staff(async |mut c, d| c.add_worker(with_deadline(msg.clone(), d)).await)
                .await?;
            print(&r, json, "added");
        }
        StaffCmd::List { node, all, place, json } => {
            let r = list(&node.client()?, all, place.unwrap_or_default()).await?;
            if json {
                print(&r, true, "");
            } else if r.workers.is_empty() {
                say!("no workers on the roster (add them with `gridnode staff add` or `gridnode staff import`)");
            } else {
                say_raw!("{}", worker_rows(&r.workers));
            }
        }
        StaffCmd::Assign { node, id, places, json } => {
            let msg = AssignWorkerRequest { id, places };
            let r = node
                .client()?
                .staff(async |mut c, d| c.assign_worker(with_deadline(msg.clone(), d)).await)
                .await?;
            print(&r, json, "assigned");
        }
        StaffCmd::Unassign { node, id, place, json } => {
            let msg = UnassignWorkerRequest { id, place };
            let r = node
                .client()?
                .staff(async |mut c, d| c.unassign_worker(with_deadline(msg.clone(), d)).await)
                .await?;
            print(&r, json, "unassigned");
        }
        StaffCmd::Deactivate { node, id, json } => {
            let msg = WorkerIdRequest { id };
            let r = node
                .client()?
                .staff(async |mut c, d| c.deactivate_worker(with_deadline(msg.clone(), d)).await)
                .await?;
            print(&r, json, "deactivated");
        }
        StaffCmd::Reactivate { node, id, json } => {
            let msg = WorkerIdRequest { id };
            let r = node
                .client()?
                .staff(async |mut c, d| c.reactivate_worker(with_deadline(msg.clone(), d)).await)
                .await?;
            print(&r, json, "reactivated");
        }
        StaffCmd::Import { node, file, json } => {
            let rows = super::sheet::read_rows(&file)?;
            let count = rows.len().saturating_sub(1);
            let msg = ImportWorkersRequest { rows: rows.into_iter().map(|cells| Row { cells }).collect() };
            let r = node
                .client()?
                .staff(async |mut c, d| c.import_workers(with_deadline(msg.clone(), d)).await)
                .await?;
            if json {
                print(&r, true, "");
            } else {
                say!(
                    "{}: {count} row(s) read, {} worker(s) added or changed",
                    file.display(),
                    r.workers.len()
                );
                print(&r, false, " ");
            }
        }
        StaffCmd::Figures { node, from, to, json } => {
            let msg = WorkerFiguresRequest { from: from.unwrap_or_default(), to: to.unwrap_or_default() };
            let r = node
                .client()?
                .staff(async |mut c, d| c.worker_figures(with_deadline(msg.clone(), d)).await)
                .await?;
            if json {
                let rows: Vec<_> = r.workers.iter().map(figure_json).collect();
                say!("{}", json!({ "from": r.from, "to": r.to, "workers": rows }));
            } else {
                say!("{} .. {}", r.from, r.to);
                say_raw!("{}", figure_rows(&r.workers));
            }
        }
        StaffCmd::Export { node, out, format, all } => {
            let format = match format {
                Some(f) => f,
                None => format_of(&out)?,
            };
            let r = list(&node.client()?, all, String::new()).await?;
            let mut sink = open(&out, format, &STAFF_COLUMNS, Lang::Zh, "网格员花名册")?;
            for w in &r.workers {
                let cells = [
                    Cell::Text(w.id.clone()),
                    Cell::Text(w.name.clone()),
                    Cell::Text(w.role_zh.clone()),
                    Cell::Text(w.phone.clone()),
                    Cell::Text(w.places.join("、")),
                    Cell::Text(state(w).into()),
                ];
                sink.row(&cells)?;
            }
            let n = sink.finish()?;
            say!("{}: {n} worker(s)", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
