//! The case record (案件/工单): what was reported, where it stands, who owns it, and every step it took.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::code::Code;
use crate::Millis;

/// Longest title, in characters (Chinese characters count as one).
pub const MAX_TITLE_CHARS: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest note, reason, reporter, actor, address or handler name, in characters.
pub const MAX_SHORT_CHARS: usize = 200;
/// Longest client request id, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// Where a case stands in the national seven-stage lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// 上报: entered, not yet accepted.
    Reported,
    /// 立案: accepted as valid; the registration clock is met.
    Registered,
    /// 派遣: sent to a handler; the handling clock runs.
    Dispatched,
    /// 处置: the handler is working on it.
    Handling,
    /// 处理反馈: the handler reports it done; awaiting verification.
    Handled,
    /// 核查结案: verified and closed.
    Closed,
    /// 作废: not a valid case.
    Cancelled,
    /// 挂账: parked with approval; the clock stops.
    Suspended,
}

impl CaseState {
    /// Every state, in lifecycle order (reported first, suspended last); the order `parse` tries.
    pub const ALL: [CaseState; 8] = [
        CaseState::Reported,
        CaseState::Registered,
        CaseState::Dispatched,
        CaseState::Handling,
        CaseState::Handled,
        CaseState::Closed,
        CaseState::Cancelled,
        CaseState::Suspended,
    ];

    /// The snake_case name used in the API, the CLI and stored records (`reported`, `handling`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Reported => "reported",
            CaseState::Registered => "registered",
            CaseState::Dispatched => "dispatched",
            CaseState::Handling => "handling",
            CaseState::Handled => "handled",
            CaseState::Closed => "closed",
            CaseState::Cancelled => "cancelled",
            CaseState::Suspended => "suspended",
        }
    }

    /// Parses the snake_case name, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<CaseState, crate::field::FieldError> {
        CaseState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            crate::field::FieldError::new(
                field,
                format!(
                    "unknown state {s:?}; expected one of {}",
                    CaseState::ALL.map(|s| s.as_str()).join(", ")
                ),
            )
        })
    }

    /// Closed and cancelled cases take no further action.
    pub fn is_terminal(self) -> bool {
        matches!(self, CaseState::Closed | CaseState::Cancelled)
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a case entered the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 网格员巡查: found by a grid worker on patrol.
    Patrol,
    /// 12345 热线: a citizens' hotline ticket.
    Hotline,
    /// 群众上报: reported by the public (app, mini-program).
    Public,
    /// 视频监控: cameras and AI detection.
    Video,
    /// 上级交办: assigned from an upper level.
    AssignedFromAbove,
}

impl Source {
    /// Every source, in declaration order.
    pub const ALL: [Source; 5] =
        [Source::Patrol, Source::Hotline, Source::Public, Source::Video, Source::AssignedFromAbove];

    /// The snake_case name used in the API, the CLI and stored records (`patrol`, `hotline`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Patrol => "patrol",
            Source::Hotline => "hotline",
            Source::Public => "public",
            Source::Video => "video",
            Source::AssignedFromAbove => "assigned_from_above",
        }
    }

    /// Parses the snake_case name, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Source, crate::field::FieldError> {
        Source::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            crate::field::FieldError::new(
                field,
                format!(
                    "unknown source {s:?}; expected one of {}",
                    Source::ALL.map(|s| s.as_str()).join(", ")
                ),
            )
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Urgency of a case, as the reporter or an operator rates it. Recorded and shown only: deadlines depend on
/// the category and the handler kind, not on the priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Can wait behind other work.
    Low,
    /// The usual priority; reports without one given get this.
    Normal,
    /// To be handled before normal cases.
    High,
    /// Needs attention at once (a hazard to people or property).
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    /// The snake_case name used in the API, the CLI and stored records (`low` ... `urgent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Parses the snake_case name, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Priority, crate::field::FieldError> {
        Priority::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            crate::field::FieldError::new(
                field,
                format!(
                    "unknown priority {s:?}; expected one of {}",
                    Priority::ALL.map(|s| s.as_str()).join(", ")
                ),
            )
        })
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the problem is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Location {
    /// Latitude in degrees, WGS-84 (-90 to 90); None when only an address was given. Set together with `lon`.
    pub lat: Option<f64>,
    /// Longitude in degrees, WGS-84 (-180 to 180); None exactly when `lat` is None.
    pub lon: Option<f64>,
    /// The address as reported (e.g. 泉城路 180 号); may be empty when a point is given.
    pub address: String,
}

