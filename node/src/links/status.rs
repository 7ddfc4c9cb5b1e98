//! What this replica's link engines know of each neighbour, for `gridnode federation status` and the
//! `Links` RPC: each engine (the outbox sender, and toward the parent the rollup sender) reports its
//! view, and a link's state is their merge.

use std::collections::BTreeMap;
use std::sync::Mutex;

use federation::link::LinkHealth;

/// Which engine a report comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Engine {
    Outbox,
    Rollup,
}

/// The links of a replica, by neighbour code.
#[derive(Debug, Default)]
pub struct LinkTable {
    links: Mutex<BTreeMap<(String, Engine), LinkHealth>>,
}

impl LinkTable {
    /// Records `engine`'s view of the link to `peer`.
    pub fn set(&self, peer: &str, engine: Engine, health: &LinkHealth) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links.insert((peer.to_string(), engine), health.clone());
    }

    /// The link to `peer`, every engine's view merged.
    pub fn get(&self, peer: &str) -> LinkHealth {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links
            .iter()
            .filter(|((p, _), _)| p == peer)
            .map(|(_, h)| h)
            .fold(LinkHealth::default(), |acc, h| acc.merge(h))
    }

    /// Forgets every view (this replica stopped leading; its engines stopped).
    pub fn clear(&self) {
        self.links.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
