//! Authorization, for every door into a replica: the gRPC services read the caller's certificate
//! identity (`gridfed://<code>/<role>`, from the TLS handshake), the HTTP console reads a certificate
//! or an access token; both end in [`authorize`], which applies `federation::access::permits`. Without
//! TLS (`--insecure`) there is no identity and nothing to check.
//!
//! - client and cluster services and the console: a grant whose scope covers this node (an operator or
//!   replica of this node or one above it; a token of such a scope); a `viewer` token only reads;
//! - access tokens are managed with a certificate only;
//! - Raft service: replicas of this node only;
//! - federation service: a replica of the neighbour the message claims to come from.
//!
//! Every refusal is logged with the caller and the reason.

use federation::access::{permits, Grant, Need};
use federation::code::Code;
use federation::identity::{Identity, Role};
use tonic::{Request, Status};

use crate::tls::{Peer, PeerInfo};
use tracing::warn;

/// Who is calling, as established by the door it came through. The HTTP console puts it in the
/// extensions of the requests it hands to the gRPC services in process; a request from the network
/// never carries one (extensions are not sent on the wire).
#[derive(Debug, Clone)]
pub enum Caller {
    /// The replica runs without TLS (`--insecure`): nobody is identified, everything is allowed.
    Anyone,
    /// A certificate or an access token, with what it grants.
    Granted(Grant),
}

/// Why a caller is refused, before it is turned into a status.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{who}: {why}")]
pub struct Refused {
    pub who: String,
    pub why: String,
}

/// The one authorization check: `caller` may do `need` on `node`. Logs every refusal.
pub fn authorize(caller: &Caller, node: &Code, need: Need) -> Result<(), Refused> {
    match caller {
        Caller::Anyone => Ok(()),
        Caller::Granted(grant) => {
            permits(grant, node, need).map_err(|d| refuse(&grant.describe(), &d.to_string()))
        }
    }
}

fn refuse(who: &str, why: &str) -> Refused {
    warn!(caller = who, reason = why, "request refused");
    Refused { who: who.to_string(), why: why.to_string() }
}

/// The status of a refusal.
pub(crate) fn denied(r: Refused) -> Status {
    Status::permission_denied(r.to_string())
}

/// The caller's gridfed identity from its TLS certificate (read once at the handshake, see
/// `tls::accept`); None when the server runs without TLS.
pub(crate) fn caller_identity<T>(tls: bool, req: &Request<T>) -> Result<Option<Identity>, Status> {
    if !tls {
        return Ok(None);
    }
    match req.extensions().get::<PeerInfo>().map(|p| &p.peer) {
        Some(Peer::Certified { id, .. }) => Ok(Some(id.clone())),
        Some(Peer::Unrecognised { subject, why }) => Err(denied(refuse(subject, why))),
        Some(Peer::Plain) | None => Err(denied(refuse("unknown", "no client certificate"))),
    }
}

/// The caller of a gRPC request: the console's own `Caller` when it came through HTTP, else the
/// certificate of the connection.
pub(crate) fn caller<T>(tls: bool, req: &Request<T>) -> Result<Caller, Status> {
    if let Some(c) = req.extensions().get::<Caller>() {
        return Ok(c.clone());
    }
    Ok(match caller_identity(tls, req)? {
        None => Caller::Anyone,
        Some(id) => Caller::Granted(Grant::of_certificate(&id)),
    })
}

/// The caller may do `need` on `node` (client, cluster and access services).
pub(crate) fn operator_of<T>(tls: bool, node: &Code, need: Need, req: &Request<T>) -> Result<(), Status> {
    authorize(&caller(tls, req)?, node, need).map_err(denied)
}

/// Who is calling, for the audit trail: the certificate identity and subject under TLS
/// (`gridfed://370102001/operator CN=王芳`), or the remote address when the node runs plaintext. On a
/// request another replica of `node` forwarded, who that replica authenticated.
pub(crate) fn who<T>(tls: bool, node: &Code, req: &Request<T>) -> String {
    // The console (in process): the certificate or token it authenticated.
    if let Some(c) = req.extensions().get::<Caller>() {
        return match c {
            Caller::Anyone => "console, plaintext".to_string(),
            Caller::Granted(g) => format!("console: {}", g.describe()),
        };
    }
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

/// Replicas of `node` only.
pub(crate) fn replica_of<T>(tls: bool, node: &Code, req: &Request<T>) -> Result<(), Status> {
    match caller_identity(tls, req)? {
        None => Ok(()),
        Some(id) if id.role == Role::Replica && id.code == *node => Ok(()),
        Some(id) => Err(denied(refuse(&id.uri(), &format!("only replicas of node {node} may do this")))),
    }
}
