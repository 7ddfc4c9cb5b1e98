//! Unit tests of a link restored from a backup: the inbox takes the sender's first delivery from where
//! it starts, and `Resequence` numbers the queue above the neighbour's high-water mark.

use super::*;
use crate::case::{Priority, Source};
use crate::category::Catalog;
use crate::code::Code;
use crate::deadline::DeadlinePolicy;
use crate::link::{Body, Envelope};
use crate::mem::Mem;

fn code(s: &str) -> Code {
    Code::parse("code", s).unwrap()
}

/// A transfer of a fresh case in `grid` from `origin` to `to`.
fn transfer(origin: &Code, to: &Code, grid: &str, n: u64) -> Envelope {
    let node = code("370102001001");
    let policy = DeadlinePolicy::default();
    let rules = Rules {
        node: &node,
        policy: &policy,
        catalog: Catalog::standard(),
        parent: None,
        children: &[],
        grids: &[],
        intake: &crate::intake::DEFAULT_RULES,
    };
    let mut m = Mem::default();
    let new = NewCase {
        request_id: Some(format!("r{n}")),
        grid: Some(code(grid)),
        category: "0101".into(),
        source: Source::Patrol,
        title: format!("案件 {n}"),
        description: String::new(),
        location: None,
        reporter: "网格员".into(),
        priority: Priority::Normal,
        by: String::new(),
        intake: Default::default(),
        within: None,
    };
    let Outcome::Reported { mut case, .. } =
        apply(&mut m, &rules, Ctx { now: 1_795_000_000_000 + n as i64, index: n }, &Command::Report(new))
            .unwrap()
    else {
        panic!("not reported")
    };
    case.id = format!("370102001001-20261118-{n:06}");
    case.owner = to.clone();
    case.epoch += 1;
    Envelope { origin: origin.clone(), to: to.clone(), queued_at: 0, body: Body::Transfer { case } }
}

struct Street {
    node: Code,
    parent: Code,
    children: Vec<Code>,
    policy: DeadlinePolicy,
}

impl Street {
    fn new() -> Street {
        Street {
            node: code("370102001"),
            parent: code("370102"),
            children: vec![code("370102001001")],
            policy: DeadlinePolicy::default(),
        }
    }
    fn rules(&self) -> Rules<'_> {
        Rules {
            node: &self.node,
            policy: &self.policy,
            catalog: Catalog::standard(),
            parent: Some(&self.parent),
            children: &self.children,
            grids: &[],
            intake: &crate::intake::DEFAULT_RULES,
        }
    }
}

fn ctx(index: u64) -> Ctx {
    Ctx { now: 1_795_000_100_000, index }
}

#[test]
fn a_restored_inbox_takes_the_first_delivery_from_where_it_starts_once() {
    let s = Street::new();
    let comm = s.children[0].clone();
    let mut m = Mem::default();
    m.inbox.insert(comm.clone(), 4);
    let batch = vec![
        (9, transfer(&comm, &s.node, "370102001001001", 9)),
        (10, transfer(&comm, &s.node, "370102001001001", 10)),
    ];
    // Not restored: 5..8 are missing, the sender must resend them first.
    let out = apply(
        &mut m,
        &s.rules(),
        ctx(1),
        &Command::Receive(Receive { from: comm.clone(), batch: batch.clone() }),
    );
    assert_eq!(out.unwrap(), Outcome::Received { hwm: 4 });
    // Restored: the community discarded 5..8 when the lost street acknowledged them; take 9 on.
    m.restored.insert(comm.clone(), RestoredLink { inbox: true, outbox: true });
    let out = apply(&mut m, &s.rules(), ctx(2), &Command::Receive(Receive { from: comm.clone(), batch }));
    assert_eq!(out.unwrap(), Outcome::Received { hwm: 10 });
    assert_eq!(m.cases.len(), 2);
    assert_eq!(
        m.restored[&comm],
        RestoredLink { inbox: false, outbox: true },
        "only once, and the outbox mark stays"
    );
    // From then on gaps wait again.
    let later = vec![(13, transfer(&comm, &s.node, "370102001001001", 13))];
    let out = apply(&mut m, &s.rules(), ctx(3), &Command::Receive(Receive { from: comm, batch: later }));
    assert_eq!(out.unwrap(), Outcome::Received { hwm: 10 });
}

