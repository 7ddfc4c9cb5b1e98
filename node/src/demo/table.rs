//! The demo's rollup table: the district's view of its whole subtree, answered from the district's own
//! store (`stats --subtree CODE`), with how fresh each part is.

use std::time::Duration;

use federation::topology::Topology;
use proto::v1::StatsRequest;

use crate::cli::output::{pad, time};
use crate::client::{with_deadline, Client};
use crate::clock::wall_ms as now_ms;

pub struct Table {
    district: Client,
    rows: Vec<(String, String)>,
}

fn pct(num: i64, den: i64) -> String {
    if den == 0 {
        "-".into()
    } else {
        format!("{:.1}%", num as f64 * 100.0 / den as f64)
    }
}

impl Table {
    pub fn new(topo: &Topology, tls: &std::sync::Arc<crate::tls::Tls>) -> anyhow::Result<Table> {
        let district = &topo.nodes[0];
        Ok(Table {
            district: Client::new(&district.replicas.join(","), Duration::from_secs(5), Some(tls))?,
            rows: topo.nodes.iter().map(|n| (n.code.clone(), n.name.clone())).collect(),
        })
    }

    pub async fn print(&self) {
        let now = now_ms();
        let mut out = format!(
            "── {} rollup of the district at {} ──\n{} {} {} {} {} {} {} {} {}\n",
            self.rows[0].1,
            time(now),
            pad("NODE", 30),
            pad("上报", 6),
            pad("立案", 6),
            pad("结案", 6),
            pad("结案率", 8),
            pad("按期结案率", 11),
            pad("返工率", 8),
            pad("超期", 5),
            "FRESH"
        );
        for (code, name) in &self.rows {
            let msg = StatsRequest { subtree: true, scope: code.clone(), ..Default::default() };
            let Ok(r) =
                self.district.case(async |mut c, d| c.stats(with_deadline(msg.clone(), d)).await).await
            else {
                out += &format!("{} (unavailable)\n", pad(&format!("{name} {code}"), 30));
                continue;
            };
            let Some(s) = r.stats else { continue };
            let report = proto::convert::stats_from_pb(s);
            let s = &report.counters;
            let now = now_ms();
            let fresh = r
                .parts
                .iter()
                .find(|p| &p.node == code)
                .map(|p| format!("{:.1}s", crate::clock::age_ms(now, p.produced_at_ms) as f64 / 1000.0))
                .unwrap_or_else(|| "-".into());
            let indent = "  ".repeat((code.len() - 6) / 3);
            out += &format!(
                "{} {} {} {} {} {} {} {} {}\n",
                pad(&format!("{indent}{name}"), 30),
                pad(&s.total.to_string(), 6),
                pad(&s.registered.to_string(), 6),
                pad(&s.closed.to_string(), 6),
                pad(&pct(s.closed, s.registered), 8),
                pad(&pct(s.closed_on_time, s.registered), 11),
                pad(&pct(s.returned, s.closed), 8),
                pad(&report.overdue.to_string(), 5),
                fresh
            );
        }
        println!("{out}");
    }
}
