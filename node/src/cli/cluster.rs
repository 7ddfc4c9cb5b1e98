//! `gridnode cluster status|add-replica|remove-replica`.

use std::process::ExitCode;

use clap::Subcommand;
use proto::v1::{AddReplicaRequest, RemoveReplicaRequest, ReplicaStatus, StatusRequest, StatusResponse};
use serde_json::{json, Value};

use super::NodeArgs;
use crate::client::with_deadline;

#[derive(Subcommand, Debug)]
pub enum ClusterCmd {
    /// Leader, term, replicas and their log positions.
    Status {
        #[command(flatten)]
        node: NodeArgs,
        /// Only this replica's own view (do not ask the leader).
        #[arg(long)]
        local: bool,
        #[arg(long)]
        json: bool,
    },
    /// Add a replica: it joins as a learner, catches up, then becomes a voter. Start it first with a
    /// config that has `bootstrap = false`.
    AddReplica {
        #[command(flatten)]
        node: NodeArgs,
        /// The new replica's id.
        #[arg(long)]
        id: u64,
        /// The new replica's address (ip:port).
        #[arg(long)]
        addr: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a replica from the group.
    RemoveReplica {
        #[command(flatten)]
        node: NodeArgs,
        #[arg(long)]
        id: u64,
        #[arg(long)]
        json: bool,
    },
}

fn replicas_json(rs: &[ReplicaStatus]) -> Value {
    Value::Array(
        rs.iter()
            .map(|r| json!({"id": r.id, "addr": r.addr, "voter": r.voter, "matched": r.matched}))
            .collect(),
    )
}

fn status_json(s: &StatusResponse) -> Value {
    json!({
        "node": s.node,
        "name": s.name,
        "answered_by": s.answered_by,
        "role": s.role,
        "leader": s.leader,
        "leader_addr": s.leader_addr,
        "term": s.term,
        "last_log_index": s.last_log_index,
        "last_applied": s.last_applied,
        "snapshot_index": s.snapshot_index,
        "purged_index": s.purged_index,
        "replicas": replicas_json(&s.replicas),
    })
}

fn status_table(s: &StatusResponse) -> String {
    let mut out = format!(
        "node {} {}\nleader {} ({})   term {}   answered by replica {} ({})\nlog {}   applied {}   snapshot {}   purged {}\n\n",
        s.node,
        s.name,
        s.leader.map(|l| l.to_string()).unwrap_or_else(|| "none".into()),
        if s.leader_addr.is_empty() { "-" } else { &s.leader_addr },
        s.term,
        s.answered_by,
        s.role,
        s.last_log_index,
        s.last_applied,
        s.snapshot_index.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
        s.purged_index.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
    );
    out += "ID  ADDR                   ROLE      MATCHED\n";
    for r in &s.replicas {
        let role = if Some(r.id) == s.leader {
            "leader"
        } else if r.voter {
            "voter"
        } else {
            "learner"
        };
        let matched = r.matched.map(|m| m.to_string()).unwrap_or_else(|| "-".into());
        out += &format!("{:<3} {:<22} {:<9} {}\n", r.id, r.addr, role, matched);
    }
    out
}

pub async fn run(cmd: ClusterCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ClusterCmd::Status { node, local, json } => {
            let s = node
                .client()?
                .cluster(async |mut c, d| c.status(with_deadline(StatusRequest { local }, d)).await)
                .await?;
            if json {
                say!("{}", status_json(&s));
            } else {
                say_raw!("{}", status_table(&s));
            }
        }
        ClusterCmd::AddReplica { node, id, addr, json } => {
            let msg = AddReplicaRequest { id, addr };
            let r = node
                .client()?
                .cluster(async |mut c, d| c.add_replica(with_deadline(msg.clone(), d)).await)
                .await?;
            if json {
                say!("{}", json!({"replicas": replicas_json(&r.replicas), "log_index": r.log_index}));
            } else {
                say!("replica {id} added; membership committed at log index {}", r.log_index);
            }
        }
        ClusterCmd::RemoveReplica { node, id, json } => {
            let msg = RemoveReplicaRequest { id };
            let r = node
                .client()?
                .cluster(async |mut c, d| c.remove_replica(with_deadline(msg, d)).await)
                .await?;
            if json {
                say!("{}", json!({"replicas": replicas_json(&r.replicas), "log_index": r.log_index}));
            } else {
                say!("replica {id} removed; membership committed at log index {}", r.log_index);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
