//! What the leader knows about each of its links, for `gridnode federation status`.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One link as its sender sees it.
#[derive(Debug, Clone, Default)]
pub struct LinkState {
    pub up: bool,
    pub last_success: Option<i64>,
    pub last_error: String,
    pub last_rollup: Option<i64>,
}

/// The links of a replica, by peer code.
#[derive(Debug, Default)]
pub struct LinkTable {
    links: Mutex<BTreeMap<String, LinkState>>,
}

impl LinkTable {
    fn with<R>(&self, peer: &str, f: impl FnOnce(&mut LinkState) -> R) -> R {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        f(links.entry(peer.to_string()).or_default())
    }

    pub fn success(&self, peer: &str, now: i64) {
        self.with(peer, |l| {
            l.up = true;
            l.last_success = Some(now);
            l.last_error.clear();
        })
    }

    pub fn failure(&self, peer: &str, error: String) {
        self.with(peer, |l| {
            l.up = false;
            l.last_error = error;
        })
    }

    pub fn rollup(&self, peer: &str, now: i64) {
        self.with(peer, |l| {
            l.up = true;
            l.last_rollup = Some(now);
            l.last_success = Some(now);
        })
    }

    pub fn get(&self, peer: &str) -> LinkState {
        self.with(peer, |l| l.clone())
    }
}
