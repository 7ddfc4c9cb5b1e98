//! Per-peer concurrency: every request holds a permit from its peer's budget (shared by all the
//! peer's connections) while it runs. A peer over budget gets RESOURCE_EXHAUSTED at once, so a slow
//! or flooding peer uses up only its own share and never starves the others.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::{Layer, Service};
use tracing::warn;

use super::PeerInfo;

/// Adds the per-peer budget to a tonic server.
#[derive(Debug, Clone, Default)]
pub struct PerPeerLimitLayer;

impl<S> Layer<S> for PerPeerLimitLayer {
    type Service = PerPeerLimit<S>;

    fn layer(&self, inner: S) -> PerPeerLimit<S> {
        PerPeerLimit { inner }
    }
}

/// The service [`PerPeerLimitLayer`] wraps around each connection's services.
#[derive(Debug, Clone)]
pub struct PerPeerLimit<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for PerPeerLimit<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let permit = match req.extensions().get::<PeerInfo>() {
            None => None,
            Some(info) => match info.slot.inflight.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let key = info.key();
                    warn!(peer = %key, path = %req.uri().path(), "too many requests in flight from this peer: refused");
                    let status = tonic::Status::resource_exhausted(format!(
                        "{key}: too many requests in flight from this peer; retry later"
                    ));
                    return Box::pin(std::future::ready(Ok(status.into_http())));
                }
            },
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            drop(permit);
            out
        })
    }
}
