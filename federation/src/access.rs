//! Who may read and act on a node, for every door into it (gRPC and the HTTP console alike), and the
//! access tokens operators hand to wall screens and browsers without a certificate.
//!
//! - A [`Grant`] is what a caller holds: a scope (a node code: that node and everything under it) and
//!   a role. A certificate (`gridfed://<code>/<operator|replica>`) grants its code as operator; a token
//!   grants the scope and role it was created with.
//! - [`permits`] is the one rule: the grant's scope must cover the node, a `viewer` may read and never
//!   act, and managing tokens takes a certificate.
//! - An [`AccessToken`] is stored in the node's replicated state with only the SHA-256 of its secret;
//!   the secret is shown once, at creation, as `gft_<id>_<secret>`.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::code::Code;
use crate::identity::Identity;
use crate::Millis;

/// Tokens live at least a minute.
pub const MIN_TOKEN_TTL_MS: Millis = 60_000;
/// Tokens are short-lived: at most 30 days.
pub const MAX_TOKEN_TTL_MS: Millis = 30 * 24 * 3_600_000;
/// Prefix of a token's presented form.
pub const TOKEN_PREFIX: &str = "gft_";

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRole {
    /// Reads only: figures, cases, links, status.
    Viewer,
    /// Reads and acts on cases, as an operator certificate does.
    Operator,
}

impl AccessRole {
    /// `viewer` or `operator`, as the CLI and stored tokens name it.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::Viewer => "viewer",
            AccessRole::Operator => "operator",
        }
    }

    /// Parses `viewer` or `operator`, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<AccessRole, crate::field::FieldError> {
        match s {
            "viewer" => Ok(AccessRole::Viewer),
            "operator" => Ok(AccessRole::Operator),
            other => Err(crate::field::FieldError::new(
                field,
                format!("{other:?} is not a role; expected viewer or operator"),
            )),
        }
    }
}

impl fmt::Display for AccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A certificate of the district CA (its URI SAN).
    Certificate,
    /// An access token (its id).
    Token {
        /// The token's public id (lowercase hex), as listed by `gridnode access token list`.
        id: String,
    },
}

/// What a caller may do: on `scope` and everything under it, as `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The node whose subtree the grant covers: the certificate's code, or the token's scope.
    pub scope: Code,
    /// Viewer or operator; certificates (replica ones included) always grant operator.
    pub role: AccessRole,
    /// Certificate or token: only a certificate may manage tokens.
    pub via: Via,
}

impl Grant {
    /// A certificate's grant: replicas and operators act on their code's subtree (the Raft and peer
    /// services check the role themselves).
    pub fn of_certificate(id: &Identity) -> Grant {
        Grant { scope: id.code.clone(), role: AccessRole::Operator, via: Via::Certificate }
    }

    /// Who this is, for logs and refusals: `certificate of CODE` or `token ID (viewer of CODE)`.
    pub fn describe(&self) -> String {
        match &self.via {
            Via::Certificate => format!("certificate of {}", self.scope),
            Via::Token { id } => format!("token {id} ({} of {})", self.role, self.scope),
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read cases, figures, links, status.
    Read,
    /// Change something: report, act, register a department, membership.
    Act,
    /// Create, list or revoke access tokens: only with a certificate.
    Manage,
}

/// Why a grant does not permit a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The node asked about lies outside the grant's subtree.
    #[error("its scope {scope} does not include node {node}")]
    OutOfScope {
        /// The subtree the grant covers.
        scope: Code,
        /// The node the request is for.
        node: Code,
    },
    /// A viewer token asked to change something.
    #[error("a viewer may read but not act")]
    ViewerCannotAct,
    /// A token asked to create, list or revoke tokens.
    #[error("managing access tokens needs an operator certificate")]
    CertificateRequired,
}

/// The one authorization rule of a node: `grant` may do what `need` asks on `node`.
pub fn permits(grant: &Grant, node: &Code, need: Need) -> Result<(), Denial> {
    if !node.is_within(&grant.scope) {
        return Err(Denial::OutOfScope { scope: grant.scope.clone(), node: node.clone() });
    }
    match (need, grant.role, &grant.via) {
        (Need::Read, _, _) => Ok(()),
        (Need::Act, AccessRole::Viewer, _) => Err(Denial::ViewerCannotAct),
        (Need::Act, AccessRole::Operator, _) => Ok(()),
        (Need::Manage, _, Via::Certificate) => Ok(()),
        (Need::Manage, _, Via::Token { .. }) => Err(Denial::CertificateRequired),
    }
}

/// A token as stored in the replicated state: never its secret, only the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// Short public id (lowercase hex), used to list and revoke it.
    pub id: String,
    /// What it is for, e.g. 指挥中心大屏.
    pub name: String,
    /// The subtree it grants: the node that stores it or a node above it (checked at creation).
    pub scope: Code,
    /// Viewer (wall screens) or operator.
    pub role: AccessRole,
    /// SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// Leader-stamped times.
    pub created_at: Millis,
    /// When it stops working: `created_at` plus its lifetime (`MIN_TOKEN_TTL_MS` to `MAX_TOKEN_TTL_MS`).
    pub expires_at: Millis,
    /// Who created it (the creator's certificate identity).
    pub created_by: String,
    /// When it was revoked (leader-stamped); None while not revoked. A revoked token is kept, refused.
    pub revoked_at: Option<Millis>,
}

