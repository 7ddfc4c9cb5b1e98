//! `gridnode access token create|list|revoke`: the console's access tokens for wall screens and
//! browsers without a certificate (managed with an operator certificate).

use std::process::ExitCode;

use clap::Subcommand;
use proto::v1::{
    CreateApiKeyRequest, CreateTokenRequest, ListApiKeysRequest, ListTokensRequest, RevokeApiKeyRequest,
    RevokeTokenRequest,
};
use serde_json::json;

use super::output;
use super::NodeArgs;
use crate::client::with_deadline;

#[derive(Subcommand, Debug)]
pub enum AccessCmd {
    /// Access tokens of the node's console.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Keys of the systems that report through Open311 (the 12345 hotline, city apps).
    #[command(subcommand, name = "open311-key")]
    Open311Key(KeyCmd),
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Create a key for an integrating system; its api_key is printed once (only its SHA-256 is
    /// stored).
    Create {
        #[command(flatten)]
        node: NodeArgs,
        /// The system, e.g. 12345热线.
        #[arg(long)]
        name: String,
        /// The subtree its reports may go to: this node or one below it (default: this node).
        #[arg(long, default_value = "")]
        scope: String,
        /// The source its reports are recorded with: hotline | public | video | patrol.
        #[arg(long, default_value = "public")]
        source: String,
        #[arg(long)]
        json: bool,
    },
    /// The node's keys (active ones; --all for revoked ones too).
    List {
        #[command(flatten)]
        node: NodeArgs,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: its system's reports are refused (403) once applied on every replica.
    Revoke {
        #[command(flatten)]
        node: NodeArgs,
        /// The key's id (from `list` or `create`).
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Prints `items` as a JSON array with `--json`, else one line each (`empty` when there are none).
fn print_list<T>(
    items: &[T],
    json: bool,
    as_json: fn(&T) -> serde_json::Value,
    empty: &str,
    line: impl Fn(&T) -> String,
) {
    if json {
        say!("{}", serde_json::Value::Array(items.iter().map(as_json).collect()));
    } else if items.is_empty() {
        say!("{empty}");
    } else {
        for item in items {
            say!("{}", line(item));
        }
    }
}

/// "revoked <when>" for a revoked credential, else `otherwise`.
fn lifetime(revoked_at_ms: Option<i64>, otherwise: String) -> String {
    match revoked_at_ms {
        Some(at) => format!("revoked {}", output::time(at)),
        None => otherwise,
    }
}

fn key_json(k: &proto::v1::ApiKey) -> serde_json::Value {
    json!({"id": k.id, "name": k.name, "scope": k.scope, "source": k.source, "created_at_ms": k.created_at_ms,
           "created_by": k.created_by, "revoked_at_ms": k.revoked_at_ms})
}

async fn keys(cmd: KeyCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCmd::Create { node, name, scope, source, json } => {
            let msg = CreateApiKeyRequest { name, scope, source };
            let r = node
                .client()?
                .api_keys(async |mut c, d| c.create_api_key(with_deadline(msg.clone(), d)).await)
                .await?;
            let k = r.key.unwrap_or_default();
            if json {
                let mut v = key_json(&k);
                v["api_key"] = json!(r.secret);
                say!("{v}");
            } else {
                say!("open311 key {} for {} (reports into {}, source {})", k.id, k.name, k.scope, k.source);
                say!("{}", r.secret);
                say!(
                    "Shown once: it is stored only as a hash. The system sends it as api_key with every POST"
                );
                say!("to https://REPLICA-HTTP/open311/v2/requests.json. Revoke: gridnode access open311-key revoke {}", k.id);
            }
        }
        KeyCmd::List { node, all, json } => {
            let msg = ListApiKeysRequest { all };
            let r = node
                .client()?
                .api_keys(async |mut c, d| c.list_api_keys(with_deadline(msg, d)).await)
                .await?;
            print_list(&r.keys, json, key_json, "no keys", |k| {
                let state = lifetime(k.revoked_at_ms, format!("created {}", output::time(k.created_at_ms)));
                format!(
                    "{}  {:<12} {:<8} {}  {}  by {}",
                    k.id, k.scope, k.source, state, k.name, k.created_by
                )
            });
        }
        KeyCmd::Revoke { node, id, json } => {
            let msg = RevokeApiKeyRequest { id };
            let r = node
                .client()?
                .api_keys(async |mut c, d| c.revoke_api_key(with_deadline(msg.clone(), d)).await)
                .await?;
            let k = r.key.unwrap_or_default();
            if json {
                say!("{}", key_json(&k));
            } else {
                say!("open311 key {} revoked", k.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token; its secret is printed once and never stored (only its SHA-256 is).
    Create {
        #[command(flatten)]
        node: NodeArgs,
        /// The subtree it opens: this node or one above it (default: this node).
        #[arg(long, default_value = "")]
        scope: String,
        /// viewer (reads only) or operator (acts on cases too).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Lifetime: 90m, 8h, 7d (one minute to 30 days).
        #[arg(long, default_value = "8h")]
        expires: String,
        /// What it is for, e.g. 指挥中心大屏.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// The node's tokens (active ones; --all for revoked and expired too).
    List {
        #[command(flatten)]
        node: NodeArgs,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it stops working on every replica once applied there.
    Revoke {
        #[command(flatten)]
        node: NodeArgs,
        /// The token's id (from `list` or `create`).
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn token_json(t: &proto::v1::AccessToken) -> serde_json::Value {
    json!({"id": t.id, "name": t.name, "scope": t.scope, "role": t.role, "created_at_ms": t.created_at_ms,
           "expires_at_ms": t.expires_at_ms, "created_by": t.created_by, "revoked_at_ms": t.revoked_at_ms})
}

pub async fn run(cmd: AccessCmd) -> anyhow::Result<ExitCode> {
    let cmd = match cmd {
        AccessCmd::Token(cmd) => cmd,
        AccessCmd::Open311Key(cmd) => return keys(cmd).await,
    };
    match cmd {
        TokenCmd::Create { node, scope, role, expires, name, json } => {
            let msg = CreateTokenRequest { scope, role, expires, name };
            let r = node
                .client()?
                .access(async |mut c, d| c.create_token(with_deadline(msg.clone(), d)).await)
                .await?;
            let t = r.token.unwrap_or_default();
            if json {
                let mut v = token_json(&t);
                v["secret"] = json!(r.secret);
                say!("{v}");
            } else {
                say!("token {} ({} of {}), expires {}", t.id, t.role, t.scope, output::time(t.expires_at_ms));
                say!("{}", r.secret);
                say!("Shown once: it is stored only as a hash. Sign in at https://REPLICA-HTTP/login?token=<it>,");
                say!(
                    "or send it as `Authorization: Bearer <it>`. Revoke: gridnode access token revoke {}",
                    t.id
                );
            }
        }
        TokenCmd::List { node, all, json } => {
            let msg = ListTokensRequest { all };
            let r =
                node.client()?.access(async |mut c, d| c.list_tokens(with_deadline(msg, d)).await).await?;
            print_list(&r.tokens, json, token_json, "no tokens", |t| {
                let state = lifetime(t.revoked_at_ms, format!("expires {}", output::time(t.expires_at_ms)));
                format!("{}  {:<8} {:<12}  {}  {}  by {}", t.id, t.role, t.scope, state, t.name, t.created_by)
            });
        }
        TokenCmd::Revoke { node, id, json } => {
            let msg = RevokeTokenRequest { id };
            let r = node
                .client()?
                .access(async |mut c, d| c.revoke_token(with_deadline(msg.clone(), d)).await)
                .await?;
            let t = r.token.unwrap_or_default();
            if json {
                say!("{}", token_json(&t));
            } else {
                say!("token {} revoked", t.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
