//! Replica configs from a topology: what `gridnode topology render` writes and `gridnode demo` runs.

use std::path::PathBuf;

use federation::code::CodeError;
use federation::topology::{NodeSpec, Topology};

use crate::config::{http_port_for, Config, HttpSettings, Neighbour, RaftTuning, ReplicaAddr};

fn peer(n: &NodeSpec) -> Neighbour {
    Neighbour { code: n.code.clone(), name: n.name.clone(), replicas: n.replicas.clone() }
}

/// A community's own grids, or every grid of the communities below a street or district.
fn known_grids(topo: &Topology, node: &NodeSpec) -> Result<Vec<String>, CodeError> {
    let mut grids = Vec::new();
    for n in &topo.nodes {
        if n.code.starts_with(&node.code) {
            grids.extend(n.grid_codes()?.iter().map(|g| g.to_string()));
        }
    }
    grids.sort();
    Ok(grids)
}

/// The HTTP address of replica `index` of `node`: as the topology gives it, or its gRPC port + 1000 on
/// the same IP (None when that port does not exist or the gRPC address does not parse).
pub fn http_addr(node: &NodeSpec, index: usize) -> Option<String> {
    if let Some(a) = node.http.get(index) {
        return Some(a.trim().to_string());
    }
    let grpc: std::net::SocketAddr = node.replicas.get(index)?.trim().parse().ok()?;
    Some(std::net::SocketAddr::new(grpc.ip(), http_port_for(grpc.port())?).to_string())
}

/// The config of replica `index` (0-based) of `node`.
pub fn replica_config(topo: &Topology, node: &NodeSpec, index: usize) -> Result<Config, CodeError> {
    let id = index as u64 + 1;
    Ok(Config {
        node: node.code.clone(),
        name: node.name.clone(),
        replica_id: id,
        listen: node.replicas[index].clone(),
        data_dir: PathBuf::from(topo.defaults.data_dir(&node.code, id)),
        replicas: node
            .replicas
            .iter()
            .enumerate()
            .map(|(i, a)| ReplicaAddr { id: i as u64 + 1, addr: a.clone() })
            .collect(),
        bootstrap: true,
        grids: known_grids(topo, node)?,
        parent: topo.parent_of(&node.code).map(peer),
        children: topo.children_of(&node.code).into_iter().map(peer).collect(),
        raft: RaftTuning::default(),
        federation: Default::default(),
        limits: Default::default(),
        storage: Default::default(),
        tls: None,
        deadlines: topo.defaults.deadlines.clone(),
        http: http_addr(node, index).map(HttpSettings::on),
        intake: Default::default(),
    })
}
