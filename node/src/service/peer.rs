//! `PeerService`: what neighbour nodes call. A handshake checks that the caller is the configured
//! parent or child (its code lies under ours, or ours under its); deliveries and rollups are applied
//! through this node's Raft log, so they survive leader changes and are applied exactly once.

use std::sync::Arc;

use federation::bounds::check_counters;
use federation::code::Code;
use federation::machine::{Receive, Rollup};
use proto::convert;
use proto::v1::peer_service_client::PeerServiceClient;
use proto::v1::peer_service_server::PeerService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{instrument, warn};

use super::commit::{commit_or_forward, forwarded, is_forwarded, refusal_status};
use crate::clock::Clock;
use crate::consensus::Writer;
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::CaseReader;

/// Most messages accepted in one delivery.
const MAX_MESSAGES: usize = 1024;
/// Most tally entries accepted in one rollup.
const MAX_ENTRIES: usize = 20_000;

/// The peer service of a replica: what its neighbours call.
#[derive(Clone)]
pub struct PeerApi {
    local: Arc<Local>,
    writer: Writer,
    pool: ChannelPool,
    clock: Clock,
    protocol: crate::protocol::Protocol,
    /// The store, to dispatch arriving hotline tickets by the roster (`[intake] auto_dispatch_hotline`).
    arrivals: Option<CaseReader>,
}

/// An answer carrying this replica's protocol version.
fn stamped<T>(mut r: Response<T>) -> Response<T> {
    crate::protocol::stamp(r.metadata_mut());
    r
}

impl PeerApi {
    /// The peer service of replica `local`, committing through `writer`.
    pub fn new(local: Arc<Local>, writer: Writer, pool: ChannelPool, clock: Clock) -> PeerApi {
        PeerApi { local, writer, pool, clock, protocol: Default::default(), arrivals: None }
    }

    /// Dispatches the hotline tickets routed down here by the roster `reader` reads, as they arrive.
    pub fn with_arrivals(mut self, reader: CaseReader) -> PeerApi {
        self.arrivals = Some(reader);
        self
    }

    /// Checks callers' protocol versions with `protocol` (see `crate::protocol`).
    pub fn with_protocol(mut self, protocol: crate::protocol::Protocol) -> PeerApi {
        self.protocol = protocol;
        self
    }

    /// The caller must hold a replica certificate of `from` (or, for a request a replica of this node
    /// forwarded to its leader, of this node).
    fn authorize<T>(&self, from: &Code, req: &Request<T>) -> Result<(), Status> {
        let tls = self.local.authenticated;
        if is_forwarded(req) {
            super::authz::replica_of(tls, &self.local.node, req)?;
        } else {
            super::authz::replica_of(tls, from, req)?;
        }
        // A neighbour (or a replica of this node forwarding) of a protocol version this one does not
        // understand is refused, logged once (see `crate::protocol`).
        let who = format!("node {from} ({})", super::authz::who(tls, &self.local.node, req));
        self.protocol.admit(&who, req.metadata())
    }

    /// The caller's code, if it is a configured neighbour.
    fn neighbour(&self, field: &str, from: &str) -> Result<Code, Status> {
        let code = Code::parse_node(field, from).map_err(|e| Status::invalid_argument(e.to_string()))?;
        if self.local.neighbour(code.as_str()).is_none() {
            warn!(node = %self.local.node, caller = %code, "refused: not a neighbour");
            return Err(Status::permission_denied(format!(
                "{field}: node {code} is neither the parent nor a child of {}",
                self.local.node
            )));
        }
        Ok(code)
    }
}

