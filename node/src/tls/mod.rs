//! TLS material of a replica or a CLI user: the district CA (to verify peers) and a certificate and key
//! (to prove who we are). With it, every connection is mutually authenticated with rustls.
//!
//! ```text
//! TlsFiles ──read──▶ Tls (current rustls server + client configs; re-read on change: rotation)
//!                      │                         │
//!   accept::incoming ◀─┘ handshake, identity     └─▶ connect::channel (outbound, our client cert)
//!        │  PeerInfo per connection (who, per-peer limits)
//!        ▼
//!   tonic server ─▶ peer_limits::PerPeerLimitLayer ─▶ services (service::authz reads PeerInfo)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod accept;
mod connect;
mod peer_limits;
mod reload;

pub use accept::{incoming, incoming_http, Conn, Peer, PeerInfo};
pub use connect::channel;
pub use peer_limits::PerPeerLimitLayer;
pub use reload::Tls;

/// Paths of the TLS files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The district CA's certificate (PEM); peers must present certificates it issued.
    pub ca: PathBuf,
    /// This side's certificate (PEM), issued by `gridnode certs issue`.
    pub cert: PathBuf,
    /// This side's private key (PEM).
    pub key: PathBuf,
}

/// Why TLS material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{field}: cannot read {path}: {source}")]
    Read { field: String, path: String, source: std::io::Error },
    #[error("{field}: {path} is not PEM ({what} expected)")]
    NotPem { field: String, path: String, what: &'static str },
    #[error("{field}: {path} is not valid now: {why}")]
    NotValidNow { field: String, path: String, why: String },
    #[error("{field}: {path} cannot be used: {message}")]
    Unusable { field: String, path: String, message: String },
}

/// The PEM contents of the three files, as read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pems {
    pub ca: Vec<u8>,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    /// When the certificate expires (Unix seconds).
    pub not_after: i64,
}

fn read(field: &str, path: &Path, marker: &'static str) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        field: field.to_string(),
        path: path.display().to_string(),
        source,
    })?;
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(TlsError::NotPem {
            field: field.to_string(),
            path: path.display().to_string(),
            what: marker,
        });
    }
    Ok(bytes)
}

impl TlsFiles {
    /// Reads the files and builds the TLS configuration; `prefix` names the fields in errors (e.g.
    /// `tls.` or `--`). The result re-reads the files when [`Tls::reload`] is called.
    pub fn load(&self, prefix: &str) -> Result<std::sync::Arc<Tls>, TlsError> {
        Ok(std::sync::Arc::new(Tls::new(self.clone(), prefix)?))
    }

    /// Reads the three files and checks that they are PEM and the certificate is valid now.
    pub(crate) fn read(&self, prefix: &str) -> Result<Pems, TlsError> {
        let ca = read(&format!("{prefix}ca"), &self.ca, "BEGIN CERTIFICATE")?;
        let cert = read(&format!("{prefix}cert"), &self.cert, "BEGIN CERTIFICATE")?;
        let key = read(&format!("{prefix}key"), &self.key, "PRIVATE KEY")?;
        let not_after = check_validity(&format!("{prefix}cert"), &self.cert, &cert)?;
        Ok(Pems { ca, cert, key, not_after })
    }
}

/// Refuses a certificate that has expired or is not valid yet, saying which; returns its expiry.
fn check_validity(field: &str, path: &Path, pem: &[u8]) -> Result<i64, TlsError> {
    let bad = |why: String| TlsError::NotValidNow {
        field: field.to_string(),
        path: path.display().to_string(),
        why,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| bad(format!("unreadable: {e}")))?;
    let cert = pem.parse_x509().map_err(|e| bad(format!("unreadable: {e}")))?;
    let validity = cert.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now < validity.not_before {
        return Err(bad(format!("not valid before {}", validity.not_before)));
    }
    if now > validity.not_after {
        return Err(bad(format!("expired at {}", validity.not_after)));
    }
    Ok(validity.not_after.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_certificate_is_refused_saying_so() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(10);
        params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        let cert = params.self_signed(&key).unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        let files = TlsFiles { ca: c.clone(), cert: c.clone(), key: k.clone() };
        let err = files.load("tls.").unwrap_err().to_string();
        assert!(err.starts_with("tls.cert:") && err.contains("expired at"), "{err}");
        std::fs::write(&k, "not a key").unwrap();
        assert!(files.load("tls.").unwrap_err().to_string().starts_with("tls.key:"));
    }
}
