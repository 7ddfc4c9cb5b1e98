//! A fault-injecting TCP proxy for integration tests.
//!
//! [`Proxy::start`] listens on a free loopback port and forwards every accepted connection to a
//! target address, copying raw bytes in both directions (nothing protocol-aware, so long-lived
//! HTTP/2 gRPC channels pass through unchanged). [`Proxy::delay`] holds every chunk for a while before
//! passing it on (a slow link). Tests simulate a network partition with
//! [`Proxy::cut`], which shuts down every open connection and closes new ones right after
//! accepting them, so clients see EOF or a reset instead of hanging; [`Proxy::heal`] restores
//! forwarding. Dropping the proxy stops it and shuts down every connection without blocking.
//!
//! Only `std` is used: one accept thread, plus two copy threads per forwarded connection.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long to wait when connecting to the target for each accepted connection.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long Drop waits when connecting to the proxy itself to wake the accept loop.
const WAKE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A TCP proxy on 127.0.0.1:<free port> forwarding every connection to `target`; tests cut and heal it.
pub struct Proxy {
    /// The listening address.
    addr: SocketAddr,
    /// State shared with the accept and connection threads.
    shared: Arc<Shared>,
    /// The accept loop; joined on Drop once it has been woken.
    accept_thread: Option<JoinHandle<()>>,
}

/// State shared between the [`Proxy`] handle and its background threads.
struct Shared {
    /// Where connections are forwarded ("ip:port").
    target: String,
    /// While set, open connections have been shut down and new ones are closed on accept.
    /// Written only while holding `conns`, so registration and cutting cannot interleave.
    cut: AtomicBool,
    /// Set on Drop: the accept loop exits and no new connection is registered.
    /// Written only while holding `conns`.
    stop: AtomicBool,
    /// Clones of every live connection's client and upstream streams, keyed by connection id.
    /// Entries are removed when both copy directions of that connection have finished.
    conns: Mutex<Vec<(u64, TcpStream)>>,
    /// The next connection id.
    next_id: AtomicU64,
    /// Milliseconds every chunk is held before it is passed on, in both directions.
    delay_ms: AtomicU64,
}

impl Shared {
    /// Locks the connection list, ignoring poisoning (the list stays usable after a panic).
    fn conns(&self) -> MutexGuard<'_, Vec<(u64, TcpStream)>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shuts down both directions of every tracked stream (the copy threads then finish and
    /// remove their entries).
    fn shutdown_all(conns: &[(u64, TcpStream)]) {
        for (_, s) in conns {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Removes every stream of connection `id` from the tracked list.
    fn forget(&self, id: u64) {
        self.conns().retain(|(i, _)| *i != id);
    }
}

impl Proxy {
    /// Binds 127.0.0.1:0 and starts forwarding to `target` ("ip:port") in background threads.
    ///
    /// Panics only if the listener cannot be bound or the accept thread cannot be spawned.
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy: local address of the bound listener");
        let shared = Arc::new(Shared {
            target: target.to_string(),
            cut: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            delay_ms: AtomicU64::new(0),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name(format!("proxy-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("proxy: spawn accept thread");
        Proxy { addr, shared, accept_thread: Some(accept_thread) }
    }

    /// The proxy's own address ("127.0.0.1:PORT").
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Cut: shuts down every open connection (both directions) and, until [`Proxy::heal`],
    /// closes new connections immediately after accepting them (clients see EOF/reset, not a hang).
    pub fn cut(&self) {
        let conns = self.shared.conns();
        self.shared.cut.store(true, Ordering::SeqCst);
        Shared::shutdown_all(&conns);
    }

    /// Heal: forwards new connections again (connections cut earlier stay closed).
    pub fn heal(&self) {
        let _conns = self.shared.conns();
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Holds every chunk `d` before passing it on (zero: no delay), on open connections too.
    pub fn delay(&self, d: Duration) {
        self.shared.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Whether the proxy is currently cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    /// Stops the accept loop (waking it with a connection to itself) and shuts down every tracked
    /// connection. Connection threads are not joined: they finish on their own once their
    /// sockets are shut down, so Drop never waits on them.
    fn drop(&mut self) {
        {
            let conns = self.shared.conns();
            self.shared.stop.store(true, Ordering::SeqCst);
            Shared::shutdown_all(&conns);
        }
        let woken = TcpStream::connect_timeout(&self.addr, WAKE_CONNECT_TIMEOUT).is_ok();
        if let Some(handle) = self.accept_thread.take() {
            // Join only when the accept loop is sure to wake up; otherwise leave it detached
            // rather than risk hanging the test.
            if woken || handle.is_finished() {
                let _ = handle.join();
            }
        }
    }
}

/// Accepts connections until the stop flag is set, handing each one to its own thread.
fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let client = match accepted {
            Ok((client, _)) => client,
            Err(_) => {
                // E.g. out of file descriptors, or the peer reset before accept: retry shortly.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if shared.cut.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let conn_shared = Arc::clone(&shared);
        // If the thread cannot be spawned the closure (and with it the client) is dropped,
        // which closes the connection.
        let _ = thread::Builder::new()
            .name("proxy-conn".to_string())
            .spawn(move || handle_connection(client, conn_shared));
    }
}

/// Connects to the target for one accepted client, then copies bytes both ways until both
/// directions end; the connection is tracked (for cut/Drop) while it is live.
fn handle_connection(client: TcpStream, shared: Arc<Shared>) {
    let Some(upstream) = connect_upstream(&shared.target) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);

    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let (Ok(client_tracked), Ok(upstream_tracked)) = (client.try_clone(), upstream.try_clone()) else {
        close_both(&client, &upstream);
        return;
    };
    {
        let mut conns = shared.conns();
        // Checked under the lock that cut() and Drop hold, so a connection set up concurrently
        // with a cut is either shut down by it or refused here.
        if shared.cut.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst) {
            drop(conns);
            close_both(&client, &upstream);
            return;
        }
        conns.push((id, client_tracked));
        conns.push((id, upstream_tracked));
    }

    // Client -> upstream in a second thread; upstream -> client in this one.
    let spawned = match (client.try_clone(), upstream.try_clone()) {
        (Ok(from), Ok(to)) => {
            let s = Arc::clone(&shared);
            thread::Builder::new().name("proxy-copy".to_string()).spawn(move || pump(from, to, &s)).ok()
        }
        _ => None,
    };
    match spawned {
        Some(other) => {
            pump(upstream, client, &shared);
            let _ = other.join();
        }
        None => close_both(&client, &upstream),
    }
    shared.forget(id);
}

/// Connects to `target` (resolving it, trying each address) with a per-address timeout.
fn connect_upstream(target: &str) -> Option<TcpStream> {
    target.to_socket_addrs().ok()?.find_map(|a| TcpStream::connect_timeout(&a, UPSTREAM_CONNECT_TIMEOUT).ok())
}

/// Copies `from` to `to` until EOF or an error, holding each chunk for the proxy's delay. On EOF the
/// write half of `to` is shut down so the peer sees the half-close; on an error both streams are shut
/// down so the other direction ends too.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    use std::io::{Read, Write};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                let delay = shared.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    thread::sleep(Duration::from_millis(delay));
                }
                if to.write_all(&buf[..n]).is_err() {
                    close_both(&from, &to);
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                close_both(&from, &to);
                return;
            }
        }
    }
}

/// Shuts down both directions of both streams, ignoring errors (e.g. already disconnected).
fn close_both(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}
