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
use crate::link::{next_hop, Body, Envelope, Hop};
use crate::stats::{day_of, format_day};
use crate::tally::{case_deltas, Freshness, Tally, TallyKey};
use crate::workflow::{self, Action, Step, WorkflowError};
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

/// A functional department a street or district can dispatch cases to (吹哨).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub name: String,
    /// Handling limit of cases dispatched to it, in minutes.
    pub minutes: i64,
}

/// A command in the replicated log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Report(NewCase),
    Act {
        case_id: String,
        step: Step,
    },
    /// Messages from neighbour `from`, in its link order; each is applied once.
    Receive {
        from: Code,
        batch: Vec<(u64, Envelope)>,
    },
    /// Neighbour `peer` has applied our messages up to `upto`; drop them from the outbox.
    Acked {
        peer: Code,
        upto: u64,
    },
    /// A child's rollup: tally entries and freshness of its subtree.
    Rollup {
        from: Code,
        entries: Vec<(TallyKey, Tally)>,
        fresh: Vec<Freshness>,
    },
    /// Register (or update) a department.
    Department(Department),
}

/// Why a command was refused. Each names the field at fault where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Refusal {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("case_id: no case {case} on this node")]
    NotFound { case: String },
    #[error("case {case} is owned by node {owner}, not by this node; act there")]
    NotOwner { case: String, owner: String },
    #[error("node {from} is not a neighbour of this node")]
    NotNeighbour { from: String },
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    Refusal::Invalid { field: field.to_string(), message: message.into() }
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The case as stored; `duplicate` when the request id had been seen and no case was created.
    Reported {
        case: Box<Case>,
        duplicate: bool,
    },
    Acted {
        case: Box<Case>,
    },
    /// The highest sequence applied from the sender.
    Received {
        hwm: u64,
    },
    Done,
    Refused(Refusal),
}

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
}

/// When and where in the log a command is applied.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// The leader's clock at proposal.
    pub now: Millis,
    /// The log index of the entry: the version of everything this command produces.
    pub index: u64,
}

/// Checks a free-text field: at most `max` characters, no control characters but newline and tab,
/// and not blank when `required`.
pub fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), Refusal> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(invalid(field, format!("is {n} characters long; at most {max} are allowed")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Checks a short free-text field (note, actor, handler name).
pub fn check_short(field: &str, value: &str, required: bool) -> Result<(), Refusal> {
    check_text(field, value, MAX_SHORT_CHARS, required)
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
            return Err(invalid("grid", format!("{} is not a 15-digit grid code", self.grid)));
        }
        if !self.grid.is_within(rules.node) {
            return Err(invalid("grid", format!("{} is not under node {}", self.grid, rules.node)));
        }
        if !rules.grids.is_empty() && !rules.grids.contains(&self.grid) {
            return Err(invalid(
                "grid",
                format!("{} is not a known grid under node {}", self.grid, rules.node),
            ));
        }
        if rules.node.level() != Level::Community && route(rules, &community_of(&self.grid)).is_none() {
            return Err(invalid(
                "grid",
                format!("{}: no configured child node of {} leads to its community", self.grid, rules.node),
            ));
        }
        if rules.catalog.get(&self.category).is_none() {
            return Err(invalid(
                "category",
                format!("unknown category code {:?}; see `gridnode case categories`", self.category),
            ));
        }
        check_text("title", &self.title, MAX_TITLE_CHARS, true)?;
        check_text("description", &self.description, MAX_DESCRIPTION_CHARS, false)?;
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

fn community_of(grid: &Code) -> Code {
    grid.parent().unwrap_or_else(|| grid.clone())
}

/// The neighbour a message to `dest` leaves through, if that neighbour is configured.
pub fn route(rules: &Rules<'_>, dest: &Code) -> Option<Code> {
    match next_hop(rules.node, dest)? {
        Hop::Parent => rules.parent.cloned(),
        Hop::Child(c) => rules.children.contains(&c).then_some(c),
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

/// Applies one command. Storage errors abort the apply (it is retried with the whole entry); refusals
/// are results and change nothing.
pub fn apply<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    cmd: &Command,
) -> Result<Outcome, S::Error> {
    match cmd {
        Command::Report(new) => report(store, rules, ctx, new),
        Command::Act { case_id, step } => act(store, rules, ctx, case_id, step),
        Command::Receive { from, batch } => receive(store, rules, ctx, from, batch),
        Command::Acked { peer, upto } => {
            store.write(Change::OutboxAck { peer: peer.clone(), upto: *upto })?;
            Ok(Outcome::Done)
        }
        Command::Rollup { from, entries, fresh } => rollup(store, rules, from, entries, fresh),
        Command::Department(d) => {
            if let Err(r) = check_short("department.name", &d.name, true) {
                return Ok(Outcome::Refused(r));
            }
            if d.minutes <= 0 || d.minutes > 366 * 24 * 60 {
                return Ok(Outcome::Refused(invalid("department.minutes", "must be 1 to 527040 minutes")));
            }
            store.write(Change::Department(d.clone()))?;
            Ok(Outcome::Done)
        }
    }
}

/// Stores `new` (replacing `old`), moving this node's tallies and open-deadline index.
fn put_case<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    old: Option<&Case>,
    new: Case,
) -> Result<(), S::Error> {
    let node = rules.node;
    for (key, delta) in case_deltas(node, old, &new) {
        let mut tally = store.tally(&key)?.unwrap_or_default();
        tally.counters.add(&delta);
        tally.version = ctx.index;
        store.write(Change::Tally { key, tally })?;
    }
    let due = |c: &Case| if c.owner == *node { c.open_deadline() } else { None };
    let old_due = old.and_then(due);
    let new_due = due(&new);
    if old_due != new_due {
        if let Some(d) = old_due {
            store.write(Change::DueRemove { due: d, case_id: new.id.clone() })?;
        }
        if let Some(d) = new_due {
            store.write(Change::DueAdd {
                due: d,
                case_id: new.id.clone(),
                day: day_of(new.reported_at),
                grid: new.grid.clone(),
            })?;
        }
    }
    store.write(Change::Case(Box::new(new)))
}

/// Queues `body` for node `to` on the link of the next hop. False if no configured neighbour leads there.
fn enqueue<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    envelope: Envelope,
) -> Result<bool, S::Error> {
    let Some(peer) = route(rules, &envelope.to) else {
        return Ok(false);
    };
    let _ = ctx;
    let seq = store.outbox_next(&peer)?;
    store.write(Change::OutboxNext { peer: peer.clone(), next: seq + 1 })?;
    store.write(Change::Outbox { peer, seq, envelope: Box::new(envelope) })?;
    Ok(true)
}

/// Sends the case's new state to every watcher but `skip` (反馈).
fn notify<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    case: &Case,
    skip: &Code,
) -> Result<(), S::Error> {
    for w in &case.watchers {
        if w == rules.node || w == skip {
            continue;
        }
        let env = Envelope {
            origin: rules.node.clone(),
            to: w.clone(),
            queued_at: ctx.now,
            body: Body::Status { case: Box::new(case.clone()) },
        };
        enqueue(store, rules, ctx, env)?;
    }
    Ok(())
}

