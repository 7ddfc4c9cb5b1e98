//! `gridnode export cases|figures`: the node's cases, or its subtree's figures per node and period, to
//! CSV, XLSX or JSON (see `crate::export`). Cases come page by page from the List RPC (filtered on the
//! node by report date and by subtree), figures from one Stats RPC per node and period.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use federation::code::Code;
use federation::stats::{day_of, day_start, format_day, parse_day};
use proto::convert;
use proto::v1::{self as pb, ListRequest, StatsRequest};
use serde_json::json;

use super::progress::{Progress, Unit};
use super::NodeArgs;
use crate::client::{with_deadline, Client};
use crate::export::columns::{case_row, figures_row, CASE_COLUMNS, FIGURE_COLUMNS};
use crate::export::periods::{split, By};
use crate::export::{self, Format, Lang};

#[derive(Subcommand, Debug)]
pub enum ExportCmd {
    /// Every case the node holds (owned, and read-only copies of cases it escalated or sent down) that
    /// was reported in the date range, one row each with its key fields and times (Beijing time).
    Cases(CasesArgs),
    /// The figures of a subtree per node and per day, week or month.
    Figures(FiguresArgs),
}

/// Where and how to write.
#[derive(Args, Debug)]
pub struct OutArgs {
    /// csv (UTF-8 with BOM, for Excel), xlsx or json.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// The file to write (replaced atomically when the export is complete).
    #[arg(long)]
    out: PathBuf,
    /// Language of the headers: zh (中文) or en. JSON keys are always the English column ids.
    #[arg(long, value_enum, default_value = "zh")]
    lang: Lang,
    /// Print a summary as JSON (rows, pages, peak memory) instead of a sentence; no progress bar.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct CasesArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Only cases in this node's or grid's subtree (by the case's grid).
    #[arg(long, value_name = "CODE")]
    subtree: Option<String>,
    /// First report date, YYYY-MM-DD (Beijing time) [default: the beginning].
    #[arg(long)]
    from: Option<String>,
    /// Last report date, YYYY-MM-DD, inclusive [default: today].
    #[arg(long)]
    to: Option<String>,
    /// Only cases this node owns.
    #[arg(long)]
    owned: bool,
    /// Cases fetched per request (at most 500): what the export holds in memory at once.
    #[arg(long, default_value_t = 200)]
    page_size: u32,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args, Debug)]
pub struct FiguresArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The subtree to report on: this node's (default) or a node below it.
    #[arg(long, value_name = "CODE")]
    subtree: Option<String>,
    /// Periods: day, week (ISO, Monday first) or month.
    #[arg(long, value_enum, default_value = "month")]
    by: By,
    /// First report date, YYYY-MM-DD (Beijing time).
    #[arg(long)]
    from: String,
    /// Last report date, YYYY-MM-DD, inclusive [default: today].
    #[arg(long)]
    to: Option<String>,
    #[command(flatten)]
    out: OutArgs,
}

/// The figures of the subtree at `scope` (empty: the node's own) for report days `first..=last`.
pub(super) async fn subtree_stats(
    client: &Client,
    first: i64,
    last: i64,
    scope: &str,
) -> anyhow::Result<pb::StatsResponse> {
    let msg = StatsRequest {
        from: format_day(first),
        to: format_day(last),
        subtree: true,
        scope: scope.to_string(),
        local: false,
    };
    Ok(client.case(async |mut c, d| c.stats(with_deadline(msg.clone(), d)).await).await?)
}

/// The node a subtree answer is of, and the nodes below it within the subtree that have rolled up,
/// by code.
pub(super) fn subtree_nodes(whole: &pb::StatsResponse) -> (Option<Code>, Vec<Code>) {
    let top = whole.stats.as_ref().and_then(|s| Code::parse_node("node", &s.node).ok());
    let below: std::collections::BTreeSet<Code> = whole
        .parts
        .iter()
        .filter_map(|p| Code::parse_node("node", &p.node).ok())
        .filter(|c| top.as_ref().is_some_and(|t| c.is_within(t) && c != t))
        .collect();
    (top, below.into_iter().collect())
}

