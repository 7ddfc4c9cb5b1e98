//! Seeded simulation of a whole federation over a faulty network, with invariant checks.
//!
//! Seven nodes (a district, two streets, four communities) run the real state-machine logic on
//! in-memory stores. The network between neighbours drops, duplicates, reorders and truncates
//! deliveries and loses acknowledgements; rollups are replayed late. Random operators report, dispatch
//! down from above, act, escalate and send down. Invariants:
//! - at every step, no case is owned by two nodes;
//! - after the network heals and drains: every case is owned by exactly one node, every watcher holds the
//!   owner's final version, every report made exactly one case, and the district's subtree tallies equal
//!   the ground truth summed from every node's own cases.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::case::{CaseState, Handler, HandlerKind, Priority, Source};
use crate::category::Catalog;
use crate::code::{Code, Level};
use crate::deadline::DeadlinePolicy;
use crate::machine::{apply, Command, Ctx, NewCase, Outcome, Rules};
use crate::mem::Mem;
use crate::stats::Counters;
use crate::tally::Freshness;
use crate::workflow::{Action, Step};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Node {
    code: Code,
    parent: Option<Code>,
    children: Vec<Code>,
    grids: Vec<Code>,
    store: Mem,
    index: u64,
}

struct World {
    nodes: BTreeMap<Code, Node>,
    policy: DeadlinePolicy,
    now: i64,
    reports: usize,
    /// Old rollups, replayed late.
    stale_rollups: Vec<(Code, Code, Command)>,
}

fn c(s: &str) -> Code {
    Code::parse("c", s).unwrap()
}

impl World {
    fn new() -> World {
        let mut nodes = BTreeMap::new();
        let tree = [
            ("370102001", ["370102001001", "370102001002"]),
            ("370102002", ["370102002001", "370102002002"]),
        ];
        let district = c("370102");
        let mut all_grids = Vec::new();
        for (street, comms) in tree {
            let mut street_grids = Vec::new();
            for comm in comms {
                let grids: Vec<Code> = ["001", "002"].iter().map(|g| c(&format!("{comm}{g}"))).collect();
                street_grids.extend(grids.clone());
                nodes.insert(
                    c(comm),
                    Node {
                        code: c(comm),
                        parent: Some(c(street)),
                        children: vec![],
                        grids,
                        store: Mem::default(),
                        index: 0,
                    },
                );
            }
            all_grids.extend(street_grids.clone());
            nodes.insert(
                c(street),
                Node {
                    code: c(street),
                    parent: Some(district.clone()),
                    children: comms.iter().map(|x| c(x)).collect(),
                    grids: street_grids,
                    store: Mem::default(),
                    index: 0,
                },
            );
        }
        nodes.insert(
            district.clone(),
            Node {
                code: district,
                parent: None,
                children: vec![c("370102001"), c("370102002")],
                grids: all_grids,
                store: Mem::default(),
                index: 0,
            },
        );
        World {
            nodes,
            policy: DeadlinePolicy::default(),
            now: 1_795_000_000_000,
            reports: 0,
            stale_rollups: vec![],
        }
    }

    fn run(&mut self, at: &Code, cmd: &Command) -> Outcome {
        self.now += 1000;
        let policy = self.policy.clone();
        let n = self.nodes.get_mut(at).unwrap();
        n.index += 1;
        let rules = Rules {
            node: &n.code,
            policy: &policy,
            catalog: Catalog::standard(),
            parent: n.parent.as_ref(),
            children: &n.children,
            grids: &n.grids,
        };
        apply(&mut n.store, &rules, Ctx { now: self.now, index: n.index }, cmd).unwrap()
    }

    fn check_single_owner(&self) {
        let mut owners: BTreeMap<&str, Vec<&Code>> = BTreeMap::new();
        for n in self.nodes.values() {
            for case in n.store.cases.values() {
                if case.owner == n.code {
                    owners.entry(&case.id).or_default().push(&n.code);
                }
            }
        }
        for (id, who) in owners {
            assert!(who.len() <= 1, "case {id} owned by {who:?}");
        }
    }

