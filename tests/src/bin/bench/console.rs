//! The console as the command center uses it, measured over plain HTTP on loopback: the latency of the
//! subtree statistics the dashboard polls, and how long the dashboard's overview takes to load.
//!
//! "Loaded" is measured without a browser, as an upper bound: the page, every stylesheet and script
//! it references, every ES module those import (followed transitively), the Chinese strings, the
//! session check and the tree of figures the overview draws, fetched one after the other on fresh
//! connections (a browser fetches them in parallel over kept-alive ones).

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The console's address of the replica serving gRPC at `grpc` (`topology render` puts it 1000 above).
pub fn console_addr(grpc: &str) -> anyhow::Result<String> {
    let (host, port) = grpc.rsplit_once(':').context("replica address without a port")?;
    let port: u16 = port.parse()?;
    Ok(format!("{host}:{}", port.checked_add(1000).context("no console port above this one")?))
}

/// `GET path` on a fresh connection; the status and the body (the server closes after answering).
pub async fn get(addr: &str, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await??;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw)).await??;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split_whitespace().nth(1).context("no status")?.parse()?;
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body)?;
    }
    Ok((status, body))
}

fn dechunk(mut s: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = s.windows(2).position(|w| w == b"\r\n").context("chunk size without its line end")?;
        let size = usize::from_str_radix(std::str::from_utf8(&s[..eol])?.trim(), 16)?;
        if size == 0 {
            return Ok(out);
        }
        let start = eol + 2;
        out.extend_from_slice(s.get(start..start + size).context("chunk shorter than its size")?);
        s = s.get(start + size + 2..).context("chunk without its line end")?;
    }
}

/// `GET path`, refusing anything but 200.
async fn get_ok(addr: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    let (status, body) = get(addr, path).await?;
    if status != 200 {
        bail!("GET {path}: HTTP {status}");
    }
    Ok(body)
}

/// The values of `attr="..."` in `text`.
fn attrs<'a>(text: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!("{attr}=\"");
    text.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &text[i + key.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// The modules a script imports: `from './x.js'` and `import './x.js'`, resolved against `base`.
fn imports(script: &str, base: &str) -> Vec<String> {
    let dir = base.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        for marker in [format!("from {quote}"), format!("import {quote}")] {
            for (i, _) in script.match_indices(&marker) {
                let rest = &script[i + marker.len()..];
                if let Some(end) = rest.find(quote) {
                    out.push(resolve(dir, &rest[..end]));
                }
            }
        }
    }
    out
}

fn resolve(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        return rel.to_string();
    }
    let mut parts: Vec<&str> = dir.split('/').collect();
    for seg in rel.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Loads the dashboard's overview as described in the module docs; returns the time and the number of
/// requests it took.
pub async fn load_overview(addr: &str) -> anyhow::Result<(Duration, usize)> {
    let t = Instant::now();
    let page = String::from_utf8(get_ok(addr, "/").await?)?;
    let mut queue: VecDeque<String> = attrs(&page, "src").into_iter().map(String::from).collect();
    queue.extend(
        attrs(&page, "href")
            .into_iter()
            .filter(|h| h.starts_with("/assets/") && h.ends_with(".css"))
            .map(String::from),
    );
    let mut seen = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let body = get_ok(addr, &path).await?;
        if path.ends_with(".js") {
            queue.extend(imports(&String::from_utf8_lossy(&body), &path));
        }
    }
    for api in ["/assets/i18n/zh.json", "/api/v1/session", "/api/v1/stats/tree"] {
        get_ok(addr, api).await?;
    }
    Ok((t.elapsed(), seen.len() + 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_imports_resolve_against_the_importing_file() {
        let js =
            "import { h } from './dom.js';\nimport * as tree from \"./views/tree.js\";\nimport '../x.js';";
        assert_eq!(
            imports(js, "/assets/js/app.js"),
            vec!["/assets/js/dom.js", "/assets/x.js", "/assets/js/views/tree.js"]
        );
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
    }
}
