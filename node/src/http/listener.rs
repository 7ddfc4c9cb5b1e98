//! The console's listener: connections accepted by `tls::incoming_http` (TLS handshake, identity,
//! per-peer limits, revocation on CA change, as for gRPC), handed to axum with what we know of the peer.

use std::io;

use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::tls::{Conn, PeerInfo};

/// The peer of an HTTP connection, for handlers (`ConnectInfo<HttpPeer>`).
#[derive(Debug, Clone)]
pub struct HttpPeer(pub Option<PeerInfo>);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, ConnListener>> for HttpPeer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, ConnListener>) -> HttpPeer {
        stream.remote_addr().clone()
    }
}

/// Accepted connections as an axum listener.
pub struct ConnListener {
    pub(super) incoming: ReceiverStream<io::Result<Conn>>,
    pub(super) local: std::net::SocketAddr,
}

impl axum::serve::Listener for ConnListener {
    type Io = Conn;
    type Addr = HttpPeer;

    async fn accept(&mut self) -> (Conn, HttpPeer) {
        loop {
            match self.incoming.next().await {
                Some(Ok(conn)) => {
                    let info = conn.info().clone();
                    return (conn, HttpPeer(Some(info)));
                }
                Some(Err(_)) => continue,
                // The acceptor stopped: no more connections, ever. Wait for the shutdown.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<HttpPeer> {
        let _ = self.local;
        Ok(HttpPeer(None))
    }
}
