//! `gridnode case ...` and `gridnode stats`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use federation::case::Case;
use federation::category::Catalog;
use federation::stats::{day_start, parse_day};
use proto::convert;
use proto::v1::{self as pb, GetRequest, ListRequest, ReportRequest, StatsRequest};
use serde_json::json;

use super::output;
use super::NodeArgs;
use crate::client::with_deadline;

#[derive(Subcommand, Debug)]
pub enum CaseCmd {
    /// Report a new case (上报).
    Report(ReportArgs),
    /// Show one case with its audit trail.
    Show {
        /// Case id.
        id: String,
        #[command(flatten)]
        node: NodeArgs,
        /// Read this replica's copy without asking the leader (may be stale).
        #[arg(long)]
        local: bool,
        #[arg(long)]
        json: bool,
    },
    /// List cases, with filters and paging.
    List(ListArgs),
    /// Take an action on a case: register, cancel, dispatch, start, handled, close, return, suspend,
    /// resume, extend.
    Act(ActArgs),
    /// Place an unassigned case (待分派) on a grid: it then goes to the grid's community as a report
    /// on that grid would.
    Place {
        /// Case id.
        id: String,
        /// The unit grid (15 digits) it belongs to.
        #[arg(long)]
        grid: String,
        #[command(flatten)]
        node: NodeArgs,
        /// Who places it.
        #[arg(long, default_value = "operator")]
        actor: String,
        #[arg(long, default_value = "")]
        note: String,
        /// Refuse unless the case is at this version.
        #[arg(long)]
        expect_version: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// The national event/component categories this node accepts.
    Categories {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Unit grid (15 digits); without it the node locates the case by --lat/--lon on its grid
    /// boundaries and routes it to the grid's community.
    #[arg(long, default_value = "", required_unless_present = "lat")]
    grid: String,
    /// Category: 4-digit code, "major/minor" (市容环境/暴露垃圾) or an unambiguous minor class.
    #[arg(long)]
    category: String,
    /// patrol | hotline | public | video | assigned_from_above.
    #[arg(long, default_value = "patrol")]
    source: String,
    #[arg(long)]
    title: String,
    #[arg(long, default_value = "")]
    description: String,
    /// Who reported it.
    #[arg(long, default_value = "网格员")]
    reporter: String,
    /// low | normal | high | urgent.
    #[arg(long, default_value = "normal")]
    priority: String,
    #[arg(long, default_value = "")]
    address: String,
    #[arg(long)]
    lat: Option<f64>,
    #[arg(long, requires = "lat")]
    lon: Option<f64>,
    /// The datum of --lat/--lon: wgs84 (GPS) or gcj02 (Chinese map apps).
    #[arg(long, default_value = "wgs84", value_parser = ["wgs84", "gcj02"])]
    crs: String,
    /// Idempotency key; a retried report with the same key returns the first case. Generated if absent.
    #[arg(long)]
    request_id: Option<String>,
    /// Found on this patrol of the node (P370102001001-000123, from `gridnode patrol start`): under way,
    /// on the same grid.
    #[arg(long, default_value = "", value_name = "ID")]
    patrol: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    node: NodeArgs,
    #[arg(long, default_value = "")]
    state: String,
    #[arg(long, default_value = "")]
    grid: String,
    #[arg(long, default_value = "")]
    category: String,
    /// Cases per page (at most 500).
    #[arg(long, default_value_t = 50)]
    page_size: u32,
    /// Continue after this token (printed by the previous page).
    #[arg(long, default_value = "")]
    page_token: String,
    /// Fetch every page.
    #[arg(long)]
    all: bool,
    /// Only cases this node owns (not read-only copies of cases it escalated or dispatched down).
    #[arg(long)]
    owned: bool,
    /// Only cases whose light is green, yellow (80 % of the step's time used) or red (overdue); pages
    /// may then hold fewer cases (use --all for every match).
    #[arg(long, default_value = "")]
    light: String,
    /// Only cases whose title or address contains this text (ignoring case and spaces).
    #[arg(long, default_value = "")]
    search: String,
    #[arg(long)]
    local: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ActArgs {
    /// Case id.
    id: String,
    #[command(flatten)]
    node: NodeArgs,
    #[arg(long)]
    action: String,
    /// Who acts.
    #[arg(long, default_value = "operator")]
    actor: String,
    /// Reason or remark (required for cancel, return, suspend, extend).
    #[arg(long, default_value = "")]
    note: String,
    /// Refuse the action unless the case is at this version.
    #[arg(long)]
    expect_version: Option<u64>,
    /// For dispatch: the handler's name.
    #[arg(long)]
    handler: Option<String>,
    /// For dispatch: grid_worker | community | street | department.
    #[arg(long, default_value = "grid_worker")]
    handler_kind: String,
    /// For arrive (到场): the latitude where the handler checked in (with --lon).
    #[arg(long, allow_hyphen_values = true, requires = "lon")]
    lat: Option<f64>,
    /// For arrive: the longitude.
    #[arg(long, allow_hyphen_values = true, requires = "lat")]
    lon: Option<f64>,
    /// The datum of --lat/--lon: wgs84 (GPS) or gcj02 (Chinese map apps).
    #[arg(long, default_value = "wgs84", value_parser = ["wgs84", "gcj02"])]
    crs: String,
    /// For dispatch to a grid worker of the node's roster: a worker id (W370102001001-007), or `auto`
    /// for the worker of the case's place (micro-grid, then grid, then the grid leader: 精准派单).
    #[arg(long, conflicts_with_all = ["handler", "handler_kind"], value_name = "ID|auto")]
    to_worker: Option<String>,
    /// For extend: the new deadline, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" (Beijing time).
    #[arg(long)]
    new_due: Option<String>,
    /// For send_down: the node below that takes the case over (协同办).
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// First report date, YYYY-MM-DD (Beijing time).
    #[arg(long)]
    from: Option<String>,
    /// Last report date, YYYY-MM-DD.
    #[arg(long)]
    to: Option<String>,
    /// The whole subtree (rolled up from below), or the node or grid CODE within it.
    #[arg(long, value_name = "CODE", num_args = 0..=1, default_missing_value = "")]
    subtree: Option<String>,
    #[arg(long)]
    local: bool,
    #[arg(long)]
    json: bool,
}

fn label(c: &Case) -> String {
    Catalog::standard().get(&c.category).map(|k| k.label()).unwrap_or_default()
}

/// A case as the node sent it: the domain record and its light at the node's clock.
fn domain(p: Option<pb::Case>) -> anyhow::Result<(Case, String)> {
    let p = p.ok_or_else(|| anyhow::anyhow!("the node answered without a case"))?;
    let light = p.light.clone();
    Ok((convert::case_from_pb(p)?, light))
}

fn print_case((c, light): &(Case, String), json: bool) {
    if json {
        say!("{}", output::case_json(c, &label(c), light));
    } else {
        say_raw!("{}", output::case_detail(c, &label(c), light));
    }
}

/// Parses "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" (Beijing time) into epoch milliseconds.
fn parse_time(field: &str, s: &str) -> anyhow::Result<i64> {
    let (date, hm) = s.split_once([' ', 'T']).unwrap_or((s, "23:59"));
    let day = parse_day(field, date).map_err(anyhow::Error::msg)?;
    let (h, m) =
        hm.split_once(':').ok_or_else(|| anyhow::anyhow!("{field}: expected HH:MM after the date"))?;
    let (h, m): (i64, i64) = (
        h.parse().map_err(|_| anyhow::anyhow!("{field}: bad hour {h:?}"))?,
        m.parse().map_err(|_| anyhow::anyhow!("{field}: bad minute {m:?}"))?,
    );
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        anyhow::bail!("{field}: {hm:?} is not a time of day");
    }
    Ok(day_start(day) + (h * 60 + m) * 60_000)
}

pub async fn run(cmd: CaseCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CaseCmd::Report(a) => {
            let client = a.node.client()?;
            let msg = ReportRequest {
                request_id: Some(a.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
                grid: a.grid,
                category: a.category,
                source: a.source,
                title: a.title,
                description: a.description,
                location: (a.lat.is_some() || a.lon.is_some() || !a.address.is_empty())
                    .then_some(pb::Location { lat: a.lat, lon: a.lon, address: a.address }),
                reporter: a.reporter,
                priority: a.priority,
                crs: a.crs,
                patrol_id: a.patrol,
                ..Default::default()
            };
            let resp = client.case(async |mut c, d| c.report(with_deadline(msg.clone(), d)).await).await?;
            let duplicate = resp.duplicate;
            let (case, light) = domain(resp.case)?;
            if a.json {
                let mut v = output::case_json(&case, &label(&case), &light);
                v["duplicate"] = json!(duplicate);
                say!("{v}");
            } else {
                say!(
                    "{} {}  [{}]{}",
                    case.id,
                    case.title,
                    case.state,
                    if duplicate { "  (already reported)" } else { "" }
                );
            }
        }
        CaseCmd::Show { id, node, local, json } => {
            let client = node.client()?;
            let msg = GetRequest { case_id: id, local };
            let resp = client.case(async |mut c, d| c.get(with_deadline(msg.clone(), d)).await).await?;
            print_case(&domain(resp.case)?, json);
        }
        CaseCmd::List(a) => {
            let client = a.node.client()?;
            let mut msg = ListRequest {
                state: a.state,
                grid: a.grid,
                category: a.category,
                page_size: a.page_size,
                page_token: a.page_token,
                local: a.local,
                owned: a.owned,
                light: a.light,
                text: a.search,
                ..Default::default()
            };
            let mut all = Vec::new();
            let next = loop {
                let resp = client.case(async |mut c, d| c.list(with_deadline(msg.clone(), d)).await).await?;
                for p in resp.cases {
                    let (c, light) = domain(Some(p))?;
                    let l = label(&c);
                    all.push((c, l, light));
                }
                if !a.all || resp.next_page_token.is_empty() {
                    break resp.next_page_token;
                }
                msg.page_token = resp.next_page_token;
            };
            if a.json {
                let cases: Vec<_> = all.iter().map(|(c, l, light)| output::case_json(c, l, light)).collect();
                say!("{}", json!({ "cases": cases, "next_page_token": next }));
            } else {
                say_raw!("{}", output::case_rows(&all));
                if !next.is_empty() {
                    say!("(more: --page-token {next})");
                }
            }
        }
        CaseCmd::Act(a) => {
            let client = a.node.client()?;
            let handler = match (&a.action[..], a.handler, a.to_worker) {
                (_, _, Some(worker)) => Some(pb::Handler { kind: "grid_worker".into(), name: worker }),
                ("dispatch", None, None) => {
                    anyhow::bail!("--handler: dispatch needs the handler's name (or --to-worker ID|auto)")
                }
                (_, h, None) => h.map(|name| pb::Handler { kind: a.handler_kind.clone(), name }),
            };
            let new_due_ms = match (&a.action[..], a.new_due) {
                ("extend", None) => anyhow::bail!("--new-due: extend needs the new deadline"),
                (_, Some(s)) => Some(parse_time("--new-due", &s)?),
                (_, None) => None,
            };
            let msg = pb::ActRequest {
                case_id: a.id,
                action: a.action,
                actor: a.actor,
                note: a.note,
                expected_version: a.expect_version,
                handler,
                new_due_ms,
                to: a.to.unwrap_or_default(),
                lat: a.lat,
                lon: a.lon,
                crs: a.crs,
                ..Default::default()
            };
            let resp = client.case(async |mut c, d| c.act(with_deadline(msg.clone(), d)).await).await?;
            let (case, light) = domain(resp.case)?;
            if a.json {
                say!("{}", output::case_json(&case, &label(&case), &light));
            } else {
                say!("{}  -> {}  (version {})", case.id, case.state, case.version);
            }
        }
        CaseCmd::Place { id, grid, node, actor, note, expect_version, json } => {
            let client = node.client()?;
            let msg = pb::ActRequest {
                case_id: id,
                action: "place".into(),
                actor,
                note,
                expected_version: expect_version,
                grid,
                ..Default::default()
            };
            let resp = client.case(async |mut c, d| c.act(with_deadline(msg.clone(), d)).await).await?;
            let (case, light) = domain(resp.case)?;
            if json {
                say!("{}", output::case_json(&case, &label(&case), &light));
            } else {
                say!(
                    "{}  on grid {}  -> owner {}  (version {})",
                    case.id,
                    case.grid,
                    case.owner,
                    case.version
                );
            }
        }
        CaseCmd::Categories { json } => {
            let cats = Catalog::standard().all();
            if json {
                let v: Vec<_> = cats
                    .iter()
                    .map(|c| {
                        json!({"code": c.code, "name": c.label(), "kind": c.kind.to_string(), "major": c.major, "minor": c.minor})
                    })
                    .collect();
                say!("{}", serde_json::Value::Array(v));
            } else {
                for c in cats {
                    say!("{}  {}  {}", c.code, output::pad(&c.kind.to_string(), 9), c.label());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let client = a.node.client()?;
    let msg = StatsRequest {
        from: a.from.unwrap_or_default(),
        to: a.to.unwrap_or_default(),
        local: a.local,
        subtree: a.subtree.is_some(),
        scope: a.subtree.unwrap_or_default(),
    };
    let resp = client.case(async |mut c, d| c.stats(with_deadline(msg.clone(), d)).await).await?;
    let s = resp.stats.ok_or_else(|| anyhow::anyhow!("the node answered without statistics"))?;
    let (node, from, to) = (s.node.clone(), s.from.clone(), s.to.clone());
    let report = convert::stats_from_pb(s);
    let now = crate::clock::wall_ms();
    if a.json {
        let mut v = output::stats_json(&node, &from, &to, &report);
        if !resp.parts.is_empty() {
            v["parts"] = serde_json::Value::Array(
                resp.parts
                    .iter()
                    .map(|p| json!({"node": p.node, "version": p.version, "produced_at_ms": p.produced_at_ms, "age_ms": crate::clock::age_ms(now, p.produced_at_ms), "overdue": p.overdue}))
                    .collect(),
            );
        }
        say!("{}", v);
    } else {
        say_raw!("{}", output::stats_table(&node, &from, &to, &report));
        if !resp.parts.is_empty() {
            say!("\n  freshness of the parts below:");
            for p in &resp.parts {
                say!(
                    "    {}  as of {}  ({:.1}s ago)",
                    output::pad(&p.node, 14),
                    output::time(p.produced_at_ms),
                    crate::clock::age_ms(now, p.produced_at_ms) as f64 / 1000.0
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_due_parses_in_beijing_time() {
        let day = parse_day("d", "2026-11-25").unwrap();
        assert_eq!(parse_time("--new-due", "2026-11-25 08:30").unwrap(), day_start(day) + 510 * 60_000);
        assert!(parse_time("--new-due", "2026-11-25 25:00")
            .unwrap_err()
            .to_string()
            .starts_with("--new-due"));
    }
}
