//! The replicated state machine's logic, over an abstract store so it is tested without RocksDB.
//!
//! The Raft leader stamps every command with the time (`now`) at proposal; every replica then applies
//! the same commands in the same order with the same `now`, so ids, deadlines and on-time answers agree.
//! A refused command changes nothing and its refusal is the command's result on every replica.

use serde::{Deserialize, Serialize};

use crate::case::{
    Case, CaseState, Location, Priority, Source, MAX_DESCRIPTION_CHARS, MAX_REQUEST_ID_BYTES,
    MAX_SHORT_CHARS, MAX_TITLE_CHARS,
};
use crate::category::Catalog;
use crate::code::{Code, Level};
use crate::deadline::DeadlinePolicy;
use crate::stats::format_day;
use crate::workflow::{self, Step, WorkflowError};
use crate::Millis;

/// A new case as a client reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCase {
    /// Client-chosen id that makes a retried report return the first case instead of a second one.
    pub request_id: Option<String>,
    pub grid: Code,
    pub category: String,
    pub source: Source,
    pub title: String,
    pub description: String,
    pub location: Option<Location>,
    pub reporter: String,
    pub priority: Priority,
}

/// A command in the replicated log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Report(NewCase),
    Act { case_id: String, step: Step },
}

/// Why a command was refused. Each names the field at fault where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Refusal {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("case_id: no case {case} on this node")]
    NotFound { case: String },
    #[error("case {case} is owned by node {owner}, not by this node")]
    NotOwner { case: String, owner: String },
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
}

fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The case as stored; `duplicate` when the request id had been seen and no case was created.
    Reported {
        case: Case,
        duplicate: bool,
    },
    Acted {
        case: Case,
    },
    Refused(Refusal),
}

/// A change the store must write, all of one command's changes atomically with the applied log id.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A case was created (`old` is None) or changed. The store also moves the statistics by
    /// `Counters::delta(old, new)` on the report day and updates its open-deadline index.
    Case { old: Option<Box<Case>>, new: Box<Case> },
    /// Remember which case a request id created.
    Request { request_id: String, case_id: String },
    /// The node's case counter.
    Seq(u64),
}

/// What the state machine reads and writes; writes of earlier commands must be visible to later reads.
pub trait Store {
    type Error;
    fn case(&mut self, id: &str) -> Result<Option<Case>, Self::Error>;
    fn request(&mut self, request_id: &str) -> Result<Option<String>, Self::Error>;
    fn seq(&mut self) -> Result<u64, Self::Error>;
    fn write(&mut self, change: Change) -> Result<(), Self::Error>;
}

/// The node's identity and rules, the same on every replica.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub node: &'a Code,
    pub policy: &'a DeadlinePolicy,
    pub catalog: &'a Catalog,
}

