//! A property-based test of the client API over real gRPC and mutual TLS, as an integrator's client
//! would use it: generated sequences of reports and actions, valid and invalid, with arbitrary strings,
//! numbers, deadlines and caller identities (operators inside and outside the node's subtree). After
//! every step:
//! - a refused request changed nothing;
//! - an accepted report made one case at version 1 (or, retried, returned the same one), and an accepted
//!   action changed exactly that case by one version and one audit entry;
//! - every new audit entry names the authenticated caller, whatever `actor` the client claimed;
//! - the node's statistics equal a recount from its cases.

mod common;

use std::collections::BTreeMap;

use common::{tls_channel, Cluster, Tuning};
use federation::stats::Counters;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use proto::convert;
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::{ActRequest, Handler, ListRequest, ReportRequest, StatsRequest};
use tonic::transport::Channel;

const NODE: &str = "370102001001";

/// Who calls: (certificate code, allowed to work on this node).
const CALLERS: [(&str, bool); 4] =
    [("370102", true), ("370102001", true), (NODE, true), ("370102001002", false)];

#[derive(Debug, Clone)]
enum Op {
    Report {
        caller: usize,
        grid: String,
        category: String,
        title: String,
        reporter: String,
        request_id: String,
    },
    Act {
        caller: usize,
        pick: usize,
        garbage_id: bool,
        action: String,
        actor: String,
        note: String,
        version: Option<u64>,
        due_shift: i64,
        handler: (String, String),
        to: String,
    },
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[一-龥a-z0-9 ]{1,30}",
        1 => Just(String::new()),
        1 => "[\\x00-\\x1f]{1,3}",
        1 => "垃{101,120}",
    ]
}

/// Text that is usually acceptable, so that generated actions get through often enough.
fn mostly_valid() -> impl Strategy<Value = String> {
    prop_oneof![12 => "[一-龥a-z0-9]{1,20}", 1 => text()]
}

fn op() -> impl Strategy<Value = Op> {
    let report = (
        0..CALLERS.len(),
        prop_oneof![4 => Just("370102001001001".to_string()), 1 => Just("370102001002001".to_string()), 1 => "[0-9]{0,16}"],
        prop_oneof![4 => Just("0101".to_string()), 1 => Just("市容环境/暴露垃圾".to_string()), 1 => "[0-9a-z]{0,6}"],
        text(),
        text(),
        prop_oneof![3 => "r[0-9]{1,2}", 1 => Just(String::new())],
    )
        .prop_map(|(caller, grid, category, title, reporter, request_id)| Op::Report {
            caller,
            grid,
            category,
            title,
            reporter,
            request_id,
        });
    let actions = prop_oneof![
        Just("register"),
        Just("cancel"),
        Just("dispatch"),
        Just("start"),
        Just("handled"),
        Just("close"),
        Just("return"),
        Just("suspend"),
        Just("resume"),
        Just("extend"),
        Just("escalate"),
        Just("send_down"),
        Just("fly"),
        Just("legal"),
        Just("legal"),
        Just("legal"),
        Just("legal"),
        Just("legal"),
        Just("legal")
    ];
    let act = (
        0..CALLERS.len(),
        any::<usize>(),
        prop::bool::weighted(0.1),
        actions,
        mostly_valid(),
        mostly_valid(),
        prop::option::weighted(0.2, 0u64..6),
        prop_oneof![Just(i64::MAX), Just(-1i64), 1i64..200 * 86_400_000],
        (prop_oneof![4 => Just("grid_worker"), 1 => Just("department"), 1 => Just("robot")], mostly_valid()),
        prop_oneof![Just(""), Just("370102001001"), Just("370102001")],
    )
        .prop_map(|(caller, pick, garbage_id, action, actor, note, version, due_shift, handler, to)| {
            Op::Act {
                caller,
                pick,
                garbage_id,
                action: action.to_string(),
                actor,
                note,
                version,
                due_shift,
                handler: (handler.0.to_string(), handler.1),
                to: to.to_string(),
            }
        });
    prop_oneof![2 => report, 3 => act]
}

struct World {
    clients: Vec<CaseServiceClient<Channel>>,
    /// Accepted reports, accepted actions, refusals, refusals for scope: to show every path was taken.
    seen: [usize; 4],
}

/// Every case on the node, by id.
async fn snapshot(cl: &mut CaseServiceClient<Channel>) -> BTreeMap<String, proto::v1::Case> {
    let mut out = BTreeMap::new();
    let mut token = String::new();
    loop {
        let req = ListRequest { page_size: 500, page_token: token.clone(), ..Default::default() };
        let r = cl.list(req).await.expect("list").into_inner();
        for c in r.cases {
            out.insert(c.id.clone(), c);
        }
        if r.next_page_token.is_empty() {
            return out;
        }
        token = r.next_page_token;
    }
}

async fn check_stats(cl: &mut CaseServiceClient<Channel>, cases: &BTreeMap<String, proto::v1::Case>) {
    let mut truth = Counters::default();
    for c in cases.values().filter(|c| c.owner == NODE) {
        truth.add(&Counters::of(&convert::case_from_pb(c.clone()).expect("case")));
    }
    let s = cl.stats(StatsRequest::default()).await.expect("stats").into_inner().stats.expect("stats");
    let got = convert::counters_from_pb(s.counters.expect("counters"));
    assert_eq!(
        (got.total, got.registered, got.closed, got.returned, got.cancelled),
        (truth.total, truth.registered, truth.closed, truth.returned, truth.cancelled)
    );
    assert_eq!(got.by_state, truth.by_state);
}

