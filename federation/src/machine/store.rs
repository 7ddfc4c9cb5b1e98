//! What the state machine reads and writes (the `Store` trait, the `Change`s one apply call makes), the
//! node's rules every replica applies by, and the context of one applied entry.

use std::collections::BTreeSet;

use crate::access::AccessToken;
use crate::case::Case;
use crate::category::Catalog;
use crate::code::Code;
use crate::deadline::DeadlinePolicy;
use crate::geo::{BBox, Located, PlaceCode};
use crate::grids::{GridSet, MapVersion};
use crate::intake::apikey::ApiKey;
use crate::intake::IntakeRules;
use crate::link::Envelope;
use crate::people::{Patrol, PatrolId, Roster, WorkerId};
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
// The tally variant carries a whole `Counters` (the largest); changes live only for one apply call, so
// boxing it would cost an allocation per tally write for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Store the case (owned or a watcher's copy), replacing the one with its id.
    Case(Box<Case>),
    /// Open-deadline index of owned cases (for overdue counts and supervision).
    DueAdd {
        /// The case's handling deadline: the index key, with the case id.
        due: Millis,
        /// The case.
        case_id: String,
        /// The case's report day (days since 1970-01-01, Beijing time), to count overdue cases by day.
        day: i64,
        /// The case's grid, to count overdue cases by grid.
        grid: Code,
    },
    /// Take a case out of the open-deadline index (closed, cancelled, suspended, handed over, or its
    /// deadline moved).
    DueRemove {
        /// The deadline it was indexed under.
        due: Millis,
        /// The case.
        case_id: String,
    },
    /// Remember which case a request id created.
    Request {
        /// The client's request id (for Open311, prefixed with the key's channel).
        request_id: String,
        /// The case it created.
        case_id: String,
    },
    /// The node's case counter.
    Seq(u64),
    /// Replace the tally entry of `key` (this node's own, or one rolled up from a child).
    Tally {
        /// Owner, report day and grid.
        key: TallyKey,
        /// The entry's new counters and version.
        tally: Tally,
    },
    /// A message queued for neighbour `peer` under link sequence `seq`.
    Outbox {
        /// The neighbour (parent or child) the message leaves through.
        peer: Code,
        /// Its link sequence number, one more than the previous message's.
        seq: u64,
        /// The message.
        envelope: Box<Envelope>,
    },
    /// The next sequence number the link to `peer` gives.
    OutboxNext {
        /// The neighbour.
        peer: Code,
        /// The number the next queued message gets.
        next: u64,
    },
    /// Drop queued messages up to `upto`.
    OutboxAck {
        /// The neighbour that applied them.
        peer: Code,
        /// The highest sequence number it applied; messages up to it, inclusive, are dropped.
        upto: u64,
    },
    /// The highest sequence number applied from neighbour `from`; lower ones are resends.
    InboxHwm {
        /// The neighbour.
        from: Code,
        /// Its high-water mark.
        hwm: u64,
    },
    /// Replace how fresh a node below is (from a rollup, or this node's own).
    Fresh(Freshness),
    /// Register a department, or update its limit (keyed by name).
    Department(Department),
    /// An access token, created or revoked.
    Token(Box<AccessToken>),
    /// The node's grid boundaries, replaced by a newer set.
    Grids(Box<GridSet>),
    /// A key of an integrating system, created or revoked.
    ApiKey(Box<ApiKey>),
    /// The node's roster of grid workers, replaced whole (a roster is a few dozen workers).
    Roster(Box<Roster>),
    /// A patrol (日巡查), started or ended. The store also keeps which patrol each worker is on: the
    /// latest started and not ended.
    Patrol(Box<Patrol>),
    /// The last patrol number given by this node (ids are never reused).
    PatrolNumber(u32),
    /// Mark (or, with None, unmark) the link to `peer` as restored.
    Restored {
        /// The neighbour.
        peer: Code,
        /// What remains to resynchronise on the link; None once it is done.
        link: Option<RestoredLink>,
    },
}

