//! What the replicated log carries (commands), what applying one returns (outcomes), and the typed
//! pairing of the two ([`Proposal`]), so a caller that proposes an `Act` gets back a case or a refusal
//! and never has to handle another command's outcome.

use serde::{Deserialize, Serialize};

use crate::access::{AccessRole, AccessToken};
use crate::case::{Case, Source};
use crate::code::Code;
use crate::geo::{PlaceCode, StoredMap};
use crate::grids::MapVersion;
use crate::intake::apikey::ApiKey;
use crate::intake::Photo;
use crate::link::Envelope;
use crate::people::{Patrol, PatrolId, Phone, Role, RoutePoint, Row, Worker, WorkerId};
use crate::tally::{Freshness, Tally, TallyKey};
use crate::workflow::{Step, WorkflowError};

pub use super::validate::NewCase;

/// A functional department a street or district can dispatch cases to (吹哨).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// The department's name, e.g. 区城管执法局.
    pub name: String,
    /// Handling limit of cases dispatched to it, in minutes.
    pub minutes: i64,
}

/// An action on an owned case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Act {
    /// The case acted on.
    pub case_id: String,
    /// The action, who takes it and why.
    pub step: Step,
    /// Photos after handling (处置后) that come with it (metadata; the bytes are in the replicas'
    /// photo directories).
    #[serde(default)]
    pub photos: Vec<Photo>,
    /// The protocol whose clock rules the action applies by: [`crate::protocol::CLOCKS`] and later keep
    /// the case's clocks in working time (`workflow::ClockRules::Working`); 0, as in every action logged
    /// before, applies as it did then. The leader sets it to what every replica of the node speaks.
    #[serde(default)]
    pub rules: u32,
    /// Where the handler checked in on site (`arrive`), WGS-84 (latitude, longitude), when given.
    #[serde(default)]
    pub point: Option<(f64, f64)>,
    /// An escalation by the node's own supervision (督办), counted as such; set only by the node's
    /// supervision task, never from a client's request.
    #[serde(default)]
    pub supervision: bool,
}

impl Act {
    /// `step` on `case_id`, without photos.
    pub fn new(case_id: impl Into<String>, step: Step) -> Act {
        Act {
            case_id: case_id.into(),
            step,
            photos: Vec::new(),
            rules: crate::protocol::CLOCKS,
            point: None,
            supervision: false,
        }
    }
}

/// Messages from neighbour `from`, in its link order; each is applied once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receive {
    /// The neighbour that sent them.
    pub from: Code,
    /// (link sequence number, message), as the sender numbered them.
    pub batch: Vec<(u64, Envelope)>,
}

/// Neighbour `peer` has applied our messages up to `upto`; they leave the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acked {
    /// The neighbour that applied them.
    pub peer: Code,
    /// The highest link sequence number it applied.
    pub upto: u64,
}

/// A child's rollup: tally entries and freshness of its subtree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// The child that pushed it.
    pub from: Code,
    /// Versioned tally entries of the child's subtree.
    pub entries: Vec<(TallyKey, Tally)>,
    /// How fresh each node of the child's subtree is.
    pub fresh: Vec<Freshness>,
}

/// Create an access token (`gridnode access token create`). The secret never enters the log: only
/// its SHA-256. The token expires `ttl_ms` after the leader-stamped time of the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreate {
    /// Public id, 4 to 32 lowercase hex digits, unique on the node.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// The subtree it grants: this node or one above it.
    pub scope: Code,
    /// Viewer (wall screens, read only) or operator.
    pub role: AccessRole,
    /// SHA-256 of the secret, 64 lowercase hex digits.
    pub hash: String,
    /// Lifetime from the entry's time.
    pub ttl_ms: i64,
    /// The creator's certificate identity.
    pub created_by: String,
}

/// Revoke an access token; revoking a revoked token changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoke {
    /// The token's public id (lowercase hex).
    pub id: String,
}

/// Import grid boundaries (`gridnode grids import`): checked at the edge (geometry, overlaps), then
/// here again place by place and against the node (see `grids`). A new version of the node's set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridsImport {
    /// The grids and micro-grids of the node's subtree, with their outlines; replaces the set held.
    pub map: StoredMap,
    /// Who imported it (the caller as the node authenticated it).
    #[serde(default)]
    pub by: String,
}

