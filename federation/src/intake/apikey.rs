//! Keys of the systems that send reports (the 12345 hotline, a city app): an operator issues one per
//! system (`gridnode access open311-key create`), scoped to a subtree the system may report into. The
//! node's replicated state keeps only the SHA-256 of its secret; the secret is shown once, as
//! `o311_<id>_<secret>`, the `api_key` the system then sends with every Open311 POST. A revoked key is
//! kept, marked revoked, so listings show it and its id is never reused.

use serde::{Deserialize, Serialize};

use crate::access::hash_secret;
use crate::case::Source;
use crate::code::Code;
use crate::Millis;

/// Prefix of a key's presented form.
pub const API_KEY_PREFIX: &str = "o311_";

/// A key as stored: never its secret, only the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Short public id (lowercase hex), used to list and revoke it.
    pub id: String,
    /// The system it is for, e.g. 12345热线.
    pub name: String,
    /// The subtree the system may report into (this node or a node below it).
    pub scope: Code,
    /// The source its reports are recorded with (hotline for 12345, public for an app).
    pub source: Source,
    /// SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// Leader-stamped.
    pub created_at: Millis,
    /// Who created it (the creator's certificate identity).
    pub created_by: String,
    /// When it was revoked (leader-stamped); None while in use. A revoked key is kept, refused.
    pub revoked_at: Option<Millis>,
}

/// Why a presented key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    /// The POST came without an `api_key`.
    #[error("api_key: missing; this method requires an api_key issued by the node's operators")]
    Missing,
    /// The `api_key` is not of the form `o311_<id>_<secret>`.
    #[error("api_key: not a key of this node (expected o311_<id>_<secret>)")]
    Malformed,
    /// No key has that id, or the secret does not match its hash.
    #[error("api_key: unknown key")]
    Unknown,
    /// The secret matches, but the key was revoked.
    #[error("api_key: key {id} was revoked")]
    Revoked {
        /// The key's public id.
        id: String,
    },
}

impl ApiKey {
    /// Checks `secret` against this key.
    pub fn check(&self, secret: &str) -> Result<(), KeyRefusal> {
        let presented = hash_secret(secret);
        let same = presented.len() == self.hash.len()
            && presented.bytes().zip(self.hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !same {
            return Err(KeyRefusal::Unknown);
        }
        if self.revoked_at.is_some() {
            return Err(KeyRefusal::Revoked { id: self.id.clone() });
        }
        Ok(())
    }

    /// The channel recorded on the cases it sends: `open311:<id>`.
    pub fn channel(&self) -> String {
        format!("open311:{}", self.id)
    }

    /// Who sent a report with this key, for the audit trail.
    pub fn describe(&self) -> String {
        format!("open311 key {} ({})", self.id, self.name)
    }
}

/// The presented form of a key: `o311_<id>_<secret>`.
pub fn present(id: &str, secret: &str) -> String {
    format!("{API_KEY_PREFIX}{id}_{secret}")
}

/// Splits a presented key into (id, secret).
pub fn parse_presented(s: &str) -> Result<(&str, &str), KeyRefusal> {
    let s = s.trim();
    if s.is_empty() {
        return Err(KeyRefusal::Missing);
    }
    let rest = s.strip_prefix(API_KEY_PREFIX).ok_or(KeyRefusal::Malformed)?;
    let (id, secret) = rest.split_once('_').ok_or(KeyRefusal::Malformed)?;
    if crate::access::check_token_id("id", id).is_err() || secret.len() < 16 || secret.len() > 128 {
        return Err(KeyRefusal::Malformed);
    }
    Ok((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey {
            id: "a1b2c3d4".into(),
            name: "12345热线".into(),
            scope: Code::parse("scope", "370102").unwrap(),
            source: Source::Hotline,
            hash: hash_secret("0123456789abcdef0123"),
            created_at: 1,
            created_by: "gridfed://370102/operator".into(),
            revoked_at: None,
        }
    }

    #[test]
    fn a_key_is_checked_by_its_hash_and_revocation() {
        let k = key();
        let presented = present(&k.id, "0123456789abcdef0123");
        let (id, secret) = parse_presented(&presented).unwrap();
        assert_eq!(id, "a1b2c3d4");
        k.check(secret).unwrap();
        assert_eq!(k.check("0123456789abcdef0124"), Err(KeyRefusal::Unknown));
        let revoked = ApiKey { revoked_at: Some(5), ..k.clone() };
        assert_eq!(revoked.check(secret), Err(KeyRefusal::Revoked { id: k.id.clone() }));
        assert_eq!(k.channel(), "open311:a1b2c3d4");
        assert!(!format!("{k:?}").contains("0123456789abcdef0123"));
    }

    #[test]
    fn malformed_keys_are_told_apart_from_missing_ones() {
        assert_eq!(parse_presented(""), Err(KeyRefusal::Missing));
        for bad in ["xyz", "gft_a1b2_0123456789abcdef", "o311_A1B2_0123456789abcdef", "o311_a1b2_short"] {
            assert_eq!(parse_presented(bad), Err(KeyRefusal::Malformed), "{bad}");
        }
        assert!(KeyRefusal::Missing.to_string().starts_with("api_key: "));
    }
}
