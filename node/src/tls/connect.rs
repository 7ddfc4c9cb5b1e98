//! Outbound connections over mutual TLS with the newest client configuration: each new connection
//! (first use, reconnect after a failure) handshakes with the certificate on disk now.

use std::io;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};
use tracing::warn;

use super::Tls;

/// A lazily connecting channel for `endpoint` (whose URI is `http://host:port`; TLS is added here) that
/// verifies the server against our CA and the host, and presents our certificate.
pub fn channel(endpoint: Endpoint, tls: Arc<Tls>) -> Channel {
    endpoint.connect_with_connector_lazy(tower::service_fn(move |uri: http::Uri| {
        let tls = tls.clone();
        async move { connect(uri, &tls).await }
    }))
}

async fn connect(uri: http::Uri, tls: &Tls) -> io::Result<TokioIo<TlsStream<TcpStream>>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: {what}"));
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let name = ServerName::try_from(host.clone()).map_err(|_| invalid("not a host name or address"))?;
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    match TlsConnector::from(tls.client()).connect(name, tcp).await {
        Ok(stream) => Ok(TokioIo::new(stream)),
        Err(e) => {
            warn!(peer = %format!("{host}:{port}"), reason = %e, "TLS handshake with the peer failed");
            Err(e)
        }
    }
}
