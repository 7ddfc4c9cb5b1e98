//! The columns of an export: a case per row, or the figures of one node's subtree for one period.
//! Each column has a stable English id (the JSON key and the `--lang en` header) and a Chinese header.

use federation::case::Case;
use federation::category::Catalog;
use proto::v1 as pb;

use crate::cli::output::time;

/// The language of the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Chinese headers (the default).
    Zh,
    /// English headers.
    En,
}

/// One column: its id (English, snake_case) and its Chinese header.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The English id: JSON key and English header.
    pub id: &'static str,
    /// The Chinese header.
    pub zh: &'static str,
    /// Shown as a percentage (a rate from 0 to 1).
    pub percent: bool,
}

impl Column {
    /// The header in `lang`.
    pub fn header(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.zh,
            Lang::En => self.id,
        }
    }
}

const fn col(id: &'static str, zh: &'static str) -> Column {
    Column { id, zh, percent: false }
}

const fn rate(id: &'static str, zh: &'static str) -> Column {
    Column { id, zh, percent: true }
}

/// A cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Free text, or a time formatted as the CLI prints it (Beijing time).
    Text(String),
    /// A count.
    Int(i64),
    /// A rate from 0 to 1.
    Rate(f64),
    /// No value (a time not reached yet).
    Empty,
}

/// The columns of `export cases`.
pub const CASE_COLUMNS: [Column; 26] = [
    col("id", "案件编号"),
    col("title", "标题"),
    col("state", "状态"),
    col("light", "灯"),
    col("grid", "网格"),
    col("category", "类别代码"),
    col("category_label", "类别"),
    col("source", "来源"),
    col("priority", "紧急程度"),
    col("reporter", "上报人"),
    col("address", "地址"),
    col("description", "描述"),
    col("origin", "发起节点"),
    col("owner", "所属节点"),
    col("handler", "处置人"),
    col("handler_kind", "处置类型"),
    col("reported_at", "上报时间"),
    col("registered_at", "立案时间"),
    col("dispatched_at", "派遣时间"),
    col("handled_at", "处置反馈时间"),
    col("closed_at", "结案时间"),
    col("due_at", "处置时限"),
    col("overall_due", "办结时限"),
    col("closed_on_time", "按期结案"),
    col("returns", "返工次数"),
    col("extensions", "延期次数"),
];

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn at(ms: Option<i64>) -> Cell {
    ms.map(|m| Cell::Text(time(m))).unwrap_or(Cell::Empty)
}

/// The row of one case, in the order of [`CASE_COLUMNS`]; `light` as the node computed it.
pub fn case_row(c: &Case, light: &str, lang: Lang) -> Vec<Cell> {
    let label = Catalog::standard().get(&c.category).map(|k| k.label()).unwrap_or_default();
    let (handler, kind) = match &c.handler {
        Some(h) => (text(h.name.clone()), text(h.kind.as_str())),
        None => (Cell::Empty, Cell::Empty),
    };
    let on_time = match (c.closed_at, lang) {
        (None, _) => Cell::Empty,
        (Some(_), Lang::Zh) => text(if c.closed_on_time() { "是" } else { "否" }),
        (Some(_), Lang::En) => text(if c.closed_on_time() { "yes" } else { "no" }),
    };
    let light = match (light, lang) {
        ("", _) => Cell::Empty,
        ("green", Lang::Zh) => text("绿"),
        ("yellow", Lang::Zh) => text("黄"),
        ("red", Lang::Zh) => text("红"),
        (l, _) => text(l),
    };
    vec![
        text(c.id.clone()),
        text(c.title.clone()),
        text(c.state.as_str()),
        light,
        text(c.grid.as_str()),
        text(c.category.clone()),
        text(label),
        text(c.source.as_str()),
        text(c.priority.as_str()),
        text(c.reporter.clone()),
        c.location.as_ref().map(|l| text(l.address.clone())).unwrap_or(Cell::Empty),
        text(c.description.clone()),
        text(c.origin.as_str()),
        text(c.owner.as_str()),
        handler,
        kind,
        at(Some(c.reported_at)),
        at(c.registered_at),
        at(c.dispatched_at),
        at(c.handled_at),
        at(c.closed_at),
        at(c.due_at),
        at(c.overall_due),
        on_time,
        Cell::Int(i64::from(c.returns)),
        Cell::Int(i64::from(c.extensions)),
    ]
}

/// The columns of `export figures`.
pub const FIGURE_COLUMNS: [Column; 25] = [
    col("period", "周期"),
    col("from", "开始日期"),
    col("to", "结束日期"),
    col("node", "节点(含下级)"),
    col("total", "上报数"),
    col("registered", "立案数(应结案)"),
    col("registered_on_time", "按时立案数"),
    col("handled", "处置数"),
    col("closed", "结案数"),
    col("closed_on_time", "按期结案数"),
    col("returned", "返工数"),
    col("extended", "延期数"),
    col("self_handled", "自行处置数"),
    col("urged", "催办数"),
    col("supervised", "督办数"),
    col("cancelled", "作废数"),
    col("closed_late", "超期结案数"),
    rate("closure_rate", "结案率"),
    rate("on_time_closure_rate", "按期结案率"),
    rate("rework_rate", "返工率"),
    rate("on_time_registration_rate", "按时立案率"),
    rate("handling_rate", "处置率"),
    rate("extension_rate", "延期率"),
    rate("on_site_rate", "7分钟到场率"),
    rate("self_handled_rate", "自行处置率"),
];

