//! The case workflow: which action is legal from which state, and what it changes.
//!
//! ```text
//! reported ──register──▶ registered ──dispatch──▶ dispatched ──start──▶ handling ──handled──▶ handled ──close──▶ closed
//!    │                      │                        ▲   (re-dispatch)                          │
//!    └──cancel──▶ cancelled ◀┘                        └──────────────── return (返工) ◀──────────┘
//! any open state after registration ──suspend──▶ suspended ──resume──▶ the state it left
//! dispatched / handling ──extend (new deadline, reason)──▶ same state
//! ```
//! An illegal action is refused and changes nothing; a stale `expected_version` is refused likewise.
//!
//! Two clocks run on a case, both in working time through `DeadlinePolicy::working_due`:
//! - the step deadline (`due_at`, from `dispatched_at`): the current handler's own limit, what its
//!   light and supervision (督办) use. A dispatch to a new handler starts it afresh: its limit of
//!   working time from the dispatch (any re-dispatch to another handler too, so the light and the
//!   deadline always measure the same step); a dispatch to the same handler again changes neither. A
//!   hand-over between nodes clears it; the receiving node's dispatch starts its own.
//! - the overall deadline (`overall_due`): the case's limit, what 按期结案 is judged by. The case's first
//!   dispatch sets it (domain: "任务派遣 (dispatch; the clock and supervision start)"), to the same
//!   moment as that first step deadline; re-dispatches, escalations and sendings down never reset it.
//!
//! Both clocks stop while the case is suspended (挂账): resuming, or handing over a suspended case, moves
//! each on by the working time suspended. An extension (延时) sets the step deadline and moves the overall
//! deadline on by the same working time.

use serde::{Deserialize, Serialize};

use crate::case::{AuditEntry, Case, CaseState, Handler};
use crate::code::Code;
use crate::deadline::DeadlinePolicy;
use crate::Millis;

/// An action an operator takes on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 立案.
    Register,
    /// 作废.
    Cancel,
    /// 派遣 to a handler (again, to re-dispatch).
    Dispatch {
        /// Who handles it; a dispatch to a new handler starts its step deadline from its kind's limit.
        handler: Handler,
    },
    /// 催办: push the handler to get on with it; the handler and the clocks stay, the note says what is
    /// wanted.
    Urge,
    /// 到场: the handler checks in on site (the point comes with the action; see `machine::Act`).
    Arrive,
    /// The handler starts work (处置).
    Start,
    /// 处理反馈: the handler reports it done.
    Handled,
    /// 核查结案: verified on site and closed.
    Close,
    /// 返工: verification failed, back to the handler.
    Return,
    /// 挂账: parked; the clock stops.
    Suspend,
    /// Back to the state it was suspended from; the deadlines move on by the working time suspended.
    Resume,
    /// 延时: a new handling deadline.
    Extend {
        /// The new handling deadline: later than the current one and now, within `max_extension_days`.
        new_due: Millis,
    },
    /// 上报: hand the case to the parent node (ownership moves up with a new epoch).
    Escalate,
    /// 下派 / 协同办: hand an owned case to a node below, with instructions in the note.
    SendDown {
        /// The node below that takes ownership (a street or community under this node).
        to: Code,
    },
}

impl Action {
    /// Every action's name: the one list refusals, the CLI and the API offer.
    pub const NAMES: [&'static str; 14] = [
        "register",
        "cancel",
        "dispatch",
        "urge",
        "arrive",
        "start",
        "handled",
        "close",
        "return",
        "suspend",
        "resume",
        "extend",
        "escalate",
        "send_down",
    ];

    /// The action's snake_case name, one of `NAMES`; also the `action` of its audit entry.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Cancel => "cancel",
            Action::Dispatch { .. } => "dispatch",
            Action::Urge => "urge",
            Action::Arrive => "arrive",
            Action::Start => "start",
            Action::Handled => "handled",
            Action::Close => "close",
            Action::Return => "return",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Extend { .. } => "extend",
            Action::Escalate => "escalate",
            Action::SendDown { .. } => "send_down",
        }
    }

    /// Actions whose reason is mandatory (作废, 返工, 挂账, 延时, 催办).
    fn needs_note(&self) -> bool {
        matches!(
            self,
            Action::Cancel | Action::Return | Action::Suspend | Action::Extend { .. } | Action::Urge
        )
    }
}