    fn report(&mut self, rng: &mut Rng) {
        let codes: Vec<Code> = self.nodes.keys().cloned().collect();
        let at = codes[rng.below(codes.len())].clone();
        let grids = self.nodes[&at].grids.clone();
        let grid = grids[rng.below(grids.len())].clone();
        self.reports += 1;
        let new = NewCase {
            request_id: Some(format!("r{}", self.reports)),
            grid,
            category: "0101".into(),
            source: if at.level() == Level::Community { Source::Patrol } else { Source::Hotline },
            title: format!("案件 {}", self.reports),
            description: String::new(),
            location: None,
            reporter: "市民".into(),
            priority: Priority::Normal,
        };
        let out = self.run(&at, &Command::Report(new.clone()));
        assert!(matches!(out, Outcome::Reported { duplicate: false, .. }), "{out:?}");
        // A client retry with the same request id creates nothing.
        assert!(matches!(self.run(&at, &Command::Report(new)), Outcome::Reported { duplicate: true, .. }));
    }

    fn act(&mut self, rng: &mut Rng) {
        let codes: Vec<Code> = self.nodes.keys().cloned().collect();
        let at = codes[rng.below(codes.len())].clone();
        let owned: Vec<(String, CaseState)> = self.nodes[&at]
            .store
            .cases
            .values()
            .filter(|k| k.owner == at)
            .map(|k| (k.id.clone(), k.state))
            .collect();
        if owned.is_empty() {
            return;
        }
        let (id, state) = owned[rng.below(owned.len())].clone();
        let children = self.nodes[&at].children.clone();
        let action = match (state, rng.below(4)) {
            (CaseState::Reported, _) => Action::Register,
            (_, 0) if at.level() != Level::District => Action::Escalate,
            (_, 1) if !children.is_empty() => {
                Action::SendDown { to: children[rng.below(children.len())].clone() }
            }
            (CaseState::Registered | CaseState::Dispatched, _) => {
                Action::Dispatch { handler: Handler { kind: HandlerKind::GridWorker, name: "张伟".into() } }
            }
            (CaseState::Handling, _) => Action::Handled,
            (CaseState::Handled, 2) => Action::Return,
            (CaseState::Handled, _) => Action::Close,
            _ => Action::Start,
        };
        let action = if state == CaseState::Dispatched && rng.chance(60) { Action::Start } else { action };
        let step = Step { action, actor: "op".into(), note: "原因".into(), expected_version: None };
        self.run(&at, &Command::Act { case_id: id, step });
    }

    /// One delivery attempt on the link `from -> to`, with faults when `faulty`.
    fn deliver(&mut self, from: &Code, to: &Code, faulty: bool, rng: &mut Rng) {
        let mut batch = self.nodes[from].store.queued(to);
        if batch.is_empty() || (faulty && rng.chance(30)) {
            return; // link down
        }
        if faulty && rng.chance(30) {
            batch.truncate(1 + rng.below(batch.len()));
        }
        if faulty && rng.chance(30) {
            batch.reverse();
        }
        let cmd = Command::Receive { from: from.clone(), batch };
        let Outcome::Received { hwm } = self.run(to, &cmd) else { panic!("receive refused") };
        if faulty && rng.chance(20) {
            // Duplicate delivery: changes nothing.
            let before = self.nodes[to].store.cases.clone();
            self.run(to, &cmd);
            assert_eq!(before, self.nodes[to].store.cases, "a duplicate delivery changed {to}");
        }
        if faulty && rng.chance(30) {
            return; // the acknowledgement is lost; the sender resends
        }
        self.run(from, &Command::Acked { peer: to.clone(), upto: hwm });
    }

    fn links(&self) -> Vec<(Code, Code)> {
        let mut out = Vec::new();
        for n in self.nodes.values() {
            if let Some(p) = &n.parent {
                out.push((n.code.clone(), p.clone()));
                out.push((p.clone(), n.code.clone()));
            }
        }
        out
    }

    fn rollup(&mut self, child: &Code, rng: &mut Rng, faulty: bool) {
        let Some(parent) = self.nodes[child].parent.clone() else { return };
        let n = &self.nodes[child];
        let entries = n.store.tallies.iter().map(|(k, t)| (k.clone(), t.clone())).collect();
        let mut fresh: Vec<Freshness> = n.store.fresh.values().cloned().collect();
        fresh.push(Freshness { node: child.clone(), version: n.index, produced_at: self.now, overdue: 0 });
        let cmd = Command::Rollup { from: child.clone(), entries, fresh };
        if faulty && rng.chance(30) {
            self.stale_rollups.push((child.clone(), parent.clone(), cmd.clone()));
        }
        self.run(&parent, &cmd);
        if faulty && !self.stale_rollups.is_empty() && rng.chance(30) {
            let (_, p, old) = self.stale_rollups.remove(rng.below(self.stale_rollups.len()));
            self.run(&p, &old);
        }
    }