fn check_len(field: &str, value: &str, max: usize, required: bool) -> Result<(), Refusal> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(invalid(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Checks a short free-text field (note, actor, handler name).
pub fn check_short(field: &str, value: &str, required: bool) -> Result<(), Refusal> {
    check_len(field, value, MAX_SHORT_CHARS, required)
}

impl NewCase {
    /// Checks every field against the node's rules; the first problem is named.
    pub fn validate(&self, rules: &Rules<'_>) -> Result<(), Refusal> {
        if let Some(rid) = &self.request_id {
            if rid.is_empty() || rid.len() > MAX_REQUEST_ID_BYTES || rid.chars().any(char::is_control) {
                return Err(invalid(
                    "request_id",
                    format!("must be 1 to {MAX_REQUEST_ID_BYTES} printable bytes"),
                ));
            }
        }
        if self.grid.level() != Level::Grid {
            return Err(invalid(
                "grid",
                format!("{} is not a 15-digit grid code", self.grid),
            ));
        }
        if !self.grid.is_within(rules.node) {
            return Err(invalid(
                "grid",
                format!("{} is not under node {}", self.grid, rules.node),
            ));
        }
        if rules.catalog.get(&self.category).is_none() {
            return Err(invalid(
                "category",
                format!(
                    "unknown category code {:?}; see `gridnode case categories`",
                    self.category
                ),
            ));
        }
        check_len("title", &self.title, MAX_TITLE_CHARS, true)?;
        check_len("description", &self.description, MAX_DESCRIPTION_CHARS, false)?;
        check_short("reporter", &self.reporter, true)?;
        if let Some(loc) = &self.location {
            check_short("location.address", &loc.address, false)?;
            if let Some(lat) = loc.lat {
                if !(-90.0..=90.0).contains(&lat) {
                    return Err(invalid("location.lat", format!("{lat} is outside -90..90")));
                }
            }
            if let Some(lon) = loc.lon {
                if !(-180.0..=180.0).contains(&lon) {
                    return Err(invalid("location.lon", format!("{lon} is outside -180..180")));
                }
            }
        }
        Ok(())
    }
}

impl Step {
    /// Checks the free-text fields of an action.
    pub fn validate(&self) -> Result<(), Refusal> {
        check_short("actor", &self.actor, true)?;
        check_short("note", &self.note, false)?;
        if let workflow::Action::Dispatch { handler } = &self.action {
            check_short("handler", &handler.name, true)?;
        }
        Ok(())
    }
}

/// Applies one command at time `now`. Storage errors abort (the command is retried with the whole
/// entry); refusals are results.
pub fn apply<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    now: Millis,
    cmd: &Command,
) -> Result<Outcome, S::Error> {
    match cmd {
        Command::Report(new) => report(store, rules, now, new),
        Command::Act { case_id, step } => act(store, rules, now, case_id, step),
    }
}

fn report<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    now: Millis,
    new: &NewCase,
) -> Result<Outcome, S::Error> {
    if let Some(rid) = &new.request_id {
        if let Some(existing) = store.request(rid)? {
            if let Some(case) = store.case(&existing)? {
                return Ok(Outcome::Reported {
                    case,
                    duplicate: true,
                });
            }
        }
    }
    if let Err(refusal) = new.validate(rules) {
        return Ok(Outcome::Refused(refusal));
    }
    let seq = store.seq()? + 1;
    let id = format!(
        "{}-{}-{seq:06}",
        rules.node,
        format_day(crate::stats::day_of(now)).replace('-', "")
    );
    let case = Case {
        id: id.clone(),
        grid: new.grid.clone(),
        category: new.category.clone(),
        source: new.source,
        title: new.title.clone(),
        description: new.description.clone(),
        location: new.location.clone(),
        reporter: new.reporter.clone(),
        priority: new.priority,
        origin: rules.node.clone(),
        owner: rules.node.clone(),
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
        register_due: rules.policy.register_due(&new.category, now),
        due_at: None,
        returns: 0,
        extensions: 0,
        audit: vec![crate::case::AuditEntry {
            at: now,
            actor: new.reporter.clone(),
            action: "report".into(),
            from: None,
            to: CaseState::Reported,
            note: format!("source: {}", new.source),
        }],
    };
    store.write(Change::Seq(seq))?;
    if let Some(rid) = &new.request_id {
        store.write(Change::Request {
            request_id: rid.clone(),
            case_id: id,
        })?;
    }
    store.write(Change::Case {
        old: None,
        new: Box::new(case.clone()),
    })?;
    Ok(Outcome::Reported {
        case,
        duplicate: false,
    })
}

