//! Protocol versions: which gridnode versions can run side by side, as replicas of one node during a
//! rolling upgrade and as neighbouring nodes upgraded on different days.
//!
//! Every Raft and peer (federation) call carries the sender's version (`x-gridfed-protocol`; a sender
//! without it is a gridnode from before versions, [`UNVERSIONED`]). The rule:
//!
//! - versions N and N+1 understand each other ([`understands`]); a replica refuses a peer further
//!   apart, and the refusal changes nothing (the peer's messages are not applied, its own log is kept);
//! - stored records and messages are MessagePack with named fields, so a field added with
//!   `#[serde(default)]` is read by both (older binaries skip it);
//! - a new command in the replicated log is not understood by a replica of an older version (it
//!   could not apply it), so a command introduced in version N ([`Command::since`](crate::machine::Command::since))
//!   is proposed only once every voter of the node announces N or more ([`may_propose`]); until then
//!   the work that needs it waits.
//!
//! So an upgrade goes one version at a time, one replica at a time: every replica of a node on N, then
//! each restarted on N+1; neighbours may lag by one version.

/// The version this code speaks.
pub const CURRENT: u32 = 4;

/// The version that introduced intake: grid boundaries (also in messages to neighbours), reports by
/// place, unassigned cases, Open311 keys.
pub const INTAKE: u32 = 3;

/// The version that introduced the people of the grid: the roster (`Staff`) and dispatch by the
/// roster (a grid worker named by id, or `auto`).
pub const PEOPLE: u32 = 4;

/// The version whose actions keep a case's clocks in working time, two of them (the step deadline and
/// the case's overall deadline; see `workflow`). An action proposed before it carries no such mark and
/// applies, on every replica and when replayed, by the rules it was proposed under.
pub const CLOCKS: u32 = 4;

/// The version of a peer that announces none: gridnode before protocol versions (it sends no
/// version, checks none, and knows the commands of version 1).
pub const UNVERSIONED: u32 = 1;

/// Whether a replica of version `own` understands a peer of version `peer`: adjacent versions do.
pub fn understands(own: u32, peer: u32) -> bool {
    own.abs_diff(peer) <= 1
}

/// The version a group can use: the lowest of its own and its peers' (a peer not heard from counts
/// as [`UNVERSIONED`], the most careful guess).
pub fn group_version(own: u32, peers: impl IntoIterator<Item = Option<u32>>) -> u32 {
    peers.into_iter().map(|p| p.unwrap_or(UNVERSIONED)).fold(own, u32::min)
}

/// Whether a command introduced in version `since` may be proposed in a group at version `group`.
pub fn may_propose(since: u32, group: u32) -> bool {
    group >= since
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_versions_understand_each_other_and_the_group_waits_for_its_slowest() {
        assert!(understands(2, 1) && understands(1, 2) && understands(2, 2) && understands(3, 2));
        assert!(!understands(1, 3) && !understands(4, 2));
        assert_eq!(group_version(2, [Some(2), Some(2)]), 2);
        assert_eq!(group_version(2, [Some(2), Some(1)]), 1);
        // A replica not heard from yet holds the group back.
        assert_eq!(group_version(2, [Some(2), None]), UNVERSIONED);
        assert_eq!(group_version(1, [Some(2)]), 1);
        assert!(may_propose(1, 1) && may_propose(2, 2) && !may_propose(2, 1));
    }
}
