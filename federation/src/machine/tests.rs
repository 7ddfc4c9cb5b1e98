//! Unit tests of the state machine on the in-memory store.

use super::*;
use crate::case::{Priority, Source, MAX_TITLE_CHARS};
use crate::category::Catalog;
use crate::code::Code;
use crate::deadline::DeadlinePolicy;
use crate::mem::Mem;
use crate::workflow::{Action, Step, WorkflowError};
use crate::Millis;

pub(super) fn new_case(rid: Option<&str>, grid: &str) -> NewCase {
    NewCase {
        request_id: rid.map(str::to_string),
        grid: Some(Code::parse("grid", grid).unwrap()),
        category: "0101".into(),
        source: Source::Hotline,
        title: "楼道堆放杂物".into(),
        description: "12345 转办".into(),
        location: None,
        reporter: "市民".into(),
        priority: Priority::Normal,
        by: String::new(),
        intake: Default::default(),
        within: None,
    }
}

fn rules<'a>(node: &'a Code, policy: &'a DeadlinePolicy) -> Rules<'a> {
    Rules {
        node,
        policy,
        catalog: Catalog::standard(),
        parent: None,
        children: &[],
        grids: &[],
        intake: &crate::intake::DEFAULT_RULES,
    }
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
    let step = Step {
        action: Action::Close,
        actor: "op".into(),
        note: String::new(),
        expected_version: None,
        by: String::new(),
    };
    let out = apply(&mut m, &r, ctx(0), &Command::Act(Act::new("nope", step.clone()))).unwrap();
    assert!(matches!(out, Outcome::Refused(Refusal::NotFound { .. })));
    let Outcome::Reported { case, .. } =
        apply(&mut m, &r, ctx(0), &Command::Report(new_case(None, "370102001001001"))).unwrap()
    else {
        panic!()
    };
    let before = m.tallies.clone();
    let out = apply(&mut m, &r, ctx(0), &Command::Act(Act::new(case.id.clone(), step))).unwrap();
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
        by: String::new(),
    };
    apply(&mut m, &r, ctx(1), &Command::Act(Act::new(case.id.clone(), reg))).unwrap();
    let esc = Step {
        action: Action::Escalate,
        actor: "op".into(),
        note: "难".into(),
        expected_version: None,
        by: String::new(),
    };
    let out = apply(&mut m, &r, ctx(2), &Command::Act(Act::new(case.id.clone(), esc))).unwrap();
    assert!(
        matches!(out, Outcome::Refused(Refusal::Invalid { ref field, .. }) if field == "action"),
        "{out:?}"
    );
}

/// A community with weekends off and a department of 8 hours (区城管执法局), and a case reported there
/// on Friday 2026-11-27 at 19:00, registered by an action marked with protocol `rules_mark`; then
/// `then(act)`, where `act(action, (day, hour))` applies an action so marked at that time.
fn friday_evening_case(rules_mark: u32, then: impl FnOnce(&mut dyn FnMut(Action, (&str, i64)) -> Outcome)) {
    let node = Code::parse("node", "370102001001").unwrap();
    let mut policy = DeadlinePolicy::default();
    policy.calendar.weekends_off = true;
    let r = rules(&node, &policy);
    let mut m = Mem::default();
    let at = crate::workflow::tests::at;
    let dept = Department { name: "区城管执法局".into(), minutes: 8 * 60 };
    apply(&mut m, &r, ctx(at("2026-11-27", 19)), &Command::Department(dept)).unwrap();
    let report = Command::Report(new_case(None, "370102001001001"));
    let Outcome::Reported { case, .. } = apply(&mut m, &r, ctx(at("2026-11-27", 19)), &report).unwrap()
    else {
        panic!()
    };
    let mut act = |action: Action, (day, hour): (&str, i64)| {
        let step = Step {
            action,
            actor: "op".into(),
            note: "等待协调".into(),
            expected_version: None,
            by: String::new(),
        };
        let cmd = Command::Act(Act { rules: rules_mark, ..Act::new(case.id.clone(), step) });
        apply(&mut m, &r, ctx(at(day, hour)), &cmd).unwrap()
    };
    act(Action::Register, ("2026-11-27", 19));
    then(&mut act);
}

fn to_department() -> Action {
    use crate::case::{Handler, HandlerKind};
    Action::Dispatch { handler: Handler { kind: HandlerKind::Department, name: "区城管执法局".into() } }
}

fn acted(out: Outcome) -> crate::case::Case {
    match out {
        Outcome::Acted { case } => *case,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_department_dispatched_on_a_friday_evening_has_its_limit_in_working_time() {
    let at = crate::workflow::tests::at;
    friday_evening_case(crate::protocol::CLOCKS, |act| {
        let case = acted(act(to_department(), ("2026-11-27", 20)));
        // Friday 20:00 + 8 working hours: Friday's last 4, Monday's first 4. The wall clock said Saturday 04:00.
        assert_eq!(case.due_at, Some(at("2026-11-30", 4)));
        assert_eq!(case.overall_due, Some(at("2026-11-30", 4)));
    });
}

/// An action logged before working-time clocks (no rules mark) applies as it did then, on every replica
/// and when its entry is replayed by a newer binary: a department's limit in wall time, a resume by the
/// wall time suspended, no overall deadline.
#[test]
fn an_action_logged_before_working_time_clocks_replays_as_it_was_applied() {
    let at = crate::workflow::tests::at;
    let unmarked = Act { rules: 0, ..Act::new("x", crate::workflow::tests::step(Action::Register)) };
    assert_eq!(Command::Act(unmarked).since(), 1, "an unmarked action is understood by every version");
    friday_evening_case(0, |act| {
        let c = acted(act(to_department(), ("2026-11-27", 20)));
        assert_eq!((c.due_at, c.overall_due), (Some(at("2026-11-28", 4)), None), "wall time, one clock");
        acted(act(Action::Suspend, ("2026-11-27", 21)));
        let c = acted(act(Action::Resume, ("2026-11-30", 21)));
        assert_eq!(c.due_at, Some(at("2026-12-01", 4)), "moved by the 72 wall-clock hours suspended");
    });
}

/// Only the node's supervision marks an escalation as 督办 (a client's request cannot carry the mark), and
/// a marked escalation waits for protocol 4 on every replica.
#[test]
fn only_an_escalation_marked_by_supervision_counts_as_supervised() {
    let node = Code::parse("node", "370102001001").unwrap();
    let street = Code::parse("parent", "370102001").unwrap();
    let policy = DeadlinePolicy::default();
    let mut r = rules(&node, &policy);
    r.parent = Some(&street);
    let mut m = Mem::default();
    let mut escalated = |rid: &str, supervision: bool| {
        let Outcome::Reported { case, .. } =
            apply(&mut m, &r, ctx(0), &Command::Report(new_case(Some(rid), "370102001001001"))).unwrap()
        else {
            panic!()
        };
        let act = |action| Act::new(case.id.clone(), crate::workflow::tests::step(action));
        apply(&mut m, &r, ctx(1), &Command::Act(act(Action::Register))).unwrap();
        let esc = Act { supervision, ..act(Action::Escalate) };
        assert_eq!(
            Command::Act(esc.clone()).since(),
            if supervision { crate::protocol::PEOPLE } else { crate::protocol::CLOCKS }
        );
        match apply(&mut m, &r, ctx(2), &Command::Act(esc)).unwrap() {
            Outcome::Acted { case } => case.supervised,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(escalated("by-hand", false), 0);
    assert_eq!(escalated("by-supervision", true), 1);
}
