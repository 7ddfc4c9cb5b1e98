//! `FederationService`: what neighbour nodes call. A handshake checks that the caller is the configured
//! parent or child (its code lies under ours, or ours under its); deliveries and rollups are applied
//! through this node's Raft log, so they survive leader changes and are applied exactly once.

use std::sync::Arc;

use federation::code::Code;
use federation::limits::check_counters;
use federation::machine::{Command, Outcome};
use proto::convert;
use proto::v1::federation_service_client::FederationServiceClient;
use proto::v1::federation_service_server::FederationService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{instrument, warn};

use super::case::{commit_or_forward, forwarded, is_forwarded, refusal_status};
use crate::replica::Replica;

/// Most messages accepted in one delivery.
const MAX_MESSAGES: usize = 1024;
/// Most tally entries accepted in one rollup.
const MAX_ENTRIES: usize = 20_000;

/// The federation service of a replica.
#[derive(Clone)]
pub struct FederationApi {
    replica: Arc<Replica>,
}

impl FederationApi {
    pub fn new(replica: Arc<Replica>) -> FederationApi {
        FederationApi { replica }
    }

    fn client(&self, addr: &str) -> Result<FederationServiceClient<tonic::transport::Channel>, Status> {
        Ok(FederationServiceClient::new(self.replica.channel_to(addr)?))
    }

    /// The caller must hold a replica certificate of `from` (or, for a request a replica of this node
    /// forwarded to its leader, of this node).
    fn authorize<T>(&self, from: &Code, req: &Request<T>) -> Result<(), Status> {
        let tls = self.replica.tls.is_some();
        if is_forwarded(req) {
            super::authz::replica_of(tls, &self.replica.node, req)
        } else {
            super::authz::replica_of(tls, from, req)
        }
    }

    /// The caller's code, if it is a configured neighbour.
    fn neighbour(&self, field: &str, from: &str) -> Result<Code, Status> {
        let code = Code::parse_node(field, from).map_err(|e| Status::invalid_argument(e.to_string()))?;
        if self.replica.neighbour(code.as_str()).is_none() {
            warn!(node = %self.replica.node, caller = %code, "refused: not a neighbour");
            return Err(Status::permission_denied(format!(
                "{field}: node {code} is neither the parent nor a child of {}",
                self.replica.node
            )));
        }
        Ok(code)
    }
}

#[tonic::async_trait]
impl FederationService for FederationApi {
    #[instrument(skip_all, fields(node = %self.replica.node, caller = %req.get_ref().code))]
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
        let related = caller.parent().as_ref() == Some(&self.replica.node)
            || self.replica.node.parent().as_ref() == Some(&caller);
        if !related {
            return Err(Status::permission_denied(format!(
                "code: {caller} is not a parent or child of this node"
            )));
        }
        Ok(Response::new(HelloResponse {
            code: self.replica.node.to_string(),
            level: self.replica.node.level().to_string(),
            name: self.replica.name.clone(),
        }))
    }

    #[instrument(skip_all, fields(node = %self.replica.node, from = %req.get_ref().from, n = req.get_ref().messages.len()))]
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
            env.case().check_received(&format!("messages[{i}].envelope.case")).map_err(refusal_status)?;
            // A child speaks only for its subtree; a parent only sends into ours.
            let from_parent = from.parent().as_ref() != Some(&self.replica.node);
            let in_scope =
                if from_parent { env.to.is_within(&self.replica.node) } else { env.origin.is_within(&from) };
            if !in_scope {
                warn!(node = %self.replica.node, from = %from, to = %env.to, origin = %env.origin, "refused a message outside the link's subtree");
                return Err(Status::permission_denied(format!(
                    "messages[{i}]: from {} to {} is outside what {from} may send here",
                    env.origin, env.to
                )));
            }
            batch.push((m.seq, env));
        }
        match commit_or_forward(&self.replica, Command::Receive { from, batch }, fwd).await? {
            Ok(Outcome::Received { hwm }) => Ok(Response::new(DeliverResponse { applied: hwm })),
            Ok(Outcome::Refused(r)) => Err(refusal_status(r)),
            Ok(other) => Err(Status::internal(format!("unexpected outcome {other:?}"))),
            Err(addr) => self.client(&addr)?.deliver(forwarded(msg)).await,
        }
    }

    #[instrument(skip_all, fields(node = %self.replica.node, from = %req.get_ref().from, n = req.get_ref().entries.len()))]
    async fn push_rollup(&self, req: Request<RollupRequest>) -> Result<Response<RollupResponse>, Status> {
        let fwd = is_forwarded(&req);
        let from = self.neighbour("from", &req.get_ref().from)?;
        self.authorize(&from, &req)?;
        let msg = req.into_inner();
        if from.parent().as_ref() != Some(&self.replica.node) {
            warn!(node = %self.replica.node, from = %from, "refused a rollup from a node that is not a child");
            return Err(Status::permission_denied(format!(
                "from: {from} is not a child of {}",
                self.replica.node
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
            warn!(node = %self.replica.node, from = %from, owner = %k.owner, "refused a rollup entry outside the link's subtree");
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
        match commit_or_forward(&self.replica, Command::Rollup { from, entries, fresh }, fwd).await? {
            Ok(Outcome::Done) => Ok(Response::new(RollupResponse {})),
            Ok(Outcome::Refused(r)) => Err(refusal_status(r)),
            Ok(other) => Err(Status::internal(format!("unexpected outcome {other:?}"))),
            Err(addr) => self.client(&addr)?.push_rollup(forwarded(msg)).await,
        }
    }
}
