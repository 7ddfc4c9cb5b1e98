//! Accepting connections: TCP accept, the TLS handshake (bounded in time and number, off the accept
//! loop), the peer's gridfed identity from its certificate, and per-peer connection limits. Each
//! accepted connection carries a [`PeerInfo`] that tonic puts into every request's extensions.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use federation::identity::Identity;
use futures::FutureExt;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::either::Either;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracing::{debug, warn};

use super::Tls;
use crate::config::PeerLimits;

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub enum Peer {
    /// The server runs without TLS (`--insecure`): nobody is identified.
    Plain,
    /// A certificate of our CA carrying a gridfed identity; `subject` tells apart the certificates
    /// issued for one identity (operators by name, replicas by number).
    Certified { id: Identity, subject: String },
    /// A certificate of our CA without a usable gridfed identity.
    Unrecognised { subject: String, why: String },
}

/// What a server knows of a connection's peer; in every request's extensions.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote: SocketAddr,
    pub peer: Peer,
    /// The budget of requests in flight shared by all connections of this peer.
    pub(super) slot: Arc<PeerSlot>,
}

impl PeerInfo {
    /// The key limits are counted under: the certificate (identity and subject), or the remote IP
    /// without TLS.
    pub fn key(&self) -> String {
        peer_key(&self.peer, &self.remote)
    }
}

fn peer_key(peer: &Peer, remote: &SocketAddr) -> String {
    match peer {
        Peer::Plain => remote.ip().to_string(),
        Peer::Certified { id, subject } => format!("{} ({subject})", id.uri()),
        Peer::Unrecognised { subject, .. } => subject.clone(),
    }
}

/// Limits shared by every connection of one peer.
#[derive(Debug)]
pub(super) struct PeerSlot {
    pub(super) inflight: Arc<Semaphore>,
    connections: AtomicUsize,
}

/// The peers with open connections.
struct Peers {
    slots: Mutex<HashMap<String, Weak<PeerSlot>>>,
    limits: PeerLimits,
}

impl Peers {
    /// Takes a connection slot for `key`, or None when the peer already has its maximum.
    fn admit(&self, key: &str) -> Option<ConnGuard> {
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let slot = match slots.get(key).and_then(Weak::upgrade) {
            Some(s) => s,
            None => {
                if slots.len() >= 1024 {
                    slots.retain(|_, w| w.strong_count() > 0);
                }
                let s = Arc::new(PeerSlot {
                    inflight: Arc::new(Semaphore::new(self.limits.max_inflight_per_peer)),
                    connections: AtomicUsize::new(0),
                });
                slots.insert(key.to_string(), Arc::downgrade(&s));
                s
            }
        };
        let before = slot.connections.fetch_add(1, Ordering::SeqCst);
        let guard = ConnGuard(slot);
        (before < self.limits.max_connections_per_peer).then_some(guard)
    }
}

