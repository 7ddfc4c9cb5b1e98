//! The demo's operators: grid workers report on patrol, citizens call 12345 (tickets taken at the
//! district are dispatched down), communities register, dispatch, escalate; streets summon departments;
//! handlers report back; verifiers close or return. Each community keeps a roster (a grid leader and a
//! full-time worker per grid), so its cases and the 12345 tickets routed to it are dispatched to the
//! worker of their grid, who checks in on site. Everything goes through the real gRPC API.

use std::time::Duration;

use anyhow::Context;
use federation::code::{Code, Level};
use federation::topology::Topology;
use proto::v1::{ActRequest, AddWorkerRequest, Department, Handler, ListRequest, ReportRequest};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::data::{self, CaseTemplate, DemoData};
use crate::client::{with_deadline, Client};

struct Node {
    code: Code,
    client: Client,
    grids: Vec<String>,
}

pub struct Activity {
    data: &'static DemoData,
    nodes: Vec<Node>,
    rng: StdRng,
    reports: u64,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

impl Activity {
    pub fn new(
        topo: &Topology,
        seed: u64,
        tls: &std::sync::Arc<crate::tls::Tls>,
    ) -> anyhow::Result<Activity> {
        let mut nodes = Vec::new();
        for n in &topo.nodes {
            let grids = topo
                .nodes
                .iter()
                .filter(|c| c.code.starts_with(&n.code))
                .flat_map(|c| c.grid_codes().unwrap_or_default())
                .map(|g| g.to_string())
                .collect();
            nodes.push(Node {
                code: Code::parse_node("node", &n.code)?,
                client: Client::new(&n.replicas.join(","), Duration::from_secs(10), Some(tls))?,
                grids,
            });
        }
        Ok(Activity { data: data::get()?, nodes, rng: StdRng::seed_from_u64(seed), reports: 0 })
    }

    /// Departments at the district and the streets, and a first batch of cases.
    pub async fn seed(&mut self) -> anyhow::Result<()> {
        for n in self.nodes.iter().filter(|n| n.code.level() != Level::Community) {
            for dep in &self.data.departments {
                let (name, deadline_hours) = (&dep.name, dep.deadline_hours);
                let msg = Department { name: name.clone(), deadline_hours };
                n.client
                    .case(async |mut c, d| c.register_department(with_deadline(msg.clone(), d)).await)
                    .await
                    .with_context(|| format!("register {name} at {}", n.code))?;
            }
        }
        self.rosters().await?;
        for _ in 0..40 {
            self.report().await;
        }
        for _ in 0..120 {
            self.act().await;
        }
        Ok(())
    }

    /// Each community's roster: its first grid's leader (网格长), and a full-time worker (专职网格员) for
    /// every grid, named from the demo's workers in turn.
    async fn rosters(&mut self) -> anyhow::Result<()> {
        let mut names = self.data.workers.iter().cycle();
        let mut number = 0u32;
        for n in self.nodes.iter().filter(|n| n.code.level() == Level::Community) {
            let posts = n.grids.first().map(|g| ("grid_leader", g)).into_iter();
            for (role, grid) in posts.chain(n.grids.iter().map(|g| ("full_time", g))) {
                number += 1;
                let msg = AddWorkerRequest {
                    name: names.next().cloned().unwrap_or_default(),
                    role: role.into(),
                    phone: format!("1380531{:04}", number),
                    places: vec![grid.clone()],
                };
                n.client
                    .staff(async |mut c, d| c.add_worker(with_deadline(msg.clone(), d)).await)
                    .await
                    .with_context(|| format!("add a worker of {grid} at {}", n.code))?;
            }
        }
        Ok(())
    }

    /// One tick of activity.
    pub async fn step(&mut self) {
        if self.rng.gen_bool(0.6) {
            self.report().await;
        }
        for _ in 0..self.rng.gen_range(1..=3) {
            self.act().await;
        }
    }