fn step(world: &mut World, op: &Op, rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let reader = &mut world.clients[2].clone();
        let before = snapshot(reader).await;
        let caller = match op {
            Op::Report { caller, .. } | Op::Act { caller, .. } => *caller,
        };
        let (code, allowed) = CALLERS[caller];
        let cl = &mut world.clients[caller].clone();
        let result = match op {
            Op::Report { grid, category, title, reporter, request_id, .. } => {
                let req = ReportRequest {
                    grid: grid.clone(),
                    category: category.clone(),
                    source: "public".into(),
                    title: title.clone(),
                    reporter: reporter.clone(),
                    request_id: (!request_id.is_empty()).then(|| request_id.clone()),
                    ..Default::default()
                };
                cl.report(req).await.map(|r| r.into_inner().case)
            }
            Op::Act { pick, garbage_id, action, actor, note, version, due_shift, handler, to, .. } => {
                let ids: Vec<&String> = before.keys().collect();
                let case_id = match (ids.is_empty(), garbage_id) {
                    (true, _) | (_, true) => "370102001001-20991231-999999".to_string(),
                    _ => ids[pick % ids.len()].clone(),
                };
                let due = before.get(&case_id).and_then(|c| c.due_at_ms).unwrap_or(1_795_000_000_000);
                // "legal": one of the actions the case's state allows, picked by `pick`.
                let action = match (action.as_str(), before.get(&case_id)) {
                    ("legal", Some(c)) => {
                        let state = federation::CaseState::parse("state", &c.state).expect("state");
                        let allowed = federation::workflow::allowed_actions(state);
                        allowed.get(pick % allowed.len().max(1)).copied().unwrap_or("register").to_string()
                    }
                    ("legal", None) => "register".to_string(),
                    (a, _) => a.to_string(),
                };
                let req = ActRequest {
                    case_id: case_id.clone(),
                    action,
                    actor: actor.clone(),
                    note: note.clone(),
                    expected_version: *version,
                    handler: Some(Handler { kind: handler.0.clone(), name: handler.1.clone() }),
                    new_due_ms: Some(if *due_shift == i64::MAX {
                        i64::MAX
                    } else {
                        due.saturating_add(*due_shift)
                    }),
                    to: to.clone(),
                    ..Default::default()
                };
                cl.act(req).await.map(|r| r.into_inner().case)
            }
        };
        let after = snapshot(reader).await;
        match result {
            Err(status) => {
                assert_eq!(before, after, "a refused request ({status:?}) changed the node");
                world.seen[2] += 1;
                if !allowed {
                    world.seen[3] += 1;
                    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
                }
            }
            Ok(case) => {
                assert!(allowed, "{code} acted outside its subtree");
                world.seen[if matches!(op, Op::Report { .. }) { 0 } else { 1 }] += 1;
                let case = case.expect("a case in the answer");
                let changed: Vec<&String> =
                    after.keys().filter(|id| before.get(*id) != after.get(*id)).collect();
                match (op, before.get(&case.id)) {
                    // A retried report returns the case it made and changes nothing.
                    (Op::Report { .. }, Some(_)) => assert!(changed.is_empty(), "{changed:?}"),
                    (Op::Report { .. }, None) => {
                        assert_eq!(changed, vec![&case.id]);
                        assert_eq!(case.version, 1);
                        assert_eq!(case.audit.len(), 1);
                    }
                    (Op::Act { .. }, Some(old)) => {
                        assert_eq!(changed, vec![&case.id], "an action changed other cases");
                        assert_eq!(case.version, old.version + 1);
                        assert_eq!(case.audit.len(), old.audit.len() + 1);
                    }
                    (Op::Act { .. }, None) => panic!("an action succeeded on a case the node did not hold"),
                }
                let last = case.audit.last().expect("audit");
                if !before.contains_key(&case.id) || matches!(op, Op::Act { .. }) {
                    assert!(
                        last.by.starts_with(&format!("gridfed://{code}/operator")),
                        "{last:?} not by {code}"
                    );
                }
            }
        }
        check_stats(reader, &after).await;
    });
}

#[test]
fn every_request_changes_exactly_what_it_says_and_the_figures_follow() {
    let c = Cluster::start(1, Tuning { tls: true, ..Tuning::default() });
    c.wait_leader();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let clients = CALLERS
        .iter()
        .map(|(code, _)| {
            let env = c.issue(code, "operator", &format!("op-{code}"));
            CaseServiceClient::new(rt.block_on(tls_channel(c.addr(1), &env)).expect("connect"))
        })
        .collect();
    let world = std::cell::RefCell::new(World { clients, seen: [0; 4] });
    let cases = std::env::var("GRIDFED_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&prop::collection::vec(op(), 1..30), |ops| {
            for op in &ops {
                step(&mut world.borrow_mut(), op, &rt);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = world.borrow().seen;
    eprintln!(
        "accepted reports {}, accepted actions {}, refusals {} ({} outside the caller's scope)",
        seen[0], seen[1], seen[2], seen[3]
    );
    assert!(seen.iter().all(|&n| n > 0), "a path was never taken: {seen:?}");
}
