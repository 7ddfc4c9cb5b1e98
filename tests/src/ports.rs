//! Free loopback ports for replicas the tests and benchmarks start, shared by both (`#[path]`).
//!
//! A port is picked at random outside the kernel's ephemeral range (32768-60999), so that no port the
//! kernel hands out (proxies, client connections) can take it between now and the replica's bind, and
//! a restarted replica gets its port back. The port 1000 above it is free and reserved too:
//! `topology render` gives the replica's console that port. No port is handed out twice by a process.

use std::net::TcpListener;
use std::sync::Mutex;

/// A free port whose console port (+1000) is free too.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        h.write_u32(std::process::id());
        let port = 20_000 + (h.finish() % 9_000) as u16;
        let console = port + 1000;
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        let taken = |p: u16| given.contains(&p) || TcpListener::bind(("127.0.0.1", p)).is_err();
        if !taken(port) && !taken(console) {
            given.extend([port, console]);
            return port;
        }
    }
}
