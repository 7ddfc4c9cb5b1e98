//! `gridnode topology check|render`: validate a district topology and write one config per replica.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use federation::topology::{Topology, TopologyError};
use serde_json::json;

use crate::certs;
use crate::render::replica_config;
use crate::tls::TlsFiles;
use federation::code::Code;
use federation::identity::{Identity, Role};

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
        /// Issue every replica's certificate from this CA (`gridnode certs init-ca`) into OUT/certs,
        /// copy the CA's certificate there (never its key), and configure mutual TLS.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Also write a Prometheus scrape config of every replica's /metrics to this file.
        #[arg(long)]
        prometheus: Option<PathBuf>,
    },
}

/// A Prometheus scrape config of every replica's `/metrics` (HTTPS with the district CA when `ca`).
pub fn scrape_config(t: &Topology, ca: Option<&Path>) -> String {
    let mut out = String::from(
        "# Prometheus scrape config for gridnode, written by `gridnode topology render --prometheus`.\n\
         # Every series carries node and replica labels of its own; targets add node_name.\n\
         scrape_configs:\n  - job_name: gridnode\n    scrape_interval: 15s\n    metrics_path: /metrics\n",
    );
    match ca {
        Some(ca) => out.push_str(&format!(
            "    scheme: https\n    tls_config:\n      ca_file: {:?}\n",
            ca.join("ca.pem").display().to_string()
        )),
        None => out.push_str("    scheme: http\n"),
    }
    out.push_str("    static_configs:\n");
    for node in &t.nodes {
        let targets: Vec<String> = (0..node.replicas.len())
            .filter_map(|i| crate::render::http_addr(node, i))
            .map(|a| format!("{a:?}"))
            .collect();
        out.push_str(&format!(
            "      - targets: [{}]\n        labels:\n          node_name: {:?}\n",
            targets.join(", "),
            node.name
        ));
    }
    out
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
        TopologyCmd::Render { topology, out, json, ca, prometheus } => {
            let t = match load(&topology)? {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{}: {e}", topology.display());
                    return Ok(ExitCode::FAILURE);
                }
            };
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let out = out.canonicalize().with_context(|| format!("cannot resolve {}", out.display()))?;
            let ca = match ca {
                Some(dir) => Some(
                    dir.canonicalize().with_context(|| format!("--ca: cannot resolve {}", dir.display()))?,
                ),
                None => None,
            };
            // Each replica's machine needs the CA's certificate (never its key): a copy in OUT/certs,
            // named by the configs, travels with the replica's own files.
            let ca_copy = match &ca {
                Some(dir) => Some(copy_ca(dir, &out.join("certs"))?),
                None => None,
            };
            let mut rendered = Vec::new();
            for node in &t.nodes {
                for (i, addr) in node.replicas.iter().enumerate() {
                    let mut cfg = replica_config(&t, node, i)?;
                    if let Some(ca_dir) = &ca {
                        let identity = Identity {
                            code: Code::parse_node("node.code", &node.code)?,
                            role: Role::Replica,
                        };
                        let name = format!("r{}", i + 1);
                        // The console is served with the same certificate on the HTTP address.
                        let hosts: Vec<String> = std::iter::once(addr.clone())
                            .chain(cfg.http.as_ref().map(|h| h.listen.clone()))
                            .collect();
                        let req = certs::Request {
                            identity: &identity,
                            name: Some(&name),
                            hosts: &hosts,
                            days: 365,
                        };
                        let issued = certs::issue(ca_dir, &req, &out.join("certs"))?;
                        let ca = ca_copy.clone().unwrap_or_else(|| ca_dir.join("ca.pem"));
                        cfg.tls = Some(TlsFiles { ca, cert: issued.cert, key: issued.key });
                    }
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
                    rendered.push(json!({"node": node.code, "name": node.name, "replica": i + 1, "config": path, "addr": addr,
                        "http": cfg.http.as_ref().map(|h| h.listen.clone())}));
                }
            }
            if let Some(path) = &prometheus {
                std::fs::write(path, scrape_config(&t, ca.as_deref()))
                    .with_context(|| format!("cannot write {}", path.display()))?;
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

/// Copies the CA's certificate into `certs` (through a temp file and a rename); returns the copy.
fn copy_ca(ca_dir: &Path, certs: &Path) -> anyhow::Result<PathBuf> {
    let from = ca_dir.join("ca.pem");
    let pem = std::fs::read(&from).with_context(|| format!("--ca: cannot read {}", from.display()))?;
    std::fs::create_dir_all(certs).with_context(|| format!("cannot create {}", certs.display()))?;
    let to = certs.join("ca.pem");
    let tmp = certs.join(".ca.pem.tmp");
    std::fs::write(&tmp, pem).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scrape_config_lists_every_replica_console_over_https_with_the_ca() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/lixia.toml")).unwrap();
        let t = Topology::load(&text).unwrap();
        let yaml = scrape_config(&t, Some(Path::new("/etc/gridnode/ca")));
        assert!(yaml.contains("scheme: https"), "{yaml}");
        assert!(yaml.contains("ca_file: \"/etc/gridnode/ca/ca.pem\""), "{yaml}");
        assert!(yaml.contains("\"10.10.0.11:8101\", \"10.10.0.12:8101\", \"10.10.0.13:8101\""), "{yaml}");
        assert!(yaml.contains("node_name: \"历下区\""), "{yaml}");
        assert!(scrape_config(&t, None).contains("scheme: http\n"));
    }
}
