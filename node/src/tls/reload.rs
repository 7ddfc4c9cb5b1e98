//! The live TLS configuration of a replica or CLI user, rebuilt from the files when they change on disk
//! (certificate rotation). New handshakes use the newest configuration; when the trust roots (the CA
//! file) change, connections authenticated under the old roots are closed so that every peer is
//! checked again.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Pems, TlsError, TlsFiles};

/// How often a running replica looks at its TLS files for changes.
pub const RELOAD_CHECK: Duration = Duration::from_secs(1);
/// A certificate closer than this to its expiry is warned about, once a day.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// The rustls configurations built from one reading of the files.
struct Current {
    pems: Pems,
    server: Arc<ServerConfig>,
    /// For the HTTP console: a client certificate is optional (browsers without one use a token).
    http: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    /// Cancelled when the trust roots change: connections accepted under them close.
    roots: CancellationToken,
}

/// Mutual TLS for servers and clients, reloadable.
pub struct Tls {
    files: TlsFiles,
    /// Handshakes refused, by reason (exported as a metric).
    refusals: crate::metrics::TlsRefusals,
    prefix: String,
    current: RwLock<Arc<Current>>,
    /// Why the files last could not be used, so each reason is reported once.
    refused: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn unusable(field: String, path: &std::path::Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::Unusable { field, path: path.display().to_string(), message: message.to_string() }
}

/// The server (gRPC), HTTP server and client configurations built from one reading.
type Built = (ServerConfig, ServerConfig, ClientConfig);

/// Builds the server and client configurations from PEM contents.
fn build(files: &TlsFiles, prefix: &str, pems: &Pems) -> Result<Built, TlsError> {
    let ca_field = format!("{prefix}ca");
    let cert_field = format!("{prefix}cert");
    let key_field = format!("{prefix}key");
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pems.ca) {
        let cert = cert.map_err(|e| unusable(ca_field.clone(), &files.ca, e))?;
        roots.add(cert).map_err(|e| unusable(ca_field.clone(), &files.ca, e))?;
    }
    let roots = Arc::new(roots);
    let chain = CertificateDer::pem_slice_iter(&pems.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(cert_field.clone(), &files.cert, e))?;
    let key =
        PrivateKeyDer::from_pem_slice(&pems.key).map_err(|e| unusable(key_field.clone(), &files.key, e))?;
    let versions = &[&rustls::version::TLS13];

    let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .map_err(|e| unusable(ca_field.clone(), &files.ca, e))?;
    let mut server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| unusable(ca_field.clone(), &files.ca, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|e| unusable(key_field.clone(), &files.key, format!("does not fit {cert_field}: {e}")))?;
    server.alpn_protocols = vec![b"h2".to_vec()];

    // The console: the same certificate and CA; a client certificate is checked when given.
    let optional = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| unusable(ca_field.clone(), &files.ca, e))?;
    let mut http = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| unusable(ca_field.clone(), &files.ca, e))?
        .with_client_cert_verifier(optional)
        .with_single_cert(chain.clone(), key.clone_key())
        .map_err(|e| unusable(key_field.clone(), &files.key, format!("does not fit {cert_field}: {e}")))?;
    http.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let mut client = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| unusable(ca_field.clone(), &files.ca, e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| unusable(key_field.clone(), &files.key, format!("does not fit {cert_field}: {e}")))?;
    client.alpn_protocols = vec![b"h2".to_vec()];
    Ok((server, http, client))
}

impl Tls {
    /// Reads the files and builds the configurations; errors name the field (`{prefix}ca` ...).
    pub(super) fn new(files: TlsFiles, prefix: &str) -> Result<Tls, TlsError> {
        let pems = files.read(prefix)?;
        let (server, http, client) = build(&files, prefix, &pems)?;
        let current = Current {
            pems,
            server: Arc::new(server),
            http: Arc::new(http),
            client: Arc::new(client),
            roots: CancellationToken::new(),
        };
        Ok(Tls {
            files,
            refusals: Default::default(),
            prefix: prefix.to_string(),
            current: RwLock::new(Arc::new(current)),
            refused: Default::default(),
        })
    }

    fn current(&self) -> Arc<Current> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The server configuration for a new handshake, and the token cancelled when its roots change.
    pub fn server(&self) -> (Arc<ServerConfig>, CancellationToken) {
        let c = self.current();
        (c.server.clone(), c.roots.clone())
    }

    /// The HTTP console's server configuration (client certificate optional), and the token cancelled
    /// when its roots change.
    pub fn http_server(&self) -> (Arc<ServerConfig>, CancellationToken) {
        let c = self.current();
        (c.http.clone(), c.roots.clone())
    }

    /// Handshakes refused, by reason.
    pub fn refusals(&self) -> &crate::metrics::TlsRefusals {
        &self.refusals
    }

    /// Counts a refused handshake.
    pub(super) fn refused(&self, reason: &str) {
        self.refusals.get_or_create(&crate::metrics::Reason { reason: reason.to_string() }).inc();
    }

    /// The client configuration for a new outbound connection.
    pub fn client(&self) -> Arc<ClientConfig> {
        self.current().client.clone()
    }

    /// Re-reads the files. Returns true when they changed and the new contents are now in use; an
    /// unusable change keeps the previous configuration and returns the error.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let old = self.current();
        let pems = self.files.read(&self.prefix)?;
        if pems == old.pems {
            return Ok(false);
        }
        let (server, http, client) = build(&self.files, &self.prefix, &pems)?;
        let roots_changed = pems.ca != old.pems.ca;
        let next = Current {
            pems,
            server: Arc::new(server),
            http: Arc::new(http),
            client: Arc::new(client),
            roots: if roots_changed { CancellationToken::new() } else { old.roots.clone() },
        };
        match self.current.write() {
            Ok(mut c) => *c = Arc::new(next),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(next),
        }
        if roots_changed {
            old.roots.cancel();
        }
        Ok(true)
    }

    /// Checks the files every `RELOAD_CHECK` (one second) until `stop` is cancelled, logging each change taken
    /// and each change refused (once per refused content).
    pub async fn watch(self: Arc<Self>, node: String, stop: CancellationToken) {
        let mut tick = tokio::time::interval(RELOAD_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut expiry_warned: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let days_left = (self.current().pems.not_after - crate::clock::wall_ms() / 1000) / 86_400;
            if days_left < EXPIRY_WARNING_DAYS
                && expiry_warned.is_none_or(|t| t.elapsed() > Duration::from_secs(86_400))
            {
                warn!(
                    node = %node,
                    cert = %self.files.cert.display(),
                    days_left,
                    "TLS certificate expires soon: issue a new one and move it over the old file"
                );
                expiry_warned = Some(std::time::Instant::now());
            }
            let outcome = self.reload();
            let why = outcome.as_ref().err().map(|e| e.to_string());
            let first_time = {
                let mut refused = match self.refused.lock() {
                    Ok(r) => r,
                    Err(poisoned) => poisoned.into_inner(),
                };
                std::mem::replace(&mut *refused, why.clone()) != why
            };
            match (outcome, why) {
                (Ok(true), _) => info!(
                    node = %node,
                    cert = %self.files.cert.display(),
                    "TLS files changed on disk: now in use for new connections"
                ),
                (Err(_), Some(why)) if first_time => error!(
                    node = %node,
                    error = %why,
                    "TLS files on disk cannot be used; keeping the previous ones"
                ),
                _ => {}
            }
        }
    }
}
