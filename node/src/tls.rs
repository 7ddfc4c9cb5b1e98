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
        let identity = Identity::from_pem(&cert, &key);
        Ok(Tls {
            server: ServerTlsConfig::new()
                .identity(identity.clone())
                .client_ca_root(Certificate::from_pem(&ca)),
            client: ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca)).identity(identity),
        })
    }
}
