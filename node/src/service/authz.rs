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
use tracing::warn;

/// The caller's gridfed identity from its TLS certificate; None when the server runs without TLS.
pub(crate) fn caller<T>(tls: bool, req: &Request<T>) -> Result<Option<Identity>, Status> {
    if !tls {
        return Ok(None);
    }
    let certs = req.peer_certs().ok_or_else(|| refuse("unknown", "no client certificate"))?;
    let leaf = certs.first().ok_or_else(|| refuse("unknown", "no client certificate"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|_| refuse("unknown", "the client certificate cannot be parsed"))?;
    let subject = cert.subject().to_string();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name {
                if let Ok(id) = Identity::parse_uri("certificate", uri) {
                    return Ok(Some(id));
                }
            }
        }
    }
    Err(refuse(&subject, "the certificate carries no gridfed://<code>/<role> identity"))
}

fn refuse(who: &str, why: &str) -> Status {
    warn!(caller = who, reason = why, "request refused");
    Status::permission_denied(format!("{who}: {why}"))
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