    fn drain(&mut self, rng: &mut Rng) {
        for _ in 0..50 {
            if self.nodes.values().all(|n| n.store.outbox.is_empty()) {
                return;
            }
            for (a, b) in self.links() {
                self.deliver(&a, &b, false, rng);
            }
        }
        panic!("outboxes did not drain");
    }

    fn check_quiescent(&mut self, rng: &mut Rng) {
        let mut owners: BTreeMap<String, Code> = BTreeMap::new();
        let mut truth = Counters::default();
        for n in self.nodes.values() {
            for case in n.store.cases.values().filter(|k| k.owner == n.code) {
                assert!(owners.insert(case.id.clone(), n.code.clone()).is_none(), "{} owned twice", case.id);
                truth.add(&Counters::of(case));
            }
        }
        let all_ids: BTreeSet<&String> = self.nodes.values().flat_map(|n| n.store.cases.keys()).collect();
        assert_eq!(all_ids.len(), self.reports, "every report makes exactly one case");
        assert_eq!(owners.len(), self.reports, "every case has an owner");
        for n in self.nodes.values() {
            for case in n.store.cases.values().filter(|k| k.owner != n.code) {
                let owner = &self.nodes[&owners[&case.id]].store.cases[&case.id];
                if owner.watchers.contains(&n.code) {
                    assert_eq!(
                        (case.epoch, case.version),
                        (owner.epoch, owner.version),
                        "{} stale at {}",
                        case.id,
                        n.code
                    );
                    assert_eq!(case.state, owner.state);
                }
            }
        }
        // Rollups, bottom-up, then the district's subtree equals the ground truth.
        let levels = [Level::Community, Level::Street];
        for level in levels {
            let codes: Vec<Code> = self.nodes.keys().filter(|k| k.level() == level).cloned().collect();
            for code in codes {
                self.rollup(&code, rng, false);
            }
        }
        let district = c("370102");
        assert_eq!(self.nodes[&district].store.subtree(&district), truth, "district subtree != ground truth");
        for street in ["370102001", "370102002"] {
            let s = c(street);
            assert_eq!(self.nodes[&district].store.subtree(&s), self.nodes[&s].store.subtree(&s));
        }
    }
}

fn simulate(seed: u64, steps: usize) -> World {
    let mut rng = Rng(seed | 1);
    let mut w = World::new();
    for _ in 0..steps {
        match rng.below(10) {
            0..=2 => w.report(&mut rng),
            3..=6 => w.act(&mut rng),
            7 | 8 => {
                let links = w.links();
                let (a, b) = links[rng.below(links.len())].clone();
                w.deliver(&a, &b, true, &mut rng);
            }
            _ => {
                let codes: Vec<Code> =
                    w.nodes.keys().filter(|k| k.level() != Level::District).cloned().collect();
                let child = codes[rng.below(codes.len())].clone();
                w.rollup(&child, &mut rng, true);
            }
        }
        w.check_single_owner();
    }
    w.drain(&mut rng);
    w.check_single_owner();
    w.check_quiescent(&mut rng);
    w
}

#[test]
fn a_long_partition_drains_without_loss_or_duplication() {
    let mut rng = Rng(7);
    let mut w = World::new();
    // The street is cut off while a community reports and escalates hundreds of cases.
    let community = c("370102001001");
    for _ in 0..300 {
        w.report(&mut rng);
        w.act(&mut rng);
    }
    let queued: usize = w.nodes.values().map(|n| n.store.outbox.len()).sum();
    assert!(queued > 50, "only {queued} messages queued");
    assert!(!w.nodes[&community].store.outbox.is_empty());
    w.drain(&mut rng);
    w.check_quiescent(&mut rng);
}

#[test]
fn the_simulation_exercises_hand_overs() {
    let w = simulate(42, 2000);
    let cases: Vec<_> = w.nodes.values().flat_map(|n| n.store.cases.values()).collect();
    assert!(cases.iter().filter(|k| k.epoch > 1).count() > 10, "few escalations");
    assert!(cases.iter().any(|k| k.watchers.len() >= 2), "no case moved twice");
    assert!(cases.iter().any(|k| k.state == CaseState::Closed && k.origin != k.owner), "no hand-over closed");
    assert!(cases.iter().any(|k| k.origin.level() == Level::District && k.owner.level() == Level::Community));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn federation_invariants_hold_under_faults(seed in any::<u64>()) {
        simulate(seed, 400);
    }
}
