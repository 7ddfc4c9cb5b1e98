//! TLS material of a replica or a CLI user: the district CA (to verify peers) and a certificate and key
//! (to prove who we are). With it, every connection is mutually authenticated (rustls via tonic).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

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
}

/// Loaded TLS configuration for servers and clients.
#[derive(Debug, Clone)]
pub struct Tls {
    pub server: ServerTlsConfig,
    pub client: ClientTlsConfig,
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
    /// Reads the files; `prefix` names the fields in errors (e.g. `tls` or `--`).
    pub fn load(&self, prefix: &str) -> Result<Tls, TlsError> {
        let ca = read(&format!("{prefix}ca"), &self.ca, "BEGIN CERTIFICATE")?;
        let cert = read(&format!("{prefix}cert"), &self.cert, "BEGIN CERTIFICATE")?;
        let key = read(&format!("{prefix}key"), &self.key, "PRIVATE KEY")?;
        check_validity(&format!("{prefix}cert"), &self.cert, &cert)?;
        let identity = Identity::from_pem(&cert, &key);
        Ok(Tls {
            server: ServerTlsConfig::new()
                .identity(identity.clone())
                .client_ca_root(Certificate::from_pem(&ca)),
            client: ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca)).identity(identity),
        })
    }
}

/// Refuses a certificate that has expired or is not valid yet, saying which.
fn check_validity(field: &str, path: &Path, pem: &[u8]) -> Result<(), TlsError> {
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
    Ok(())
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