fn act<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    now: Millis,
    case_id: &str,
    step: &Step,
) -> Result<Outcome, S::Error> {
    let Some(case) = store.case(case_id)? else {
        return Ok(Outcome::Refused(Refusal::NotFound {
            case: case_id.to_string(),
        }));
    };
    if case.owner != *rules.node {
        return Ok(Outcome::Refused(Refusal::NotOwner {
            case: case.id,
            owner: case.owner.to_string(),
        }));
    }
    if let Err(r) = step.validate() {
        return Ok(Outcome::Refused(r));
    }
    match workflow::apply(&case, step, now, rules.policy) {
        Ok(new) => {
            store.write(Change::Case {
                old: Some(Box::new(case)),
                new: Box::new(new.clone()),
            })?;
            Ok(Outcome::Acted { case: new })
        }
        Err(e) => Ok(Outcome::Refused(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Counters;
    use crate::workflow::Action;
    use std::collections::HashMap;
    use std::convert::Infallible;

    #[derive(Default)]
    struct Mem {
        cases: HashMap<String, Case>,
        requests: HashMap<String, String>,
        seq: u64,
        stats: Counters,
    }

    impl Store for Mem {
        type Error = Infallible;
        fn case(&mut self, id: &str) -> Result<Option<Case>, Infallible> {
            Ok(self.cases.get(id).cloned())
        }
        fn request(&mut self, r: &str) -> Result<Option<String>, Infallible> {
            Ok(self.requests.get(r).cloned())
        }
        fn seq(&mut self) -> Result<u64, Infallible> {
            Ok(self.seq)
        }
        fn write(&mut self, c: Change) -> Result<(), Infallible> {
            match c {
                Change::Case { old, new } => {
                    self.stats.add(&Counters::delta(old.as_deref(), &new));
                    self.cases.insert(new.id.clone(), *new);
                }
                Change::Request { request_id, case_id } => {
                    self.requests.insert(request_id, case_id);
                }
                Change::Seq(s) => self.seq = s,
            }
            Ok(())
        }
    }

    fn new_case(rid: Option<&str>, grid: &str) -> NewCase {
        NewCase {
            request_id: rid.map(str::to_string),
            grid: Code::parse("grid", grid).unwrap(),
            category: "0101".into(),
            source: Source::Hotline,
            title: "楼道堆放杂物".into(),
            description: "12345 转办".into(),
            location: None,
            reporter: "市民".into(),
            priority: Priority::Normal,
        }
    }

    fn rules<'a>(node: &'a Code, policy: &'a DeadlinePolicy) -> Rules<'a> {
        Rules {
            node,
            policy,
            catalog: Catalog::standard(),
        }
    }

    #[test]
    fn a_retried_report_creates_no_second_case() {
        let node = Code::parse("node", "370102001001").unwrap();
        let policy = DeadlinePolicy::default();
        let r = rules(&node, &policy);
        let mut m = Mem::default();
        let now = 1_795_000_000_000;
        let first = apply(
            &mut m,
            &r,
            now,
            &Command::Report(new_case(Some("r1"), "370102001001001")),
        )
        .unwrap();
        let again = apply(
            &mut m,
            &r,
            now + 5,
            &Command::Report(new_case(Some("r1"), "370102001001001")),
        )
        .unwrap();
        let (
            Outcome::Reported {
                case: a,
                duplicate: false,
            },
            Outcome::Reported {
                case: b,
                duplicate: true,
            },
        ) = (first, again)
        else {
            panic!("unexpected outcomes");
        };
        assert_eq!(a, b);
        assert_eq!(m.cases.len(), 1);
        assert_eq!(m.stats.total, 1);
        assert!(a.id.starts_with("370102001001-2026"), "{}", a.id);
    }

    #[test]
    fn a_grid_outside_the_node_is_refused_and_nothing_written() {
        let node = Code::parse("node", "370102001001").unwrap();
        let policy = DeadlinePolicy::default();
        let mut m = Mem::default();
        let out = apply(
            &mut m,
            &rules(&node, &policy),
            0,
            &Command::Report(new_case(None, "370102001002001")),
        )
        .unwrap();
        assert!(
            matches!(out, Outcome::Refused(Refusal::Invalid { ref field, .. }) if field == "grid"),
            "{out:?}"
        );
        assert!(m.cases.is_empty() && m.seq == 0);
    }

    #[test]
    fn overlong_title_is_refused_by_field() {
        let node = Code::parse("node", "370102001001").unwrap();
        let policy = DeadlinePolicy::default();
        let mut nc = new_case(None, "370102001001001");
        nc.title = "垃".repeat(MAX_TITLE_CHARS + 1);
        let err = nc.validate(&rules(&node, &policy)).unwrap_err();
        assert!(err.to_string().starts_with("title: is 101 characters"), "{err}");
    }

    #[test]
    fn acting_on_a_missing_case_or_illegally_changes_nothing() {
        let node = Code::parse("node", "370102001001").unwrap();
        let policy = DeadlinePolicy::default();
        let r = rules(&node, &policy);
        let mut m = Mem::default();
        let step = Step {
            action: Action::Close,
            actor: "op".into(),
            note: String::new(),
            expected_version: None,
        };
        let out = apply(
            &mut m,
            &r,
            0,
            &Command::Act {
                case_id: "nope".into(),
                step: step.clone(),
            },
        )
        .unwrap();
        assert!(matches!(out, Outcome::Refused(Refusal::NotFound { .. })));
        let Outcome::Reported { case, .. } =
            apply(&mut m, &r, 0, &Command::Report(new_case(None, "370102001001001"))).unwrap()
        else {
            panic!()
        };
        let before = m.stats.clone();
        let out = apply(
            &mut m,
            &r,
            0,
            &Command::Act {
                case_id: case.id.clone(),
                step,
            },
        )
        .unwrap();
        assert!(matches!(
            out,
            Outcome::Refused(Refusal::Workflow(WorkflowError::IllegalAction { .. }))
        ));
        assert_eq!(m.cases[&case.id], case);
        assert_eq!(m.stats, before);
    }
}
