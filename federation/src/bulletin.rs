//! Bulletins (周通报, 月汇总): the figures of every street and every community of a subtree for one period,
//! ranked within their level, next to the period before. Ranking rule, one place for every bulletin:
//!
//! ```text
//! 1. 按期结案率 higher first      3. 返工率 lower first        5. the code (stable order)
//! 2. 结案率 higher first          4. 超期 (overdue open) fewer first
//! ```
//! A unit with no case to close in the period (应结案 0) is listed without a rank: a rate of nothing is
//! not a result.

use std::cmp::Ordering;

use crate::code::{Code, Level};
use crate::stats::Report;

/// One unit's figures for the bulletin's period and the one before.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The street or community.
    pub node: Code,
    /// Its figures (the subtree's) in the period.
    pub current: Report,
    /// Its figures in the period before.
    pub previous: Report,
}

/// A ranked line of the bulletin.
#[derive(Debug, Clone)]
pub struct Line {
    /// The unit and its figures.
    pub entry: Entry,
    /// Its rank among the units of its level in the period (1 is best); None without cases to close.
    pub rank: Option<usize>,
    /// Its rank in the period before, by the same rule among the same units.
    pub previous_rank: Option<usize>,
}

impl Line {
    /// Places gained since the period before (positive: moved up); None unless ranked in both.
    pub fn rank_change(&self) -> Option<i64> {
        Some(self.previous_rank? as i64 - self.rank? as i64)
    }
}

/// The ranking order of two units' figures: better first.
pub fn better(a: (&Code, &Report), b: (&Code, &Report)) -> Ordering {
    let (ca, ra) = a;
    let (cb, rb) = b;
    rb.on_time_closure_rate
        .total_cmp(&ra.on_time_closure_rate)
        .then(rb.closure_rate.total_cmp(&ra.closure_rate))
        .then(ra.rework_rate.total_cmp(&rb.rework_rate))
        .then(ra.overdue.cmp(&rb.overdue))
        .then(ca.cmp(cb))
}

/// Ranks `units` by [`better`]: (index into `units`, rank) for those with cases to close.
fn ranks<'a>(units: impl Iterator<Item = (usize, &'a Code, &'a Report)>) -> Vec<(usize, usize)> {
    let mut ranked: Vec<_> = units.filter(|(_, _, r)| r.counters.registered > 0).collect();
    ranked.sort_by(|a, b| better((a.1, a.2), (b.1, b.2)));
    ranked.into_iter().enumerate().map(|(rank, (i, _, _))| (i, rank + 1)).collect()
}

/// The lines of one level (streets or communities) of `entries`, best first; units without a rank
/// follow by code.
pub fn rank_level(entries: &[Entry], level: Level) -> Vec<Line> {
    let of_level: Vec<&Entry> = entries.iter().filter(|e| e.node.level() == level).collect();
    let now = ranks(of_level.iter().enumerate().map(|(i, e)| (i, &e.node, &e.current)));
    let before = ranks(of_level.iter().enumerate().map(|(i, e)| (i, &e.node, &e.previous)));
    let find = |v: &[(usize, usize)], i: usize| v.iter().find(|(j, _)| *j == i).map(|(_, r)| *r);
    let mut lines: Vec<Line> = of_level
        .iter()
        .enumerate()
        .map(|(i, e)| Line { entry: (*e).clone(), rank: find(&now, i), previous_rank: find(&before, i) })
        .collect();
    lines.sort_by(|a, b| match (a.rank, b.rank) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.entry.node.cmp(&b.entry.node),
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Counters;

    fn report(registered: i64, closed: i64, on_time: i64, returned: i64, overdue: i64) -> Report {
        let c = Counters { registered, closed, closed_on_time: on_time, returned, ..Default::default() };
        Report::new(c, overdue)
    }

    fn entry(code: &str, current: Report, previous: Report) -> Entry {
        Entry { node: Code::parse_node("node", code).unwrap(), current, previous }
    }

    #[test]
    fn units_rank_by_on_time_closure_then_closure_then_rework_then_overdue() {
        let entries = vec![
            entry("370102001001", report(10, 9, 8, 0, 0), report(10, 5, 5, 0, 0)),
            // Same on-time rate as 001, higher closure rate: ahead of it.
            entry("370102001002", report(10, 10, 8, 0, 0), report(10, 10, 10, 0, 0)),
            // Same rates as 001, more rework: behind it.
            entry("370102001003", report(10, 9, 8, 2, 0), report(10, 9, 9, 0, 0)),
            // Same as 001 except one more overdue: behind it, ahead of 003.
            entry("370102002001", report(10, 9, 8, 0, 1), report(0, 0, 0, 0, 0)),
            // Nothing to close: listed last, unranked.
            entry("370102002002", report(0, 0, 0, 0, 3), report(4, 4, 4, 0, 0)),
            // A street: ranked among streets only.
            entry("370102001", report(5, 1, 1, 0, 0), report(5, 1, 1, 0, 0)),
        ];
        let lines = rank_level(&entries, Level::Community);
        let order: Vec<(&str, Option<usize>, Option<usize>)> =
            lines.iter().map(|l| (l.entry.node.as_str(), l.rank, l.previous_rank)).collect();
        assert_eq!(
            order,
            vec![
                ("370102001002", Some(1), Some(1)),
                ("370102001001", Some(2), Some(4)),
                ("370102002001", Some(3), None),
                ("370102001003", Some(4), Some(3)),
                ("370102002002", None, Some(2)),
            ]
        );
        assert_eq!(lines[1].rank_change(), Some(2));
        assert_eq!(lines[3].rank_change(), Some(-1));
        assert_eq!(lines[2].rank_change(), None);
        let streets = rank_level(&entries, Level::Street);
        assert_eq!(streets.len(), 1);
        assert_eq!(streets[0].rank, Some(1));
    }
}