/// Why a presented token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// The text is not of the form `gft_<id>_<secret>`.
    #[error("not a gridfed access token (expected gft_<id>_<secret>)")]
    Malformed,
    /// No token has that id, or the secret does not match its hash.
    #[error("unknown access token")]
    Unknown,
    /// The secret matches, but the token was revoked.
    #[error("access token {id} was revoked")]
    Revoked {
        /// The token's public id.
        id: String,
    },
    /// The secret matches, but the token's `expires_at` has passed.
    #[error("access token {id} expired")]
    Expired {
        /// The token's public id.
        id: String,
    },
}

impl AccessToken {
    /// The grant of this token presented with `secret` at `now`, or why not.
    pub fn check(&self, secret: &str, now: Millis) -> Result<Grant, TokenRefusal> {
        if !constant_time_eq(hash_secret(secret).as_bytes(), self.hash.as_bytes()) {
            return Err(TokenRefusal::Unknown);
        }
        if self.revoked_at.is_some() {
            return Err(TokenRefusal::Revoked { id: self.id.clone() });
        }
        if now >= self.expires_at {
            return Err(TokenRefusal::Expired { id: self.id.clone() });
        }
        Ok(Grant { scope: self.scope.clone(), role: self.role, via: Via::Token { id: self.id.clone() } })
    }

