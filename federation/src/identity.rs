//! Who a certificate speaks for: a node code and a role, carried as a URI SAN
//! `gridfed://<code>/<role>` in certificates issued by the district's CA.
//!
//! - `replica`: a replica of node `<code>` (it may run that node's Raft group and speak for it in the
//!   federation);
//! - `operator`: a person or tool acting on node `<code>` and everything under it.

use std::fmt;

use crate::code::Code;

/// The role a certificate is issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `replica`: a replica of the node; it may run the node's Raft group and speak for it to neighbours.
    Replica,
    /// `operator`: a person or tool acting on the node and everything under it.
    Operator,
}

impl Role {
    /// `replica` or `operator`, as written in the URI SAN.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Replica => "replica",
            Role::Operator => "operator",
        }
    }

    /// Parses `replica` or `operator`, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Role, IdentityError> {
        match s {
            "replica" => Ok(Role::Replica),
            "operator" => Ok(Role::Operator),
            other => Err(IdentityError::BadRole { field: field.to_string(), value: other.to_string() }),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A certificate's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The node the certificate speaks for: a district, street or community code, never a grid.
    pub code: Code,
    /// What the holder is to that node.
    pub role: Role,
}

/// A malformed identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The role part is neither `replica` nor `operator`.
    #[error("{field}: {value:?} is not a role; expected replica or operator")]
    BadRole {
        /// Where the identity came from.
        field: String,
        /// The role as given.
        value: String,
    },
    /// The text is not of the form `gridfed://<code>/<role>`.
    #[error("{field}: {value:?} is not a gridfed identity; expected gridfed://<code>/<replica|operator>")]
    BadUri {
        /// Where the identity came from.
        field: String,
        /// The URI as given.
        value: String,
    },
    /// The code part is not a node code (malformed, or a grid).
    #[error(transparent)]
    Code(#[from] crate::code::CodeError),
}

const SCHEME: &str = "gridfed://";

impl Identity {
    /// The URI SAN of this identity.
    pub fn uri(&self) -> String {
        format!("{SCHEME}{}/{}", self.code, self.role)
    }

    /// Parses a URI SAN, naming `field` in the error.
    pub fn parse_uri(field: &str, uri: &str) -> Result<Identity, IdentityError> {
        let bad = || IdentityError::BadUri { field: field.to_string(), value: uri.to_string() };
        let rest = uri.strip_prefix(SCHEME).ok_or_else(bad)?;
        let (code, role) = rest.split_once('/').ok_or_else(bad)?;
        Ok(Identity { code: Code::parse_node(field, code)?, role: Role::parse(field, role)? })
    }

    /// True if this identity may read and act on `target` (a node or grid): replicas and operators of
    /// a node cover that node and everything under it.
    pub fn covers(&self, target: &Code) -> bool {
        target.is_within(&self.code)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.role, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_roundtrip_and_bad_ones_are_named() {
        let id = Identity { code: Code::parse("c", "370102001").unwrap(), role: Role::Operator };
        assert_eq!(id.uri(), "gridfed://370102001/operator");
        assert_eq!(Identity::parse_uri("san", &id.uri()), Ok(id.clone()));
        assert!(id.covers(&Code::parse("g", "370102001002003").unwrap()));
        assert!(!id.covers(&Code::parse("g", "370102002001").unwrap()));
        for bad in
            ["https://370102/replica", "gridfed://370102", "gridfed://370102/admin", "gridfed://3701/replica"]
        {
            let e = Identity::parse_uri("san", bad).unwrap_err().to_string();
            assert!(e.starts_with("san"), "{bad}: {e}");
        }
        assert!(
            Identity::parse_uri("san", "gridfed://370102001001001/replica").is_err(),
            "a grid is no node"
        );
    }
}
