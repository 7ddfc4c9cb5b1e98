//! `gridnode bulletin`: the weekly or monthly bulletin (周通报, 月汇总) of a subtree — every street and
//! community with its figures for the period, ranked within its level by the rule of
//! `federation::bulletin`, next to the period before; the departments' cases; the longest-overdue open
//! cases the node holds. Printed as a table, as JSON (`--json`), or written to a file (`--out`, XLSX by
//! default, with Chinese headers) the way offices send reports upward.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use federation::bulletin::{rank_level, Entry, Line};
use federation::code::Level;
use federation::stats::{day_of, format_day, parse_day, Report};
use proto::convert;
use proto::v1::{self as pb, ListRequest};
use serde_json::{json, Value};

use super::export::{subtree_nodes, subtree_stats};
use super::output::{pad, time};
use super::NodeArgs;
use crate::client::{with_deadline, Client};
use crate::export::columns::{
    bulletin_row, BULLETIN_COLUMNS, BULLETIN_DEPARTMENT_COLUMNS, BULLETIN_OVERDUE_COLUMNS,
};
use crate::export::periods::{before, containing, By, Period};
use crate::export::{self, Cell, Format, Lang};

/// The bulletin's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Every {
    /// 周通报: an ISO week, Monday to Sunday.
    Week,
    /// 月汇总: a calendar month.
    Month,
}

/// Options of `gridnode bulletin`.
#[derive(Args, Debug)]
pub struct BulletinArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The subtree to report on: this node's (default) or a street below it.
    #[arg(long, value_name = "CODE")]
    subtree: Option<String>,
    /// week or month: the last complete one, compared with the one before it.
    #[arg(long, value_enum, default_value = "week")]
    period: Every,
    /// First day of another range, YYYY-MM-DD (with --to); compared with as many days before it.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Last day of that range, inclusive.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// How many overdue cases to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Write the ranking to this file instead of printing it (replaced atomically when complete); an
    /// xlsx workbook also has a sheet of the departments (部门) and one of the overdue cases (超期案件).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The file's format (with --out): xlsx, csv or json.
    #[arg(long, value_enum, default_value = "xlsx")]
    format: Format,
    /// Language of the file's headers.
    #[arg(long, value_enum, default_value = "zh")]
    lang: Lang,
    /// Print the whole bulletin as JSON.
    #[arg(long)]
    json: bool,
}

/// Most pages of overdue cases read (500 cases each).
const MAX_PAGES: usize = 200;

/// The period of the bulletin and the one it is compared with.
fn periods(a: &BulletinArgs, today: i64) -> anyhow::Result<(Period, Period)> {
    let by = match a.period {
        Every::Week => By::Week,
        Every::Month => By::Month,
    };
    match (&a.from, &a.to) {
        (Some(f), Some(t)) => {
            let first = parse_day("--from", f)?;
            let last = parse_day("--to", t)?;
            if first > last {
                anyhow::bail!("--from: {f} is after --to ({t})");
            }
            let len = last - first + 1;
            let label = |a: i64, b: i64| format!("{}..{}", format_day(a), format_day(b));
            let cur = Period { label: label(first, last), first, last };
            let prev = Period { label: label(first - len, first - 1), first: first - len, last: first - 1 };
            Ok((cur, prev))
        }
        _ => {
            let cur = before(&containing(today, by), by);
            let prev = before(&cur, by);
            Ok((cur, prev))
        }
    }
}

async fn stats(client: &Client, p: &Period, scope: &str) -> anyhow::Result<pb::StatsResponse> {
    subtree_stats(client, p.first, p.last, scope).await
}

fn report(resp: &pb::StatsResponse) -> anyhow::Result<Report> {
    let s = resp.stats.clone().ok_or_else(|| anyhow::anyhow!("the node answered without statistics"))?;
    Ok(convert::stats_from_pb(s))
}

/// The node's open cases in the subtree whose clock has run out, longest overdue first.
async fn overdue(client: &Client, scope: &str, top: usize) -> anyhow::Result<Vec<pb::Case>> {
    let mut msg =
        ListRequest { light: "red".into(), within: scope.to_string(), page_size: 500, ..Default::default() };
    let mut found = Vec::new();
    for _ in 0..MAX_PAGES {
        let resp = client.case(async |mut c, d| c.list(with_deadline(msg.clone(), d)).await).await?;
        found.extend(resp.cases.into_iter().filter(|c| c.due_at_ms.is_some()));
        if resp.next_page_token.is_empty() {
            break;
        }
        msg.page_token = resp.next_page_token;
    }
    found.sort_by_key(|c| (c.due_at_ms.unwrap_or(i64::MAX), c.id.clone()));
    found.truncate(top);
    Ok(found)
}

/// What a bulletin holds.
struct Bulletin {
    subtree: String,
    period: Period,
    previous: Period,
    total: (Report, Report),
    streets: Vec<Line>,
    communities: Vec<Line>,
    overdue: Vec<pb::Case>,
    now: i64,
}

