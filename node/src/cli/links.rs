//! `gridnode federation status` and `gridnode department add|list`.

use std::process::ExitCode;

use clap::Subcommand;
use proto::v1::{Department, DepartmentsRequest, LinksRequest};
use serde_json::json;

use super::output;
use super::NodeArgs;
use crate::client::with_deadline;
use crate::clock::{age_ms, wall_ms as now_ms};

#[derive(Subcommand, Debug)]
pub enum FederationCmd {
    /// Every link of the node: peer, state (up, down, or never contacted), last success, backlog and the
    /// age of its oldest message. Idle links are probed, so "up" means reachable now.
    Status {
        #[command(flatten)]
        node: NodeArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DepartmentCmd {
    /// Register a functional department at a street or district node (吹哨), or change its deadline.
    Add {
        #[command(flatten)]
        node: NodeArgs,
        /// e.g. 区城管执法局
        #[arg(long)]
        name: String,
        /// Handling deadline of cases dispatched to it.
        #[arg(long, default_value_t = 72)]
        hours: u32,
        #[arg(long)]
        json: bool,
    },
    /// The departments registered at a node.
    List {
        #[command(flatten)]
        node: NodeArgs,
        #[arg(long)]
        json: bool,
    },
}

fn age(ms: Option<i64>) -> String {
    match ms {
        Some(t) => format!("{:.1}s ago", age_ms(now_ms(), t) as f64 / 1000.0),
        None => "never".into(),
    }
}

pub async fn run(cmd: FederationCmd) -> anyhow::Result<ExitCode> {
    let FederationCmd::Status { node, json } = cmd;
    let r = node.client()?.cluster(async |mut c, d| c.links(with_deadline(LinksRequest {}, d)).await).await?;
    let now = now_ms();
    if json {
        let links: Vec<_> = r
            .links
            .iter()
            .map(|l| {
                json!({
                    "peer": l.peer, "name": l.peer_name, "relation": l.relation, "up": l.up, "state": l.state,
                    "last_success_ms": l.last_success_ms, "backlog": l.backlog,
                    "oldest_age_ms": l.oldest_queued_ms.map(|t| age_ms(now, t)), "last_error": l.last_error,
                    "last_rollup_ms": l.last_rollup_ms,
                })
            })
            .collect();
        say!("{}", json!({"node": r.node, "links": links}));
    } else {
        say!("node {}", r.node);
        say!(
            "{} {} {} {} {} {} {}",
            output::pad("PEER", 14),
            output::pad("NAME", 14),
            output::pad("REL", 7),
            output::pad("STATE", 6),
            output::pad("LAST OK", 12),
            output::pad("BACKLOG", 8),
            "OLDEST"
        );
        for l in &r.links {
            say!(
                "{} {} {} {} {} {} {}{}",
                output::pad(&l.peer, 14),
                output::pad(&l.peer_name, 14),
                output::pad(&l.relation, 7),
                output::pad(&l.state, 6),
                output::pad(&age(l.last_success_ms), 12),
                output::pad(&l.backlog.to_string(), 8),
                l.oldest_queued_ms
                    .map(|t| format!("{:.1}s", age_ms(now, t) as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                if l.last_error.is_empty() { String::new() } else { format!("  ({})", l.last_error) },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn department(cmd: DepartmentCmd) -> anyhow::Result<ExitCode> {
    let (r, json) = match cmd {
        DepartmentCmd::Add { node, name, hours, json } => {
            let msg = Department { name, deadline_hours: hours };
            (
                node.client()?
                    .case(async |mut c, d| c.register_department(with_deadline(msg.clone(), d)).await)
                    .await?,
                json,
            )
        }
        DepartmentCmd::List { node, json } => (
            node.client()?
                .case(async |mut c, d| c.departments(with_deadline(DepartmentsRequest {}, d)).await)
                .await?,
            json,
        ),
    };
    if json {
        let v: Vec<_> = r
            .departments
            .iter()
            .map(|d| json!({"name": d.name, "deadline_hours": d.deadline_hours}))
            .collect();
        say!("{}", serde_json::Value::Array(v));
    } else {
        for d in &r.departments {
            say!("{}  {}h", output::pad(&d.name, 24), d.deadline_hours);
        }
    }
    Ok(ExitCode::SUCCESS)
}
