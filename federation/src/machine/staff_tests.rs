//! Unit tests of the roster in the state machine and of dispatch by it, on the in-memory store.

use super::*;
use crate::case::{Case, Handler, HandlerKind};
use crate::category::Catalog;
use crate::code::Code;
use crate::deadline::DeadlinePolicy;
use crate::geo::PlaceCode;
use crate::mem::Mem;
use crate::people::{Phone, Role, Worker};
use crate::workflow::{Action, Step};

pub(super) const COMMUNITY: &str = "370102001001";
pub(super) const GRID: &str = "370102001001001";

pub(super) struct Node {
    code: Code,
    policy: DeadlinePolicy,
    pub(super) mem: Mem,
    pub(super) now: i64,
}

impl Node {
    pub(super) fn new(code: &str) -> Node {
        Node {
            code: Code::parse("node", code).unwrap(),
            policy: DeadlinePolicy::default(),
            mem: Mem::default(),
            now: 1_795_000_000_000,
        }
    }

    pub(super) fn apply(&mut self, cmd: Command) -> Outcome {
        self.now += 1000;
        let rules = Rules {
            node: &self.code,
            policy: &self.policy,
            catalog: Catalog::standard(),
            parent: None,
            children: &[],
            grids: &[],
            intake: &crate::intake::DEFAULT_RULES,
        };
        apply(&mut self.mem, &rules, Ctx { now: self.now, index: 1 }, &cmd).unwrap()
    }