/// Why an action was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum WorkflowError {
    /// The action is not legal from the case's current state.
    #[error("action {action:?} is not allowed on case {case} in state {state}; allowed: {allowed}")]
    IllegalAction {
        /// The case's id.
        case: String,
        /// The refused action's name.
        action: String,
        /// The state the case is in.
        state: CaseState,
        /// The actions legal in that state, comma-separated, or a note that the case is final.
        allowed: String,
    },
    /// The step named an `expected_version` the case is no longer (or not yet) at.
    #[error("version: case {case} is at version {actual}, the action expected version {expected}")]
    VersionConflict {
        /// The case's id.
        case: String,
        /// The version the step expected.
        expected: u64,
        /// The version the case is at.
        actual: u64,
    },
    /// A second check-in on site: the first one stands.
    #[error("action: case {case} was checked in on site already, at {at}; the first check-in stands")]
    AlreadyOnSite {
        /// The case's id.
        case: String,
        /// The first check-in's time.
        at: Millis,
    },
    /// A cancel, return, suspend or extension came without a reason.
    #[error("note: action {action:?} needs a note giving the reason")]
    NoteRequired {
        /// The refused action's name.
        action: String,
    },
    /// An extension's new deadline is not later than both the current deadline and now.
    #[error("new_due: the new deadline must be later than the current one ({current}) and than now ({now})")]
    DeadlineNotLater {
        /// The current handling deadline (now, when the case had none).
        current: Millis,
        /// The time of the step.
        now: Millis,
    },
    /// An extension's new deadline lies further from now than the policy's `max_extension_days`.
    #[error(
        "new_due: {new_due} is more than {max_days} days from now ({now}); an extension is limited by \
         deadlines.max_extension_days"
    )]
    ExtensionTooLong {
        /// The deadline asked for.
        new_due: Millis,
        /// The time of the step.
        now: Millis,
        /// The policy's limit, in days.
        max_days: i64,
    },
}

/// Who acts, when (assigned by the leader), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What is done.
    pub action: Action,
    /// Who says they do it (free text from the client).
    pub actor: String,
    /// The reason or instructions.
    pub note: String,
    /// Refuse unless the case is at this version.
    pub expected_version: Option<u64>,
    /// Who does it, as the node authenticated the caller; set by the node, never by the client (see
    /// `AuditEntry::by`).
    #[serde(default)]
    pub by: String,
}

/// States from which the action named `name` is legal.
fn legal_states(name: &str) -> &'static [CaseState] {
    use CaseState::*;
    match name {
        "register" => &[Reported],
        "cancel" => &[Reported, Registered],
        "dispatch" => &[Registered, Dispatched],
        "arrive" => &[Registered, Dispatched, Handling],
        "urge" => &[Registered, Dispatched, Handling],
        "start" => &[Dispatched],
        "handled" => &[Handling],
        "close" | "return" => &[Handled],
        "suspend" => &[Registered, Dispatched, Handling],
        "resume" => &[Suspended],
        "extend" => &[Dispatched, Handling],
        "escalate" | "send_down" => &[Registered, Dispatched, Handling, Suspended],
        _ => &[],
    }
}

fn legal_from(action: &Action) -> &'static [CaseState] {
    legal_states(action.name())
}

/// The actions legal in `state`, by name.
pub fn allowed_actions(state: CaseState) -> Vec<&'static str> {
    Action::NAMES.into_iter().filter(|a| legal_states(a).contains(&state)).collect()
}

/// The rules a step's clocks run by: those of the protocol its action was proposed under, so an action
/// applies the same on every replica and when its log entry is replayed, whatever binary replays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockRules {
    /// Actions proposed before protocol 4 ([`crate::protocol::CLOCKS`]): the first dispatch alone sets
    /// the deadline (a department's own limit in wall time, set by the state machine), a suspension
    /// moves it by the wall time suspended, and there is no overall deadline.
    Legacy,
    /// Two clocks in working time, as this module's doc says.
    Working,
}

