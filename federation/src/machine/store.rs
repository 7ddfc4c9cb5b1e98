//! What the state machine reads and writes (the `Store` trait, the `Change`s one apply call makes), the
//! node's rules every replica applies by, and the context of one applied entry.

use crate::access::AccessToken;
use crate::case::Case;
use crate::category::Catalog;
use crate::code::Code;
use crate::deadline::DeadlinePolicy;
use crate::geo::Located;
use crate::grids::{GridSet, MapVersion};
use crate::intake::apikey::ApiKey;
use crate::intake::IntakeRules;
use crate::link::Envelope;
use crate::tally::{Freshness, Tally, TallyKey};
use crate::Millis;

use super::command::Department;

/// A link whose state this node restored from a backup (`gridnode restore --whole-node`): its
/// neighbour may hold newer state than this node's store accounts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RestoredLink {
    /// The neighbour may have discarded messages this node acknowledged after the backup: the first
    /// delivery from it may start past this node's high-water mark, and is taken from there.
    pub inbox: bool,
    /// The neighbour may have applied sequence numbers this node gives again: resequence the link
    /// with the neighbour's high-water mark before sending anything.
    pub outbox: bool,
}

/// How far a whole-node restore moves the node's case counter on (`Change::Seq`), so the cases it
/// makes from then on do not take the ids of cases made after the backup, which its neighbours may
/// hold: far more cases than any node makes between two nightly backups.
pub const RESTORED_SEQ_GAP: u64 = 100_000;

/// A write the store must make, all of one apply call's writes atomically with the applied log id.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Case(Box<Case>),
    /// Open-deadline index of owned cases (for overdue counts and supervision).
    DueAdd {
        due: Millis,
        case_id: String,
        day: i64,
        grid: Code,
    },
    DueRemove {
        due: Millis,
        case_id: String,
    },
    /// Remember which case a request id created.
    Request {
        request_id: String,
        case_id: String,
    },
    /// The node's case counter.
    Seq(u64),
    Tally {
        key: TallyKey,
        tally: Tally,
    },
    /// A message queued for neighbour `peer` under link sequence `seq`.
    Outbox {
        peer: Code,
        seq: u64,
        envelope: Box<Envelope>,
    },
    OutboxNext {
        peer: Code,
        next: u64,
    },
    /// Drop queued messages up to `upto`.
    OutboxAck {
        peer: Code,
        upto: u64,
    },
    InboxHwm {
        from: Code,
        hwm: u64,
    },
    Fresh(Freshness),
    Department(Department),
    /// An access token, created or revoked.
    Token(Box<AccessToken>),
    /// The node's grid boundaries, replaced by a newer set.
    Grids(Box<GridSet>),
    /// A key of an integrating system, created or revoked.
    ApiKey(Box<ApiKey>),
    /// Mark (or, with None, unmark) the link to `peer` as restored.
    Restored {
        peer: Code,
        link: Option<RestoredLink>,
    },
}

/// What the state machine reads; writes of earlier commands in the same apply call must be visible.
pub trait Store {
    type Error;
    fn case(&mut self, id: &str) -> Result<Option<Case>, Self::Error>;
    fn request(&mut self, request_id: &str) -> Result<Option<String>, Self::Error>;
    fn seq(&mut self) -> Result<u64, Self::Error>;
    fn tally(&mut self, key: &TallyKey) -> Result<Option<Tally>, Self::Error>;
    /// The next sequence to assign on the link to `peer` (1 for a new link).
    fn outbox_next(&mut self, peer: &Code) -> Result<u64, Self::Error>;
    /// The highest sequence applied from `from` (0 for none).
    fn inbox_hwm(&mut self, from: &Code) -> Result<u64, Self::Error>;
    fn fresh(&mut self, node: &Code) -> Result<Option<Freshness>, Self::Error>;
    fn department(&mut self, name: &str) -> Result<Option<Department>, Self::Error>;
    fn token(&mut self, id: &str) -> Result<Option<AccessToken>, Self::Error>;
    /// The version of the node's grid boundaries, if it holds any.
    fn grid_version(&mut self) -> Result<Option<MapVersion>, Self::Error>;
    /// Where the WGS-84 point lies on the node's grid boundaries (the most specific place).
    fn locate(&mut self, lat: f64, lon: f64) -> Result<Option<Located>, Self::Error>;
    fn api_key(&mut self, id: &str) -> Result<Option<ApiKey>, Self::Error>;
    /// The messages queued for `peer`, in sequence order.
    fn queued(&mut self, peer: &Code) -> Result<Vec<(u64, Envelope)>, Self::Error>;
    /// Whether the link to `peer` was restored from a backup, and what remains to resynchronise.
    fn restored(&mut self, peer: &Code) -> Result<Option<RestoredLink>, Self::Error>;
    fn write(&mut self, change: Change) -> Result<(), Self::Error>;
}

/// The node's identity, neighbours and rules: the same on every replica (from the config).
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub node: &'a Code,
    pub policy: &'a DeadlinePolicy,
    pub catalog: &'a Catalog,
    /// The parent node, if it is part of the federation.
    pub parent: Option<&'a Code>,
    /// The child nodes.
    pub children: &'a [Code],
    /// Known grids: a community's own, or every grid below an upper node (empty: not checked).
    pub grids: &'a [Code],
    /// What to do with points in no grid, how large photos may be, the node's name.
    pub intake: &'a IntakeRules,
}

/// When and where in the log a command is applied.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// The leader's clock at proposal.
    pub now: Millis,
    /// The log index of the entry: the version of everything this command produces.
    pub index: u64,
}