    async fn report(&mut self) {
        self.reports += 1;
        let data = self.data;
        let rng = &mut self.rng;
        let upper: Vec<usize> =
            (0..self.nodes.len()).filter(|&i| self.nodes[i].code.level() != Level::Community).collect();
        let roll = rng.gen_range(0..100);
        let (node, source, t, reporter): (usize, &str, &CaseTemplate, String) = if roll < 20 {
            // 12345 tickets, mostly taken at the district, routed down to the grid's community.
            let at = if rng.gen_bool(0.7) { 0 } else { *pick(rng, &upper) };
            (at, "hotline", pick(rng, &data.hotline), format!("12345 {}", pick(rng, &data.reporters)))
        } else if roll < 25 {
            // 上级交办: a street office or the district assigns a case to a community.
            let at = *pick(rng, &upper);
            let who = format!("{}交办", self.nodes[at].code.level().zh());
            (at, "assigned_from_above", pick(rng, &data.cases), who)
        } else {
            let communities: Vec<usize> =
                (0..self.nodes.len()).filter(|&i| self.nodes[i].code.level() == Level::Community).collect();
            let source = *pick(rng, &["patrol", "patrol", "patrol", "public", "video"]);
            let reporter = match source {
                "patrol" => format!("网格员{}", pick(rng, &data.workers)),
                "video" => "视频监控AI识别".to_string(),
                _ => pick(rng, &data.reporters).to_string(),
            };
            (*pick(rng, &communities), source, pick(rng, &data.cases), reporter)
        };
        let n = &self.nodes[node];
        let msg = ReportRequest {
            request_id: Some(format!("demo-{}-{}", std::process::id(), self.reports)),
            grid: pick(&mut self.rng, &n.grids).clone(),
            category: t.category.clone(),
            source: source.into(),
            title: t.title.clone(),
            description: t.description.clone(),
            location: None,
            reporter,
            priority: if self.rng.gen_bool(0.1) { "high".into() } else { "normal".into() },
            ..Default::default()
        };
        if let Err(e) = n.client.case(async |mut c, d| c.report(with_deadline(msg.clone(), d)).await).await {
            eprintln!("demo: report at {} failed: {e}", n.code);
        }
    }

    /// Moves one open case of a random node a step along, as its operators would.
    async fn act(&mut self) {
        let i = self.rng.gen_range(0..self.nodes.len());
        let n = &self.nodes[i];
        let list = ListRequest { owned: true, page_size: 200, ..Default::default() };
        let Ok(resp) = n.client.case(async |mut c, d| c.list(with_deadline(list.clone(), d)).await).await
        else {
            return;
        };
        let open: Vec<_> =
            resp.cases.iter().filter(|c| c.state != "closed" && c.state != "cancelled").collect();
        if open.is_empty() {
            return;
        }
        let case = *pick(&mut self.rng, &open);
        // Some cases are left alone for a while: they run overdue and supervision escalates them.
        if self.rng.gen_bool(0.25) {
            return;
        }
        let data = self.data;
        let rng = &mut self.rng;
        let level = n.code.level();
        let children: Vec<&Node> =
            self.nodes.iter().filter(|c| c.code.parent().as_ref() == Some(&n.code)).collect();
        let mut msg = ActRequest {
            case_id: case.id.clone(),
            actor: format!("{}值班员", level.zh()),
            expected_version: Some(case.version),
            ..Default::default()
        };
        match case.state.as_str() {
            "reported" if rng.gen_bool(0.05) => {
                msg.action = "cancel".into();
                msg.note = pick(rng, &data.cancel_reasons).to_string();
            }
            "reported" => msg.action = "register".into(),
            "registered" | "suspended" if level == Level::Community && rng.gen_bool(0.12) => {
                msg.action = "escalate".into();
                msg.note = pick(rng, &data.escalate_reasons).to_string();
            }
            "registered" if level != Level::Community && !children.is_empty() && rng.gen_bool(0.15) => {
                msg.action = "send_down".into();
                msg.to = pick(rng, &children).code.to_string();
                msg.note = "请社区牵头协同办理，街道派员配合".into();
            }
            "registered" if level == Level::Community => {
                // 精准派单: to the worker of the case's grid, from the community's roster.
                msg.action = "dispatch".into();
                msg.handler = Some(Handler { kind: "grid_worker".into(), name: "auto".into() });
            }
            "dispatched"
                if level == Level::Community && case.on_site_at_ms.is_none() && rng.gen_bool(0.7) =>
            {
                msg.action = "arrive".into();
                msg.actor = "网格员".into();
            }
            "registered" => {
                msg.action = "dispatch".into();
                msg.handler = Some(Handler {
                    kind: "department".into(),
                    name: pick(rng, &data.departments).name.clone(),
                });
                msg.note = "吹哨报到，请部门到场处置".into();
            }
            "suspended" => msg.action = "resume".into(),
            "dispatched" => msg.action = "start".into(),
            "handling" if rng.gen_bool(0.05) => {
                msg.action = "suspend".into();
                msg.note = "需等待产权单位答复，挂账处理".into();
            }
            "handling" => {
                msg.action = "handled".into();
                msg.note = pick(rng, &data.handled_notes).to_string();
            }
            "handled" if rng.gen_bool(0.15) => {
                msg.action = "return".into();
                msg.note = pick(rng, &data.return_reasons).to_string();
            }
            "handled" => {
                msg.action = "close".into();
                msg.actor = "核查员".into();
            }
            _ => return,
        }
        // Refusals (a case that moved meanwhile, a version conflict) are part of normal operations.
        let _ = n.client.case(async |mut c, d| c.act(with_deadline(msg.clone(), d)).await).await;
    }
}