impl ClockRules {
    /// The rules of an action marked with protocol `rules` (0 for one logged before the mark existed).
    pub fn of(rules: u32) -> ClockRules {
        if rules >= crate::protocol::CLOCKS {
            ClockRules::Working
        } else {
            ClockRules::Legacy
        }
    }
}

/// Applies `step` to `case` at time `now` with the policy's limits and working-time clocks, returning
/// the new case (version + 1, one more audit entry). See `apply_with`.
pub fn apply(case: &Case, step: &Step, now: Millis, policy: &DeadlinePolicy) -> Result<Case, WorkflowError> {
    apply_with(case, step, now, policy, None, ClockRules::Working)
}

/// Applies `step` to `case` at time `now`, returning the new case (version + 1, one more audit entry).
/// `own_limit` is the handling limit, in milliseconds of working time, of a dispatch's handler that has
/// its own (a department registered at the node, 吹哨); None takes the policy's limit for its kind.
/// `clocks`: the rules of the protocol the action was proposed under.
pub fn apply_with(
    case: &Case,
    step: &Step,
    now: Millis,
    policy: &DeadlinePolicy,
    own_limit: Option<Millis>,
    clocks: ClockRules,
) -> Result<Case, WorkflowError> {
    if let Some(expected) = step.expected_version {
        if expected != case.version {
            return Err(WorkflowError::VersionConflict {
                case: case.id.clone(),
                expected,
                actual: case.version,
            });
        }
    }
    if !legal_from(&step.action).contains(&case.state) {
        let allowed = allowed_actions(case.state);
        return Err(WorkflowError::IllegalAction {
            case: case.id.clone(),
            action: step.action.name().to_string(),
            state: case.state,
            allowed: if allowed.is_empty() { "none (the case is final)".into() } else { allowed.join(", ") },
        });
    }
    if step.action.needs_note() && step.note.trim().is_empty() {
        return Err(WorkflowError::NoteRequired { action: step.action.name().to_string() });
    }

    let mut next = case.clone();
    let to = match &step.action {
        Action::Register => {
            next.registered_at = Some(now);
            CaseState::Registered
        }
        Action::Cancel => {
            next.closed_at = Some(now);
            CaseState::Cancelled
        }
        Action::Dispatch { handler } if clocks == ClockRules::Legacy => {
            if next.due_at.is_none() {
                next.due_at = Some(policy.handling_due(&case.category, handler.kind, now));
            }
            next.handler = Some(handler.clone());
            next.dispatched_at = Some(now);
            CaseState::Dispatched
        }
        Action::Dispatch { handler } => {
            dispatch(&mut next, handler, now, policy, own_limit);
            CaseState::Dispatched
        }
        Action::Urge => {
            next.urges += 1;
            case.state
        }
        Action::Arrive => {
            if let Some(first) = &case.on_site {
                return Err(WorkflowError::AlreadyOnSite { case: case.id.clone(), at: first.at });
            }
            next.on_site = Some(crate::case::OnSite { at: now, point: None });
            case.state
        }
        Action::Start => CaseState::Handling,
        Action::Handled => {
            next.handled_at = Some(now);
            CaseState::Handled
        }
        Action::Close => {
            next.closed_at = Some(now);
            CaseState::Closed
        }
        Action::Return => {
            next.returns += 1;
            next.handled_at = None;
            CaseState::Dispatched
        }
        Action::Suspend => {
            next.suspended_from = Some(case.state);
            next.suspended_at = Some(now);
            CaseState::Suspended
        }
        Action::Resume if clocks == ClockRules::Legacy => {
            if let (Some(since), Some(due)) = (case.suspended_at, case.due_at) {
                next.due_at = Some(due + (now - since).max(0));
            }
            next.suspended_at = None;
            next.suspended_from.take().unwrap_or(CaseState::Registered)
        }
        Action::Resume => {
            end_suspension(&mut next, now, policy);
            next.suspended_from.take().unwrap_or(CaseState::Registered)
        }
        Action::Extend { new_due } => {
            let current = case.due_at.unwrap_or(now);
            if *new_due <= current || *new_due <= now {
                return Err(WorkflowError::DeadlineNotLater { current, now });
            }
            let max_days = policy.max_extension_days;
            if new_due.saturating_sub(now) > max_days.saturating_mul(crate::deadline::DAY) {
                return Err(WorkflowError::ExtensionTooLong { new_due: *new_due, now, max_days });
            }
            next.due_at = Some(*new_due);
            if clocks == ClockRules::Working {
                next.overall_due = case.overall_due.map(|o| policy.moved_by(o, current, *new_due));
            }
            next.extensions += 1;
            case.state
        }
        Action::Escalate | Action::SendDown { .. } => {
            // The receiving node registers it afresh: its own handler, its own step deadline. The overall
            // deadline goes with the case (a record from before it existed keeps its step deadline as such).
            match clocks {
                ClockRules::Legacy => next.suspended_at = None,
                ClockRules::Working => {
                    end_suspension(&mut next, now, policy);
                    next.overall_due = next.overall_due.or(next.due_at);
                }
            }
            next.handler = None;
            next.due_at = None;
            next.dispatched_at = None;
            next.handled_at = None;
            next.suspended_from = None;
            next.epoch += 1;
            CaseState::Registered
        }
    };
    next.state = to;
    next.version += 1;
    next.audit.push(AuditEntry {
        at: now,
        actor: step.actor.clone(),
        action: step.action.name().to_string(),
        from: Some(case.state),
        to,
        note: step.note.clone(),
        by: step.by.clone(),
    });
    Ok(next)
}