/// Place an unassigned case (待分派) on a grid: it is then routed to the grid's community as any
/// report is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// The unassigned case to place; it must be owned here and waiting on an unassigned grid.
    pub case_id: String,
    /// The unit grid it belongs to.
    pub grid: Code,
    /// Who says they place it.
    pub actor: String,
    /// Why it goes there (optional); added to the audit entry's note.
    #[serde(default)]
    pub note: String,
    /// Refuse unless the case is at this version; None: whatever its version.
    pub expected_version: Option<u64>,
    /// Who places it, as the node authenticated the caller.
    #[serde(default)]
    pub by: String,
}

/// Create a key for an integrating system (Open311 `api_key`); only the secret's SHA-256 is logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyCreate {
    /// Public id, 4 to 32 lowercase hex digits, unique on the node.
    pub id: String,
    /// The system it is for, e.g. 12345热线.
    pub name: String,
    /// The subtree it may report into: this node or one below.
    pub scope: Code,
    /// The source its reports are recorded with.
    pub source: Source,
    /// SHA-256 of the secret, 64 lowercase hex digits.
    pub hash: String,
    /// The creator's certificate identity.
    pub created_by: String,
}

/// Revoke a key; revoking a revoked key changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRevoke {
    /// The key's public id (lowercase hex).
    pub id: String,
}

/// A change to the roster this node keeps (网格员名册): a community's grid workers, a street's own
/// staff. Checked by `people::Roster` against the node and its grid boundaries (see `staff`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    /// What changes.
    pub op: StaffOp,
    /// Who changes it, as the node authenticated the caller.
    #[serde(default)]
    pub by: String,
}

/// One change to a roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StaffOp {
    /// Add a worker; the id is the next unused number of this node (`W370102001001-007`).
    Add {
        /// Full name.
        name: String,
        /// Post in the grid.
        role: Role,
        /// Mobile number.
        phone: Phone,
        /// Unit grids and micro-grids they are responsible for.
        places: Vec<PlaceCode>,
    },
    /// Assign places to an active worker, in addition to theirs.
    Assign {
        /// The worker.
        id: WorkerId,
        /// The grids and micro-grids added.
        places: Vec<PlaceCode>,
    },
    /// Take one place from a worker.
    Unassign {
        /// The worker.
        id: WorkerId,
        /// The place taken.
        place: PlaceCode,
    },
    /// Deactivate a worker (left, long leave): kept for history, never dispatched to.
    Deactivate {
        /// The worker.
        id: WorkerId,
    },
    /// Reactivate a deactivated worker.
    Reactivate {
        /// The worker.
        id: WorkerId,
    },
    /// Import a roster sheet (网格员花名册): every row or none (see `people::sheet`).
    Import {
        /// The sheet's rows as text, the header first.
        rows: Vec<Row>,
    },
}

/// A step of the patrol log (日巡查) this node keeps: a grid worker of its roster starts a patrol of a
/// grid, and ends it with the route walked (see `patrol`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolCmd {
    /// The step.
    pub op: PatrolOp,
    /// Who takes it, as the node authenticated the caller.
    #[serde(default)]
    pub by: String,
}

/// One step of a patrol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PatrolOp {
    /// Start a patrol now; the id is the next unused patrol number of this node
    /// (`P370102001001-000123`).
    Start {
        /// Who walks it: an active worker of this node's roster.
        worker: WorkerId,
        /// The unit grid patrolled.
        grid: Code,
    },
    /// End a patrol now, with its route.
    End {
        /// The patrol.
        id: PatrolId,
        /// The points walked, in time order, WGS-84 (converted at the edge); may be empty.
        route: Vec<RoutePoint>,
    },
}

/// The neighbour `peer` has applied our messages up to `applied`, more than this node's own (older)
/// state accounts for: after a restore from a backup, or when `applied` exceeds every sequence number
/// this node ever gave the link. Every queued message for `peer` is numbered again from `applied + 1`,
/// in order, so none is skipped as a resend (a message the neighbour already had is applied again
/// harmlessly: transfers and status updates are idempotent by epoch and version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resequence {
    /// The neighbour.
    pub peer: Code,
    /// Its high-water mark for this link.
    pub applied: u64,
}