    /// True while neither revoked nor expired at `now`.
    pub fn active(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// SHA-256 of a token's secret, lowercase hex.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The presented form of a token: `gft_<id>_<secret>`.
pub fn present(id: &str, secret: &str) -> String {
    format!("{TOKEN_PREFIX}{id}_{secret}")
}

/// Splits a presented token into (id, secret).
pub fn parse_presented(s: &str) -> Result<(&str, &str), TokenRefusal> {
    let rest = s.trim().strip_prefix(TOKEN_PREFIX).ok_or(TokenRefusal::Malformed)?;
    let (id, secret) = rest.split_once('_').ok_or(TokenRefusal::Malformed)?;
    if check_token_id("id", id).is_err() || secret.len() < 16 || secret.len() > 128 {
        return Err(TokenRefusal::Malformed);
    }
    Ok((id, secret))
}

/// A token id: 4 to 32 lowercase hex digits.
pub fn check_token_id(field: &str, id: &str) -> Result<(), crate::field::FieldError> {
    let ok =
        (4..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(crate::field::FieldError::new(
            field,
            format!("{id:?} is not a token id (4 to 32 lowercase hex digits)"),
        ))
    }
}

/// Parses a lifetime such as `90m`, `8h`, `7d` (or plain seconds), naming `field` in the error;
/// between one minute and 30 days.
pub fn parse_ttl(field: &str, s: &str) -> Result<Millis, crate::field::FieldError> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = num.parse().map_err(|_| {
        crate::field::FieldError::new(field, format!("{s:?} is not a duration like 90m, 8h or 7d"))
    })?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(crate::field::FieldError::new(
                field,
                format!("{s:?} is not a duration like 90m, 8h or 7d"),
            ))
        }
    };
    let ms = n.saturating_mul(unit_ms);
    if !(MIN_TOKEN_TTL_MS..=MAX_TOKEN_TTL_MS).contains(&ms) {
        return Err(crate::field::FieldError::new(field, format!("{s} is outside one minute to 30 days")));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Role;

    fn code(s: &str) -> Code {
        Code::parse("c", s).unwrap()
    }

    fn token(scope: &str, role: AccessRole) -> AccessToken {
        AccessToken {
            id: "a1b2c3d4".into(),
            name: "大屏".into(),
            scope: code(scope),
            role,
            hash: hash_secret("s3cret-s3cret-s3cret"),
            created_at: 1_000,
            expires_at: 1_000 + 8 * 3_600_000,
            created_by: "gridfed://370102/operator".into(),
            revoked_at: None,
        }
    }

    #[test]
    fn hashes_are_sha256_hex_and_the_secret_is_never_stored() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let t = token("370102001001", AccessRole::Viewer);
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn a_token_is_refused_when_wrong_revoked_or_expired() {
        let mut t = token("370102001001", AccessRole::Viewer);
        assert!(t.check("s3cret-s3cret-s3cret", 2_000).is_ok());
        assert_eq!(t.check("guess-guess-guess", 2_000), Err(TokenRefusal::Unknown));
        assert!(matches!(t.check("s3cret-s3cret-s3cret", t.expires_at), Err(TokenRefusal::Expired { .. })));
        t.revoked_at = Some(1_500);
        assert!(matches!(t.check("s3cret-s3cret-s3cret", 2_000), Err(TokenRefusal::Revoked { .. })));
        assert!(!t.active(2_000));
    }

    #[test]
    fn scope_and_role_follow_the_grpc_rule() {
        let g = token("370102001001", AccessRole::Viewer).check("s3cret-s3cret-s3cret", 2_000).unwrap();
        assert_eq!(permits(&g, &code("370102001001"), Need::Read), Ok(()));
        assert_eq!(permits(&g, &code("370102001001"), Need::Act), Err(Denial::ViewerCannotAct));
        // A community's token covers neither its sibling nor its street.
        assert!(matches!(permits(&g, &code("370102001002"), Need::Read), Err(Denial::OutOfScope { .. })));
        assert!(matches!(permits(&g, &code("370102001"), Need::Read), Err(Denial::OutOfScope { .. })));
        let op = token("370102", AccessRole::Operator).check("s3cret-s3cret-s3cret", 2_000).unwrap();
        assert_eq!(permits(&op, &code("370102001001"), Need::Act), Ok(()));
        assert_eq!(permits(&op, &code("370102"), Need::Manage), Err(Denial::CertificateRequired));
        let cert = Grant::of_certificate(&Identity { code: code("370102001"), role: Role::Operator });
        assert_eq!(permits(&cert, &code("370102001003"), Need::Manage), Ok(()));
        assert!(permits(&cert, &code("370102002"), Need::Read).is_err());
    }

    #[test]
    fn presented_tokens_parse_and_lifetimes_are_bounded() {
        let p = present("a1b2c3d4", "0123456789abcdef0123");
        assert_eq!(parse_presented(&p), Ok(("a1b2c3d4", "0123456789abcdef0123")));
        assert_eq!(parse_presented("Bearer x"), Err(TokenRefusal::Malformed));
        assert_eq!(parse_presented("gft_ZZ_0123456789abcdef"), Err(TokenRefusal::Malformed));
        assert_eq!(parse_ttl("expires", "8h"), Ok(8 * 3_600_000));
        assert_eq!(parse_ttl("expires", "90m"), Ok(90 * 60_000));
        assert!(parse_ttl("expires", "30s").unwrap_err().field == "expires");
        assert!(parse_ttl("expires", "31d").is_err());
        assert!(parse_ttl("expires", "8 hours").is_err());
    }
}