/// What the state machine reads; writes of earlier commands in the same apply call must be visible.
pub trait Store {
    /// A storage failure; it aborts the apply, which is retried with the whole entry.
    type Error;
    /// The case with id `id` (owned, or a watcher's read-only copy).
    fn case(&mut self, id: &str) -> Result<Option<Case>, Self::Error>;
    /// The id of the case a client request id created, if it was seen.
    fn request(&mut self, request_id: &str) -> Result<Option<String>, Self::Error>;
    /// The node's case counter: the sequence number of the last case it created (0 for none).
    fn seq(&mut self) -> Result<u64, Self::Error>;
    /// The tally entry of `key`, if there is one.
    fn tally(&mut self, key: &TallyKey) -> Result<Option<Tally>, Self::Error>;
    /// The next sequence to assign on the link to `peer` (1 for a new link).
    fn outbox_next(&mut self, peer: &Code) -> Result<u64, Self::Error>;
    /// The highest sequence applied from `from` (0 for none).
    fn inbox_hwm(&mut self, from: &Code) -> Result<u64, Self::Error>;
    /// The latest freshness record of `node` (this node or one below it).
    fn fresh(&mut self, node: &Code) -> Result<Option<Freshness>, Self::Error>;
    /// The department registered here under `name`.
    fn department(&mut self, name: &str) -> Result<Option<Department>, Self::Error>;
    /// The access token with public id `id` (revoked ones included).
    fn token(&mut self, id: &str) -> Result<Option<AccessToken>, Self::Error>;
    /// The version of the node's grid boundaries, if it holds any.
    fn grid_version(&mut self) -> Result<Option<MapVersion>, Self::Error>;
    /// Where the WGS-84 point lies on the node's grid boundaries (the most specific place).
    fn locate(&mut self, lat: f64, lon: f64) -> Result<Option<Located>, Self::Error>;
    /// The key of an integrating system with public id `id` (revoked ones included).
    fn api_key(&mut self, id: &str) -> Result<Option<ApiKey>, Self::Error>;
    /// The roster of grid workers this node keeps, if it has one.
    fn roster(&mut self) -> Result<Option<Roster>, Self::Error>;
    /// Every grid and micro-grid on the node's grid boundaries; None when it holds none.
    fn places(&mut self) -> Result<Option<BTreeSet<PlaceCode>>, Self::Error>;
    /// The rectangle around unit grid `grid` on the node's grid boundaries (WGS-84); None without one.
    fn grid_bounds(&mut self, grid: &Code) -> Result<Option<BBox>, Self::Error>;
    /// Patrol `id` of this node.
    fn patrol(&mut self, id: &PatrolId) -> Result<Option<Patrol>, Self::Error>;
    /// The patrol `worker` last started, if it has not ended.
    fn open_patrol(&mut self, worker: &WorkerId) -> Result<Option<Patrol>, Self::Error>;
    /// The last patrol number this node gave (0 before the first).
    fn patrol_number(&mut self) -> Result<u32, Self::Error>;
    /// The messages queued for `peer`, in sequence order.
    fn queued(&mut self, peer: &Code) -> Result<Vec<(u64, Envelope)>, Self::Error>;
    /// Whether the link to `peer` was restored from a backup, and what remains to resynchronise.
    fn restored(&mut self, peer: &Code) -> Result<Option<RestoredLink>, Self::Error>;
    /// Makes `change`; later reads of the same apply call see it.
    fn write(&mut self, change: Change) -> Result<(), Self::Error>;
}

/// The node's identity, neighbours and rules: the same on every replica (from the config).
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    /// This node's code (district, street or community).
    pub node: &'a Code,
    /// The deadline policy: registration and handling limits, the working calendar.
    pub policy: &'a DeadlinePolicy,
    /// The categories reports may use.
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
