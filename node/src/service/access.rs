//! `AccessService`: create, list and revoke the console's access tokens. Only a certificate manages
//! them (`Need::Manage`); the secret is made here, returned once and never stored: the log carries its
//! SHA-256. A token's scope must lie between the creator's own scope and this node.

use std::sync::Arc;

use federation::access::{hash_secret, parse_ttl, present, AccessRole, Need};
use federation::code::Code;
use federation::machine::{TokenCreate, TokenRevoke};
use proto::convert::token_to_pb;
use proto::v1::access_service_client::AccessServiceClient;
use proto::v1::access_service_server::AccessService;
use proto::v1::*;
use rand::RngCore;
use tonic::{Request, Response, Status};
use tracing::{info, instrument};

use super::authz::{caller, denied, Caller, Refused};
use super::commit::{commit_or_forward, forwarded, forwarded_for, is_forwarded, read_route, store_status};
use crate::clock::Clock;
use crate::consensus::writer::WRITE_TIMEOUT;
use crate::consensus::{Leadership, Writer};
use crate::local::Local;
use crate::rpc::ChannelPool;
use crate::storage::reader::CaseReader;

/// Lifetime of a token created without `expires`.
const DEFAULT_TTL: &str = "8h";

/// The access-token service of a replica.
#[derive(Clone)]
pub struct AccessApi {
    pub(super) local: Arc<Local>,
    pub(super) writer: Writer,
    pub(super) leadership: Leadership,
    pub(super) reader: CaseReader,
    clock: Clock,
    pub(super) pool: ChannelPool,
}

/// A fresh random token id (8 hex digits) and secret (32 hex digits).
pub(super) fn fresh_secret() -> (String, String) {
    let mut bytes = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    (hex(&bytes[..4]), hex(&bytes[4..]))
}

impl AccessApi {
    /// The service of replica `local`.
    pub fn new(
        local: Arc<Local>,
        writer: Writer,
        leadership: Leadership,
        reader: CaseReader,
        clock: Clock,
        pool: ChannelPool,
    ) -> AccessApi {
        AccessApi { local, writer, leadership, reader, clock, pool }
    }

    fn client(&self, addr: &str) -> Result<AccessServiceClient<tonic::transport::Channel>, Status> {
        Ok(AccessServiceClient::new(super::commit::leader_channel(&self.pool, addr)?))
    }

    /// The caller, allowed to manage tokens here.
    pub(super) fn manager<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        let c = caller(self.local.authenticated, req)?;
        super::authz::authorize(&c, &self.local.node, Need::Manage).map_err(denied)?;
        Ok(c)
    }
}

#[tonic::async_trait]
impl AccessService for AccessApi {
    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, scope = %req.get_ref().scope))]
    async fn create_token(
        &self,
        req: Request<CreateTokenRequest>,
    ) -> Result<Response<CreateTokenResponse>, Status> {
        let who = self.manager(&req)?;
        let fwd = is_forwarded(&req);
        // A replica of this node forwarding for its caller checked that caller already.
        let relayed = fwd
            && matches!(
                super::authz::caller_identity(self.local.authenticated, &req)?,
                Some(id) if id.role == federation::identity::Role::Replica && id.code == self.local.node
            );
        // Who asked, as the audit trail records callers (across forwarding too), within the field's bound.
        let by: String =
            super::authz::who(self.local.authenticated, &self.local.node, &req).chars().take(200).collect();
        let msg = req.into_inner();
        let scope = match msg.scope.as_str() {
            "" => self.local.node.clone(),
            s => Code::parse_node("scope", s).map_err(|e| Status::invalid_argument(e.to_string()))?,
        };
        let role = AccessRole::parse("role", &msg.role).map_err(Status::invalid_argument)?;
        let ttl_ms = parse_ttl("expires", if msg.expires.is_empty() { DEFAULT_TTL } else { &msg.expires })
            .map_err(Status::invalid_argument)?;
        if let (false, Caller::Granted(g)) = (relayed, &who) {
            // Nobody hands out more than they hold.
            if !scope.is_within(&g.scope) {
                return Err(denied(Refused {
                    who: g.describe(),
                    why: format!("scope {scope} lies outside its own scope {}", g.scope),
                }));
            }
        }
        let created_by = by.clone();
        let (id, secret) = fresh_secret();
        let cmd = TokenCreate {
            id: id.clone(),
            name: msg.name.clone(),
            scope,
            role,
            hash: hash_secret(&secret),
            ttl_ms,
            created_by,
        };
        let here = |t: federation::access::AccessToken| {
            info!(token = %t.id, scope = %t.scope, role = %t.role, "access token created");
            Ok(CreateTokenResponse { token: Some(token_to_pb(&t)), secret: present(&t.id, &secret) })
        };
        let there = async |ch, d| AccessServiceClient::new(ch).create_token(forwarded_for(msg, d, &by)).await;
        commit_or_forward(&self.writer, &self.pool, cmd, fwd, here, there).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn list_tokens(
        &self,
        req: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        self.manager(&req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if let Some(addr) = read_route(&self.leadership, false, fwd).await? {
            return self.client(&addr)?.list_tokens(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let now = self.clock.now_ms();
        let tokens = self
            .reader
            .tokens()
            .map_err(store_status)?
            .iter()
            .filter(|t| msg.all || t.active(now))
            .map(token_to_pb)
            .collect();
        Ok(Response::new(ListTokensResponse { tokens }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, token = %req.get_ref().id))]
    async fn revoke_token(
        &self,
        req: Request<RevokeTokenRequest>,
    ) -> Result<Response<RevokeTokenResponse>, Status> {
        self.manager(&req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        federation::access::check_token_id("id", &msg.id).map_err(Status::invalid_argument)?;
        let here = |t: federation::access::AccessToken| {
            info!(token = %t.id, "access token revoked");
            Ok(RevokeTokenResponse { token: Some(token_to_pb(&t)) })
        };
        let revoke = TokenRevoke { id: msg.id.clone() };
        let there = async |ch, d| AccessServiceClient::new(ch).revoke_token(forwarded(msg, d)).await;
        commit_or_forward(&self.writer, &self.pool, revoke, fwd, here, there).await
    }
}