fn report<S: Store>(store: &mut S, rules: &Rules<'_>, ctx: Ctx, new: &NewCase) -> Result<Outcome, S::Error> {
    if let Some(rid) = &new.request_id {
        if let Some(existing) = store.request(rid)? {
            if let Some(case) = store.case(&existing)? {
                return Ok(Outcome::Reported { case: Box::new(case), duplicate: true });
            }
        }
    }
    if let Err(refusal) = new.validate(rules) {
        return Ok(Outcome::Refused(refusal));
    }
    let seq = store.seq()? + 1;
    let id = format!("{}-{}-{seq:06}", rules.node, format_day(day_of(ctx.now)).replace('-', ""));
    // A community owns what it takes in; an upper node routes it down to the grid's community (精准派单).
    let local = rules.node.level() == Level::Community;
    let owner = if local { rules.node.clone() } else { community_of(&new.grid) };
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
        owner: owner.clone(),
        version: 1,
        state: CaseState::Reported,
        suspended_from: None,
        handler: None,
        reported_at: ctx.now,
        registered_at: None,
        dispatched_at: None,
        handled_at: None,
        closed_at: None,
        suspended_at: None,
        register_due: rules.policy.register_due(&new.category, ctx.now),
        due_at: None,
        returns: 0,
        extensions: 0,
        epoch: 1,
        watchers: if local { vec![] } else { vec![rules.node.clone()] },
        audit: vec![crate::case::AuditEntry {
            at: ctx.now,
            actor: new.reporter.clone(),
            action: "report".into(),
            from: None,
            to: CaseState::Reported,
            note: if local {
                format!("source: {}", new.source)
            } else {
                format!("source: {}; dispatched down to {owner}", new.source)
            },
        }],
    };
    store.write(Change::Seq(seq))?;
    if let Some(rid) = &new.request_id {
        store.write(Change::Request { request_id: rid.clone(), case_id: id })?;
    }
    if !local {
        let env = Envelope {
            origin: rules.node.clone(),
            to: owner,
            queued_at: ctx.now,
            body: Body::Transfer { case: Box::new(case.clone()) },
        };
        enqueue(store, rules, ctx, env)?;
    }
    put_case(store, rules, ctx, None, case.clone())?;
    Ok(Outcome::Reported { case: Box::new(case), duplicate: false })
}