#[tonic::async_trait]
impl PeerService for PeerApi {
    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, caller = %req.get_ref().code))]
    async fn hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloResponse>, Status> {
        let caller = self.neighbour("code", &req.get_ref().code)?;
        self.authorize(&caller, &req)?;
        let msg = req.into_inner();
        if msg.level != caller.level().to_string() {
            return Err(Status::invalid_argument(format!(
                "level: {} is a {} code, not {}",
                caller,
                caller.level(),
                msg.level
            )));
        }
        let related = caller.parent().as_ref() == Some(&self.local.node)
            || self.local.node.parent().as_ref() == Some(&caller);
        if !related {
            return Err(Status::permission_denied(format!(
                "code: {caller} is not a parent or child of this node"
            )));
        }
        Ok(stamped(Response::new(HelloResponse {
            code: self.local.node.to_string(),
            level: self.local.node.level().to_string(),
            name: self.local.name.clone(),
            now_ms: self.clock.now_ms(),
        })))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, from = %req.get_ref().from, n = req.get_ref().messages.len()))]
    async fn deliver(&self, req: Request<DeliverRequest>) -> Result<Response<DeliverResponse>, Status> {
        let fwd = is_forwarded(&req);
        let from = self.neighbour("from", &req.get_ref().from)?;
        self.authorize(&from, &req)?;
        let msg = req.into_inner();
        if msg.messages.len() > MAX_MESSAGES {
            return Err(Status::invalid_argument(format!("messages: at most {MAX_MESSAGES} per delivery")));
        }
        let mut batch = Vec::with_capacity(msg.messages.len());
        for (i, m) in msg.messages.iter().enumerate() {
            let env = m
                .envelope
                .clone()
                .ok_or_else(|| Status::invalid_argument(format!("messages[{i}].envelope: missing")))?;
            let env = convert::envelope_from_pb(env)
                .map_err(|e| Status::invalid_argument(format!("messages[{i}]: {e}")))?;
            match env.case() {
                Some(case) => {
                    case.check_received(&format!("messages[{i}].envelope.case")).map_err(refusal_status)?
                }
                None => {
                    if let federation::link::Body::Boundaries { set } = &env.body {
                        federation::grids::check_size(&set.map).map_err(refusal_status)?;
                    }
                }
            }
            // A child speaks only for its subtree; a parent only sends into ours.
            let from_parent = from.parent().as_ref() != Some(&self.local.node);
            let in_scope =
                if from_parent { env.to.is_within(&self.local.node) } else { env.origin.is_within(&from) };
            if !in_scope {
                warn!(node = %self.local.node, from = %from, to = %env.to, origin = %env.origin, "refused a message outside the link's subtree");
                return Err(Status::permission_denied(format!(
                    "messages[{i}]: from {} to {} is outside what {from} may send here",
                    env.origin, env.to
                )));
            }
            batch.push((m.seq, env));
        }
        let arrivals = match (&self.arrivals, self.local.auto_dispatch_hotline) {
            (Some(reader), true) => {
                super::arrivals::hotline_arrivals(&self.local.node, reader, batch.iter().map(|(_, e)| e))
            }
            _ => Vec::new(),
        };
        let committed_here = std::sync::atomic::AtomicBool::new(false);
        let here = |hwm| {
            committed_here.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(DeliverResponse { applied: hwm })
        };
        let there = async |ch, d| PeerServiceClient::new(ch).deliver(forwarded(msg, d)).await;
        let answer =
            commit_or_forward(&self.writer, &self.pool, Receive { from, batch }, fwd, here, there).await;
        if committed_here.into_inner() && !arrivals.is_empty() {
            let (writer, node) = (self.writer.clone(), self.local.node.clone());
            tokio::spawn(super::arrivals::dispatch_on_arrival(writer, node, arrivals));
        }
        answer.map(stamped)
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, from = %req.get_ref().from, n = req.get_ref().entries.len()))]
    async fn push_rollup(&self, req: Request<RollupRequest>) -> Result<Response<RollupResponse>, Status> {
        let fwd = is_forwarded(&req);
        let from = self.neighbour("from", &req.get_ref().from)?;
        self.authorize(&from, &req)?;
        let msg = req.into_inner();
        if from.parent().as_ref() != Some(&self.local.node) {
            warn!(node = %self.local.node, from = %from, "refused a rollup from a node that is not a child");
            return Err(Status::permission_denied(format!(
                "from: {from} is not a child of {}",
                self.local.node
            )));
        }
        if msg.entries.len() > MAX_ENTRIES {
            return Err(Status::invalid_argument(format!("entries: at most {MAX_ENTRIES} per rollup")));
        }
        if msg.fresh.len() > MAX_ENTRIES {
            return Err(Status::invalid_argument(format!("fresh: at most {MAX_ENTRIES} per rollup")));
        }
        let entries = msg
            .entries
            .iter()
            .cloned()
            .map(convert::tally_from_pb)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        for (i, (_, t)) in entries.iter().enumerate() {
            check_counters(&format!("entries[{i}].counters"), &t.counters).map_err(refusal_status)?;
        }
        if let Some((k, _)) = entries.iter().find(|(k, _)| !k.owner.is_within(&from)) {
            warn!(node = %self.local.node, from = %from, owner = %k.owner, "refused a rollup entry outside the link's subtree");
            return Err(Status::permission_denied(format!(
                "entries.owner: {} is outside the subtree of {from}",
                k.owner
            )));
        }
        let fresh = msg
            .fresh
            .iter()
            .cloned()
            .map(convert::freshness_from_pb)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let here = |()| Ok(RollupResponse {});
        let there = async |ch, d| PeerServiceClient::new(ch).push_rollup(forwarded(msg, d)).await;
        commit_or_forward(&self.writer, &self.pool, Rollup { from, entries, fresh }, fwd, here, there)
            .await
            .map(stamped)
    }
}
