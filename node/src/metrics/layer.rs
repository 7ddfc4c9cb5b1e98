//! A tower layer counting requests by protocol, method and status, with latency histograms; the same
//! layer wraps the gRPC server (status from `grpc-status`) and the HTTP router (the route pattern as
//! method, so ids in paths do not explode the label set).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower::{Layer, Service};

use super::Metrics;

/// Counts requests into `Metrics`.
#[derive(Clone)]
pub struct RequestLayer {
    metrics: Metrics,
    protocol: &'static str,
}

impl RequestLayer {
    /// For the gRPC server.
    pub fn grpc(metrics: Metrics) -> RequestLayer {
        RequestLayer { metrics, protocol: "grpc" }
    }

    /// For the HTTP router.
    pub fn http(metrics: Metrics) -> RequestLayer {
        RequestLayer { metrics, protocol: "http" }
    }
}

impl<S> Layer<S> for RequestLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> RequestMetrics<S> {
        RequestMetrics { inner, metrics: self.metrics.clone(), protocol: self.protocol }
    }
}

/// The service [`RequestLayer`] wraps.
#[derive(Clone)]
pub struct RequestMetrics<S> {
    inner: S,
    metrics: Metrics,
    protocol: &'static str,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The method label: the gRPC path, or the matched HTTP route.
fn method_of<B>(protocol: &str, req: &http::Request<B>) -> String {
    if protocol == "grpc" {
        return req.uri().path().to_string();
    }
    match req.extensions().get::<axum::extract::MatchedPath>() {
        Some(p) => format!("{} {}", req.method(), p.as_str()),
        None => "unmatched".to_string(),
    }
}

impl<S, B, RB> Service<http::Request<B>> for RequestMetrics<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = method_of(self.protocol, &req);
        let (metrics, protocol) = (self.metrics.clone(), self.protocol);
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            let status = match &out {
                // A gRPC error answers at once with its status in the headers; success has it in the
                // trailers (0).
                Ok(resp) if protocol == "grpc" => {
                    resp.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0").to_string()
                }
                Ok(resp) => resp.status().as_u16().to_string(),
                Err(_) => "error".to_string(),
            };
            metrics.observe_request(protocol, method, status, start.elapsed());
            out
        })
    }
}