/// Runs `gridnode bulletin`.
pub async fn run(a: BulletinArgs) -> anyhow::Result<ExitCode> {
    let now = crate::clock::wall_ms();
    let (period, previous) = periods(&a, day_of(now))?;
    let client = a.node.client()?;
    let scope = a.subtree.clone().unwrap_or_default();
    let whole = stats(&client, &period, &scope).await?;
    let (top, below) = subtree_nodes(&whole);
    let top = top.ok_or_else(|| anyhow::anyhow!("the node answered without statistics"))?;
    // The streets and communities of the subtree: those that have rolled up.
    let units = below.into_iter().filter(|c| matches!(c.level(), Level::Street | Level::Community));
    let mut entries = Vec::new();
    for node in units {
        let current = report(&stats(&client, &period, node.as_str()).await?)?;
        let before = report(&stats(&client, &previous, node.as_str()).await?)?;
        entries.push(Entry { node, current, previous: before });
    }
    let b = Bulletin {
        total: (report(&whole)?, report(&stats(&client, &previous, &scope).await?)?),
        streets: rank_level(&entries, Level::Street),
        communities: rank_level(&entries, Level::Community),
        overdue: overdue(&client, &scope, a.top).await?,
        subtree: top.to_string(),
        period,
        previous,
        now,
    };
    if let Some(path) = &a.out {
        let sheet = match a.period {
            Every::Week => "周通报",
            Every::Month => "月汇总",
        };
        let mut sink = export::open(path, a.format, &BULLETIN_COLUMNS, a.lang, sheet)?;
        for (level, lines) in [("街道", &b.streets), ("社区", &b.communities)] {
            for l in lines {
                sink.row(&bulletin_row(&b.period.label, level, l))?;
            }
        }
        // A workbook also carries the departments and the overdue cases, a sheet each.
        if sink.sheet("部门", &BULLETIN_DEPARTMENT_COLUMNS, a.lang)? {
            for (name, now, before) in department_rows(&b) {
                sink.row(&[Cell::Text(name), Cell::Int(now), Cell::Int(before)])?;
            }
        }
        if sink.sheet("超期案件", &BULLETIN_OVERDUE_COLUMNS, a.lang)? {
            for c in &b.overdue {
                sink.row(&[
                    Cell::Text(c.id.clone()),
                    Cell::Text(c.grid.clone()),
                    Cell::Text(c.owner.clone()),
                    Cell::Text(c.title.clone()),
                    Cell::Text(c.due_at_ms.map(time).unwrap_or_default()),
                    Cell::Int(overdue_by(c, b.now) / 3_600_000),
                ])?;
            }
        }
        let rows = sink.finish()?;
        if a.json {
            say!("{}", json!({ "file": path.display().to_string(), "rows": rows }));
        } else {
            say!("{rows} rows written to {}", path.display());
        }
    } else if a.json {
        say!("{}", serde_json::to_string_pretty(&to_json(&b))?);
    } else {
        say_raw!("{}", to_text(&b));
    }
    Ok(ExitCode::SUCCESS)
}

fn line_json(l: &Line) -> Value {
    json!({
        "node": l.entry.node.as_str(),
        "rank": l.rank,
        "previous_rank": l.previous_rank,
        "rank_change": l.rank_change(),
        "current": l.entry.current,
        "previous": l.entry.previous,
    })
}

fn department_rows(b: &Bulletin) -> Vec<(String, i64, i64)> {
    let (now, before) = (&b.total.0.counters.by_department, &b.total.1.counters.by_department);
    let names: BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    let mut rows: Vec<(String, i64, i64)> = names
        .into_iter()
        .map(|n| (n.clone(), now.get(n).copied().unwrap_or(0), before.get(n).copied().unwrap_or(0)))
        .collect();
    rows.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    rows
}

fn overdue_by(c: &pb::Case, now: i64) -> i64 {
    now - c.due_at_ms.unwrap_or(now)
}

fn to_json(b: &Bulletin) -> Value {
    let period =
        |p: &Period| json!({ "label": p.label, "from": format_day(p.first), "to": format_day(p.last) });
    json!({
        "subtree": b.subtree,
        "period": period(&b.period),
        "previous_period": period(&b.previous),
        "total": { "current": b.total.0, "previous": b.total.1 },
        "streets": b.streets.iter().map(line_json).collect::<Vec<_>>(),
        "communities": b.communities.iter().map(line_json).collect::<Vec<_>>(),
        "departments": department_rows(b)
            .into_iter()
            .map(|(name, cases, previous)| json!({ "name": name, "cases": cases, "previous": previous }))
            .collect::<Vec<_>>(),
        "overdue": b.overdue.iter().map(|c| json!({
            "id": c.id,
            "title": c.title,
            "grid": c.grid,
            "owner": c.owner,
            "due_at_ms": c.due_at_ms,
            "overdue_ms": overdue_by(c, b.now),
        })).collect::<Vec<_>>(),
    })
}