/// Where an escalation or a sending-down hands the case, or why it cannot.
fn transfer_target(rules: &Rules<'_>, action: &Action) -> Result<Option<Code>, Refusal> {
    match action {
        Action::Escalate => match rules.parent {
            Some(p) => Ok(Some(p.clone())),
            None => Err(invalid("action", format!("node {} has no parent to escalate to", rules.node))),
        },
        Action::SendDown { to } => {
            if to == rules.node || !to.is_within(rules.node) || to.level() == Level::Grid {
                return Err(invalid("to", format!("{to} is not a node below {}", rules.node)));
            }
            if route(rules, to).is_none() {
                return Err(invalid("to", format!("no configured child of {} leads to {to}", rules.node)));
            }
            Ok(Some(to.clone()))
        }
        _ => Ok(None),
    }
}

fn act<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    case_id: &str,
    step: &Step,
) -> Result<Outcome, S::Error> {
    let Some(case) = store.case(case_id)? else {
        return Ok(Outcome::Refused(Refusal::NotFound { case: case_id.to_string() }));
    };
    if case.owner != *rules.node {
        return Ok(Outcome::Refused(Refusal::NotOwner { case: case.id, owner: case.owner.to_string() }));
    }
    if let Err(r) = step.validate() {
        return Ok(Outcome::Refused(r));
    }
    let target = match transfer_target(rules, &step.action) {
        Ok(t) => t,
        Err(r) => return Ok(Outcome::Refused(r)),
    };
    let department = match &step.action {
        Action::Dispatch { handler } if handler.kind == crate::case::HandlerKind::Department => {
            match store.department(&handler.name)? {
                Some(d) => Some(d),
                None => {
                    return Ok(Outcome::Refused(invalid(
                        "handler",
                        format!("{:?} is not a department registered at node {}", handler.name, rules.node),
                    )))
                }
            }
        }
        _ => None,
    };
    let mut new = match workflow::apply(&case, step, ctx.now, rules.policy) {
        Ok(new) => new,
        Err(e) => return Ok(Outcome::Refused(e.into())),
    };
    if let (Some(d), None) = (&department, case.due_at) {
        new.due_at = Some(ctx.now + d.minutes * 60_000);
    }
    match target {
        Some(to) => {
            new.owner = to.clone();
            if !new.watchers.contains(rules.node) {
                new.watchers.push(rules.node.clone());
            }
            let env = Envelope {
                origin: rules.node.clone(),
                to: to.clone(),
                queued_at: ctx.now,
                body: Body::Transfer { case: Box::new(new.clone()) },
            };
            enqueue(store, rules, ctx, env)?;
            notify(store, rules, ctx, &new, &to)?;
        }
        None => notify(store, rules, ctx, &new, rules.node)?,
    }
    put_case(store, rules, ctx, Some(&case), new.clone())?;
    Ok(Outcome::Acted { case: Box::new(new) })
}

fn is_neighbour(rules: &Rules<'_>, from: &Code) -> bool {
    rules.parent == Some(from) || rules.children.contains(from)
}

fn receive<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    from: &Code,
    batch: &[(u64, Envelope)],
) -> Result<Outcome, S::Error> {
    if !is_neighbour(rules, from) {
        return Ok(Outcome::Refused(Refusal::NotNeighbour { from: from.to_string() }));
    }
    let mut hwm = store.inbox_hwm(from)?;
    let start = hwm;
    let mut sorted: Vec<&(u64, Envelope)> = batch.iter().collect();
    sorted.sort_by_key(|(seq, _)| *seq);
    for (seq, env) in sorted {
        if *seq <= hwm {
            continue; // already applied: a resend
        }
        if *seq != hwm + 1 {
            break; // a gap: the sender resends in order
        }
        deliver(store, rules, ctx, env)?;
        hwm = *seq;
    }
    if hwm != start {
        store.write(Change::InboxHwm { from: from.clone(), hwm })?;
    }
    Ok(Outcome::Received { hwm })
}

fn deliver<S: Store>(store: &mut S, rules: &Rules<'_>, ctx: Ctx, env: &Envelope) -> Result<(), S::Error> {
    if env.to != *rules.node {
        enqueue(store, rules, ctx, env.clone())?; // in transit: on to the next hop
        return Ok(());
    }
    let incoming = env.case();
    let existing = store.case(&incoming.id)?;
    match &env.body {
        Body::Transfer { case } => {
            let newer = existing.as_ref().is_none_or(|e| case.epoch > e.epoch);
            if newer && case.owner == *rules.node {
                put_case(store, rules, ctx, existing.as_ref(), (**case).clone())?;
            }
        }
        Body::Status { case } => {
            let ours = existing.as_ref().is_some_and(|e| e.owner == *rules.node);
            let newer = existing.as_ref().is_none_or(|e| (case.epoch, case.version) > (e.epoch, e.version));
            if !ours && newer && case.owner != *rules.node {
                put_case(store, rules, ctx, existing.as_ref(), (**case).clone())?;
            }
        }
    }
    Ok(())
}

