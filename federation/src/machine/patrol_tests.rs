//! Unit tests of the patrol log in the state machine and of reports found on a patrol, on the
//! in-memory store.

use super::staff_tests::{field_of, Node, COMMUNITY, GRID};
use super::*;
use crate::code::Code;
use crate::people::{Patrol, PatrolId, Point, Role, RoutePoint, WorkerId};

const GRID_2: &str = "370102001001002";

impl Node {
    fn patrol(&mut self, op: PatrolOp) -> Result<Patrol, Refusal> {
        match self.apply(Command::Patrol(PatrolCmd { op, by: "gridfed://370102001001/operator".into() })) {
            Outcome::Patrol(p) => Ok(*p),
            Outcome::Refused(r) => Err(r),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn start(&mut self, worker: &WorkerId, grid: &str) -> Result<Patrol, Refusal> {
        self.patrol(PatrolOp::Start { worker: worker.clone(), grid: code(grid) })
    }

    fn end(&mut self, id: &PatrolId, route: Vec<RoutePoint>) -> Result<Patrol, Refusal> {
        self.patrol(PatrolOp::End { id: id.clone(), route })
    }

    /// Reports a case on `grid` found on `patrol`.
    fn report_on(&mut self, grid: &str, patrol: &str) -> Result<crate::case::Case, Refusal> {
        let mut new = super::tests::new_case(None, grid);
        new.intake.patrol = Some(PatrolId::parse("patrol_id", patrol).unwrap());
        match self.apply(Command::Report(new)) {
            Outcome::Reported { case, .. } => Ok(*case),
            Outcome::Refused(r) => Err(r),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn code(s: &str) -> Code {
    Code::parse("grid", s).unwrap()
}

fn worker_id(s: &str) -> WorkerId {
    WorkerId::parse("worker", s).unwrap()
}

#[test]
fn a_patrol_starts_and_ends_once_with_its_route() {
    let mut n = Node::new(COMMUNITY);
    let w = n.add("孙雅琴", Role::FullTime, &[GRID]).unwrap();
    let p = n.start(&w.id, GRID).unwrap();
    assert_eq!(p.id.to_string(), "P370102001001-000001");
    assert_eq!((p.started_at, p.ended_at), (n.now, None));
    assert_eq!(n.mem.patrol_number, 1);

    let at = n.now;
    let route = vec![
        RoutePoint { point: Point { lat: 36.661, lon: 117.041 }, at: at + 100 },
        RoutePoint { point: Point { lat: 36.662, lon: 117.043 }, at: at + 900 },
    ];
    let ended = n.end(&p.id, route.clone()).unwrap();
    assert_eq!((ended.ended_at, ended.route.clone()), (Some(n.now), route));
    assert_eq!(n.mem.patrols[&p.id], ended);

    // Ending it again is refused, naming the patrol, and writes nothing.
    let r = n.end(&p.id, vec![]).unwrap_err();
    assert_eq!(field_of(&r), "id", "{r}");
    assert!(r.to_string().contains("P370102001001-000001 ended at"), "{r}");
    assert_eq!(n.mem.patrols[&p.id], ended);

    // The next patrol takes the next number; an unknown patrol cannot be ended.
    let q = n.start(&w.id, GRID_2).unwrap();
    assert_eq!(q.id.to_string(), "P370102001001-000002");
    let r = n.end(&PatrolId::parse("id", "P370102001001-000009").unwrap(), vec![]).unwrap_err();
    assert_eq!(field_of(&r), "id", "{r}");
}

#[test]
fn a_patrol_by_an_unknown_inactive_or_busy_worker_is_refused_naming_the_worker() {
    let mut n = Node::new(COMMUNITY);
    // No roster at all.
    let r = n.start(&worker_id("W370102001001-001"), GRID).unwrap_err();
    assert_eq!(field_of(&r), "worker", "{r}");
    assert!(r.to_string().contains("gridnode staff add"), "{r}");

    let w = n.add("孙雅琴", Role::FullTime, &[GRID]).unwrap();
    let r = n.start(&worker_id("W370102001001-009"), GRID).unwrap_err();
    assert_eq!(field_of(&r), "worker", "{r}");
    n.staff(StaffOp::Deactivate { id: w.id.clone() }).unwrap();
    let r = n.start(&w.id, GRID).unwrap_err();
    assert_eq!(field_of(&r), "worker", "{r}");
    assert!(r.to_string().contains("not active"), "{r}");
    assert!(n.mem.patrols.is_empty() && n.mem.patrol_number == 0, "a refusal writes nothing");

    // Active again: one patrol at a time; a grid outside the community is refused.
    n.staff(StaffOp::Reactivate { id: w.id.clone() }).unwrap();
    let r = n.start(&w.id, "370102001002001").unwrap_err();
    assert_eq!(field_of(&r), "grid", "{r}");
    let p = n.start(&w.id, GRID).unwrap();
    let r = n.start(&w.id, GRID_2).unwrap_err();
    assert_eq!(field_of(&r), "worker", "{r}");
    assert!(r.to_string().contains(&format!("is on patrol {}", p.id)), "{r}");
    assert_eq!((n.mem.patrols.len(), n.mem.patrol_number), (1, 1));
}

#[test]
fn a_case_found_on_a_patrol_carries_its_id_and_one_of_another_grid_is_refused() {
    let mut n = Node::new(COMMUNITY);
    let w = n.add("孙雅琴", Role::FullTime, &[GRID]).unwrap();
    let p = n.start(&w.id, GRID).unwrap();
    let id = p.id.to_string();

    let case = n.report_on(GRID, &id).unwrap();
    assert_eq!(case.intake.patrol.as_ref(), Some(&p.id));
    assert_eq!(n.mem.cases[&case.id].intake.patrol.as_ref(), Some(&p.id));

    let (cases, seq) = (n.mem.cases.clone(), n.mem.seq);
    let r = n.report_on(GRID_2, &id).unwrap_err();
    assert_eq!(field_of(&r), "patrol_id", "{r}");
    assert!(r.to_string().contains("another grid"), "{r}");
    let r = n.report_on(GRID, "P370102001001-000042").unwrap_err();
    assert_eq!(field_of(&r), "patrol_id", "{r}");
    assert!(r.to_string().contains("is not a patrol of node 370102001001"), "{r}");

    // Once the patrol has ended, a later report cannot have been found on it.
    n.end(&p.id, vec![]).unwrap();
    let r = n.report_on(GRID, &id).unwrap_err();
    assert!(r.to_string().contains("outside the patrol's time"), "{r}");
    assert_eq!((n.mem.cases.clone(), n.mem.seq), (cases, seq), "refused reports write nothing");
}

#[test]
fn patrols_and_reports_found_on_them_wait_for_the_people_protocol() {
    let start = PatrolOp::Start { worker: worker_id("W370102001001-001"), grid: code(GRID) };
    assert_eq!(Command::Patrol(PatrolCmd { op: start, by: String::new() }).since(), crate::protocol::PEOPLE);
    let mut new = super::tests::new_case(None, GRID);
    assert_eq!(Command::Report(new.clone()).since(), 1);
    new.intake.patrol = Some(PatrolId::parse("patrol_id", "P370102001001-000001").unwrap());
    assert_eq!(Command::Report(new).since(), crate::protocol::PEOPLE);
}

#[test]
fn with_grid_boundaries_a_route_must_stay_near_the_grid() {
    let mut n = Node::new(COMMUNITY);
    let map = crate::geo::testkit::lixia();
    let imported = n.apply(Command::GridsImport(GridsImport { map: map.to_stored(), by: String::new() }));
    assert!(matches!(imported, Outcome::Imported { .. }), "{imported:?}");
    let b = map.bounds(&code(GRID)).unwrap();
    let all = map.bbox().unwrap();
    assert!(
        b.min_lat >= all.min_lat && b.max_lat <= all.max_lat && b.min_lat < b.max_lat,
        "{b:?} in {all:?}"
    );
    assert_eq!(map.bounds(&code("370102001001009")), None);

    let w = n.add("孙雅琴", Role::FullTime, &[GRID]).unwrap();
    let p = n.start(&w.id, GRID).unwrap();
    let at = n.now;
    let centre = Point { lat: (b.min_lat + b.max_lat) / 2.0, lon: (b.min_lon + b.max_lon) / 2.0 };
    let far = Point { lat: b.max_lat + 0.02, lon: centre.lon };
    let r = n
        .end(&p.id, vec![RoutePoint { point: centre, at }, RoutePoint { point: far, at: at + 1 }])
        .unwrap_err();
    assert_eq!(field_of(&r), "route[1]", "{r}");
    assert_eq!(n.mem.patrols[&p.id].ended_at, None, "a refused end writes nothing");
    let ended = n.end(&p.id, vec![RoutePoint { point: centre, at }]).unwrap();
    assert_eq!(ended.route.len(), 1);
}