fn pct(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

/// A rate, or `-` when nothing was in its denominator (a rate of nothing is not 0 %).
fn rate_of(rate: f64, r: &Report) -> String {
    if r.counters.registered == 0 {
        "-".into()
    } else {
        pct(rate)
    }
}

/// `2026-W47 (2026-11-16 .. 2026-11-22)`, or only the dates for a custom range.
fn period_text(p: &Period) -> String {
    let range = format!("{} .. {}", format_day(p.first), format_day(p.last));
    if p.label.contains("..") {
        range
    } else {
        format!("{} ({range})", p.label)
    }
}

/// `↑2`, `↓1`, `=`, or `新` (not ranked before), `-` (not ranked now).
fn change(l: &Line) -> String {
    match (l.rank, l.rank_change()) {
        (None, _) => "-".into(),
        (Some(_), None) => "新".into(),
        (Some(_), Some(0)) => "=".into(),
        (Some(_), Some(n)) if n > 0 => format!("↑{n}"),
        (Some(_), Some(n)) => format!("↓{}", -n),
    }
}

/// Hours or days, as a bulletin says how long a case is overdue.
fn span(ms: i64) -> String {
    let hours = ms / 3_600_000;
    if hours >= 48 {
        format!("{} 天", hours / 24)
    } else {
        format!("{hours} 小时")
    }
}

fn table(title: &str, lines: &[Line]) -> String {
    let mut s = format!("\n{title}\n");
    let head = [
        ("排名", 6),
        ("变化", 6),
        ("节点", 14),
        ("上报", 7),
        ("应结案", 8),
        ("结案率", 9),
        ("按期结案率", 12),
        ("上期按期", 10),
        ("返工率", 8),
        ("超期结案", 9),
        ("超期在办", 9),
    ];
    s += "  ";
    for (h, w) in head {
        s += &pad(h, w);
    }
    s = s.trim_end().to_string() + "\n";
    if lines.is_empty() {
        s += "  (none has rolled up)\n";
    }
    for l in lines {
        let (c, p) = (&l.entry.current, &l.entry.previous);
        let cells = [
            l.rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            change(l),
            l.entry.node.to_string(),
            c.counters.total.to_string(),
            c.counters.registered.to_string(),
            rate_of(c.closure_rate, c),
            rate_of(c.on_time_closure_rate, c),
            rate_of(p.on_time_closure_rate, p),
            rate_of(c.rework_rate, c),
            c.closed_late.to_string(),
            c.overdue.to_string(),
        ];
        s += "  ";
        for (cell, (_, w)) in cells.iter().zip(head) {
            s += &pad(cell, w);
        }
        s = s.trim_end().to_string() + "\n";
    }
    s
}

fn to_text(b: &Bulletin) -> String {
    let (t, tp) = &b.total;
    let title = match (b.period.label.contains(".."), b.period.label.contains('W')) {
        (true, _) => "通报 bulletin",
        (false, true) => "周通报 weekly bulletin",
        (false, false) => "月汇总 monthly summary",
    };
    let mut s = format!(
        "{title} of {}: {}, compared with {}\n",
        b.subtree,
        period_text(&b.period),
        period_text(&b.previous)
    );
    s += &format!(
        "  上报 {} (上期 {})  应结案 {}  结案率 {}  按期结案率 {} (上期 {})  返工率 {}  超期结案 {}  超期在办 {}\n",
        t.counters.total,
        tp.counters.total,
        t.counters.registered,
        rate_of(t.closure_rate, t),
        rate_of(t.on_time_closure_rate, t),
        rate_of(tp.on_time_closure_rate, tp),
        rate_of(t.rework_rate, t),
        t.closed_late,
        t.overdue,
    );
    if !b.streets.is_empty() {
        s += &table("街道排名 streets", &b.streets);
    }
    s += &table("社区排名 communities", &b.communities);
    s += "\n部门 departments (cases dispatched to each: this period, the one before)\n";
    let depts = department_rows(b);
    if depts.is_empty() {
        s += "  (none)\n";
    }
    for (name, now, before) in depts {
        s += &format!("  {} {now:>6} {before:>6}\n", pad(&name, 24));
    }
    s += "\n超期案件 longest overdue open cases this node holds\n";
    if b.overdue.is_empty() {
        s += "  (none)\n";
    }
    for c in &b.overdue {
        let due = c.due_at_ms.map(time).unwrap_or_default();
        s += &format!(
            "  {}  超期 {}  (时限 {due})  {}  {}\n",
            c.id,
            span(overdue_by(c, b.now)),
            c.grid,
            c.title
        );
    }
    s += "\nRanking: 按期结案率, then 结案率, then 返工率 (lower), then 超期在办 (fewer); - : nothing to close.\n";
    s
}
