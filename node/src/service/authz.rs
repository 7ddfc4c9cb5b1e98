//! Authorization by the caller's certificate identity (`gridfed://<code>/<role>`), checked in the
//! handlers. Without TLS (`--insecure`) there is no identity and nothing to check.
//!
//! - client and cluster services: an operator or replica whose code covers this node;
//! - Raft service: replicas of this node only;
//! - federation service: a replica of the neighbour the message claims to come from.
//!
//! Every refusal is logged with the caller's identity and the reason.

use federation::code::Code;
use federation::identity::{Identity, Role};
use tonic::{Request, Status};

use crate::tls::{Peer, PeerInfo};
use tracing::warn;

/// The caller's gridfed identity from its TLS certificate (read once at the handshake, see
/// `tls::accept`); None when the server runs without TLS.
pub(crate) fn caller<T>(tls: bool, req: &Request<T>) -> Result<Option<Identity>, Status> {
    if !tls {
        return Ok(None);
    }
    match req.extensions().get::<PeerInfo>().map(|p| &p.peer) {
        Some(Peer::Certified { id, .. }) => Ok(Some(id.clone())),
        Some(Peer::Unrecognised { subject, why }) => Err(refuse(subject, why)),
        Some(Peer::Plain) | None => Err(refuse("unknown", "no client certificate")),
    }
}

fn refuse(who: &str, why: &str) -> Status {
    warn!(caller = who, reason = why, "request refused");
    Status::permission_denied(format!("{who}: {why}"))
}

/// Who is calling, for the audit trail: the certificate identity and subject under TLS
/// (`gridfed://370102001/operator CN=王芳`), or the remote address when the node runs plaintext. On a
/// request another replica of `node` forwarded, who that replica authenticated.
pub(crate) fn who<T>(tls: bool, node: &Code, req: &Request<T>) -> String {
    let direct = match req.extensions().get::<PeerInfo>() {
        Some(PeerInfo { peer: Peer::Certified { id, subject }, .. }) => {
            if super::commit::is_forwarded(req) && id.role == Role::Replica && id.code == *node {
                if let Some(v) = req.metadata().get_bin(super::commit::ON_BEHALF_OF) {
                    if let Ok(b) = v.to_bytes() {
                        return String::from_utf8_lossy(&b).into_owned();
                    }
                }
            }
            format!("{} {subject}", id.uri())
        }
        Some(PeerInfo { remote, .. }) => format!("plaintext from {remote}"),
        None => req.remote_addr().map(|a| format!("plaintext from {a}")).unwrap_or_default(),
    };
    // Without TLS nobody is authenticated; a forwarding replica's word is all there is.
    if !tls && super::commit::is_forwarded(req) {
        if let Some(Ok(b)) = req.metadata().get_bin(super::commit::ON_BEHALF_OF).map(|v| v.to_bytes()) {
            return String::from_utf8_lossy(&b).into_owned();
        }
    }
    direct
}

/// Operators and replicas whose code covers `node` (the node itself or one above it).
pub(crate) fn operator_of<T>(tls: bool, node: &Code, req: &Request<T>) -> Result<(), Status> {
    match caller(tls, req)? {
        None => Ok(()),
        Some(id) if id.covers(node) => Ok(()),
        Some(id) => Err(refuse(&id.uri(), &format!("its scope {} does not include node {node}", id.code))),
    }
}

/// Replicas of `node` only.
pub(crate) fn replica_of<T>(tls: bool, node: &Code, req: &Request<T>) -> Result<(), Status> {
    match caller(tls, req)? {
        None => Ok(()),
        Some(id) if id.role == Role::Replica && id.code == *node => Ok(()),
        Some(id) => Err(refuse(&id.uri(), &format!("only replicas of node {node} may do this"))),
    }
}