fn rollup<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    from: &Code,
    entries: &[(TallyKey, Tally)],
    fresh: &[Freshness],
) -> Result<Outcome, S::Error> {
    if !rules.children.contains(from) {
        return Ok(Outcome::Refused(Refusal::NotNeighbour { from: from.to_string() }));
    }
    for (key, tally) in entries {
        if !key.owner.is_within(from) {
            continue; // a child speaks only for its own subtree
        }
        let mut current = store.tally(key)?.unwrap_or_default();
        if current.merge(tally) {
            store.write(Change::Tally { key: key.clone(), tally: current })?;
        }
    }
    for f in fresh {
        if !f.node.is_within(from) {
            continue;
        }
        let newer = store
            .fresh(&f.node)?
            .is_none_or(|old| f.version > old.version || f.produced_at > old.produced_at);
        if newer {
            store.write(Change::Fresh(f.clone()))?;
        }
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::Mem;
    use crate::workflow::Action;

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
        Rules { node, policy, catalog: Catalog::standard(), parent: None, children: &[], grids: &[] }
    }

    fn ctx(now: Millis) -> Ctx {
        Ctx { now, index: 1 }
    }

    #[test]
    fn a_retried_report_creates_no_second_case() {
        let node = Code::parse("node", "370102001001").unwrap();
        let policy = DeadlinePolicy::default();
        let r = rules(&node, &policy);
        let mut m = Mem::default();
        let now = 1_795_000_000_000;
        let cmd = Command::Report(new_case(Some("r1"), "370102001001001"));
        let first = apply(&mut m, &r, ctx(now), &cmd).unwrap();
        let again = apply(&mut m, &r, ctx(now + 5), &cmd).unwrap();
        let (Outcome::Reported { case: a, duplicate: false }, Outcome::Reported { case: b, duplicate: true }) =
            (first, again)
        else {
            panic!("unexpected outcomes");
        };
        assert_eq!(a, b);
        assert_eq!(m.cases.len(), 1);
        assert_eq!(m.subtree(&node).total, 1);
        assert!(a.id.starts_with("370102001001-2026"), "{}", a.id);
    }

    #[test]
    fn a_grid_outside_the_node_is_refused_and_nothing_written() {
        let node = Code::parse("node", "370102001001").unwrap();
        let policy = DeadlinePolicy::default();
        let mut m = Mem::default();
        let cmd = Command::Report(new_case(None, "370102001002001"));
        let out = apply(&mut m, &rules(&node, &policy), ctx(0), &cmd).unwrap();
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
        let step =
            Step { action: Action::Close, actor: "op".into(), note: String::new(), expected_version: None };
        let out =
            apply(&mut m, &r, ctx(0), &Command::Act { case_id: "nope".into(), step: step.clone() }).unwrap();
        assert!(matches!(out, Outcome::Refused(Refusal::NotFound { .. })));
        let Outcome::Reported { case, .. } =
            apply(&mut m, &r, ctx(0), &Command::Report(new_case(None, "370102001001001"))).unwrap()
        else {
            panic!()
        };
        let before = m.tallies.clone();
        let out = apply(&mut m, &r, ctx(0), &Command::Act { case_id: case.id.clone(), step }).unwrap();
        assert!(matches!(out, Outcome::Refused(Refusal::Workflow(WorkflowError::IllegalAction { .. }))));
        assert_eq!(m.cases[&case.id], *case);
        assert_eq!(m.tallies, before);
    }

    #[test]
    fn escalating_without_a_parent_is_refused() {
        let node = Code::parse("node", "370102001001").unwrap();
        let policy = DeadlinePolicy::default();
        let r = rules(&node, &policy);
        let mut m = Mem::default();
        let Outcome::Reported { case, .. } =
            apply(&mut m, &r, ctx(0), &Command::Report(new_case(None, "370102001001001"))).unwrap()
        else {
            panic!()
        };
        let reg = Step {
            action: Action::Register,
            actor: "op".into(),
            note: String::new(),
            expected_version: None,
        };
        apply(&mut m, &r, ctx(1), &Command::Act { case_id: case.id.clone(), step: reg }).unwrap();
        let esc =
            Step { action: Action::Escalate, actor: "op".into(), note: "难".into(), expected_version: None };
        let out = apply(&mut m, &r, ctx(2), &Command::Act { case_id: case.id.clone(), step: esc }).unwrap();
        assert!(
            matches!(out, Outcome::Refused(Refusal::Invalid { ref field, .. }) if field == "action"),
            "{out:?}"
        );
    }
}