/// The clocks of a dispatch to `handler` at `now`. A new handler (none yet, or another one) starts its
/// step: `dispatched_at` is now and `due_at` its limit of working time later (`own_limit`, else the
/// policy's for its kind). The first dispatch of the case also sets the overall deadline to that moment;
/// later ones keep it (a record from before it existed takes its current step deadline as such). A
/// dispatch to the same handler again moves no clock.
fn dispatch(
    next: &mut Case,
    handler: &Handler,
    now: Millis,
    policy: &DeadlinePolicy,
    own_limit: Option<Millis>,
) {
    if next.due_at.is_some() && next.handler.as_ref() == Some(handler) {
        return;
    }
    let limit = own_limit.unwrap_or_else(|| policy.handling_limit(&next.category, handler.kind));
    let due = policy.working_due(now, limit);
    next.overall_due = next.overall_due.or(next.due_at).or(Some(due));
    next.handler = Some(handler.clone());
    next.dispatched_at = Some(now);
    next.due_at = Some(due);
}

/// Ends a suspension at `now`, if the case is suspended: its clocks stood still, so the step and the
/// overall deadline each move on by the working time suspended (`DeadlinePolicy::moved_by`; rest days
/// inside the suspension count for nothing, and are not counted again when the deadline is reckoned).
fn end_suspension(next: &mut Case, now: Millis, policy: &DeadlinePolicy) {
    if let Some(since) = next.suspended_at.take() {
        next.due_at = next.due_at.map(|d| policy.moved_by(d, since, now));
        next.overall_due = next.overall_due.map(|d| policy.moved_by(d, since, now));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::case::{HandlerKind, Priority, Source};

    pub(crate) fn new_case(id: &str, now: Millis) -> Case {
        let grid = Code::parse("grid", "370102001001002").unwrap();
        Case {
            id: id.into(),
            origin: grid.parent().unwrap(),
            owner: grid.parent().unwrap(),
            grid,
            category: "0101".into(),
            source: Source::Patrol,
            title: "小区门口暴露垃圾".into(),
            description: String::new(),
            location: None,
            reporter: "王网格员".into(),
            priority: Priority::Normal,
            version: 1,
            state: CaseState::Reported,
            suspended_from: None,
            handler: None,
            reported_at: now,
            registered_at: None,
            dispatched_at: None,
            handled_at: None,
            closed_at: None,
            suspended_at: None,
            register_due: now + 7 * 60_000,
            due_at: None,
            returns: 0,
            extensions: 0,
            epoch: 1,
            watchers: vec![],
            audit: vec![],
            intake: Default::default(),
            overall_due: None,
            on_site: None,
            urges: 0,
            supervised: 0,
        }
    }

    pub(crate) fn step(action: Action) -> Step {
        Step { action, actor: "op".into(), note: "原因".into(), expected_version: None, by: String::new() }
    }

    pub(crate) fn worker() -> Action {
        Action::Dispatch { handler: Handler { kind: HandlerKind::GridWorker, name: "张伟".into() } }
    }

    #[test]
    fn full_lifecycle_with_a_return() {
        let p = DeadlinePolicy::default();
        let mut c = new_case("c1", 0);
        for (i, a) in
            [Action::Register, worker(), Action::Start, Action::Handled, Action::Return, Action::Start]
                .into_iter()
                .enumerate()
        {
            c = apply(&c, &step(a), 1000 * i as Millis, &p).unwrap();
        }
        assert_eq!(c.state, CaseState::Handling);
        assert_eq!(c.returns, 1);
        assert_eq!(c.due_at, Some(1000 + 86_400_000));
        c = apply(&c, &step(Action::Handled), 10_000, &p).unwrap();
        c = apply(&c, &step(Action::Close), 11_000, &p).unwrap();
        assert_eq!(c.state, CaseState::Closed);
        assert!(c.closed_on_time());
        assert_eq!(c.version, 9);
        assert_eq!(c.audit.len(), 8);
        assert_eq!(c.audit[4].from, Some(CaseState::Handled));
        assert_eq!(c.audit[4].to, CaseState::Dispatched);
    }

    #[test]
    fn illegal_action_is_refused_and_names_the_allowed_ones() {
        let c = new_case("c1", 0);
        let err = apply(&c, &step(Action::Close), 5, &DeadlinePolicy::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"close\"") && msg.contains("reported") && msg.contains("register, cancel"),
            "{msg}"
        );
    }

    #[test]
    fn stale_version_is_refused() {
        let c = new_case("c1", 0);
        let mut s = step(Action::Register);
        s.expected_version = Some(7);
        assert!(matches!(
            apply(&c, &s, 5, &DeadlinePolicy::default()),
            Err(WorkflowError::VersionConflict { expected: 7, actual: 1, .. })
        ));
        s.expected_version = Some(1);
        assert!(apply(&c, &s, 5, &DeadlinePolicy::default()).is_ok());
    }

    #[test]
    fn cancel_needs_a_reason() {
        let c = new_case("c1", 0);
        let mut s = step(Action::Cancel);
        s.note = " ".into();
        assert_eq!(
            apply(&c, &s, 5, &DeadlinePolicy::default()),
            Err(WorkflowError::NoteRequired { action: "cancel".into() })
        );
    }

    #[test]
    fn suspension_stops_the_clock() {
        let p = DeadlinePolicy::default();
        let mut c = new_case("c1", 0);
        c = apply(&c, &step(Action::Register), 0, &p).unwrap();
        c = apply(&c, &step(worker()), 0, &p).unwrap();
        let due = c.due_at.unwrap();
        c = apply(&c, &step(Action::Suspend), 1000, &p).unwrap();
        assert!(!c.is_overdue(due + 1));
        c = apply(&c, &step(Action::Resume), 5000, &p).unwrap();
        assert_eq!(c.state, CaseState::Dispatched);
        assert_eq!(c.due_at, Some(due + 4000));
    }

    #[test]
    fn extend_must_move_the_deadline_later() {
        let p = DeadlinePolicy::default();
        let mut c = new_case("c1", 0);
        c = apply(&c, &step(Action::Register), 0, &p).unwrap();
        c = apply(&c, &step(worker()), 0, &p).unwrap();
        let due = c.due_at.unwrap();
        assert!(apply(&c, &step(Action::Extend { new_due: due - 1 }), 10, &p).is_err());
        c = apply(&c, &step(Action::Extend { new_due: due + 1 }), 10, &p).unwrap();
        assert_eq!((c.due_at, c.extensions), (Some(due + 1), 1));
    }

    const HOUR: Millis = 3_600_000;
    const DAY: Millis = 24 * HOUR;

    /// `hour` o'clock, Beijing time, on `date`.
    pub(crate) fn at(date: &str, hour: i64) -> Millis {
        crate::stats::day_start(crate::stats::parse_day("t", date).unwrap()) + hour * HOUR
    }

    fn weekends_off() -> DeadlinePolicy {
        let mut p = DeadlinePolicy::default();
        p.calendar.weekends_off = true;
        p
    }

    fn to(kind: HandlerKind, name: &str) -> Action {
        Action::Dispatch { handler: Handler { kind, name: name.into() } }
    }

    #[test]
    fn urging_keeps_the_handler_state_and_clocks_and_needs_a_reason() {
        let p = DeadlinePolicy::default();
        let mut c = new_case("c1", 0);
        c = apply(&c, &step(Action::Register), 0, &p).unwrap();
        c = apply(&c, &step(worker()), 0, &p).unwrap();
        let before = c.clone();
        c = apply(&c, &step(Action::Urge), 3_600_000, &p).unwrap();
        c = apply(&c, &step(Action::Urge), 7_200_000, &p).unwrap();
        assert_eq!((c.state, c.urges, c.version), (CaseState::Dispatched, 2, before.version + 2));
        assert_eq!(
            (&c.handler, c.due_at, c.overall_due),
            (&before.handler, before.due_at, before.overall_due)
        );
        assert_eq!(c.audit.last().map(|a| a.action.as_str()), Some("urge"));
        let silent = Step { note: String::new(), ..step(Action::Urge) };
        assert!(matches!(apply(&c, &silent, 0, &p), Err(WorkflowError::NoteRequired { .. })));
    }

    #[test]
    fn a_re_dispatch_to_another_handler_restarts_the_step_but_not_the_overall_deadline() {
        let p = DeadlinePolicy::default();
        let mut c = new_case("c1", 0);
        c = apply(&c, &step(Action::Register), 0, &p).unwrap();
        c = apply(&c, &step(worker()), 0, &p).unwrap();
        assert_eq!((c.dispatched_at, c.due_at, c.overall_due), (Some(0), Some(DAY), Some(DAY)));
        // Sent on to the community 10 hours in: its own 2 days from then; the case's limit stays.
        c = apply(&c, &step(to(HandlerKind::Community, "社区居委会")), 10 * HOUR, &p).unwrap();
        assert_eq!(c.dispatched_at, Some(10 * HOUR));
        assert_eq!(c.due_at, Some(10 * HOUR + 2 * DAY));
        assert_eq!(c.overall_due, Some(DAY));
        // The light measures the step it shows the deadline of: 1 of 48 hours used, green.
        assert_eq!(c.light(11 * HOUR, &p), Some(crate::light::Light::Green));
        // Dispatching to the same handler again moves no clock.
        let again = apply(&c, &step(to(HandlerKind::Community, "社区居委会")), 20 * HOUR, &p).unwrap();
        assert_eq!(
            (again.dispatched_at, again.due_at, again.overall_due),
            (c.dispatched_at, c.due_at, c.overall_due)
        );
    }

    #[test]
    fn a_re_dispatch_of_a_record_from_before_the_overall_deadline_keeps_its_first_deadline() {
        let p = DeadlinePolicy::default();
        let mut c = new_case("c1", 0);
        c = apply(&c, &step(Action::Register), 0, &p).unwrap();
        c = apply(&c, &step(worker()), 0, &p).unwrap();
        c.overall_due = None; // as stored before the field existed
        c = apply(&c, &step(to(HandlerKind::Street, "街道城管科")), HOUR, &p).unwrap();
        assert_eq!((c.due_at, c.overall_due), (Some(HOUR + 3 * DAY), Some(DAY)));
    }

    #[test]
    fn a_suspension_over_a_weekend_moves_both_deadlines_by_its_working_time() {
        let p = weekends_off();
        let mut c = new_case("c1", at("2026-11-27", 9));
        c = apply(&c, &step(Action::Register), at("2026-11-27", 9), &p).unwrap();
        // Friday 09:00 to a grid worker: one working day, due Monday 09:00.
        c = apply(&c, &step(worker()), at("2026-11-27", 9), &p).unwrap();
        assert_eq!(c.due_at, Some(at("2026-11-30", 9)));
        // Parked Friday 12:00 to Monday 12:00: 24 working hours (Friday's last 12, Monday's first 12); the
        // weekend counts for nothing. The wall clock would have moved it 72 hours, to Thursday.
        c = apply(&c, &step(Action::Suspend), at("2026-11-27", 12), &p).unwrap();
        c = apply(&c, &step(Action::Resume), at("2026-11-30", 12), &p).unwrap();
        assert_eq!(c.due_at, Some(at("2026-12-01", 9)));
        assert_eq!(c.overall_due, Some(at("2026-12-01", 9)));
        assert_eq!((c.state, c.suspended_at), (CaseState::Dispatched, None));
    }

    #[test]
    fn an_extension_moves_the_overall_deadline_by_the_working_time_it_adds() {
        let p = weekends_off();
        let mut c = new_case("c1", at("2026-11-26", 9));
        c = apply(&c, &step(Action::Register), at("2026-11-26", 9), &p).unwrap();
        // Thursday 09:00 to a worker (overall: Friday 09:00), Thursday 12:00 on to the community: 48
        // working hours, Thursday 12-24 and Friday, then Monday to 12:00.
        c = apply(&c, &step(worker()), at("2026-11-26", 9), &p).unwrap();
        c = apply(&c, &step(to(HandlerKind::Community, "社区")), at("2026-11-26", 12), &p).unwrap();
        assert_eq!((c.due_at, c.overall_due), (Some(at("2026-11-30", 12)), Some(at("2026-11-27", 9))));
        // Extended to Tuesday 12:00: 24 working hours more; the overall deadline moves 24 working hours,
        // Friday's last 15 and Monday's first 9.
        let new_due = at("2026-12-01", 12);
        c = apply(&c, &step(Action::Extend { new_due }), at("2026-11-26", 13), &p).unwrap();
        assert_eq!((c.due_at, c.overall_due), (Some(new_due), Some(at("2026-11-30", 9))));
    }

    #[test]
    fn an_escalation_clears_the_step_deadline_and_keeps_the_overall_one() {
        let p = weekends_off();
        let mut c = new_case("c1", at("2026-11-26", 9));
        c = apply(&c, &step(Action::Register), at("2026-11-26", 9), &p).unwrap();
        c = apply(&c, &step(worker()), at("2026-11-26", 9), &p).unwrap();
        // Parked Thursday 10:00 with 23 working hours left (to Friday 09:00), escalated still parked on
        // Monday 10:00: 48 working hours stood still (Thursday's last 14, Friday, Monday's first 10).
        c = apply(&c, &step(Action::Suspend), at("2026-11-26", 10), &p).unwrap();
        c = apply(&c, &step(Action::Escalate), at("2026-11-30", 10), &p).unwrap();
        assert_eq!(c.state, CaseState::Registered);
        assert_eq!((c.due_at, c.dispatched_at, c.suspended_at), (None, None, None));
        // Friday 09:00 + 48 working hours = Monday 10:00 + the 23 left: Tuesday 09:00.
        assert_eq!(c.overall_due, Some(at("2026-12-01", 9)));
        // The next level's dispatch starts its own step (3 working days); the case's deadline stays.
        c = apply(&c, &step(to(HandlerKind::Street, "街道")), at("2026-12-01", 9), &p).unwrap();
        assert_eq!((c.due_at, c.overall_due), (Some(at("2026-12-04", 9)), Some(at("2026-12-01", 9))));
    }

    #[test]
    fn a_department_s_own_limit_on_a_friday_evening_runs_on_monday() {
        let p = weekends_off();
        let mut c = new_case("c1", at("2026-11-27", 19));
        c = apply(&c, &step(Action::Register), at("2026-11-27", 19), &p).unwrap();
        // Friday 20:00, 8 hours: Friday's last 4, then Monday's first 4 (the wall clock: Saturday 04:00).
        let d = to(HandlerKind::Department, "区城管执法局");
        c = apply_with(&c, &step(d), at("2026-11-27", 20), &p, Some(8 * HOUR), ClockRules::Working).unwrap();
        assert_eq!((c.due_at, c.overall_due), (Some(at("2026-11-30", 4)), Some(at("2026-11-30", 4))));
    }

    #[test]
    fn a_record_without_the_overall_deadline_still_decodes() {
        let mut v = serde_json::to_value(new_case("c1", 0)).unwrap();
        v.as_object_mut().unwrap().remove("overall_due");
        let c: Case = serde_json::from_value(v).unwrap();
        assert_eq!(c.overall_due, None);
    }

    #[test]
    fn terminal_states_allow_nothing() {
        assert!(allowed_actions(CaseState::Closed).is_empty());
        assert!(allowed_actions(CaseState::Cancelled).is_empty());
    }
}