/// Who a case is dispatched to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handler {
    /// Grid worker, community, street or department: picks the handling time limit of the step it is
    /// dispatched (a department's own limit, when the node registered one).
    pub kind: HandlerKind,
    /// Name or id of the worker, unit or department (e.g. "张伟", "城管执法中队").
    pub name: String,
}

/// The kind of handler, which decides the deadline tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    /// 网格员: solved in the grid (1 day under "7123").
    GridWorker,
    /// 社区: the community's own staff (2 days).
    Community,
    /// 街道 unit or office (3 days).
    Street,
    /// A functional department summoned by a whistle (吹哨).
    Department,
}

impl HandlerKind {
    /// Every kind, from the grid up to the departments.
    pub const ALL: [HandlerKind; 4] =
        [HandlerKind::GridWorker, HandlerKind::Community, HandlerKind::Street, HandlerKind::Department];

    /// The snake_case name used in the API, the CLI and stored records (`grid_worker`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerKind::GridWorker => "grid_worker",
            HandlerKind::Community => "community",
            HandlerKind::Street => "street",
            HandlerKind::Department => "department",
        }
    }

    /// Parses the snake_case name, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<HandlerKind, crate::field::FieldError> {
        HandlerKind::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            crate::field::FieldError::new(
                field,
                format!(
                    "unknown handler kind {s:?}; expected one of {}",
                    HandlerKind::ALL.map(|s| s.as_str()).join(", ")
                ),
            )
        })
    }
}

/// One step in a case's audit trail: who did what, when, from which state to which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, by the leader's clock.
    pub at: Millis,
    /// Who says they acted (free text from the client: a name, 督办 for supervision).
    pub actor: String,
    /// The action's name (`report`, `register`, ...).
    pub action: String,
    /// The state before (None for the report itself).
    pub from: Option<CaseState>,
    /// The state after.
    pub to: CaseState,
    /// The reason or instructions given.
    pub note: String,
    /// Who actually acted, as authenticated by the node: the caller's certificate identity and subject
    /// (`gridfed://370102001/operator CN=王芳`), or the replica itself for automatic steps. Empty in
    /// entries written before it was recorded, and on nodes run without TLS.
    #[serde(default)]
    pub by: String,
}

/// A case (案件/工单).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Globally unique and stable across levels: `{origin node}-{yyyymmdd}-{seq}`.
    pub id: String,
    /// The unit grid (15 digits) the case belongs to.
    pub grid: Code,
    /// 4-digit category code (see `category`).
    pub category: String,
    /// How the case entered the system; fixed at the report.
    pub source: Source,
    /// Short summary shown in lists (e.g. 小区门口暴露垃圾), at most `MAX_TITLE_CHARS` characters.
    pub title: String,
    /// Details as reported, at most `MAX_DESCRIPTION_CHARS` characters; may be empty.
    pub description: String,
    /// Where the problem is, as reported; None when the report named only the grid.
    pub location: Option<Location>,
    /// Who reported it, as the client named them (a worker, 市民, a hotline agent); the report's actor.
    pub reporter: String,
    /// Urgency as reported; shown, but does not change any deadline.
    pub priority: Priority,
    /// The node that created the case.
    pub origin: Code,
    /// The node that currently owns the case; only the owner may act on it.
    pub owner: Code,
    /// Incremented by every change; actions may carry the version they expect.
    pub version: u64,
    /// Where the case stands now; moved only by the owner (see `workflow::apply`).
    pub state: CaseState,
    /// The state a suspended case resumes to.
    pub suspended_from: Option<CaseState>,
    /// Who the case is dispatched to; None before the first dispatch and after a hand-over between nodes.
    pub handler: Option<Handler>,
    /// When it was reported (上报), by the clock of the leader of the node that took it in.
    pub reported_at: Millis,
    /// When it was registered (立案); None while only reported. A hand-over between nodes keeps it.
    pub registered_at: Option<Millis>,
    /// When the current handler's step started: its dispatch. A dispatch to another handler moves it
    /// (with `due_at`); a dispatch to the same handler again does not. None before, and after a hand-over.
    pub dispatched_at: Option<Millis>,
    /// When the handler last reported it done (处理反馈); cleared by a return and by a hand-over.
    pub handled_at: Option<Millis>,
    /// When it was closed (结案) or cancelled (作废); None while the case is open.
    pub closed_at: Option<Millis>,
    /// When it was suspended (挂账); None unless suspended. Resuming moves `due_at` and `overall_due` on by
    /// the working time since (see `DeadlinePolicy::moved_by`).
    pub suspended_at: Option<Millis>,
    /// Registration deadline (7 minutes after the report under "7123").
    pub register_due: Millis,
    /// The step deadline of the current handler (what its light and supervision use): set by a dispatch
    /// to a new handler from its limit, moved by extensions and suspensions, cleared by a hand-over
    /// between nodes.
    pub due_at: Option<Millis>,
    /// Number of returns (返工).
    pub returns: u32,
    /// Number of extensions (延时).
    pub extensions: u32,
    /// Ownership epoch: incremented by every hand-over between nodes (escalation, sending down).
    pub epoch: u64,
    /// Nodes that held or created the case and keep a read-only copy that receives status updates.
    pub watchers: Vec<Code>,
    /// Every change, oldest first: the report, each action, placements; at most `bounds::MAX_AUDIT_ENTRIES`.
    pub audit: Vec<AuditEntry>,
    /// The micro-grid, photos, media link and sending system intake recorded (none for older cases).
    #[serde(default)]
    pub intake: crate::intake::Intake,
    /// The case's overall handling deadline, what 按期结案 is judged by (see `closed_on_time`). Set once,
    /// by the case's first dispatch anywhere (to that handler's limit: the clock starts at dispatch), and
    /// never reset by a re-dispatch, an escalation or a sending down, so "7123" is a limit for the case,
    /// not a fresh one per level. Suspensions and extensions move it by the working time they move the
    /// step deadline. None before the first dispatch, and in records written before it existed (then
    /// `due_at` stands in for it; see `overall_deadline`).
    #[serde(default)]
    pub overall_due: Option<Millis>,
    /// The handler's check-in on site (到场): the first one, with where when the phone gave it. "7" of
    /// "7123" is a grid worker face to face with the resident within 7 minutes of a hotline ticket.
    #[serde(default)]
    pub on_site: Option<OnSite>,
    /// How many times the case was urged (催办): the handler kept, a push recorded.
    #[serde(default)]
    pub urges: u32,
    /// How many times the node's supervision escalated it for being overdue (督办).
    #[serde(default)]
    pub supervised: u32,
}