/// Counts one open connection of a peer until dropped.
#[derive(Debug)]
struct ConnGuard(Arc<PeerSlot>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An accepted connection, plaintext or TLS, with what we know of its peer.
pub struct Conn {
    io: Either<TcpStream, TlsStream<TcpStream>>,
    info: PeerInfo,
    /// Resolves when the trust roots this connection was authenticated under are replaced.
    revoked: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    _guard: ConnGuard,
}

impl Conn {
    /// What we know of the peer.
    pub fn info(&self) -> &PeerInfo {
        &self.info
    }

    fn check_revoked(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let revoked = self.revoked.as_mut().is_some_and(|r| r.poll_unpin(cx).is_ready());
        if revoked {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the CA changed on disk: this connection must authenticate again",
            ));
        }
        Ok(())
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(e) = self.check_revoked(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(e) = self.check_revoked(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The gridfed identity in a peer's leaf certificate.
fn identify(certs: Option<&[CertificateDer<'_>]>) -> Peer {
    let Some(leaf) = certs.and_then(|c| c.first()) else {
        return Peer::Unrecognised { subject: "unknown".into(), why: "no client certificate".into() };
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return Peer::Unrecognised {
            subject: "unknown".into(),
            why: "the certificate cannot be parsed".into(),
        };
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name {
                if let Ok(id) = Identity::parse_uri("certificate", uri) {
                    return Peer::Certified { id, subject: cert.subject().to_string() };
                }
            }
        }
    }
    Peer::Unrecognised {
        subject: cert.subject().to_string(),
        why: "the certificate carries no gridfed://<code>/<role> identity".into(),
    }
}

/// Which server a listener feeds: its TLS configuration differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    /// gRPC: a client certificate is required.
    Grpc,
    /// The HTTP console: a client certificate is optional; HTTP/1.1 and h2.
    Http,
}

/// Accepts connections on `listener` until the returned stream is dropped: TLS handshakes when `tls`
/// is given (each checked against the newest files), plaintext otherwise.
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<Tls>>,
    limits: PeerLimits,
) -> ReceiverStream<io::Result<Conn>> {
    accept_on(listener, tls, limits, Door::Grpc)
}

/// As [`incoming`], for the HTTP console: clients without a certificate are let through (as
/// `Peer::Unrecognised`, "no client certificate") and authenticate with a token instead.
pub fn incoming_http(
    listener: TcpListener,
    tls: Option<Arc<Tls>>,
    limits: PeerLimits,
) -> ReceiverStream<io::Result<Conn>> {
    accept_on(listener, tls, limits, Door::Http)
}

fn accept_on(
    listener: TcpListener,
    tls: Option<Arc<Tls>>,
    limits: PeerLimits,
    door: Door,
) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(64);
    let handshakes = Arc::new(Semaphore::new(limits.max_handshakes));
    let peers = Arc::new(Peers { slots: Mutex::new(HashMap::new()), limits });
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = tx.closed() => return,
                a = listener.accept() => a,
            };
            let (tcp, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                if let Some(t) = &tls {
                    t.refused("too_many_handshakes");
                }
                warn!(%remote, "too many TLS handshakes in progress: connection dropped");
                continue;
            };
            let (tx, tls, peers) = (tx.clone(), tls.clone(), peers.clone());
            tokio::spawn(async move {
                let conn = establish(tcp, remote, tls.as_deref(), &peers, door).await;
                drop(permit);
                if let Some(conn) = conn {
                    let _ = tx.send(Ok(conn)).await;
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// The metric label of a refused handshake.
fn refusal_reason(e: &io::Error) -> &'static str {
    use rustls::{CertificateError, Error};
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(Error::InvalidCertificate(c)) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "certificate_expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate_not_valid_yet"
            }
            CertificateError::UnknownIssuer => "unknown_issuer",
            CertificateError::BadSignature => "bad_signature",
            CertificateError::Revoked => "revoked",
            _ => "bad_certificate",
        },
        Some(Error::NoCertificatesPresented) => "no_client_certificate",
        Some(Error::PeerIncompatible(_)) | Some(Error::NoApplicationProtocol) => "incompatible",
        Some(_) => "protocol_error",
        None => "io_error",
    }
}

/// Handshakes (with a deadline) and admits a connection under its peer's limits.
async fn establish(
    tcp: TcpStream,
    remote: SocketAddr,
    tls: Option<&Tls>,
    peers: &Peers,
    door: Door,
) -> Option<Conn> {
    let (io, peer, revoked) = match tls {
        None => (Either::Left(tcp), Peer::Plain, None),
        Some(tls) => {
            let (config, roots) = match door {
                Door::Grpc => tls.server(),
                Door::Http => tls.http_server(),
            };
            let timeout = Duration::from_millis(peers.limits.handshake_timeout_ms);
            let stream = match tokio::time::timeout(timeout, TlsAcceptor::from(config).accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tls.refused(refusal_reason(&e));
                    warn!(%remote, reason = %e, "TLS handshake refused");
                    return None;
                }
                Err(_) => {
                    tls.refused("timeout");
                    warn!(%remote, "TLS handshake took longer than {timeout:?}: connection dropped");
                    return None;
                }
            };
            let peer = identify(stream.get_ref().1.peer_certificates());
            (Either::Right(stream), peer, Some(Box::pin(roots.cancelled_owned())))
        }
    };
    let key = peer_key(&peer, &remote);
    let Some(guard) = peers.admit(&key) else {
        warn!(%remote, peer = %key, max = peers.limits.max_connections_per_peer, "too many connections from this peer: refused");
        return None;
    };
    debug!(%remote, peer = %key, "connection accepted");
    Some(Conn { io, info: PeerInfo { remote, peer, slot: guard.0.clone() }, revoked, _guard: guard })
}
