//! Unit tests of intake in the state machine: grid boundaries imported and passed down, reports
//! located by point (micro-grid first), unassigned cases parked and placed, senders' scopes, photos
//! and keys of integrating systems.

use super::super::{
    apply, Act, ApiKeyCreate, ApiKeyRevoke, Command, Ctx, NewCase, Outcome, Place, Refusal, Rules,
};
use crate::case::{Location, Priority, Source};
use crate::category::Catalog;
use crate::code::Code;
use crate::deadline::DeadlinePolicy;
use crate::geo::{GridMap, ImportOptions, StoredMap};
use crate::grids::GridSet;
use crate::intake::photo::{encode_png, inspect, DEFAULT_MAX_PHOTO_BYTES};
use crate::intake::{Intake, IntakeRules, Photo, PhotoKind, Unlocated};
use crate::link::Body;
use crate::machine::GridsImport;
use crate::mem::Mem;
use crate::workflow::{Action, Step};

const FIXTURE: &str = include_str!("../../tests/data/lixia_grids.geojson");
/// Inside grid 370102001001005 of the fixture, outside every micro-grid.
const IN_005: (f64, f64) = (36.6645, 117.056);
/// Inside micro-grid 370102001001001-03.
const IN_MICRO_03: (f64, f64) = (36.6668, 117.0521);
/// Far from every grid.
const NOWHERE: (f64, f64) = (36.70, 117.10);

fn code(s: &str) -> Code {
    Code::parse("c", s).unwrap()
}

struct Node {
    node: Code,
    parent: Option<Code>,
    children: Vec<Code>,
    policy: DeadlinePolicy,
    intake: IntakeRules,
}

impl Node {
    fn new(node: &str, children: &[&str]) -> Node {
        let node = code(node);
        Node {
            parent: node.parent(),
            node,
            children: children.iter().map(|c| code(c)).collect(),
            policy: DeadlinePolicy::default(),
            intake: IntakeRules { node_name: "历下区".into(), ..IntakeRules::default() },
        }
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            node: &self.node,
            policy: &self.policy,
            catalog: Catalog::standard(),
            parent: self.parent.as_ref(),
            children: &self.children,
            grids: &[],
            intake: &self.intake,
        }
    }

    fn apply(&self, m: &mut Mem, now: i64, cmd: Command) -> Outcome {
        m.index += 1;
        apply(m, &self.rules(), Ctx { now, index: m.index }, &cmd).unwrap()
    }
}

fn district() -> Node {
    Node::new("370102", &["370102001", "370102002"])
}

fn fixture() -> StoredMap {
    GridMap::import(FIXTURE, &ImportOptions::default()).unwrap().to_stored()
}

fn import() -> Command {
    Command::GridsImport(GridsImport { map: fixture(), by: "gridfed://370102/operator".into() })
}

fn by_point((lat, lon): (f64, f64), rid: &str) -> NewCase {
    NewCase {
        request_id: Some(rid.into()),
        grid: None,
        category: "0101".into(),
        source: Source::Hotline,
        title: "垃圾堆积".into(),
        description: String::new(),
        location: Some(Location { lat: Some(lat), lon: Some(lon), address: "文化东路59号".into() }),
        reporter: "市民".into(),
        priority: Priority::Normal,
        by: String::new(),
        intake: Intake::default(),
        within: None,
    }
}

fn reported(out: Outcome) -> crate::case::Case {
    match out {
        Outcome::Reported { case, .. } => *case,
        other => panic!("{other:?}"),
    }
}