/// The highest resident memory of this process so far, in KiB (Linux), for the summary.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn days(from: Option<&str>, to: Option<&str>) -> anyhow::Result<(Option<i64>, i64)> {
    let from = from.map(|s| parse_day("--from", s)).transpose().map_err(anyhow::Error::msg)?;
    let to = match to {
        Some(s) => parse_day("--to", s).map_err(anyhow::Error::msg)?,
        None => day_of(crate::clock::wall_ms()),
    };
    if let Some(f) = from.filter(|f| *f > to) {
        anyhow::bail!("--from: {} is after --to ({})", format_day(f), format_day(to));
    }
    Ok((from, to))
}

pub async fn run(cmd: ExportCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ExportCmd::Cases(a) => cases(a).await,
        ExportCmd::Figures(a) => figures(a).await,
    }
}

async fn cases(a: CasesArgs) -> anyhow::Result<ExitCode> {
    if a.page_size == 0 || a.page_size > 500 {
        anyhow::bail!("--page-size: {} is not between 1 and 500", a.page_size);
    }
    let (from, to) = days(a.from.as_deref(), a.to.as_deref())?;
    let client = a.node.client()?;
    let mut msg = ListRequest {
        page_size: a.page_size,
        owned: a.owned,
        reported_from_ms: from.map(day_start),
        reported_before_ms: Some(day_start(to + 1)),
        within: a.subtree.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut sink = export::open(&a.out.out, a.out.format, &CASE_COLUMNS, a.out.lang, "案件")?;
    let mut progress = Progress::new("export cases", Unit::Items("cases"), None, a.out.json);
    let (mut pages, mut largest) = (0u64, 0usize);
    loop {
        let resp = client.case(async |mut c, d| c.list(with_deadline(msg.clone(), d)).await).await?;
        pages += 1;
        largest = largest.max(resp.cases.len());
        for p in resp.cases {
            let light = p.light.clone();
            let case = convert::case_from_pb(p)?;
            sink.row(&case_row(&case, &light, a.out.lang))?;
            progress.inc(1);
        }
        if resp.next_page_token.is_empty() {
            break;
        }
        msg.page_token = resp.next_page_token;
    }
    let rows = sink.finish()?;
    progress.finish(&format!("{rows} cases written to {}", a.out.out.display()));
    if a.out.json {
        say!(
            "{}",
            json!({
                "file": a.out.out.display().to_string(),
                "rows": rows,
                "pages": pages,
                "largest_page": largest,
                "page_size": a.page_size,
                "from": from.map(format_day),
                "to": format_day(to),
                "peak_rss_kib": peak_rss_kib(),
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn figures(a: FiguresArgs) -> anyhow::Result<ExitCode> {
    let (from, to) = days(Some(&a.from), a.to.as_deref())?;
    let from = from.unwrap_or(to);
    let client = a.node.client()?;
    let scope = a.subtree.clone().unwrap_or_default();
    // The nodes of the subtree: those that have rolled up, and the subtree's own node.
    let whole = subtree_stats(&client, from, to, &scope).await?;
    let (top, mut nodes) = subtree_nodes(&whole);
    nodes.extend(top);
    nodes.sort();
    let nodes: Vec<String> = nodes.into_iter().map(|c| c.to_string()).collect();
    let periods = split(from, to, a.by);
    let mut sink = export::open(&a.out.out, a.out.format, &FIGURE_COLUMNS, a.out.lang, "统计")?;
    let total = (periods.len() * nodes.len()) as u64;
    let mut progress = Progress::new("export figures", Unit::Items("queries"), Some(total), a.out.json);
    for p in &periods {
        for node in &nodes {
            let resp = subtree_stats(&client, p.first, p.last, node).await?;
            let s = resp.stats.ok_or_else(|| anyhow::anyhow!("the node answered without statistics"))?;
            sink.row(&figures_row(&p.label, &format_day(p.first), &format_day(p.last), node, &s))?;
            progress.inc(1);
        }
    }
    let rows = sink.finish()?;
    progress.finish(&format!("{rows} rows written to {}", a.out.out.display()));
    if a.out.json {
        say!(
            "{}",
            json!({
                "file": a.out.out.display().to_string(),
                "rows": rows,
                "periods": periods.len(),
                "nodes": nodes,
                "peak_rss_kib": peak_rss_kib(),
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}