#[test]
fn resequence_numbers_the_queue_above_the_neighbours_mark_in_order() {
    let s = Street::new();
    let district = s.parent.clone();
    let mut m = Mem::default();
    // The backup's queue: 7 and 8 (sent before the loss too), then 9 and 10 queued after the restore,
    // while the district had applied up to 12 from the street as it was before the loss.
    let queued: Vec<Envelope> =
        (7..=10).map(|n| transfer(&s.node, &district, "370102001001001", n)).collect();
    for (i, e) in queued.iter().enumerate() {
        m.outbox.insert((district.clone(), 7 + i as u64), e.clone());
    }
    m.outbox_next.insert(district.clone(), 11);
    m.restored.insert(district.clone(), RestoredLink { inbox: false, outbox: true });
    let cmd = Command::Resequence(Resequence { peer: district.clone(), applied: 12 });
    assert_eq!(cmd.since(), 2, "a protocol-2 command");
    assert_eq!(apply(&mut m, &s.rules(), ctx(1), &cmd).unwrap(), Outcome::Done);
    let now: Vec<(u64, Envelope)> = m.queued(&district);
    assert_eq!(now.iter().map(|(q, _)| *q).collect::<Vec<_>>(), [13, 14, 15, 16]);
    assert_eq!(now.into_iter().map(|(_, e)| e).collect::<Vec<_>>(), queued, "same messages, same order");
    assert_eq!(m.outbox_next[&district], 17);
    assert!(!m.restored.contains_key(&district), "the mark is cleared");
    // The next message follows on.
    assert_eq!(Store::outbox_next(&mut m, &district).unwrap(), 17);
}

#[test]
fn resequence_leaves_a_consistent_link_alone_and_refuses_a_stranger() {
    let s = Street::new();
    let district = s.parent.clone();
    let mut m = Mem::default();
    m.outbox.insert((district.clone(), 3), transfer(&s.node, &district, "370102001001001", 3));
    m.outbox_next.insert(district.clone(), 4);
    // Not marked, and the district is behind what was numbered: an ordinary link, nothing changes.
    let cmd = Command::Resequence(Resequence { peer: district.clone(), applied: 2 });
    assert_eq!(apply(&mut m, &s.rules(), ctx(1), &cmd).unwrap(), Outcome::Done);
    assert_eq!(m.queued(&district).iter().map(|(q, _)| *q).collect::<Vec<_>>(), [3]);
    assert_eq!(m.outbox_next[&district], 4);
    // Not marked, but the district applied 9, more than was ever numbered (a rollback): renumbered.
    let cmd = Command::Resequence(Resequence { peer: district.clone(), applied: 9 });
    apply(&mut m, &s.rules(), ctx(2), &cmd).unwrap();
    assert_eq!(m.queued(&district).iter().map(|(q, _)| *q).collect::<Vec<_>>(), [10]);
    assert_eq!(m.outbox_next[&district], 11);
    let stranger = Command::Resequence(Resequence { peer: code("370102002"), applied: 1 });
    assert!(matches!(
        apply(&mut m, &s.rules(), ctx(3), &stranger).unwrap(),
        Outcome::Refused(Refusal::NotNeighbour { .. })
    ));
}

#[test]
fn a_report_never_reuses_the_id_of_a_case_that_came_back() {
    let node = code("370102001001");
    let policy = DeadlinePolicy::default();
    let rules = Rules {
        node: &node,
        policy: &policy,
        catalog: Catalog::standard(),
        parent: None,
        children: &[],
        grids: &[],
        intake: &crate::intake::DEFAULT_RULES,
    };
    let mut m = Mem::default();
    let now = 1_795_000_000_000;
    let report = |m: &mut Mem, rid: &str| {
        let new = NewCase {
            request_id: Some(rid.into()),
            grid: Some(code("370102001001001")),
            category: "0101".into(),
            source: Source::Patrol,
            title: "楼道堆物".into(),
            description: String::new(),
            location: None,
            reporter: "网格员".into(),
            priority: Priority::Normal,
            by: String::new(),
            intake: Default::default(),
            within: None,
        };
        let Outcome::Reported { case, .. } =
            apply(m, &rules, Ctx { now, index: 1 }, &Command::Report(new)).unwrap()
        else {
            panic!("not reported")
        };
        case
    };
    let first = report(&mut m, "a");
    // Restored to before the first report, but the case came back from the street meanwhile.
    let back = m.cases[&first.id].clone();
    m = Mem::default();
    m.cases.insert(back.id.clone(), back.clone());
    let second = report(&mut m, "b");
    assert_ne!(second.id, first.id);
    assert_eq!(m.cases[&first.id], back, "the case that came back is untouched");
}
