//! Protocol versions on the wire (the rule is `federation::protocol`): every Raft and peer call carries
//! `x-gridfed-protocol: N`, every answer too; a replica refuses a caller whose version it does not
//! understand, logging it once per caller and version, and remembers what each peer announced, so a
//! leader proposes a new command only once every replica of its node speaks its version.
//!
//! `gridnode serve --protocol-version N` (hidden, or `GRIDNODE_PROTOCOL_VERSION`) is a test switch: the
//! replica announces and behaves as version N. As version 1 it is the gridnode from before versions:
//! it sends no header, checks none, and cannot apply commands introduced later.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use federation::protocol::{group_version, may_propose, understands, CURRENT, UNVERSIONED};
use tonic::metadata::MetadataMap;
use tonic::Status;
use tracing::warn;

/// The metadata key carrying the version.
pub const HEADER: &str = "x-gridfed-protocol";

static ANNOUNCED: OnceLock<u32> = OnceLock::new();

/// Makes this process announce and behave as version `v` (the test switch; once, before serving).
pub fn announce(v: u32) {
    let _ = ANNOUNCED.set(v.max(UNVERSIONED));
}

/// The version this process announces.
pub fn announced() -> u32 {
    *ANNOUNCED.get().unwrap_or(&CURRENT)
}

/// Adds this process's version to outgoing metadata (nothing as the unversioned gridnode).
pub fn stamp(md: &mut MetadataMap) {
    let own = announced();
    if own > UNVERSIONED {
        if let Ok(v) = own.to_string().parse() {
            md.insert(HEADER, v);
        }
    }
}

/// How a replica of the same node is named in a [`Protocol`].
pub fn replica(id: u64) -> String {
    format!("replica {id}")
}

/// A replica's view of its peers' versions; cheap to clone.
#[derive(Clone, Default)]
pub struct Protocol {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// What each peer (a replica id, or a neighbour's address) last announced.
    peers: Mutex<HashMap<String, u32>>,
    /// (peer, version) pairs already logged as refused.
    warned: Mutex<HashSet<(String, u32)>>,
    /// Peers that refused this replica's version (until they answer again).
    refusing: Mutex<HashSet<String>>,
}

/// The version in `md` (a caller or an answer without one is [`UNVERSIONED`]).
pub fn version_in(md: &MetadataMap) -> u32 {
    md.get(HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(UNVERSIONED)
}

impl Protocol {
    /// A fresh view (nothing heard yet).
    pub fn new() -> Protocol {
        Protocol::default()
    }

    /// The version this replica speaks.
    pub fn own(&self) -> u32 {
        announced()
    }

    /// Adds this replica's version to an outgoing request or answer.
    pub fn stamp(&self, md: &mut MetadataMap) {
        stamp(md)
    }

    fn warn_once(&self, peer: &str, version: u32, what: &str) {
        let mut warned = self.inner.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.insert((peer.to_string(), version)) {
            warn!(
                peer,
                peer_protocol = version,
                own_protocol = self.own(),
                "PROTOCOL: {what}: this replica speaks protocol {} and understands {}..={}; upgrade or roll \
                 back one version at a time (logged once per peer and version)",
                self.own(),
                self.own().saturating_sub(1).max(UNVERSIONED),
                self.own() + 1
            );
        }
    }

    /// Checks a caller's version (server side): refuses one this replica does not understand.
    pub fn admit(&self, caller: &str, md: &MetadataMap) -> Result<(), Status> {
        // The gridnode from before versions checked nothing.
        if self.own() == UNVERSIONED {
            return Ok(());
        }
        let v = version_in(md);
        if understands(self.own(), v) {
            return Ok(());
        }
        // A plaintext caller is named by its address, whose port changes with every connection.
        let caller = match caller.strip_prefix("plaintext from ") {
            Some(addr) => addr.rsplit_once(':').map_or(addr, |(ip, _)| ip),
            None => caller,
        };
        self.warn_once(caller, v, "refused a caller of a protocol version this replica does not understand");
        let mut refusal = Status::failed_precondition(format!(
            "protocol: the answering replica speaks protocol {} and does not understand the caller's protocol {v}; \
             run adjacent versions",
            self.own()
        ));
        stamp(refusal.metadata_mut());
        Err(refusal)
    }

    /// Records the version of a peer's answer (client side); `peer` names it ([`replica`] for the
    /// node's own replicas).
    pub fn heard(&self, peer: &str, md: &MetadataMap) {
        let v = version_in(md);
        self.inner.peers.lock().unwrap_or_else(|p| p.into_inner()).insert(peer.to_string(), v);
        self.inner.refusing.lock().unwrap_or_else(|p| p.into_inner()).remove(peer);
        if self.own() > UNVERSIONED && !understands(self.own(), v) {
            self.warn_once(
                peer,
                v,
                "a peer answered with a protocol version this replica does not understand",
            );
        }
    }

    /// Notes that a peer refused this replica's version (client side), logged once; true if it did.
    pub fn refused_by(&self, peer: &str, status: &Status) -> bool {
        let refused =
            status.code() == tonic::Code::FailedPrecondition && status.message().starts_with("protocol:");
        if refused {
            let v = version_in(status.metadata());
            self.warn_once(peer, v, &format!("{peer} refused this replica: {}", status.message()));
            self.inner.refusing.lock().unwrap_or_else(|p| p.into_inner()).insert(peer.to_string());
        }
        refused
    }

    /// Whether `peer` refused this replica's version the last time it was called.
    pub fn refusing(&self, peer: &str) -> bool {
        self.inner.refusing.lock().unwrap_or_else(|p| p.into_inner()).contains(peer)
    }

    /// What `peer` last announced, if it answered.
    pub fn of(&self, peer: &str) -> Option<u32> {
        self.inner.peers.lock().unwrap_or_else(|p| p.into_inner()).get(peer).copied()
    }

    /// Whether a command introduced in version `since` may be proposed with `others` (the node's other
    /// voters, by replica id) as they last answered.
    pub fn may_propose(&self, since: u32, others: impl IntoIterator<Item = u64>) -> bool {
        since <= UNVERSIONED
            || may_propose(
                since,
                group_version(self.own(), others.into_iter().map(|id| self.of(&replica(id)))),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_too_far_apart_is_refused_and_versions_are_remembered() {
        let p = Protocol::new();
        let mut md = MetadataMap::new();
        // No header: the unversioned gridnode, admitted only while it is one version back.
        assert_eq!(p.admit("old", &md).is_ok(), understands(CURRENT, UNVERSIONED));
        md.insert(HEADER, (CURRENT - 1).to_string().parse().unwrap());
        assert!(p.admit("previous", &md).is_ok(), "one version back");
        md.insert(HEADER, (CURRENT + 2).to_string().parse().unwrap());
        let refused = p.admit("future", &md).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert!(refused.message().starts_with("protocol:"));
        let mut answer = MetadataMap::new();
        p.stamp(&mut answer);
        assert_eq!(version_in(&answer), CURRENT);
        p.heard(&replica(2), &answer);
        assert_eq!(p.of(&replica(2)), Some(CURRENT));
        assert!(p.may_propose(CURRENT, [2]));
        assert!(!p.may_propose(CURRENT, [2, 3]), "replica 3 was not heard from");
        p.heard(&replica(3), &MetadataMap::new());
        assert!(!p.may_propose(CURRENT, [2, 3]), "replica 3 is unversioned");
        assert!(p.may_propose(UNVERSIONED, [2, 3]));
    }
}
