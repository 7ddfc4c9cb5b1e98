//! Who is calling the console: a client certificate of the district CA (read at the TLS handshake), or
//! an access token, sent as `Authorization: Bearer gft_...` or held in the session cookie that
//! `POST /api/v1/session` (or `GET /login?token=...`) sets. Tokens are checked against the replicated
//! state at every request, so a revoked token stops working at once on every replica that has applied
//! the revocation. Without TLS on the replica (`--insecure`) nobody is identified and everything is
//! allowed, as for gRPC.

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use federation::access::{parse_presented, Grant, Via};
use serde::Deserialize;

use super::dto::{SessionBody, WhoAmI};
use super::error::ApiError;
use super::listener::HttpPeer;
use super::HttpCtx;
use crate::service::authz::Caller;
use crate::tls::Peer;

/// The session cookie's name.
pub const COOKIE: &str = "gridfed_session";

/// The authenticated caller of a request.
pub struct Authed {
    pub caller: Caller,
    /// When the token of this request expires (None for a certificate).
    pub expires_at: Option<i64>,
}

impl Authed {
    /// The caller for an audit trail's actor: `certificate of CODE` or `token ID (role of CODE)`.
    pub fn describe(&self) -> String {
        match &self.caller {
            Caller::Anyone => "console".to_string(),
            Caller::Granted(g) => format!("console: {}", g.describe()),
        }
    }

    /// Refuses (403) unless the caller may do what `need` asks on this node.
    pub fn require(&self, ctx: &super::HttpCtx, need: federation::access::Need) -> Result<(), ApiError> {
        crate::service::authz::authorize(&self.caller, &ctx.local.node, need).map_err(|e| {
            ApiError::new(axum::http::StatusCode::FORBIDDEN, "permission_denied", None, e.to_string())
        })
    }
}

/// The token in `Authorization: Bearer` or the session cookie.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

impl HttpCtx {
    /// The grant of a presented token, and when it expires.
    pub(super) fn check_token(&self, token: &str) -> Result<(Grant, i64), ApiError> {
        let (id, secret) = parse_presented(token).map_err(|e| ApiError::unauthenticated(e.to_string()))?;
        let stored = self
            .reader
            .token(id)
            .map_err(|e| ApiError::from(tonic::Status::internal(format!("storage: {e}"))))?
            .ok_or_else(|| ApiError::unauthenticated("unknown access token"))?;
        let grant = stored.check(secret, self.clock.now_ms()).map_err(|e| {
            tracing::warn!(token = id, reason = %e, "console token refused");
            ApiError::unauthenticated(e.to_string())
        })?;
        Ok((grant, stored.expires_at))
    }

    /// The caller of a request with `headers` over a connection from `peer`.
    fn authenticate(&self, peer: Option<&HttpPeer>, headers: &HeaderMap) -> Result<Authed, ApiError> {
        if !self.local.authenticated {
            return Ok(Authed { caller: Caller::Anyone, expires_at: None });
        }
        if let Some(Peer::Certified { id, .. }) = peer.and_then(|p| p.0.as_ref()).map(|i| &i.peer) {
            return Ok(Authed { caller: Caller::Granted(Grant::of_certificate(id)), expires_at: None });
        }
        let token = presented(headers).ok_or_else(|| {
            ApiError::unauthenticated(
                "no credentials: present an operator certificate, an Authorization: Bearer token, or sign in \
                 with a token (POST /api/v1/session)",
            )
        })?;
        let (grant, expires) = self.check_token(&token)?;
        Ok(Authed { caller: Caller::Granted(grant), expires_at: Some(expires) })
    }
}

impl FromRequestParts<HttpCtx> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &HttpCtx) -> Result<Authed, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<HttpPeer>>().map(|c| &c.0);
        ctx.authenticate(peer, &parts.headers)
    }
}

fn session_cookie(ctx: &HttpCtx, value: &str, max_age_s: i64) -> Result<HeaderValue, ApiError> {
    let secure = if ctx.https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .map_err(|_| ApiError::invalid("token", "cannot be put in a cookie"))
}

