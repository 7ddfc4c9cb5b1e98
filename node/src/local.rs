//! What this replica is, from its config: the node it belongs to, its replica id, its neighbours and the
//! rules its state machine applies (the same on every replica of the node but the id).

use federation::code::Code;

use crate::config::{FederationTuning, Neighbour};
use crate::consensus::types::ReplicaId;
use crate::storage::state_machine::NodeRules;

/// This replica's identity and its node's place in the federation; shared read-only.
#[derive(Debug, Clone)]
pub struct Local {
    /// The node's division code.
    pub node: Code,
    /// The node's name, e.g. 历下区.
    pub name: String,
    /// This replica's id within the node.
    pub replica: ReplicaId,
    /// What the state machine applies by.
    pub rules: NodeRules,
    /// The parent node, if any.
    pub parent: Option<Neighbour>,
    /// The child nodes.
    pub children: Vec<Neighbour>,
    /// Mutual TLS is on: every request is authorized by its certificate identity.
    pub authenticated: bool,
    /// Federation timing.
    pub federation: FederationTuning,
    /// Register and dispatch by the roster the hotline tickets routed down to this node.
    pub auto_dispatch_hotline: bool,
}

impl Local {
    /// The parent and the children.
    pub fn neighbours(&self) -> impl Iterator<Item = &Neighbour> {
        self.parent.iter().chain(&self.children)
    }

    /// The configured neighbour with `code`.
    pub fn neighbour(&self, code: &str) -> Option<&Neighbour> {
        self.neighbours().find(|p| p.code == code)
    }
}