/// A command in the replicated log. Variants carry the typed proposals below (bincode encodes
/// `Act(Act { case_id, step })` exactly as it encoded the former `Act { case_id, step }`).
// A report is the most common command and the largest; it is built once and moved into a batch, so
// boxing it would cost an allocation per report for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// A new case (上报).
    Report(NewCase),
    /// An action on an owned case.
    Act(Act),
    /// Messages from a neighbour.
    Receive(Receive),
    /// A neighbour's acknowledgement of our messages.
    Acked(Acked),
    /// A child's statistics.
    Rollup(Rollup),
    /// Register (or update) a department.
    Department(Department),
    /// Create an access token.
    TokenCreate(TokenCreate),
    /// Revoke an access token.
    TokenRevoke(TokenRevoke),
    /// Renumber a link's queued messages above the neighbour's high-water mark (protocol 2).
    Resequence(Resequence),
    /// Import grid boundaries.
    GridsImport(GridsImport),
    /// Place an unassigned case on a grid.
    Place(Place),
    /// Create a key of an integrating system.
    ApiKeyCreate(ApiKeyCreate),
    /// Revoke a key of an integrating system.
    ApiKeyRevoke(ApiKeyRevoke),
    /// Change the roster of grid workers.
    Staff(Staff),
    /// Start or end a patrol.
    Patrol(PatrolCmd),
}

impl Command {
    /// The protocol version that introduced this command (see `crate::protocol`): a leader proposes it
    /// only when every replica of its node announces that version or a later one.
    pub fn since(&self) -> u32 {
        match self {
            // A report found on a patrol needs the patrol log.
            Command::Report(n) if n.intake.patrol.is_some() => crate::protocol::PEOPLE,
            // A report located by its point, or carrying intake's fields, is read only from INTAKE on.
            Command::Report(n)
                if n.grid.is_none() || n.within.is_some() || n.intake != Default::default() =>
            {
                crate::protocol::INTAKE
            }
            Command::Act(a)
                if is_by_roster(a)
                    || a.supervision
                    || matches!(
                        a.step.action,
                        crate::workflow::Action::Arrive | crate::workflow::Action::Urge
                    ) =>
            {
                crate::protocol::PEOPLE
            }
            Command::Act(a) if a.rules >= crate::protocol::CLOCKS => crate::protocol::CLOCKS,
            Command::Act(a) if !a.photos.is_empty() => crate::protocol::INTAKE,
            Command::Report(_)
            | Command::Act(_)
            | Command::Receive(_)
            | Command::Acked(_)
            | Command::Rollup(_)
            | Command::Department(_)
            | Command::TokenCreate(_)
            | Command::TokenRevoke(_) => 1,
            Command::Resequence(_) => 2,
            Command::GridsImport(_)
            | Command::Place(_)
            | Command::ApiKeyCreate(_)
            | Command::ApiKeyRevoke(_) => crate::protocol::INTAKE,
            Command::Staff(_) | Command::Patrol(_) => crate::protocol::PEOPLE,
        }
    }
}

/// The handler name that asks for dispatch by place (`--to-worker auto`, 精准派单).
pub const AUTO_WORKER: &str = "auto";

/// Whether `a` needs the roster to apply: a dispatch to a grid worker named `auto` or by a worker id.
fn is_by_roster(a: &Act) -> bool {
    match &a.step.action {
        crate::workflow::Action::Dispatch { handler } => {
            handler.kind == crate::case::HandlerKind::GridWorker
                && (handler.name == AUTO_WORKER || WorkerId::parse("handler.name", &handler.name).is_ok())
        }
        _ => false,
    }
}

/// Why a command was refused. Each names the field at fault where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Refusal {
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault (`grid`, `location.lat`, `photos[0].kind`, ...).
        field: String,
        /// What is wrong with it, and what is accepted.
        message: String,
    },
    /// No such case here.
    #[error("case_id: no case {case} on this node")]
    NotFound {
        /// The case id asked for.
        case: String,
    },
    /// The case is here only as a read-only copy.
    #[error("case {case} is owned by node {owner}, not by this node; act there")]
    NotOwner {
        /// The case id.
        case: String,
        /// The code of the node that owns it, where the action must be taken.
        owner: String,
    },
    /// The sender is not the parent or a child.
    #[error("node {from} is not a neighbour of this node")]
    NotNeighbour {
        /// The code of the node that sent it.
        from: String,
    },
    /// The workflow does not allow it.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid { field: field.to_string(), message: message.into() }
}

