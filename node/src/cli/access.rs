//! `gridnode access token create|list|revoke`: the console's access tokens for wall screens and
//! browsers without a certificate (managed with an operator certificate).

use std::process::ExitCode;

use clap::Subcommand;
use proto::v1::{CreateTokenRequest, ListTokensRequest, RevokeTokenRequest};
use serde_json::json;

use super::output;
use super::NodeArgs;
use crate::client::with_deadline;

#[derive(Subcommand, Debug)]
pub enum AccessCmd {
    /// Access tokens of the node's console.
    #[command(subcommand)]
    Token(TokenCmd),
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
    let AccessCmd::Token(cmd) = cmd;
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
            if json {
                say!("{}", serde_json::Value::Array(r.tokens.iter().map(token_json).collect()));
            } else if r.tokens.is_empty() {
                say!("no tokens");
            } else {
                for t in &r.tokens {
                    let state = match t.revoked_at_ms {
                        Some(at) => format!("revoked {}", output::time(at)),
                        None => format!("expires {}", output::time(t.expires_at_ms)),
                    };
                    say!(
                        "{}  {:<8} {:<12}  {}  {}  by {}",
                        t.id,
                        t.role,
                        t.scope,
                        state,
                        t.name,
                        t.created_by
                    );
                }
            }
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
