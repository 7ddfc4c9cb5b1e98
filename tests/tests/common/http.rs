//! A small blocking HTTP/1.1 client for the console tests: plaintext or HTTPS (rustls) with the
//! district CA and, optionally, a client certificate. One request per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// How to reach a console.
#[derive(Clone)]
pub struct Http {
    pub addr: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

impl Http {
    /// Plain HTTP.
    pub fn plain(addr: &str) -> Http {
        Http { addr: addr.to_string(), tls: None }
    }

    /// HTTPS trusting `ca` (PEM), presenting `client` (certificate and key PEM files) when given.
    pub fn tls(
        addr: &str,
        ca: &std::path::Path,
        client: Option<(&std::path::Path, &std::path::Path)>,
    ) -> Http {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca).expect("ca") {
            roots.add(c.expect("ca cert")).expect("add ca");
        }
        let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
        let config = match client {
            Some((cert, key)) => {
                let chain =
                    CertificateDer::pem_file_iter(cert).expect("cert").map(|c| c.expect("cert")).collect();
                let key = PrivateKeyDer::from_pem_file(key).expect("key");
                builder.with_client_auth_cert(chain, key).expect("client auth")
            }
            None => builder.with_no_client_auth(),
        };
        Http { addr: addr.to_string(), tls: Some(Arc::new(config)) }
    }

    fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        let tcp = TcpStream::connect(&self.addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(match &self.tls {
            None => Box::new(tcp),
            Some(cfg) => {
                let name = ServerName::try_from("127.0.0.1").expect("name").to_owned();
                let conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(std::io::Error::other)?;
                Box::new(rustls::StreamOwned::new(conn, tcp))
            }
        })
    }

    /// Sends one request; `headers` as (name, value).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> std::io::Result<Answer> {
        let mut s = self.connect()?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        if let Some(b) = body {
            req.push_str(b);
        }
        s.write_all(req.as_bytes())?;
        s.flush()?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        // Until the server closes, or the body its Content-Length announces is in (chromedriver keeps
        // the connection open despite `Connection: close`).
        while !complete(&raw) {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // rustls reports a peer that closes without close_notify; the answer is complete.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(parse(&raw))
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", path, headers, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        self.send("POST", path, headers, Some(body)).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Opens an event stream and returns a reader of its lines (after the head).
    pub fn events(&self, path: &str, headers: &[(&str, &str)]) -> impl Iterator<Item = String> {
        let mut s = self.connect().expect("connect");
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n", self.addr);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).expect("write");
        s.flush().expect("flush");
        let mut r = BufReader::new(s);
        let mut status = String::new();
        r.read_line(&mut status).expect("status line");
        assert!(status.contains(" 200 "), "events: {status}");
        loop {
            let mut l = String::new();
            r.read_line(&mut l).expect("header");
            if l == "\r\n" {
                break;
            }
        }
        // The stream is chunked: drop the chunk-size lines and the blank lines between events.
        r.lines().map_while(Result::ok).filter(|l| !is_chunk_size(l))
    }
}

/// Whether `raw` holds a whole answer with a Content-Length (without one, only the close ends it).
fn complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&raw[..split]);
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    length.is_some_and(|n| raw.len() >= split + 4 + n)
}

fn parse(raw: &[u8]) -> Answer {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or(&[]);
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked =
        headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_vec() };
    Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&s[..eol]).trim(), 16).unwrap_or(0);
        let rest = &s[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// A blank line or a chunk-size line of a chunked body (a few hex digits).
fn is_chunk_size(l: &str) -> bool {
    l.is_empty() || (l.len() <= 8 && l.chars().all(|c| c.is_ascii_hexdigit()))
}