fn refused_field(out: Outcome) -> (String, String) {
    match out {
        Outcome::Refused(Refusal::Invalid { field, message }) => (field, message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_import_is_a_new_version_sent_down_to_each_child_in_parts() {
    let d = district();
    let mut m = Mem::default();
    let Outcome::Imported { version, places } = d.apply(&mut m, 1_000, import()) else { panic!() };
    assert_eq!((places, version.at, version.origin.as_str()), (10, 1_000, "370102"));
    let queued: Vec<_> = m.outbox.values().collect();
    assert_eq!(queued.len(), 2, "one message per child");
    let part = |to: &str| match &queued.iter().find(|e| e.to.as_str() == to).unwrap().body {
        Body::Boundaries { set } => set.map.places.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!((part("370102001"), part("370102002")), (10, 0));
    // A re-import is a newer version.
    let Outcome::Imported { version: v2, .. } = d.apply(&mut m, 2_000, import()) else { panic!() };
    assert!(v2 > version);
    assert_eq!(m.grids.as_ref().unwrap().0.version, v2);
}

#[test]
fn a_street_keeps_the_newest_set_and_passes_it_down() {
    let street = Node::new("370102001", &["370102001001", "370102001002"]);
    let mut m = Mem::default();
    let d = district();
    let mut dm = Mem::default();
    d.apply(&mut dm, 5_000, import());
    let newer = dm.outbox.values().find(|e| e.to.as_str() == "370102001").unwrap().clone();
    let older = {
        let mut e = newer.clone();
        let Body::Boundaries { set } = &mut e.body else { panic!() };
        set.version.at = 1_000;
        e
    };
    let receive = |seq, env| {
        Command::Receive(crate::machine::Receive { from: code("370102"), batch: vec![(seq, env)] })
    };
    street.apply(&mut m, 6_000, receive(1, newer));
    let (set, map) = m.grids.clone().unwrap();
    assert_eq!((set.version.at, map.len()), (5_000, 10));
    assert_eq!(m.outbox.len(), 2, "each community gets its part");
    street.apply(&mut m, 7_000, receive(2, older));
    assert_eq!(m.grids.as_ref().unwrap().0.version.at, 5_000, "an older version changes nothing");
    assert_eq!(m.outbox.len(), 2);
    // Boundaries never flow up: a child's message is ignored.
    let from_below = GridSet {
        version: crate::grids::MapVersion { at: 9_000, origin: code("370102001001"), index: 1 },
        map: fixture(),
    };
    let env = crate::link::Envelope {
        origin: code("370102001001"),
        to: code("370102001"),
        queued_at: 0,
        body: Body::Boundaries { set: Box::new(from_below) },
    };
    street.apply(
        &mut m,
        8_000,
        Command::Receive(crate::machine::Receive { from: code("370102001001"), batch: vec![(1, env)] }),
    );
    assert_eq!(m.grids.as_ref().unwrap().0.version.at, 5_000);
}

#[test]
fn imports_outside_the_node_or_on_grid_000_are_refused_with_every_place_listed() {
    let street = Node::new("370102002", &["370102002001"]);
    let mut m = Mem::default();
    let (field, message) = refused_field(street.apply(&mut m, 0, import()));
    assert_eq!(field, "places");
    assert!(message.starts_with("10 problem(s), nothing imported:"), "{message}");
    assert_eq!(message.lines().count(), 11, "{message}");
    assert!(message.contains("feature 0 (370102001001001): grid 370102001001001 is not under node 370102002"));
    assert!(m.grids.is_none() && m.outbox.is_empty());
    // A district whose children lead nowhere near the grids.
    let d = Node::new("370102", &["370102002"]);
    let (_, message) = refused_field(d.apply(&mut m, 0, import()));
    assert!(message.contains("no configured child of 370102 leads to community 370102001001"), "{message}");
    let mut zero = fixture();
    zero.places[0].code = "370102001001000".parse().unwrap();
    let (_, message) = refused_field(district().apply(
        &mut m,
        0,
        Command::GridsImport(GridsImport { map: zero, by: String::new() }),
    ));
    assert!(message.contains("grid number 000 is reserved"), "{message}");
}

#[test]
fn a_report_by_point_is_located_micro_grid_first_and_routed_down() {
    let d = district();
    let mut m = Mem::default();
    d.apply(&mut m, 1_000, import());
    let before = m.outbox.len();
    let case = reported(d.apply(&mut m, 2_000, Command::Report(by_point(IN_MICRO_03, "p1"))));
    assert_eq!(case.grid.as_str(), "370102001001001");
    assert_eq!(case.intake.micro.as_ref().map(|p| p.to_string()).as_deref(), Some("370102001001001-03"));
    assert_eq!(case.owner.as_str(), "370102001001", "routed to the grid's community");
    assert_eq!(case.location.as_ref().and_then(|l| l.lat), Some(IN_MICRO_03.0), "the point is kept");
    assert_eq!(m.outbox.len(), before + 1, "a transfer toward the community");
    let case = reported(d.apply(&mut m, 3_000, Command::Report(by_point(IN_005, "p2"))));
    assert_eq!((case.grid.as_str(), case.intake.micro.clone()), ("370102001001005", None));
    // A retry returns the first case.
    let Outcome::Reported { duplicate: true, case: again } =
        d.apply(&mut m, 4_000, Command::Report(by_point(IN_005, "p2")))
    else {
        panic!()
    };
    assert_eq!(again.id, case.id);
}

#[test]
fn a_point_in_no_grid_is_refused_naming_it_or_parked_then_placed() {
    let d = district();
    let mut m = Mem::default();
    let (field, message) = refused_field(d.apply(&mut m, 1_000, Command::Report(by_point(NOWHERE, "n0"))));
    assert_eq!(field, "location");
    assert!(message.contains("it holds no grid boundaries"), "{message}");
    d.apply(&mut m, 1_000, import());
    let (field, message) = refused_field(d.apply(&mut m, 2_000, Command::Report(by_point(NOWHERE, "n1"))));
    assert_eq!(field, "location");
    assert_eq!(message, "point (36.7, 117.1) (WGS-84) lies in no grid of node 370102");
    assert!(m.cases.is_empty() && m.seq == 0, "nothing written");

    let mut parking = district();
    parking.intake.unlocated = Unlocated::Park;
    let parked = reported(parking.apply(&mut m, 3_000, Command::Report(by_point(NOWHERE, "n2"))));
    assert!(parked.is_unplaced());
    assert_eq!((parked.owner.as_str(), parked.grid.as_str()), ("370102", "370102000000000"));
    assert_eq!(parked.intake.owner_name, "历下区");
    assert!(parked.audit[0].note.contains("待分派"), "{}", parked.audit[0].note);
    // An address alone is parked as well.
    let mut address_only = by_point(NOWHERE, "n3");
    address_only.location = Some(Location { lat: None, lon: None, address: "文化东路59号院".into() });
    assert!(reported(parking.apply(&mut m, 3_500, Command::Report(address_only))).is_unplaced());

    // Nothing but placing or cancelling is done to it meanwhile.
    let register = Step {
        action: Action::Register,
        actor: "值班员".into(),
        note: String::new(),
        expected_version: None,
        by: String::new(),
    };
    let (field, _) =
        refused_field(parking.apply(&mut m, 4_000, Command::Act(Act::new(parked.id.clone(), register))));
    assert_eq!(field, "action");
    let place = |grid: &str| {
        Command::Place(Place {
            case_id: parked.id.clone(),
            grid: code(grid),
            actor: "值班员".into(),
            note: "电话核实在文化东路".into(),
            expected_version: Some(1),
            by: String::new(),
        })
    };
    let (field, _) = refused_field(parking.apply(&mut m, 5_000, place("370102003001001")));
    assert_eq!(field, "grid", "a grid no child leads to");
    let outbox = m.outbox.len();
    let Outcome::Acted { case: placed } = parking.apply(&mut m, 6_000, place("370102001001002")) else {
        panic!()
    };
    assert_eq!(
        (placed.grid.as_str(), placed.owner.as_str(), placed.epoch),
        ("370102001001002", "370102001001", 2)
    );
    assert_eq!(placed.audit.last().unwrap().action, "place");
    assert!(placed.watchers.contains(&code("370102")));
    assert_eq!(m.outbox.len(), outbox + 1, "handed down as a report would be");
    assert!(matches!(parking.apply(&mut m, 7_000, place("370102001001002")), Outcome::Refused(_)), "once");
}

#[test]
fn a_sender_scoped_to_a_street_reports_only_there() {
    let d = district();
    let mut m = Mem::default();
    d.apply(&mut m, 1_000, import());
    let mut new = by_point(IN_005, "w1");
    new.within = Some(code("370102002"));
    let (field, message) = refused_field(d.apply(&mut m, 2_000, Command::Report(new.clone())));
    assert_eq!(field, "location");
    assert!(message.contains("outside 370102002"), "{message}");
    new.within = Some(code("370102001"));
    reported(d.apply(&mut m, 2_000, Command::Report(new)));
}

fn photo(kind: PhotoKind, seed: u8) -> Photo {
    let png = encode_png(8, 8, |x, y| [seed, x as u8, y as u8]);
    Photo::of(&png, inspect("p", &png, DEFAULT_MAX_PHOTO_BYTES).unwrap(), kind)
}

#[test]
fn photos_come_with_reports_and_feedback_and_are_stamped_with_their_home() {
    let c = Node::new("370102001001", &[]);
    let mut m = Mem::default();
    let mut new = by_point(IN_005, "ph");
    new.grid = Some(code("370102001001005"));
    new.intake.photos = vec![photo(PhotoKind::Before, 1)];
    let case = reported(c.apply(&mut m, 1_000, Command::Report(new.clone())));
    let p = &case.intake.photos[0];
    assert_eq!((p.home.as_ref().map(Code::as_str), p.at), (Some("370102001001"), 1_000));
    new.request_id = Some("ph2".into());
    new.intake.photos = vec![photo(PhotoKind::After, 2)];
    assert_eq!(refused_field(c.apply(&mut m, 1_000, Command::Report(new))).0, "photos[0].kind");
    let step = |action| Step {
        action,
        actor: "张伟".into(),
        note: String::new(),
        expected_version: None,
        by: String::new(),
    };
    c.apply(&mut m, 2_000, Command::Act(Act::new(case.id.clone(), step(Action::Register))));
    let handler = crate::case::Handler { kind: crate::case::HandlerKind::GridWorker, name: "张伟".into() };
    c.apply(&mut m, 3_000, Command::Act(Act::new(case.id.clone(), step(Action::Dispatch { handler }))));
    c.apply(&mut m, 4_000, Command::Act(Act::new(case.id.clone(), step(Action::Start))));
    let mut handled = Act::new(case.id.clone(), step(Action::Handled));
    handled.photos = vec![photo(PhotoKind::After, 3), photo(PhotoKind::After, 4)];
    let Outcome::Acted { case: done } = c.apply(&mut m, 5_000, Command::Act(handled.clone())) else {
        panic!()
    };
    assert_eq!(
        done.intake.photos.iter().map(|p| p.kind).collect::<Vec<_>>(),
        [PhotoKind::Before, PhotoKind::After, PhotoKind::After]
    );
    // The same photo twice is refused.
    handled.step.action = Action::Close;
    handled.photos.truncate(1);
    assert_eq!(refused_field(c.apply(&mut m, 6_000, Command::Act(handled))).0, "photos[0].sha256");
}

#[test]
fn keys_are_created_scoped_to_the_subtree_and_revoked_once() {
    let d = district();
    let mut m = Mem::default();
    let create = |id: &str, scope: &str| {
        Command::ApiKeyCreate(ApiKeyCreate {
            id: id.into(),
            name: "12345热线".into(),
            scope: code(scope),
            source: Source::Hotline,
            hash: crate::access::hash_secret("0123456789abcdef"),
            created_by: "gridfed://370102/operator".into(),
        })
    };
    let Outcome::ApiKey(k) = d.apply(&mut m, 1_000, create("ab12", "370102001")) else { panic!() };
    assert_eq!((k.created_at, k.source), (1_000, Source::Hotline));
    assert_eq!(refused_field(d.apply(&mut m, 2_000, create("ab12", "370102"))).0, "id");
    assert_eq!(refused_field(d.apply(&mut m, 2_000, create("cd34", "370103"))).0, "scope");
    let revoke = Command::ApiKeyRevoke(ApiKeyRevoke { id: "ab12".into() });
    d.apply(&mut m, 3_000, revoke.clone());
    d.apply(&mut m, 4_000, revoke);
    assert_eq!(m.api_keys["ab12"].revoked_at, Some(3_000));
}
