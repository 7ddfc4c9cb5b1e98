//! `gridnode topology check|render`: validate a district topology and write one config per replica.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use federation::topology::{Topology, TopologyError};
use serde_json::json;

use crate::render::replica_config;

#[derive(Subcommand, Debug)]
pub enum TopologyCmd {
    /// Validate a topology file and list every problem found.
    Check { topology: PathBuf },
    /// Write one config file per replica into DIR.
    Render {
        topology: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Print a JSON array of {node, replica, config, addr}.
        #[arg(long)]
        json: bool,
    },
}

fn load(path: &Path) -> anyhow::Result<Result<Topology, TopologyError>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Topology::load(&text))
}

pub fn run(cmd: TopologyCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TopologyCmd::Check { topology } => match load(&topology)? {
            Ok(t) => {
                let replicas: usize = t.nodes.iter().map(|n| n.replicas.len()).sum();
                let grids: usize = t.nodes.iter().map(|n| n.grids.len()).sum();
                say!(
                    "{}: ok, {} nodes, {replicas} replicas, {grids} grids",
                    topology.display(),
                    t.nodes.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: {e}", topology.display());
                Ok(ExitCode::FAILURE)
            }
        },
        TopologyCmd::Render { topology, out, json } => {
            let t = match load(&topology)? {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{}: {e}", topology.display());
                    return Ok(ExitCode::FAILURE);
                }
            };
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let mut rendered = Vec::new();
            for node in &t.nodes {
                for (i, addr) in node.replicas.iter().enumerate() {
                    let cfg = replica_config(&t, node, i)?;
                    cfg.validate().with_context(|| format!("rendering {} replica {}", node.code, i + 1))?;
                    let path = out.join(format!("{}-r{}.toml", node.code, i + 1));
                    let text = format!(
                        "# gridnode replica config, rendered from {}\n# run: gridnode serve --config {}\n{}",
                        topology.display(),
                        path.display(),
                        toml::to_string(&cfg)?
                    );
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    rendered.push(json!({"node": node.code, "name": node.name, "replica": i + 1, "config": path, "addr": addr}));
                }
            }
            if json {
                say!("{}", serde_json::Value::Array(rendered));
            } else {
                for r in &rendered {
                    say!("{}  replica {}  {}  {}", r["node"], r["replica"], r["addr"], r["config"]);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
