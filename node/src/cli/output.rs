//! How the CLI prints: human-readable tables by default, JSON with `--json`.

use federation::case::Case;
use federation::stats::{day_of, format_day, Report};
use serde_json::{json, Value};

/// Writes to stdout; exits quietly if the reader has gone away (e.g. `| head`).
pub fn emit(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out.write_all(s.as_bytes()).and_then(|_| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// `YYYY-MM-DD HH:MM:SS` in Beijing time.
pub fn time(ms: i64) -> String {
    let secs_of_day = (ms + 8 * 3_600_000).rem_euclid(86_400_000) / 1000;
    format!(
        "{} {:02}:{:02}:{:02}",
        format_day(day_of(ms)),
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

fn opt_time(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_else(|| "-".into())
}

/// Pads by characters, counting CJK characters as two columns.
pub fn pad(s: &str, width: usize) -> String {
    let w: usize = s.chars().map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// A table: the headers, then a line per row; each column but the last padded to its width (see
/// [`pad`]), the last as it is, columns a space apart.
pub fn table(columns: &[(&str, usize)], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let line = |cells: &[String]| {
        let n = cells.len();
        let parts: Vec<String> = cells
            .iter()
            .zip(columns)
            .enumerate()
            .map(|(i, (c, (_, w)))| if i + 1 == n { c.clone() } else { pad(c, *w) })
            .collect();
        parts.join(" ") + "\n"
    };
    let header: Vec<String> = columns.iter().map(|(h, _)| h.to_string()).collect();
    let mut s = line(&header);
    for r in rows {
        s += &line(&r);
    }
    s
}

/// The JSON form of a case: the domain fields plus the category label and the light (empty when no
/// clock runs).
pub fn case_json(c: &Case, label: &str, light: &str) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("category_label".into(), json!(label));
        m.insert("light".into(), json!(light));
    }
    v
}

/// 绿, 黄, 红 for a light the node sent, "-" for none.
fn light_zh(light: &str) -> &'static str {
    match light {
        "green" => "绿",
        "yellow" => "黄",
        "red" => "红",
        _ => "-",
    }
}

pub fn case_detail(c: &Case, label: &str, light: &str) -> String {
    let mut s = String::new();
    s += &format!("案件 {}  [{}]  version {}", c.id, c.state, c.version);
    if !light.is_empty() {
        s += &format!("  {}灯 {light}", light_zh(light));
    }
    s += "\n";
    s += &format!("  title      {}\n", c.title);
    if !c.description.is_empty() {
        s += &format!("  description {}\n", c.description);
    }
    s += &format!("  grid       {}\n", c.grid);
    s += &format!("  category   {} {}\n", c.category, label);
    s += &format!("  source     {}   priority {}   reporter {}\n", c.source, c.priority, c.reporter);
    if let Some(p) = &c.intake.patrol {
        s += &format!("  patrol     {p}\n");
    }
    if let Some(l) = &c.location {
        let coords = match (l.lat, l.lon) {
            (Some(a), Some(b)) => format!(" ({a:.5}, {b:.5})"),
            _ => String::new(),
        };
        s += &format!("  location   {}{}\n", l.address, coords);
    }
    s += &format!("  owner      {}   origin {}\n", c.owner, c.origin);
    if let Some(h) = &c.handler {
        s += &format!("  handler    {} ({})\n", h.name, h.kind.as_str());
    }
    s += &format!("  reported   {}   register by {}\n", time(c.reported_at), time(c.register_due));
    if let Some(o) = &c.on_site {
        let at = o.point.map(|(lat, lon)| format!(" at ({lat:.5}, {lon:.5})")).unwrap_or_default();
        let timely = if o.at <= c.register_due { "within 7 minutes" } else { "after 7 minutes" };
        s += &format!("  到场 on site {}{at}  ({timely})\n", time(o.at));
    }
    s += &format!(
        "  registered {}   due {} (this step)   {} (the case, 办结时限)\n",
        opt_time(c.registered_at),
        opt_time(c.due_at),
        opt_time(c.overall_deadline())
    );
    s += &format!(
        "  closed     {}   returns {}   extensions {}\n",
        opt_time(c.closed_at),
        c.returns,
        c.extensions
    );
    s += "  audit:\n";
    for a in &c.audit {
        let from = a.from.map(|f| f.as_str()).unwrap_or("-");
        s += &format!("    {}  {:<9} {} -> {}  by {}", time(a.at), a.action, from, a.to, a.actor);
        if !a.note.is_empty() {
            s += &format!("  ({})", a.note);
        }
        // Who the node authenticated, beside the name the client gave.
        if !a.by.is_empty() {
            s += &format!("\n        authenticated: {}", a.by);
        }
        s += "\n";
    }
    s
}

pub fn case_rows(cases: &[(Case, String, String)]) -> String {
    let mut s = format!(
        "{} {} {} {} {} {} {}\n",
        pad("ID", 31),
        pad("STATE", 11),
        pad("灯", 3),
        pad("GRID", 16),
        pad("CATEGORY", 26),
        pad("V", 3),
        "TITLE"
    );
    for (c, label, light) in cases {
        s += &format!(
            "{} {} {} {} {} {} {}\n",
            pad(&c.id, 31),
            pad(c.state.as_str(), 11),
            pad(light_zh(light), 3),
            pad(c.grid.as_str(), 16),
            pad(&format!("{} {}", c.category, label), 26),
            pad(&c.version.to_string(), 3),
            c.title
        );
    }
    s
}

fn pct(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

pub fn stats_table(node: &str, from: &str, to: &str, r: &Report) -> String {
    let c = &r.counters;
    let mut s = format!(
        "node {node}   cases reported {} .. {}\n\n",
        if from.is_empty() { "start" } else { from },
        to
    );
    let rows = [
        ("上报 total", c.total.to_string()),
        ("立案 registered (应结案)", c.registered.to_string()),
        ("结案 closed", c.closed.to_string()),
        ("按期结案 closed on time", c.closed_on_time.to_string()),
        ("返工 returned", c.returned.to_string()),
        ("自行处置 self-handled", c.self_handled.to_string()),
        ("作废 cancelled", c.cancelled.to_string()),
        ("催办 urged", c.urged.to_string()),
        ("督办 escalated by supervision", c.supervised.to_string()),
        ("超期结案 closed late", r.closed_late.to_string()),
        ("超期 overdue (open)", r.overdue.to_string()),
        ("结案率 closure rate", pct(r.closure_rate)),
        ("按期结案率 on-time closure rate", pct(r.on_time_closure_rate)),
        ("返工率 rework rate (of 应结案)", pct(r.rework_rate)),
        ("按时立案率 on-time registration", pct(r.on_time_registration_rate)),
        ("处置率 handling rate", pct(r.handling_rate)),
        ("延期率 extension rate", pct(r.extension_rate)),
        ("自行处置率 self-handled rate", pct(r.self_handled_rate)),
        (
            "7分钟到场率 on site in 7 min",
            format!(
                "{} ({} of {} hotline tickets)",
                pct(r.on_site_rate),
                r.counters.on_site_in_time,
                r.counters.hotline
            ),
        ),
    ];
    for (k, v) in rows {
        s += &format!("  {} {v}\n", pad(k, 36));
    }
    for (title, map) in [
        ("by state", &c.by_state),
        ("by category", &c.by_category),
        ("by grid", &c.by_grid),
        ("by department", &c.by_department),
    ] {
        if map.is_empty() {
            continue;
        }
        s += &format!("\n  {title}:\n");
        for (k, v) in map {
            // Category codes with their names, as `case list` shows them.
            let key = match (title, category_label(k)) {
                ("by category", Some(label)) => format!("{k} {label}"),
                _ => k.clone(),
            };
            s += &format!("    {} {v}\n", pad(&key, 34));
        }
    }
    s
}

/// The name of category `code` (`市容环境/暴露垃圾` for 0101), if it is a known one.
fn category_label(code: &str) -> Option<String> {
    federation::category::Catalog::standard().get(code).map(|c| c.label())
}

/// The JSON form of a node's statistics; the standard figures sit at the top level, and
/// `by_category_label` names every category of `by_category`.
pub fn stats_json(node: &str, from: &str, to: &str, r: &Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("node".into(), json!(node));
        m.insert("from".into(), json!(from));
        m.insert("to".into(), json!(to));
        let labels: serde_json::Map<String, Value> = r
            .counters
            .by_category
            .keys()
            .filter_map(|k| category_label(k).map(|l| (k.clone(), json!(l))))
            .collect();
        m.insert("by_category_label".into(), Value::Object(labels));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_time() {
        // 2026-11-23T16:30:00Z is 2026-11-24 00:30 in Beijing.
        assert_eq!(time(1_795_451_400_000), "2026-11-24 00:30:00");
    }
}