    pub(super) fn staff(&mut self, op: StaffOp) -> Result<Vec<Worker>, Refusal> {
        match self.apply(Command::Staff(Staff { op, by: "gridfed://370102001001/operator".into() })) {
            Outcome::Staff(w) => Ok(w),
            Outcome::Refused(r) => Err(r),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn add(&mut self, name: &str, role: Role, places: &[&str]) -> Result<Worker, Refusal> {
        let phone =
            Phone::parse("phone", &format!("1380531{:04}", self.mem.roster.iter().count() * 7 + name.len()))
                .unwrap();
        let op = StaffOp::Add {
            name: name.into(),
            role,
            phone,
            places: places.iter().map(|p| place(p)).collect(),
        };
        self.staff(op).map(|mut w| w.remove(0))
    }

    /// A case reported on `grid` and registered, ready to dispatch.
    pub(super) fn registered_case(&mut self, grid: &str) -> Case {
        let new = super::tests::new_case(None, grid);
        let Outcome::Reported { case, .. } = self.apply(Command::Report(new)) else { panic!("report") };
        self.act(&case.id, Action::Register).unwrap()
    }

    pub(super) fn act(&mut self, case: &str, action: Action) -> Result<Case, Refusal> {
        let step = Step {
            action,
            actor: "值班员".into(),
            note: "请尽快".into(),
            expected_version: None,
            by: String::new(),
        };
        match self.apply(Command::Act(Act::new(case, step))) {
            Outcome::Acted { case } => Ok(*case),
            Outcome::Refused(r) => Err(r),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn dispatch_to(&mut self, case: &str, name: &str) -> Result<Case, Refusal> {
        let handler = Handler { kind: HandlerKind::GridWorker, name: name.into() };
        self.act(case, Action::Dispatch { handler })
    }
}

pub(super) fn place(s: &str) -> PlaceCode {
    PlaceCode::parse("place", s).unwrap()
}

pub(super) fn field_of(r: &Refusal) -> &str {
    match r {
        Refusal::Invalid { field, .. } => field,
        other => panic!("not a field refusal: {other:?}"),
    }
}

#[test]
fn workers_get_the_next_number_of_the_node_and_a_bad_place_is_refused_naming_it() {
    let mut n = Node::new(COMMUNITY);
    let a = n.add("刘晓燕", Role::GridLeader, &[GRID]).unwrap();
    let b = n.add("孙雅琴", Role::FullTime, &["370102001001001-03"]).unwrap();
    assert_eq!(
        (a.id.to_string(), b.id.to_string()),
        ("W370102001001-001".into(), "W370102001001-002".into())
    );
    let before = n.mem.roster.clone();
    let r = n.add("王强", Role::FullTime, &[GRID, "370102001002001"]).unwrap_err();
    assert_eq!(field_of(&r), "places[1]", "{r}");
    assert!(r.to_string().contains("370102001002001"), "{r}");
    assert_eq!(n.mem.roster, before, "a refused change writes nothing");
    // A grid leader leads unit grids, not micro-grids.
    let r = n.add("赵敏", Role::GridLeader, &["370102001001001-03"]).unwrap_err();
    assert_eq!(field_of(&r), "places[0]", "{r}");
}

#[test]
fn a_district_keeps_no_roster() {
    let mut n = Node::new("370102");
    let r = n.add("刘晓燕", Role::FullTime, &[]).unwrap_err();
    assert_eq!(field_of(&r), "keeper", "{r}");
    assert!(n.mem.roster.is_none());
}

#[test]
fn auto_dispatch_picks_the_micro_grid_worker_then_the_grid_worker_then_the_leader() {
    let mut n = Node::new(COMMUNITY);
    let leader = n.add("刘晓燕", Role::GridLeader, &[GRID]).unwrap();
    let case = n.registered_case(GRID);
    // Only the leader: the leader gets it, and the audit note says why.
    let c = n.dispatch_to(&case.id, AUTO_WORKER).unwrap();
    let handler = c.handler.clone().unwrap();
    assert_eq!(
        (handler.kind, handler.name.as_str()),
        (HandlerKind::GridWorker, leader.id.to_string().as_str())
    );
    let note = &c.audit.last().unwrap().note;
    assert!(
        note.starts_with("自动派单 W370102001001-001 刘晓燕 (网格长): 网格 370102001001001 的网格长"),
        "{note}"
    );
    assert!(note.ends_with("; 请尽快"), "the operator's note is kept: {note}");

    // A full-time and a part-time worker of the grid: the full-time one, before the leader.
    let part = n.add("张伟", Role::PartTime, &[GRID]).unwrap();
    let full = n.add("孙雅琴", Role::FullTime, &[GRID]).unwrap();
    let id = n.registered_case(GRID).id;
    let c = n.dispatch_to(&id, AUTO_WORKER).unwrap();
    assert_eq!(c.handler.unwrap().name, full.id.to_string());
    assert!(c.audit.last().unwrap().note.contains("1 of 2 candidates"), "{:?}", c.audit.last());

    // Deactivated: the part-time worker is next.
    n.staff(StaffOp::Deactivate { id: full.id.clone() }).unwrap();
    let id = n.registered_case(GRID).id;
    let c = n.dispatch_to(&id, AUTO_WORKER).unwrap();
    assert_eq!(c.handler.unwrap().name, part.id.to_string());

    // A case located to a micro-grid goes to the micro-grid's worker first.
    let micro = n.add("王芳", Role::BuildingLeader, &["370102001001001-03"]).unwrap();
    let mut case = n.registered_case(GRID);
    case.intake.micro = Some(place("370102001001001-03"));
    n.mem.cases.insert(case.id.clone(), case.clone());
    let c = n.dispatch_to(&case.id, AUTO_WORKER).unwrap();
    assert_eq!(c.handler.unwrap().name, micro.id.to_string());
    assert!(c.audit.last().unwrap().note.contains("微网格 370102001001001-03"), "{:?}", c.audit.last());
}

#[test]
fn auto_dispatch_with_nobody_assigned_is_refused_and_changes_nothing() {
    let mut n = Node::new(COMMUNITY);
    let case = n.registered_case(GRID);
    let r = n.dispatch_to(&case.id, AUTO_WORKER).unwrap_err();
    assert_eq!(field_of(&r), "handler.name");
    assert!(r.to_string().contains("roster"), "{r}");

    n.add("王强", Role::FullTime, &["370102001001002"]).unwrap();
    let r = n.dispatch_to(&case.id, AUTO_WORKER).unwrap_err();
    assert_eq!(field_of(&r), "handler.name");
    assert!(r.to_string().contains("no active worker is assigned 370102001001001"), "{r}");
    assert_eq!(n.mem.cases[&case.id], case, "the case is unchanged");
}

#[test]
fn dispatch_to_a_worker_id_needs_an_active_worker_of_this_roster() {
    let mut n = Node::new(COMMUNITY);
    let w = n.add("孙雅琴", Role::FullTime, &[GRID]).unwrap();
    let case = n.registered_case(GRID);
    let r = n.dispatch_to(&case.id, "W370102001001-009").unwrap_err();
    assert_eq!(field_of(&r), "handler.name", "{r}");
    n.staff(StaffOp::Deactivate { id: w.id.clone() }).unwrap();
    let r = n.dispatch_to(&case.id, &w.id.to_string()).unwrap_err();
    assert!(r.to_string().contains("not active"), "{r}");
    n.staff(StaffOp::Reactivate { id: w.id.clone() }).unwrap();
    let c = n.dispatch_to(&case.id, &w.id.to_string()).unwrap();
    assert!(
        c.audit.last().unwrap().note.starts_with("派单 W370102001001-001 孙雅琴 (专职网格员)"),
        "{:?}",
        c.audit
    );
    // A free-text handler, as before rosters, still passes.
    let id = n.registered_case(GRID).id;
    let c = n.dispatch_to(&id, "张伟").unwrap();
    assert_eq!(c.handler.unwrap().name, "张伟");
}

#[test]
fn an_import_with_one_bad_row_imports_nothing_and_names_the_row() {
    let mut n = Node::new(COMMUNITY);
    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let header = row(&["工号", "姓名", "岗位", "手机号", "负责网格", "状态"]);
    let good = row(&["", "刘晓燕", "网格长", "13812341234", GRID, "在岗"]);
    let bad = row(&["", "孙雅琴", "专职网格员", "1381234", GRID, "在岗"]);
    let r = n.staff(StaffOp::Import { rows: vec![header.clone(), good.clone(), bad] }).unwrap_err();
    assert_eq!(field_of(&r), "rows");
    assert!(r.to_string().contains("第3行 手机号"), "{r}");
    assert!(n.mem.roster.is_none(), "nothing imported");
    let third = row(&["", "孙雅琴", "专职网格员", "13912341234", "370102001001001-03", "离岗"]);
    let w = n.staff(StaffOp::Import { rows: vec![header, good, third] }).unwrap();
    assert_eq!(w.len(), 2);
    assert!(w[0].active && !w[1].active, "{w:?}");
}

#[test]
fn roster_commands_and_dispatch_by_roster_wait_for_the_people_protocol() {
    let op = StaffOp::Deactivate { id: crate::people::WorkerId::parse("id", "W370102001001-001").unwrap() };
    assert_eq!(Command::Staff(Staff { op, by: String::new() }).since(), crate::protocol::PEOPLE);
    let act = |name: &str| {
        let handler = Handler { kind: HandlerKind::GridWorker, name: name.into() };
        let step = Step {
            action: Action::Dispatch { handler },
            actor: "a".into(),
            note: String::new(),
            expected_version: None,
            by: String::new(),
        };
        Command::Act(Act { rules: 0, ..Act::new("x", step) }).since()
    };
    assert_eq!(act(AUTO_WORKER), crate::protocol::PEOPLE);
    assert_eq!(act("W370102001001-001"), crate::protocol::PEOPLE);
    assert_eq!(act("张伟"), 1);
}