/// A check-in on site (到场).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnSite {
    /// When, by the leader's clock.
    pub at: Millis,
    /// Where, WGS-84 (latitude, longitude), when the phone sent it.
    pub point: Option<(f64, f64)>,
}

impl Case {
    /// The most specific place of the case: the micro-grid its point lies in, else its unit grid (what
    /// dispatch by place looks a worker up by).
    pub fn place(&self) -> Result<crate::geo::PlaceCode, crate::geo::PlaceError> {
        match &self.intake.micro {
            Some(micro) => Ok(micro.clone()),
            None => crate::geo::PlaceCode::unit("grid", &self.grid),
        }
    }

    /// Checked in on site within the 7 minutes of "7123" after the report (the registration limit,
    /// `register_due`, is the same 7 minutes from the same moment).
    pub fn on_site_in_time(&self) -> bool {
        self.on_site.as_ref().is_some_and(|o| o.at <= self.register_due)
    }

    /// An open case past its step deadline at `now` (suspended cases have their clock stopped).
    pub fn is_overdue(&self, now: Millis) -> bool {
        !self.state.is_terminal()
            && self.state != CaseState::Suspended
            && self.due_at.is_some_and(|due| now > due)
    }

    /// The deadline the case as a whole is judged by: `overall_due`, or for records written before it
    /// existed the step deadline `due_at`.
    pub fn overall_deadline(&self) -> Option<Millis> {
        self.overall_due.or(self.due_at)
    }

    /// Closed no later than its overall deadline (按期结案; otherwise 超期结案), however many levels and
    /// handlers it went through. A case closed without ever having a deadline counts as on time.
    pub fn closed_on_time(&self) -> bool {
        match (self.closed_at, self.overall_deadline()) {
            (Some(closed), Some(due)) => closed <= due,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// The department handling the case, if it was dispatched to one (吹哨).
    pub fn department(&self) -> Option<&str> {
        self.handler.as_ref().filter(|h| h.kind == HandlerKind::Department).map(|h| h.name.as_str())
    }

    /// True while the case waits unassigned (待分派) for an operator to place it on a grid.
    pub fn is_unplaced(&self) -> bool {
        self.grid.is_unassigned_grid()
    }

    /// The key under which the overdue index keeps this case, if it is open with a deadline.
    pub fn open_deadline(&self) -> Option<Millis> {
        if self.state.is_terminal() || self.state == CaseState::Suspended {
            None
        } else {
            self.due_at
        }
    }
}