/// The result of one command, as the state machine returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The case as stored; `duplicate` when the request id had been seen and no case was created.
    Reported {
        /// The case as stored.
        case: Box<Case>,
        /// True when the request id had been seen: `case` is the one it created.
        duplicate: bool,
    },
    /// The case after the action.
    Acted {
        /// The case as stored after the action (or the placement).
        case: Box<Case>,
    },
    /// The highest sequence applied from the sender.
    Received {
        /// The highest link sequence number applied from the sender, after this batch.
        hwm: u64,
    },
    /// Applied, nothing to return.
    Done,
    /// The access token as stored (created or revoked).
    Token(Box<AccessToken>),
    /// Refused; nothing changed.
    Refused(Refusal),
    /// Grid boundaries imported: the new version and how many places it holds.
    Imported {
        /// The version of the new set: this entry's time, this node and log index.
        version: MapVersion,
        /// How many places (grids and micro-grids) the set holds.
        places: u64,
    },
    /// A key of an integrating system as stored (created or revoked).
    ApiKey(Box<ApiKey>),
    /// The workers a roster change touched, as stored after it.
    Staff(Vec<Worker>),
    /// A patrol as stored after the step.
    Patrol(Box<Patrol>),
}

/// What a report returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    /// The case as stored.
    pub case: Box<Case>,
    /// The request id had been seen: this is the case it created, and no new one was made.
    pub duplicate: bool,
}

/// A command with its typed result: `Output` when applied, a `Refusal` when refused.
pub trait Proposal: Into<Command> {
    /// What applying it returns.
    type Output;
    /// The typed result of `outcome`, or the outcome back when it does not belong to this command
    /// (which only a bug can cause).
    fn output(outcome: Outcome) -> Result<Result<Self::Output, Refusal>, Outcome>;
}

fn refused_or<T>(
    o: Outcome,
    f: impl FnOnce(Outcome) -> Result<T, Outcome>,
) -> Result<Result<T, Refusal>, Outcome> {
    match o {
        Outcome::Refused(r) => Ok(Err(r)),
        other => f(other).map(Ok),
    }
}

impl From<NewCase> for Command {
    fn from(v: NewCase) -> Command {
        Command::Report(v)
    }
}

impl Proposal for NewCase {
    type Output = Reported;
    fn output(o: Outcome) -> Result<Result<Reported, Refusal>, Outcome> {
        refused_or(o, |o| match o {
            Outcome::Reported { case, duplicate } => Ok(Reported { case, duplicate }),
            other => Err(other),
        })
    }
}

impl From<Act> for Command {
    fn from(v: Act) -> Command {
        Command::Act(v)
    }
}

impl Proposal for Act {
    type Output = Box<Case>;
    fn output(o: Outcome) -> Result<Result<Box<Case>, Refusal>, Outcome> {
        refused_or(o, |o| match o {
            Outcome::Acted { case } => Ok(case),
            other => Err(other),
        })
    }
}

impl From<Receive> for Command {
    fn from(v: Receive) -> Command {
        Command::Receive(v)
    }
}

impl Proposal for Receive {
    /// The highest sequence applied from the sender.
    type Output = u64;
    fn output(o: Outcome) -> Result<Result<u64, Refusal>, Outcome> {
        refused_or(o, |o| match o {
            Outcome::Received { hwm } => Ok(hwm),
            other => Err(other),
        })
    }
}

fn done(o: Outcome) -> Result<Result<(), Refusal>, Outcome> {
    refused_or(o, |o| match o {
        Outcome::Done => Ok(()),
        other => Err(other),
    })
}

impl From<Acked> for Command {
    fn from(v: Acked) -> Command {
        Command::Acked(v)
    }
}

impl Proposal for Acked {
    type Output = ();
    fn output(o: Outcome) -> Result<Result<(), Refusal>, Outcome> {
        done(o)
    }
}

impl From<Rollup> for Command {
    fn from(v: Rollup) -> Command {
        Command::Rollup(v)
    }
}

impl Proposal for Rollup {
    type Output = ();
    fn output(o: Outcome) -> Result<Result<(), Refusal>, Outcome> {
        done(o)
    }
}

