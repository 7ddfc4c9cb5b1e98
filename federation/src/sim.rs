//! Seeded simulation of a whole federation over a faulty network, with invariant checks.
//!
//! Seven nodes (a district, two streets, four communities) run the real state-machine logic on
//! in-memory stores, and their links run the real link engines (`link::OutboxSender`,
//! `link::RollupSender`): the simulation only moves their messages and fires their timers, in simulated
//! time. Each directed link has its own drop, duplication and delay rates, and links are cut for
//! random spells (partitions); every call has a deadline; a node's leadership flaps (its engines stop and
//! restart as a new leader's would); acknowledgements sometimes fail to commit. Random operators report,
//! dispatch down from above, act, escalate and send down.
//!
//! Invariants:
//! - at every step, no case is owned by two nodes;
//! - after the network heals and the engines drain: every case is owned by exactly one node, every
//!   watcher holds the owner's final version, every report made exactly one case, every outbox is
//!   empty, and the district's subtree tallies equal the ground truth summed from every node's own cases.
//!
//! A failing seed is printed by proptest and replays exactly (`simulate(seed, ..)`).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use proptest::prelude::*;

use crate::case::{CaseState, Handler, HandlerKind, Priority, Source};
use crate::category::Catalog;
use crate::code::{Code, Level};
use crate::deadline::DeadlinePolicy;
use crate::link::{
    Envelope, LinkTiming, OutboxSender, RollupCommand, RollupEvent, RollupSender, SendCommand, SendEvent,
};
use crate::machine::{
    apply, Acked, Act, Command, Ctx, NewCase, Outcome, Receive, Resequence, RestoredLink, Rollup, Rules,
};
use crate::mem::Mem;
use crate::stats::Counters;
use crate::tally::{Freshness, Tally, TallyKey};
use crate::workflow::{Action, Step};
use crate::Millis;

/// Deadline of every call between nodes, in simulated milliseconds.
const RPC_DEADLINE: Millis = 300;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1).max(1) as u64) as i64
    }
}

/// A link's engine and what its driver holds for it.
enum Engine {
    Outbox { peer: Code, engine: OutboxSender, loaded: Vec<(u64, Envelope)> },
    Rollup { parent: Code, engine: RollupSender, loaded: Vec<(TallyKey, Tally)> },
}

struct Driver {
    engine: Engine,
    /// Generation of the pending timer; older wake-ups are ignored.
    timer: u64,
}

struct Node {
    code: Code,
    parent: Option<Code>,
    children: Vec<Code>,
    grids: Vec<Code>,
    store: Mem,
    index: u64,
    leading: bool,
    drivers: Vec<Driver>,
}

/// Faults of one directed link.
#[derive(Clone, Copy)]
struct Faults {
    drop: u64,
    dup: u64,
    max_delay: i64,
}

enum Req {
    Hello,
    Deliver(Vec<(u64, Envelope)>),
    Push(Vec<(TallyKey, Tally)>, Vec<Freshness>),
}

enum Resp {
    Ok,
    Delivered(u64),
    Failed(String),
}

enum Ev {
    Wake { node: Code, driver: usize, timer: u64 },
    Request { rpc: u64, from: Code, to: Code, req: std::rc::Rc<Req> },
    Response { rpc: u64, resp: std::rc::Rc<Resp> },
    Deadline { rpc: u64 },
    Flap { node: Code, leading: bool },
}

struct World {
    nodes: BTreeMap<Code, Node>,
    policy: DeadlinePolicy,
    now: Millis,
    seq: u64,
    queue: BinaryHeap<Reverse<(Millis, u64)>>,
    events: HashMap<u64, Ev>,
    /// Calls awaiting their answer: (caller, driver, is a handshake).
    calls: HashMap<u64, (Code, usize, bool)>,
    /// Of those, the empty deliveries that ask a neighbour's high-water mark (`AskApplied`).
    asks: BTreeSet<u64>,
    faults: BTreeMap<(Code, Code), Faults>,
    /// Links cut until the given time (both directions).
    cut_until: BTreeMap<(Code, Code), Millis>,
    healed: bool,
    reports: usize,
    stale_rollups: Vec<(Code, Command)>,
    counts: Counts,
}

