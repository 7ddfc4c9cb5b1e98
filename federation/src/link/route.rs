//! Links between nodes: where a message goes next, and the envelope it travels in.
//!
//! ```text
//!              370102 (district)
//!             /                \
//!      370102001 (street)    370102002
//!       /        \
//! 370102001001  370102001002 (communities)
//! ```
//! A message to a node below goes to the child whose code prefixes the destination; anything else goes
//! to the parent. Every hop stores the message in its replicated outbox and forwards it exactly once.

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::code::Code;
use crate::grids::GridSet;
use crate::Millis;

/// The neighbour a message leaves through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// Up to the parent node: the destination is not under this node.
    Parent,
    /// Down to this child (one level below), whose code prefixes the destination.
    Child(Code),
}

/// The next hop from `me` toward `dest`, or None when `dest` is `me`.
pub fn next_hop(me: &Code, dest: &Code) -> Option<Hop> {
    if dest == me {
        return None;
    }
    if dest.is_within(me) {
        let len = me.as_str().len() + 3;
        let child = Code::parse("to", &dest.as_str()[..len]).ok()?;
        return Some(Hop::Child(child));
    }
    Some(Hop::Parent)
}

/// What one node tells another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Body {
    /// Ownership of `case` passes to the destination (escalation up, dispatch or sending down).
    Transfer {
        /// The case as the sender last wrote it, with the new owner and epoch.
        case: Box<Case>,
    },
    /// The owner's current state of a case the destination watches (反馈).
    Status {
        /// The case as its owner last wrote it; older versions and epochs than the copy held are ignored.
        case: Box<Case>,
    },
    /// Grid boundaries for the destination's subtree, from a node above it (newest version wins).
    Boundaries {
        /// The part of an import that lies under the destination, with the import's version.
        set: Box<GridSet>,
    },
}

/// A message in an outbox, with where it came from and where it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The node that queued the message (not the last hop that forwarded it).
    pub origin: Code,
    /// The destination node; intermediate nodes forward it toward this code (see `next_hop`).
    pub to: Code,
    /// When the origin queued it (for the age of a backlog).
    pub queued_at: Millis,
    /// What the message says.
    pub body: Body,
}

impl Envelope {
    /// The case a transfer or status carries; none for boundaries.
    pub fn case(&self) -> Option<&Case> {
        match &self.body {
            Body::Transfer { case } | Body::Status { case } => Some(case),
            Body::Boundaries { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Code {
        Code::parse("c", s).unwrap()
    }

    #[test]
    fn routes_go_down_to_the_right_child_and_up_otherwise() {
        let street = c("370102001");
        assert_eq!(next_hop(&street, &c("370102001002")), Some(Hop::Child(c("370102001002"))));
        assert_eq!(next_hop(&street, &c("370102001002003")), Some(Hop::Child(c("370102001002"))));
        assert_eq!(next_hop(&street, &c("370102")), Some(Hop::Parent));
        assert_eq!(next_hop(&street, &c("370102002001")), Some(Hop::Parent));
        assert_eq!(next_hop(&street, &street), None);
        let district = c("370102");
        assert_eq!(next_hop(&district, &c("370102001001")), Some(Hop::Child(street)));
    }
}
