//! `ApiKeyService`: keys of the systems that send reports through Open311 (the 12345 hotline, a city
//! app), managed like the console's tokens (an operator certificate, `Need::Manage`): the secret is made
//! here and returned once as `o311_<id>_<secret>`; the log carries its SHA-256. A key's scope is this
//! node or a node below it: the subtree its reports may go to.

use federation::access::hash_secret;
use federation::case::Source;
use federation::code::Code;
use federation::intake::apikey::{present, ApiKey as Key};
use federation::machine::{ApiKeyCreate, ApiKeyRevoke};
use proto::v1::api_key_service_client::ApiKeyServiceClient;
use proto::v1::api_key_service_server::ApiKeyService;
use proto::v1::*;
use tonic::{Request, Response, Status};
use tracing::{info, instrument};

use super::access::{fresh_secret, AccessApi};
use super::commit::{commit_or_forward, forwarded, forwarded_for, is_forwarded, read_route, store_status};
use crate::consensus::writer::WRITE_TIMEOUT;

/// A key as listed (never its secret nor its hash).
pub fn key_to_pb(k: &Key) -> ApiKey {
    ApiKey {
        id: k.id.clone(),
        name: k.name.clone(),
        scope: k.scope.to_string(),
        source: k.source.as_str().to_string(),
        created_at_ms: k.created_at,
        created_by: k.created_by.clone(),
        revoked_at_ms: k.revoked_at,
    }
}

#[tonic::async_trait]
impl ApiKeyService for AccessApi {
    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, scope = %req.get_ref().scope))]
    async fn create_api_key(
        &self,
        req: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        self.manager(&req)?;
        let fwd = is_forwarded(&req);
        let by: String =
            super::authz::who(self.local.authenticated, &self.local.node, &req).chars().take(200).collect();
        let msg = req.into_inner();
        let scope = match msg.scope.as_str() {
            "" => self.local.node.clone(),
            s => Code::parse("scope", s).map_err(|e| Status::invalid_argument(e.to_string()))?,
        };
        let source = match msg.source.as_str() {
            "" => Source::Public,
            s => Source::parse("source", s).map_err(Status::invalid_argument)?,
        };
        let (id, secret) = fresh_secret();
        let cmd = ApiKeyCreate {
            id,
            name: msg.name.clone(),
            scope,
            source,
            hash: hash_secret(&secret),
            created_by: by.clone(),
        };
        let here = |k: Key| {
            info!(key = %k.id, scope = %k.scope, name = %k.name, "open311 key created");
            Ok(CreateApiKeyResponse { key: Some(key_to_pb(&k)), secret: present(&k.id, &secret) })
        };
        let there =
            async |ch, d| ApiKeyServiceClient::new(ch).create_api_key(forwarded_for(msg, d, &by)).await;
        commit_or_forward(&self.writer, &self.pool, cmd, fwd, here, there).await
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica))]
    async fn list_api_keys(
        &self,
        req: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        self.manager(&req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        if let Some(addr) = read_route(&self.leadership, false, fwd).await? {
            let ch = super::commit::leader_channel(&self.pool, &addr)?;
            return ApiKeyServiceClient::new(ch).list_api_keys(forwarded(msg, WRITE_TIMEOUT)).await;
        }
        let keys = self
            .reader
            .api_keys()
            .map_err(store_status)?
            .iter()
            .filter(|k| msg.all || k.revoked_at.is_none())
            .map(key_to_pb)
            .collect();
        Ok(Response::new(ListApiKeysResponse { keys }))
    }

    #[instrument(skip_all, fields(node = %self.local.node, replica = self.local.replica, key = %req.get_ref().id))]
    async fn revoke_api_key(
        &self,
        req: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        self.manager(&req)?;
        let fwd = is_forwarded(&req);
        let msg = req.into_inner();
        federation::access::check_token_id("id", &msg.id).map_err(Status::invalid_argument)?;
        let here = |k: Key| {
            info!(key = %k.id, "open311 key revoked");
            Ok(RevokeApiKeyResponse { key: Some(key_to_pb(&k)) })
        };
        let cmd = ApiKeyRevoke { id: msg.id.clone() };
        let there = async |ch, d| ApiKeyServiceClient::new(ch).revoke_api_key(forwarded(msg, d)).await;
        commit_or_forward(&self.writer, &self.pool, cmd, fwd, here, there).await
    }
}
