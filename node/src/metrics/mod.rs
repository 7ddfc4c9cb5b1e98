//! The replica's Prometheus metrics (`/metrics`, text format, `prometheus-client`): what happens is
//! counted where it happens (commits in `consensus::proposer`, requests in [`RequestLayer`], TLS
//! refusals in `tls::accept`); what *is* (Raft position, links, cases, health) is read from the
//! replica's handles at each scrape (`scrape`). One registry per replica, so the demo's replicas in one
//! process each have their own.
//!
//! ```text
//! layer    tower layer: requests by protocol, method and status, latency histograms (gRPC and HTTP)
//! scrape   gauges refreshed from Leadership, CaseReader, LinkTable and Health at each scrape
//! ```

mod layer;
pub mod scrape;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use layer::{RequestLayer, RequestMetrics};

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `grpc` or `http`.
    pub protocol: &'static str,
    /// The gRPC method path, or the HTTP route pattern.
    pub method: String,
    /// The gRPC status code, or the HTTP status.
    pub status: String,
}

/// Labels of a request latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub protocol: &'static str,
    pub method: String,
}

/// A single label `reason`, `state`, `role`, `verdict`...
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: String,
}

/// A federation link.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinkLabels {
    pub peer: String,
    pub relation: &'static str,
}

/// A federation link's state (one-hot: `up`, `down`, `never`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LinkStateLabels {
    pub peer: String,
    pub state: &'static str,
}

/// A state label (Raft role, case state, clock verdict).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

/// TLS handshakes refused, by reason; shared between the TLS acceptor (which counts) and the registry.
pub type TlsRefusals = Family<Reason, Counter>;

/// The metrics of one replica; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    registry: Mutex<Registry>,
    pub(crate) commit_seconds: Histogram,
    pub(crate) batch_commands: Histogram,
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) request_seconds: Family<MethodLabels, Histogram>,
    pub(crate) g: scrape::Gauges,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    // 0.5 ms to about 16 s.
    exponential_buckets(0.0005, 2.0, 16)
}

impl Metrics {
    /// A registry for replica `replica` of node `node`; `tls_refusals` is the TLS acceptor's counter
    /// (None without TLS).
    pub fn new(node: &str, replica: u64, tls_refusals: Option<TlsRefusals>) -> Metrics {
        let mut r = Registry::with_prefix_and_labels(
            "gridfed",
            [
                (std::borrow::Cow::Borrowed("node"), std::borrow::Cow::Owned(node.to_string())),
                (std::borrow::Cow::Borrowed("replica"), std::borrow::Cow::Owned(replica.to_string())),
            ]
            .into_iter(),
        );
        let commit_seconds = Histogram::new(latency_buckets());
        r.register(
            "commit_seconds",
            "Time from proposing a batch to its commit and apply here",
            commit_seconds.clone(),
        );
        let batch_commands = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        r.register(
            "commit_batch_commands",
            "Commands (proposals) batched per committed Raft entry",
            batch_commands.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        r.register("requests", "Requests served, by protocol, method and status", requests.clone());
        let request_seconds =
            Family::<MethodLabels, Histogram>::new_with_constructor(|| Histogram::new(latency_buckets()));
        r.register(
            "request_seconds",
            "Request latency to the response head, by protocol and method",
            request_seconds.clone(),
        );
        let tls_refusals = tls_refusals.unwrap_or_default();
        r.register("tls_handshake_refusals", "TLS handshakes refused, by reason", tls_refusals);
        let g = scrape::Gauges::register(&mut r);
        Metrics {
            inner: Arc::new(Inner {
                registry: Mutex::new(r),
                commit_seconds,
                batch_commands,
                requests,
                request_seconds,
                g,
            }),
        }
    }

    /// Records one committed batch of `commands` that took `took` from proposal to apply.
    pub fn observe_commit(&self, commands: usize, took: Duration) {
        self.inner.commit_seconds.observe(took.as_secs_f64());
        self.inner.batch_commands.observe(commands as f64);
    }

    /// Records one request.
    pub fn observe_request(&self, protocol: &'static str, method: String, status: String, took: Duration) {
        self.inner
            .request_seconds
            .get_or_create(&MethodLabels { protocol, method: method.clone() })
            .observe(took.as_secs_f64());
        self.inner.requests.get_or_create(&RequestLabels { protocol, method, status }).inc();
    }

    /// The Prometheus text exposition (version 0.0.4) of every metric (call `scrape::refresh` first
    /// for current gauges).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        prometheus_text(&out)
    }

    pub(crate) fn gauges(&self) -> &scrape::Gauges {
        &self.inner.g
    }
}

/// The Prometheus text format (0.0.4, what `promtool check metrics` and every scraper read) from
/// prometheus-client's OpenMetrics text: a counter's HELP and TYPE name its `_total` series, and the
/// OpenMetrics-only `# UNIT` and `# EOF` lines go.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{p}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// A gauge set from an integer.
pub(crate) fn set(g: &Gauge, v: impl TryInto<i64>) {
    g.set(v.try_into().unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_described_under_their_total_name_in_the_prometheus_text() {
        let m = Metrics::new("370102", 1, None);
        m.observe_request("http", "GET /readyz".into(), "200".into(), Duration::from_millis(3));
        m.observe_commit(4, Duration::from_millis(2));
        let text = m.encode();
        assert!(text.contains("# HELP gridfed_requests_total Requests served"), "{text}");
        assert!(text.contains("# TYPE gridfed_requests_total counter"), "{text}");
        assert!(text.contains(
            "gridfed_requests_total{node=\"370102\",replica=\"1\",protocol=\"http\",method=\"GET /readyz\",status=\"200\"} 1"
        ), "{text}");
        assert!(
            text.contains("gridfed_commit_batch_commands_sum{node=\"370102\",replica=\"1\"} 4.0"),
            "{text}"
        );
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
    }
}