fn whoami(ctx: &HttpCtx, a: &Authed) -> WhoAmI {
    let (via, scope, role) = match &a.caller {
        Caller::Anyone => ("none", None, "operator".to_string()),
        Caller::Granted(g) => (
            match g.via {
                Via::Certificate => "certificate",
                Via::Token { .. } => "token",
            },
            Some(g.scope.to_string()),
            g.role.as_str().to_string(),
        ),
    };
    WhoAmI {
        node: ctx.local.node.to_string(),
        node_name: ctx.local.name.clone(),
        via: via.into(),
        scope,
        role,
        expires_at_ms: a.expires_at,
    }
}

/// The session cookie for `token`, after checking it covers this node.
fn open_session(ctx: &HttpCtx, token: &str) -> Result<(HeaderValue, WhoAmI), ApiError> {
    let (grant, expires) = ctx.check_token(token)?;
    let caller = Caller::Granted(grant);
    crate::service::authz::authorize(&caller, &ctx.local.node, federation::access::Need::Read).map_err(
        |e| ApiError::new(StatusCode::FORBIDDEN, "permission_denied", Some("token"), e.to_string()),
    )?;
    let max_age = (expires - ctx.clock.now_ms()).max(0) / 1000;
    let cookie = session_cookie(ctx, token.trim(), max_age)?;
    Ok((cookie, whoami(ctx, &Authed { caller, expires_at: Some(expires) })))
}

/// Who am I on this node.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = WhoAmI), (status = 401, body = ApiError)))]
pub async fn session(State(ctx): State<HttpCtx>, a: Authed) -> Json<WhoAmI> {
    Json(whoami(&ctx, &a))
}

/// Exchange an access token for a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS).
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SessionBody,
    responses((status = 200, body = WhoAmI), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn sign_in(
    State(ctx): State<HttpCtx>,
    Json(body): Json<SessionBody>,
) -> Result<Response, ApiError> {
    let (cookie, who) = open_session(&ctx, &body.token)?;
    Ok(([(header::SET_COOKIE, cookie)], Json(who)).into_response())
}

/// Forget the session cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn sign_out(State(ctx): State<HttpCtx>) -> Result<Response, ApiError> {
    let cookie = session_cookie(&ctx, "", 0)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// `GET /login?token=...`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LoginQuery {
    /// An access token, `gft_<id>_<secret>`.
    pub token: String,
    /// Where to go once signed in: a path of this console (`/screen` for a wall screen); default `/`.
    pub next: Option<String>,
}

/// Whether `next` is a path on this server (not `//host` or `/\host`, which browsers take elsewhere).
fn local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && next.chars().all(|c| c.is_ascii_graphic())
}

/// Sign in with a token in the address (the link `gridnode demo` prints) and go to the console (or to
/// `next`, e.g. `/screen`); the token leaves the address bar with the redirect.
#[utoipa::path(get, path = "/login", tag = "session", params(LoginQuery),
    responses((status = 303, description = "signed in; to / or next"), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn login(State(ctx): State<HttpCtx>, Query(q): Query<LoginQuery>) -> Result<Response, ApiError> {
    let next = q.next.as_deref().unwrap_or("/");
    if !local_path(next) {
        return Err(ApiError::invalid("next", "must be a path of this console, such as /screen"));
    }
    let (cookie, _) = open_session(&ctx, &q.token)?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_header_wins_over_the_cookie() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; gridfed_session=gft_abcd_cookie"));
        assert_eq!(presented(&h).as_deref(), Some("gft_abcd_cookie"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer gft_abcd_header"));
        assert_eq!(presented(&h).as_deref(), Some("gft_abcd_header"));
        assert_eq!(presented(&HeaderMap::new()), None);
    }

    #[test]
    fn sign_in_goes_only_to_paths_of_this_console() {
        for ok in ["/", "/screen", "/#/cases?state=reported"] {
            assert!(local_path(ok), "{ok}");
        }
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "screen", "/a b", ""] {
            assert!(!local_path(bad), "{bad}");
        }
    }
}