impl From<Department> for Command {
    fn from(v: Department) -> Command {
        Command::Department(v)
    }
}

impl Proposal for Department {
    type Output = ();
    fn output(o: Outcome) -> Result<Result<(), Refusal>, Outcome> {
        done(o)
    }
}

fn token(o: Outcome) -> Result<Result<AccessToken, Refusal>, Outcome> {
    refused_or(o, |o| match o {
        Outcome::Token(t) => Ok(*t),
        other => Err(other),
    })
}

impl From<TokenCreate> for Command {
    fn from(v: TokenCreate) -> Command {
        Command::TokenCreate(v)
    }
}

impl Proposal for TokenCreate {
    type Output = AccessToken;
    fn output(o: Outcome) -> Result<Result<AccessToken, Refusal>, Outcome> {
        token(o)
    }
}

impl From<TokenRevoke> for Command {
    fn from(v: TokenRevoke) -> Command {
        Command::TokenRevoke(v)
    }
}

impl Proposal for TokenRevoke {
    type Output = AccessToken;
    fn output(o: Outcome) -> Result<Result<AccessToken, Refusal>, Outcome> {
        token(o)
    }
}

impl From<GridsImport> for Command {
    fn from(v: GridsImport) -> Command {
        Command::GridsImport(v)
    }
}

impl Proposal for GridsImport {
    /// The new version and its number of places.
    type Output = (MapVersion, u64);
    fn output(o: Outcome) -> Result<Result<(MapVersion, u64), Refusal>, Outcome> {
        refused_or(o, |o| match o {
            Outcome::Imported { version, places } => Ok((version, places)),
            other => Err(other),
        })
    }
}

impl From<Place> for Command {
    fn from(v: Place) -> Command {
        Command::Place(v)
    }
}

impl Proposal for Place {
    type Output = Box<Case>;
    fn output(o: Outcome) -> Result<Result<Box<Case>, Refusal>, Outcome> {
        refused_or(o, |o| match o {
            Outcome::Acted { case } => Ok(case),
            other => Err(other),
        })
    }
}

fn api_key(o: Outcome) -> Result<Result<ApiKey, Refusal>, Outcome> {
    refused_or(o, |o| match o {
        Outcome::ApiKey(k) => Ok(*k),
        other => Err(other),
    })
}

impl From<ApiKeyCreate> for Command {
    fn from(v: ApiKeyCreate) -> Command {
        Command::ApiKeyCreate(v)
    }
}

impl Proposal for ApiKeyCreate {
    type Output = ApiKey;
    fn output(o: Outcome) -> Result<Result<ApiKey, Refusal>, Outcome> {
        api_key(o)
    }
}

impl From<ApiKeyRevoke> for Command {
    fn from(v: ApiKeyRevoke) -> Command {
        Command::ApiKeyRevoke(v)
    }
}

impl Proposal for ApiKeyRevoke {
    type Output = ApiKey;
    fn output(o: Outcome) -> Result<Result<ApiKey, Refusal>, Outcome> {
        api_key(o)
    }
}

impl From<Resequence> for Command {
    fn from(v: Resequence) -> Command {
        Command::Resequence(v)
    }
}

impl Proposal for Resequence {
    type Output = ();
    fn output(o: Outcome) -> Result<Result<(), Refusal>, Outcome> {
        done(o)
    }
}

impl From<Staff> for Command {
    fn from(v: Staff) -> Command {
        Command::Staff(v)
    }
}

impl Proposal for Staff {
    type Output = Vec<Worker>;
    fn output(o: Outcome) -> Result<Result<Vec<Worker>, Refusal>, Outcome> {
        refused_or(o, |o| match o {
            Outcome::Staff(w) => Ok(w),
            other => Err(other),
        })
    }
}

impl From<PatrolCmd> for Command {
    fn from(v: PatrolCmd) -> Command {
        Command::Patrol(v)
    }
}

impl Proposal for PatrolCmd {
    type Output = Box<Patrol>;
    fn output(o: Outcome) -> Result<Result<Box<Patrol>, Refusal>, Outcome> {
        refused_or(o, |o| match o {
            Outcome::Patrol(p) => Ok(p),
            other => Err(other),
        })
    }
}