/// One node's figures for one period as the Stats RPC answered them, in the order of
/// [`FIGURE_COLUMNS`].
pub fn figures_row(period: &str, from: &str, to: &str, node: &str, r: &pb::Stats) -> Vec<Cell> {
    // Rates from the counts, so that a node answering without the newer rates still gets them right.
    let r = proto::convert::stats_from_pb(r.clone());
    let c = &r.counters;
    vec![
        text(period),
        text(from),
        text(to),
        text(node),
        Cell::Int(c.total),
        Cell::Int(c.registered),
        Cell::Int(c.registered_on_time),
        Cell::Int(c.handled),
        Cell::Int(c.closed),
        Cell::Int(c.closed_on_time),
        Cell::Int(c.returned),
        Cell::Int(c.extended),
        Cell::Int(c.self_handled),
        Cell::Int(c.urged),
        Cell::Int(c.supervised),
        Cell::Int(c.cancelled),
        Cell::Int(r.closed_late),
        Cell::Rate(r.closure_rate),
        Cell::Rate(r.on_time_closure_rate),
        Cell::Rate(r.rework_rate),
        Cell::Rate(r.on_time_registration_rate),
        Cell::Rate(r.handling_rate),
        Cell::Rate(r.extension_rate),
        Cell::Rate(r.on_site_rate),
        Cell::Rate(r.self_handled_rate),
    ]
}

/// The columns of a bulletin's ranking (`gridnode bulletin --out`): one street or community per row.
pub const BULLETIN_COLUMNS: [Column; 17] = [
    col("period", "周期"),
    col("level", "层级"),
    col("rank", "排名"),
    col("previous_rank", "上期排名"),
    col("rank_change", "名次变化"),
    col("node", "节点"),
    col("total", "上报数"),
    col("registered", "应结案数"),
    col("closed", "结案数"),
    col("closed_on_time", "按期结案数"),
    col("closed_late", "超期结案数"),
    col("returned", "返工数"),
    col("overdue", "超期在办数"),
    rate("closure_rate", "结案率"),
    rate("on_time_closure_rate", "按期结案率"),
    rate("previous_on_time_closure_rate", "上期按期结案率"),
    rate("rework_rate", "返工率"),
];

/// The roster sheet (网格员花名册): the headers `gridnode staff import` reads back.
pub const STAFF_COLUMNS: [Column; 6] = [
    col("id", "工号"),
    col("name", "姓名"),
    col("role", "岗位"),
    col("phone", "手机号"),
    col("places", "负责网格"),
    col("state", "状态"),
];

/// The bulletin's departments sheet: cases dispatched to each department (吹哨).
pub const BULLETIN_DEPARTMENT_COLUMNS: [Column; 3] =
    [col("department", "部门"), col("dispatched", "本期派遣数"), col("previous_dispatched", "上期派遣数")];

/// The bulletin's overdue-cases sheet: the longest-overdue open cases.
pub const BULLETIN_OVERDUE_COLUMNS: [Column; 6] = [
    col("case_id", "案件编号"),
    col("grid", "网格"),
    col("owner", "承办单位"),
    col("title", "标题"),
    col("due_at", "处置时限"),
    col("overdue_hours", "超期小时数"),
];

/// One ranked line of a bulletin, in the order of [`BULLETIN_COLUMNS`].
pub fn bulletin_row(period: &str, level: &str, l: &federation::bulletin::Line) -> Vec<Cell> {
    let (c, p) = (&l.entry.current, &l.entry.previous);
    let int = |v: Option<i64>| v.map(Cell::Int).unwrap_or(Cell::Empty);
    vec![
        text(period),
        text(level),
        int(l.rank.map(|r| r as i64)),
        int(l.previous_rank.map(|r| r as i64)),
        int(l.rank_change()),
        text(l.entry.node.as_str()),
        Cell::Int(c.counters.total),
        Cell::Int(c.counters.registered),
        Cell::Int(c.counters.closed),
        Cell::Int(c.counters.closed_on_time),
        Cell::Int(c.closed_late),
        Cell::Int(c.counters.returned),
        Cell::Int(c.overdue),
        Cell::Rate(c.closure_rate),
        Cell::Rate(c.on_time_closure_rate),
        Cell::Rate(p.on_time_closure_rate),
        Cell::Rate(c.rework_rate),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_ids_are_unique_and_headers_differ_by_language() {
        for cols in [&CASE_COLUMNS[..], &FIGURE_COLUMNS[..], &BULLETIN_COLUMNS[..]] {
            let mut ids: Vec<_> = cols.iter().map(|c| c.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), cols.len());
        }
        assert_eq!(CASE_COLUMNS[0].header(Lang::Zh), "案件编号");
        assert_eq!(CASE_COLUMNS[0].header(Lang::En), "id");
    }
}
