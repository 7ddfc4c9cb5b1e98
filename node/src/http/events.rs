//! Live updates by server-sent events (`/api/v1/events`): `case` (every case written by an applied
//! entry: id, state, version, owner, log index), `stats` (the node's figures changed: at most one a
//! second), `links` (a link's state or backlog changed, polled every two seconds from the leader's
//! link table; followers have none). Bounded: at most `http.max_event_clients` streams; case changes
//! come from a broadcast channel of fixed size, and a stream whose client reads too slowly to keep up
//! is closed rather than buffered (the client reconnects and reloads). Streams end when the replica
//! stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use federation::access::Need;
use federation::code::Code;
use futures::Stream;
use serde_json::json;
use tokio::sync::{broadcast, watch, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;

use super::auth::Authed;
use super::error::ApiError;
use super::HttpCtx;
use crate::storage::state_machine::CaseChanged;

/// Shortest time between two `stats` events.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// How often link states are looked at.
const LINKS_EVERY: Duration = Duration::from_secs(2);

struct Feed {
    ctx: HttpCtx,
    cases: broadcast::Receiver<CaseChanged>,
    tally: watch::Receiver<u64>,
    links: tokio::time::Interval,
    last_links: serde_json::Value,
    last_stats: Option<tokio::time::Instant>,
    stop: CancellationToken,
    hello: bool,
    _permit: OwnedSemaphorePermit,
}

impl Feed {
    fn links_now(&self) -> serde_json::Value {
        let ctx = &self.ctx;
        let mut out = Vec::new();
        for (relation, peer) in ctx
            .local
            .parent
            .iter()
            .map(|p| ("parent", p))
            .chain(ctx.local.children.iter().map(|c| ("child", c)))
        {
            let h = ctx.links.get(&peer.code);
            let backlog = Code::parse_node("peer", &peer.code).ok().and_then(|c| ctx.reader.backlog(&c).ok());
            out.push(json!({
                "peer": peer.code, "peer_name": peer.name, "relation": relation, "state": h.health.as_str(),
                "backlog": backlog.map(|b| b.0), "oldest_queued_ms": backlog.and_then(|b| b.1),
            }));
        }
        json!({ "node": ctx.local.node.to_string(), "leader": ctx.leadership.is_leader(), "links": out })
    }

    /// The next event, or None when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        if self.hello {
            self.hello = false;
            let data = json!({ "node": self.ctx.local.node.to_string(), "replica": self.ctx.local.replica });
            return Some(Event::default().event("hello").data(data.to_string()));
        }
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                c = self.cases.recv() => match c {
                    Ok(c) => return Some(Event::default().event("case").id(c.index.to_string()).data(json!(c).to_string())),
                    // Too slow to keep up: close; the client reconnects and reloads.
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::info!(missed = n, "console event stream fell behind: closed");
                        return None;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = self.tally.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    if let Some(t) = self.last_stats {
                        let wait = STATS_EVERY.saturating_sub(t.elapsed());
                        tokio::select! {
                            _ = self.stop.cancelled() => return None,
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                    self.tally.borrow_and_update();
                    self.last_stats = Some(tokio::time::Instant::now());
                    let data = json!({ "node": self.ctx.local.node.to_string(), "at_ms": self.ctx.clock.now_ms() });
                    return Some(Event::default().event("stats").data(data.to_string()));
                }
                _ = self.links.tick() => {
                    let now = self.links_now();
                    if now != self.last_links {
                        self.last_links = now.clone();
                        return Some(Event::default().event("links").data(now.to_string()));
                    }
                }
            }
        }
    }
}

fn stream(feed: Feed) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(feed, |mut f| async move { f.next().await.map(|e| (Ok(e), f)) })
}

/// Server-sent events: `hello`, then `case`, `stats` and `links` as they happen.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses((status = 200, description = "text/event-stream of hello, case, stats and links events"),
        (status = 503, body = ApiError, description = "too many streams open")))]
pub async fn events(State(ctx): State<HttpCtx>, a: Authed) -> Result<Response, ApiError> {
    a.require(&ctx, Need::Read)?;
    let permit = ctx.events.clone().try_acquire_owned().map_err(|_| {
        ApiError::unavailable("too many live-event streams are open on this replica; retry later")
    })?;
    let mut links = tokio::time::interval(LINKS_EVERY);
    links.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        cases: ctx.signals.cases.subscribe(),
        tally: ctx.signals.tally.subscribe(),
        links,
        last_links: serde_json::Value::Null,
        last_stats: None,
        stop: ctx.stop.clone(),
        hello: true,
        _permit: permit,
        ctx,
    };
    Ok(Sse::new(stream(feed)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}