/// What happened during a run, to show the faults were really exercised.
#[derive(Debug, Default)]
struct Counts {
    /// Links resequenced after a node was restored from a backup.
    resequenced: usize,
    calls: usize,
    deadlines: usize,
    dropped: usize,
    duplicated: usize,
    flaps: usize,
    cuts: usize,
}

fn c(s: &str) -> Code {
    Code::parse("c", s).unwrap()
}

fn timing() -> LinkTiming {
    LinkTiming {
        min_backoff_ms: 50,
        max_backoff_ms: 2000,
        probe_ms: 1000,
        settle_ms: 50,
        heartbeat_ms: 500,
        batch: 16,
    }
}

fn pair(a: &Code, b: &Code) -> (Code, Code) {
    if a < b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

impl World {
    fn new(rng: &mut Rng, faulty: bool) -> World {
        let mut nodes = BTreeMap::new();
        let tree = [
            ("370102001", ["370102001001", "370102001002"]),
            ("370102002", ["370102002001", "370102002002"]),
        ];
        let district = c("370102");
        let mut all_grids = Vec::new();
        let node = |code: Code, parent: Option<Code>, children: Vec<Code>, grids: Vec<Code>| Node {
            code,
            parent,
            children,
            grids,
            store: Mem::default(),
            index: 0,
            leading: true,
            drivers: vec![],
        };
        for (street, comms) in tree {
            let mut street_grids = Vec::new();
            for comm in comms {
                let grids: Vec<Code> = ["001", "002"].iter().map(|g| c(&format!("{comm}{g}"))).collect();
                street_grids.extend(grids.clone());
                nodes.insert(c(comm), node(c(comm), Some(c(street)), vec![], grids));
            }
            all_grids.extend(street_grids.clone());
            let children = comms.iter().map(|x| c(x)).collect();
            nodes.insert(c(street), node(c(street), Some(district.clone()), children, street_grids));
        }
        let streets = vec![c("370102001"), c("370102002")];
        nodes.insert(district.clone(), node(district, None, streets, all_grids));
        let mut faults = BTreeMap::new();
        for n in nodes.values_mut() {
            let mut seed = rng.next();
            for peer in n.parent.iter().chain(&n.children) {
                seed = seed.wrapping_add(1);
                let engine = OutboxSender::new(timing(), seed);
                n.drivers.push(Driver {
                    engine: Engine::Outbox { peer: peer.clone(), engine, loaded: vec![] },
                    timer: 0,
                });
                let f = if faulty {
                    Faults {
                        drop: rng.range(0, 30) as u64,
                        dup: rng.range(0, 20) as u64,
                        max_delay: rng.range(1, 200),
                    }
                } else {
                    Faults { drop: 0, dup: 0, max_delay: 5 }
                };
                faults.insert((n.code.clone(), peer.clone()), f);
            }
            if let Some(parent) = n.parent.clone() {
                let engine = RollupSender::new(timing(), seed.wrapping_add(99));
                n.drivers
                    .push(Driver { engine: Engine::Rollup { parent, engine, loaded: vec![] }, timer: 0 });
            }
        }
        let mut w = World {
            nodes,
            policy: DeadlinePolicy::default(),
            now: 1_795_000_000_000,
            seq: 0,
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            calls: HashMap::new(),
            asks: BTreeSet::new(),
            faults,
            cut_until: BTreeMap::new(),
            healed: !faulty,
            reports: 0,
            stale_rollups: vec![],
            counts: Counts::default(),
        };
        let codes: Vec<Code> = w.nodes.keys().cloned().collect();
        for code in codes {
            w.set_leading(&code, true);
        }
        w
    }

    fn schedule(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.events.insert(self.seq, ev);
        self.queue.push(Reverse((at, self.seq)));
    }

    /// Applies `cmd` at `at` through its state machine, then tells its link engines something may
    /// have changed.
    fn run(&mut self, at: &Code, cmd: &Command) -> Outcome {
        let policy = self.policy.clone();
        let now = self.now;
        let n = self.nodes.get_mut(at).unwrap();
        n.index += 1;
        n.store.index = n.index;
        let rules = Rules {
            node: &n.code,
            policy: &policy,
            catalog: Catalog::standard(),
            parent: n.parent.as_ref(),
            children: &n.children,
            grids: &n.grids,
            intake: &crate::intake::DEFAULT_RULES,
        };
        let out = apply(&mut n.store, &rules, Ctx { now, index: n.index }, cmd).unwrap();
        for i in 0..self.nodes[at].drivers.len() {
            match self.nodes[at].drivers[i].engine {
                Engine::Outbox { .. } => self.feed_outbox(at, i, SendEvent::OutboxChanged { now }),
                Engine::Rollup { .. } => self.feed_rollup(at, i, RollupEvent::Changed { now }),
            }
        }
        out
    }

    fn set_leading(&mut self, code: &Code, leading: bool) {
        let now = self.now;
        self.nodes.get_mut(code).unwrap().leading = leading;
        for i in 0..self.nodes[code].drivers.len() {
            match self.nodes[code].drivers[i].engine {
                Engine::Outbox { .. } => self.feed_outbox(code, i, SendEvent::Leading { now, leading }),
                Engine::Rollup { .. } => self.feed_rollup(code, i, RollupEvent::Leading { now, leading }),
            }
        }
    }

    fn sleep(&mut self, code: &Code, i: usize, until: Millis) {
        let d = &mut self.nodes.get_mut(code).unwrap().drivers[i];
        d.timer += 1;
        let timer = d.timer;
        self.schedule(until.max(self.now), Ev::Wake { node: code.clone(), driver: i, timer });
    }

    /// Sends a call from `from` to `to` over the faulty link; its answer (or its deadline) comes back to
    /// driver `i` of `from`.
    fn call(&mut self, from: &Code, i: usize, to: &Code, req: Req, rng: &mut Rng) -> u64 {
        self.seq += 1;
        let rpc = self.seq;
        self.calls.insert(rpc, (from.clone(), i, matches!(req, Req::Hello)));
        self.counts.calls += 1;
        self.schedule(self.now + RPC_DEADLINE, Ev::Deadline { rpc });
        let req = std::rc::Rc::new(req);
        for arrival in self.transmit(from, to, rng) {
            self.schedule(arrival, Ev::Request { rpc, from: from.clone(), to: to.clone(), req: req.clone() });
        }
        rpc
    }

    /// When copies of a message sent now from `a` to `b` arrive: none when dropped or cut, two when
    /// duplicated.
    fn transmit(&mut self, a: &Code, b: &Code, rng: &mut Rng) -> Vec<Millis> {
        let f = self.faults[&(a.clone(), b.clone())];
        if self.cut_until.get(&pair(a, b)).is_some_and(|&t| t > self.now) || rng.chance(f.drop) {
            self.counts.dropped += 1;
            return vec![];
        }
        let mut v = vec![self.now + rng.range(1, f.max_delay)];
        if rng.chance(f.dup) {
            self.counts.duplicated += 1;
            v.push(self.now + rng.range(1, f.max_delay * 2));
        }
        v
    }

    fn feed_outbox(&mut self, code: &Code, i: usize, ev: SendEvent) {
        let mut rng = Rng(self.seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut pending = vec![ev];
        while let Some(ev) = pending.pop() {
            let now = self.now;
            let cmds = match &mut self.nodes.get_mut(code).unwrap().drivers[i].engine {
                Engine::Outbox { engine, .. } => engine.step(ev),
                Engine::Rollup { .. } => unreachable!(),
            };
            for cmd in cmds {
                match cmd {
                    SendCommand::Load { max } => {
                        let n = self.nodes.get_mut(code).unwrap();
                        let Engine::Outbox { peer, loaded, .. } = &mut n.drivers[i].engine else {
                            unreachable!()
                        };
                        let mut batch = n.store.queued(peer);
                        batch.truncate(max);
                        let range = batch.first().zip(batch.last()).map(|(f, l)| (f.0, l.0));
                        let next = n.store.outbox_next.get(peer).copied().unwrap_or(1);
                        let resync = n.store.restored.get(peer).is_some_and(|r| r.outbox);
                        *loaded = batch;
                        pending.push(SendEvent::Loaded { now, range, next, resync });
                    }
                    SendCommand::Greet => {
                        let peer = self.peer_of(code, i);
                        self.call(code, i, &peer, Req::Hello, &mut rng);
                    }
                    SendCommand::AskApplied => {
                        let peer = self.peer_of(code, i);
                        let rpc = self.call(code, i, &peer, Req::Deliver(Vec::new()), &mut rng);
                        self.asks.insert(rpc);
                    }
                    SendCommand::Resequence { applied } => {
                        let peer = self.peer_of(code, i);
                        self.counts.resequenced += 1;
                        self.run(code, &Command::Resequence(Resequence { peer, applied }));
                        pending.push(SendEvent::Resequenced { now, result: Ok(()) });
                    }
                    SendCommand::Deliver { first, last } => {
                        let Engine::Outbox { peer, loaded, .. } = &self.nodes[code].drivers[i].engine else {
                            unreachable!()
                        };
                        let batch: Vec<(u64, Envelope)> =
                            loaded.iter().filter(|(s, _)| (first..=last).contains(s)).cloned().collect();
                        let peer = peer.clone();
                        self.call(code, i, &peer, Req::Deliver(batch), &mut rng);
                    }
                    SendCommand::Ack { upto } => {
                        let peer = self.peer_of(code, i);
                        // Sometimes the acknowledgement does not commit (a leader change): it is retried.
                        let result = if !self.healed && rng.chance(10) {
                            Err("no quorum".to_string())
                        } else {
                            self.run(code, &Command::Acked(Acked { peer, upto }));
                            Ok(())
                        };
                        pending.push(SendEvent::Acked { now, result });
                    }
                    SendCommand::Sleep { until } => self.sleep(code, i, until),
                }
            }
        }
    }

    fn feed_rollup(&mut self, code: &Code, i: usize, ev: RollupEvent) {
        let mut rng = Rng(self.seq.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let mut pending = vec![ev];
        while let Some(ev) = pending.pop() {
            let now = self.now;
            let cmds = match &mut self.nodes.get_mut(code).unwrap().drivers[i].engine {
                Engine::Rollup { engine, .. } => engine.step(ev),
                Engine::Outbox { .. } => unreachable!(),
            };
            for cmd in cmds {
                match cmd {
                    RollupCommand::Load { since, .. } => {
                        let n = self.nodes.get_mut(code).unwrap();
                        let (entries, high) = n.store.tally_changes(since);
                        let count = entries.len();
                        let Engine::Rollup { loaded, .. } = &mut n.drivers[i].engine else { unreachable!() };
                        *loaded = entries;
                        pending.push(RollupEvent::Loaded { now, entries: count, high });
                    }
                    RollupCommand::Greet => {
                        let parent = self.peer_of(code, i);
                        self.call(code, i, &parent, Req::Hello, &mut rng);
                    }
                    RollupCommand::Push => {
                        let n = &self.nodes[code];
                        let Engine::Rollup { parent, loaded, .. } = &n.drivers[i].engine else {
                            unreachable!()
                        };
                        let mut fresh: Vec<Freshness> = n.store.fresh.values().cloned().collect();
                        fresh.push(Freshness {
                            node: code.clone(),
                            version: n.index,
                            produced_at: now,
                            overdue: 0,
                        });
                        let (parent, loaded) = (parent.clone(), loaded.clone());
                        self.call(code, i, &parent, Req::Push(loaded, fresh), &mut rng);
                    }
                    RollupCommand::Sleep { until } => self.sleep(code, i, until),
                }
            }
        }
    }

    fn peer_of(&self, code: &Code, i: usize) -> Code {
        match &self.nodes[code].drivers[i].engine {
            Engine::Outbox { peer, .. } => peer.clone(),
            Engine::Rollup { parent, .. } => parent.clone(),
        }
    }

    /// A call arrives at `to`: applied through its state machine; the answer goes back.
    fn serve(&mut self, rpc: u64, from: &Code, to: &Code, req: &Req, rng: &mut Rng) {
        let resp = if !self.nodes[to].leading {
            Resp::Failed("no leader".into())
        } else {
            match req {
                Req::Hello => Resp::Ok,
                Req::Deliver(batch) => {
                    let cmd = Command::Receive(Receive { from: from.clone(), batch: batch.clone() });
                    match self.run(to, &cmd) {
                        Outcome::Received { hwm } => Resp::Delivered(hwm),
                        other => panic!("delivery refused: {other:?}"),
                    }
                }
                Req::Push(entries, fresh) => {
                    let cmd = Command::Rollup(Rollup {
                        from: from.clone(),
                        entries: entries.clone(),
                        fresh: fresh.clone(),
                    });
                    if !self.healed && rng.chance(10) {
                        self.stale_rollups.push((to.clone(), cmd.clone()));
                    }
                    assert_eq!(self.run(to, &cmd), Outcome::Done);
                    Resp::Ok
                }
            }
        };
        let resp = std::rc::Rc::new(resp);
        for arrival in self.transmit(to, from, rng) {
            self.schedule(arrival, Ev::Response { rpc, resp: resp.clone() });
        }
    }

    /// The answer to call `rpc` (the first of its answer and its deadline counts).
    fn answer(&mut self, rpc: u64, result: Result<&Resp, &str>) {
        let Some((code, i, hello)) = self.calls.remove(&rpc) else { return };
        let ask = self.asks.remove(&rpc);
        if result.is_err() {
            self.counts.deadlines += 1;
        }
        let now = self.now;
        let ok = match result {
            Ok(Resp::Failed(e)) => Err(e.clone()),
            Err(e) => Err(e.to_string()),
            Ok(r) => Ok(r),
        };
        match (&self.nodes[&code].drivers[i].engine, hello) {
            (Engine::Outbox { .. }, true) => {
                self.feed_outbox(&code, i, SendEvent::Greeted { now, result: ok.map(|_| ()) })
            }
            (Engine::Outbox { .. }, false) => {
                let result = ok.and_then(|r| match r {
                    Resp::Delivered(h) => Ok(*h),
                    _ => Err("a delivery answered without a high-water mark".to_string()),
                });
                let ev = if ask {
                    SendEvent::Applied { now, result }
                } else {
                    SendEvent::Delivered { now, result }
                };
                self.feed_outbox(&code, i, ev)
            }
            (Engine::Rollup { .. }, true) => {
                self.feed_rollup(&code, i, RollupEvent::Greeted { now, result: ok.map(|_| ()) })
            }
            (Engine::Rollup { .. }, false) => {
                self.feed_rollup(&code, i, RollupEvent::Pushed { now, result: ok.map(|_| ()) })
            }
        }
    }

    /// Processes events until `until`.
    fn advance(&mut self, until: Millis, rng: &mut Rng) {
        while let Some(&Reverse((at, id))) = self.queue.peek() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.now = self.now.max(at);
            let Some(ev) = self.events.remove(&id) else { continue };
            match ev {
                Ev::Wake { node, driver, timer } => {
                    if self.nodes[&node].drivers[driver].timer != timer {
                        continue;
                    }
                    let now = self.now;
                    match self.nodes[&node].drivers[driver].engine {
                        Engine::Outbox { .. } => self.feed_outbox(&node, driver, SendEvent::Tick { now }),
                        Engine::Rollup { .. } => self.feed_rollup(&node, driver, RollupEvent::Tick { now }),
                    }
                }
                Ev::Request { rpc, from, to, req } => self.serve(rpc, &from, &to, &req, rng),
                Ev::Response { rpc, resp } => self.answer(rpc, Ok(&resp)),
                Ev::Deadline { rpc } => self.answer(rpc, Err("deadline exceeded")),
                Ev::Flap { node, leading } => self.set_leading(&node, leading),
            }
        }
        self.now = self.now.max(until);
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
            grid: Some(grid),
            category: "0101".into(),
            source: if at.level() == Level::Community { Source::Patrol } else { Source::Hotline },
            title: format!("案件 {}", self.reports),
            description: String::new(),
            location: None,
            reporter: "市民".into(),
            priority: Priority::Normal,
            by: String::new(),
            intake: Default::default(),
            within: None,
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
        // Handlers check in on site and supervisors urge now and then: their counters roll up too.
        let action = match (state, rng.below(10)) {
            (CaseState::Dispatched | CaseState::Handling, 0) => Action::Arrive,
            (CaseState::Registered | CaseState::Dispatched | CaseState::Handling, 1) => Action::Urge,
            _ => action,
        };
        let step = Step {
            action,
            actor: "op".into(),
            note: "原因".into(),
            expected_version: None,
            by: String::new(),
        };
        self.run(&at, &Command::Act(Act::new(id, step)));
    }

    /// Random faults of the moment: a link cut for a spell, a leadership flap, a stale rollup replayed.
    fn chaos(&mut self, rng: &mut Rng) {
        let codes: Vec<Code> = self.nodes.keys().cloned().collect();
        match rng.below(3) {
            0 => {
                let n = &self.nodes[&codes[rng.below(codes.len())]];
                if let Some(p) = n.parent.clone() {
                    let until = self.now + rng.range(100, 5_000);
                    self.cut_until.insert(pair(&n.code, &p), until);
                    self.counts.cuts += 1;
                }
            }
            1 => {
                let code = codes[rng.below(codes.len())].clone();
                if self.nodes[&code].leading {
                    self.counts.flaps += 1;
                    self.set_leading(&code, false);
                    let back = self.now + rng.range(10, 2_000);
                    self.schedule(back, Ev::Flap { node: code, leading: true });
                }
            }
            _ => {
                if !self.stale_rollups.is_empty() {
                    let (at, old) = self.stale_rollups.remove(rng.below(self.stale_rollups.len()));
                    self.run(&at, &old);
                }
            }
        }
    }

    /// Stops every fault and lets the engines drain.
    fn heal(&mut self, rng: &mut Rng) {
        self.healed = true;
        self.cut_until.clear();
        for f in self.faults.values_mut() {
            *f = Faults { drop: 0, dup: 0, max_delay: 5 };
        }
        // Pending flaps bring every node back.
        let limit = self.now + 120_000;
        loop {
            self.advance(self.now + 1_000, rng);
            let drained = self.nodes.values().all(|n| n.store.outbox.is_empty() && n.leading);
            if drained {
                break;
            }
            assert!(self.now < limit, "outboxes did not drain within two minutes of healing");
        }
        // Rollups settle bottom-up within a few heartbeats.
        self.advance(self.now + 5_000, rng);
    }

    fn check_quiescent(&self) {
        let mut owners: BTreeMap<String, Code> = BTreeMap::new();
        let mut truth = Counters::default();
        for n in self.nodes.values() {
            assert!(n.store.outbox.is_empty(), "{} has queued messages", n.code);
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
        let district = c("370102");
        assert_eq!(self.nodes[&district].store.subtree(&district), truth, "district subtree != ground truth");
        for street in ["370102001", "370102002"] {
            let s = c(street);
            assert_eq!(self.nodes[&district].store.subtree(&s), self.nodes[&s].store.subtree(&s));
        }
    }
}

/// Runs `steps` operator actions, 20 simulated ms apart on average, with faults; then heals and checks.
fn simulate(seed: u64, steps: usize) -> World {
    let mut rng = Rng(seed | 1);
    let mut w = World::new(&mut rng, true);
    for step in 0..steps {
        match rng.below(10) {
            0..=2 => w.report(&mut rng),
            3..=7 => w.act(&mut rng),
            _ => w.chaos(&mut rng),
        }
        let next = w.now + rng.range(1, 40);
        w.advance(next, &mut rng);
        if step % 50 == 0 {
            w.check_single_owner();
        }
    }
    w.check_single_owner();
    w.heal(&mut rng);
    w.check_single_owner();
    w.check_quiescent();
    w
}

#[test]
fn a_long_partition_drains_without_loss_or_duplication() {
    let mut rng = Rng(7);
    let mut w = World::new(&mut rng, false);
    // The street is cut off from its district and its communities while hundreds of cases are
    // reported and escalated.
    let street = c("370102001");
    for other in ["370102", "370102001001", "370102001002"] {
        w.cut_until.insert(pair(&street, &c(other)), i64::MAX);
    }
    for _ in 0..300 {
        w.report(&mut rng);
        w.act(&mut rng);
        let next = w.now + 10;
        w.advance(next, &mut rng);
    }
    let queued: usize = w.nodes.values().map(|n| n.store.outbox.len()).sum();
    assert!(queued > 50, "only {queued} messages queued");
    assert!(!w.nodes[&c("370102001001")].store.outbox.is_empty());
    w.heal(&mut rng);
    w.check_quiescent();
}

#[test]
fn the_simulation_exercises_hand_overs() {
    let w = simulate(42, 2000);
    let cases: Vec<_> = w.nodes.values().flat_map(|n| n.store.cases.values()).collect();
    assert!(cases.iter().filter(|k| k.epoch > 1).count() > 10, "few escalations");
    assert!(cases.iter().any(|k| k.watchers.len() >= 2), "no case moved twice");
    assert!(cases.iter().any(|k| k.state == CaseState::Closed && k.origin != k.owner), "no hand-over closed");
    assert!(cases.iter().any(|k| k.origin.level() == Level::District && k.owner.level() == Level::Community));
    let n = &w.counts;
    assert!(n.calls > 1000 && n.deadlines > 20 && n.dropped > 50 && n.duplicated > 20, "{n:?}");
    assert!(n.flaps > 20 && n.cuts > 20, "{n:?}");
}

impl World {
    /// Node `code` is lost and restored from `backup` (`gridnode restore --whole-node`): its store goes
    /// back, with every link marked restored, and its engines start over as a new leader's would.
    fn restore(&mut self, code: &Code, backup: Mem) {
        self.set_leading(code, false);
        let n = self.nodes.get_mut(code).unwrap();
        n.store = backup;
        n.store.seq += crate::machine::RESTORED_SEQ_GAP;
        n.index = n.store.index;
        for peer in n.parent.iter().chain(&n.children) {
            n.store.restored.insert(peer.clone(), RestoredLink { inbox: true, outbox: true });
        }
        self.set_leading(code, true);
    }

    /// Reports a case at `at` in `grid` (registered there when `at` is a community: an upper node
    /// routes it down at once); returns its id.
    fn report_at(&mut self, at: &Code, grid: &Code) -> String {
        self.reports += 1;
        let new = NewCase {
            request_id: Some(format!("after-restore-{}", self.reports)),
            grid: Some(grid.clone()),
            category: "0101".into(),
            source: if at.level() == Level::Community { Source::Patrol } else { Source::Hotline },
            title: format!("案件 {}", self.reports),
            description: String::new(),
            location: None,
            reporter: "市民".into(),
            priority: Priority::Normal,
            by: String::new(),
            intake: Default::default(),
            within: None,
        };
        let Outcome::Reported { case, .. } = self.run(at, &Command::Report(new)) else {
            panic!("not reported")
        };
        if at.level() == Level::Community {
            self.act_on(at, &case.id, Action::Register);
        }
        case.id
    }

    fn act_on(&mut self, at: &Code, id: &str, action: Action) {
        let step = Step {
            action,
            actor: "op".into(),
            note: "原因".into(),
            expected_version: None,
            by: String::new(),
        };
        let out = self.run(at, &Command::Act(Act::new(id.to_string(), step)));
        assert!(matches!(out, Outcome::Acted { .. }), "{at} {id}: {out:?}");
    }

    fn owner_of(&self, id: &str) -> Vec<Code> {
        self.nodes
            .values()
            .filter(|n| n.store.cases.get(id).is_some_and(|k| k.owner == n.code))
            .map(|n| n.code.clone())
            .collect()
    }
}

#[test]
fn a_node_rolled_back_to_a_backup_loses_and_doubles_nothing_sent_from_then_on() {
    let mut rng = Rng(11);
    let mut w = World::new(&mut rng, false);
    let (district, street, comm) = (c("370102"), c("370102001"), c("370102001001"));
    let grid = c("370102001001001");
    let traffic = |w: &mut World, rng: &mut Rng, n: usize| {
        for _ in 0..n {
            w.report(rng);
            w.act(rng);
            w.act(rng);
            let next = w.now + 10;
            w.advance(next, rng);
        }
        w.heal(rng);
    };
    traffic(&mut w, &mut rng, 150);
    let backup = w.nodes[&street].store.clone();
    // After the backup the street keeps working: it takes escalations from its communities and passes
    // one on to the district, none of which the backup knows.
    traffic(&mut w, &mut rng, 150);
    let x = w.report_at(&comm, &grid);
    w.act_on(&comm, &x, Action::Escalate);
    w.heal(&mut rng);
    w.act_on(&street, &x, Action::Escalate);
    w.heal(&mut rng);
    let now = &w.nodes[&street].store;
    assert!(now.outbox_next[&district] > backup.outbox_next.get(&district).copied().unwrap_or(1));
    assert!(now.inbox[&comm] > backup.inbox.get(&comm).copied().unwrap_or(0));

    w.restore(&street, backup);
    // From then on, messages in every direction through the restored street: escalations from below
    // (the community's numbering is ahead of what the street remembers), on up to the district (whose
    // high-water mark is ahead of the street's numbering), and down through it.
    let from_below = w.report_at(&comm, &grid);
    w.act_on(&comm, &from_below, Action::Escalate);
    let again = w.report_at(&comm, &grid);
    w.act_on(&comm, &again, Action::Escalate);
    w.heal(&mut rng);
    assert_eq!(w.owner_of(&from_below), [street.clone()].as_slice());
    w.act_on(&street, &from_below, Action::Escalate);
    w.act_on(&street, &again, Action::SendDown { to: comm.clone() });
    let down = w.report_at(&district, &grid);
    w.heal(&mut rng);

    // Every outbox drained: nothing is stuck behind a gap or skipped as a resend.
    for n in w.nodes.values() {
        assert!(n.store.outbox.is_empty(), "{} has queued messages", n.code);
        assert!(n.store.restored.values().all(|r| !r.outbox), "{} was not resequenced", n.code);
    }
    assert!(w.counts.resequenced > 0);
    // Each arrived where it was sent, and is owned there alone.
    assert_eq!(w.owner_of(&from_below), [district.clone()].as_slice());
    assert_eq!(w.owner_of(&again), [comm.clone()].as_slice());
    assert_eq!(w.owner_of(&down), [comm.clone()].as_slice());
    // The street's copies of what it handed on follow the owners' state (status updates arrive).
    for id in [&from_below, &again] {
        let owner = &w.owner_of(id)[0];
        let theirs = &w.nodes[owner].store.cases[id];
        let ours = &w.nodes[&street].store.cases[id];
        assert_eq!((ours.epoch, ours.version), (theirs.epoch, theirs.version), "{id}");
    }
    // What the backup could not know stays with the neighbour that holds it: the escalation the
    // district received from the street before the loss is the district's, and the street never knew it.
    assert_eq!(w.owner_of(&x), [district.clone()].as_slice());
    assert!(!w.nodes[&street].store.cases.contains_key(&x));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn federation_invariants_hold_under_faults(seed in any::<u64>()) {
        simulate(seed, 400);
    }
}

/// The district's rollup equals the figures computed directly from every case (`check_quiescent`), with
/// the counters of check-ins on site, urging and two-clock closures present, not only zeros.
#[test]
fn the_district_rollup_equals_the_direct_figures_with_every_kind_of_step() {
    let w = simulate(20_261_125, 1_500);
    let district = c("370102");
    let all = w.nodes[&district].store.subtree(&district);
    assert!(all.on_site > 0 && all.urged > 0 && all.closed > 0 && all.hotline > 0, "{all:?}");
}
