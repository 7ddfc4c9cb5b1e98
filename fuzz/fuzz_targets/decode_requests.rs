//! Every request the node's services decode (client, federation and Raft): the first byte picks the message,
//! the rest is decoded with prost (bincode for Raft payloads) and checked as the service checks it. Nothing
//! may panic, and every value that converts must survive domain -> wire -> domain unchanged.
#![no_main]

use std::fmt::Debug;

use federation::category::Catalog;
use federation::code::{Code, Level};
use federation::bounds::{check_case_id, check_counters};
use federation::machine::{check_short, Rules};
use federation::stats::{format_day, parse_day};
use federation::CaseState;
use gridnode::consensus::types::{ReplicaId, TypeConfig};
use libfuzzer_sys::fuzz_target;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use prost::Message;
use proto::convert;
use proto::v1 as pb;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Equal, where a float field may be NaN (NaN != NaN, but it must come back as NaN all the same).
fn assert_same<T: PartialEq + Debug>(what: &str, first: &T, back: &T) {
    assert!(
        first == back || format!("{first:?}") == format!("{back:?}"),
        "{what}: {first:?} came back as {back:?}"
    );
}

/// An error of a conversion names its field first: "field: ...".
fn assert_names_field(what: &str, err: &impl ToString) {
    let text = err.to_string();
    assert!(
        text.split_once(": ").is_some_and(|(field, _)| !field.is_empty()),
        "{what}: {text:?} names no field"
    );
}

fn decode<M: Message + Default>(data: &[u8]) -> Option<M> {
    M::decode(data).ok()
}

fn report(data: &[u8]) {
    let Some(msg) = decode::<pb::ReportRequest>(data) else { return };
    let catalog = Catalog::standard();
    match convert::new_case_from_pb(msg, catalog) {
        Err(e) => assert_names_field("ReportRequest", &e),
        Ok(new) => {
            assert_eq!(new.grid.level(), Level::Grid);
            assert!(
                catalog.get(&new.category).is_some(),
                "category {:?} is not a catalog code",
                new.category
            );
            assert!(new.request_id.as_deref() != Some(""), "an empty request id must mean none");
            // What the service checks next, at a district (whose street leads to some grids) and at a
            // community that knows two grids.
            let (Ok(district), Ok(street), Ok(community)) =
                (Code::parse("n", "370102"), Code::parse("n", "370102001"), Code::parse("n", "370102001001"))
            else {
                return;
            };
            let policy = Default::default();
            let children = [street];
            let grids: Vec<Code> =
                ["001", "002"].iter().filter_map(|g| community.child("g", g).ok()).collect();
            let at_district = Rules {
                node: &district,
                policy: &policy,
                catalog,
                parent: None,
                children: &children,
                grids: &[],
            };
            let at_community = Rules {
                node: &community,
                policy: &policy,
                catalog,
                parent: None,
                children: &[],
                grids: &grids,
            };
            for rules in [at_district, at_community] {
                if let Err(e) = new.validate(&rules) {
                    assert_names_field("NewCase::validate", &e);
                }
            }
        }
    }
}

fn act(data: &[u8]) {
    let Some(msg) = decode::<pb::ActRequest>(data) else { return };
    match convert::step_from_pb(msg) {
        Err(e) => assert_names_field("ActRequest", &e),
        Ok((case_id, step)) => {
            if let Err(e) = check_case_id("case_id", &case_id) {
                assert_names_field("case_id", &e);
            }
            if let Err(e) = step.validate() {
                assert_names_field("Step::validate", &e);
            }
            let back = convert::step_from_pb(convert::step_to_pb(&case_id, &step));
            assert!(back.is_ok(), "step_to_pb of {step:?} does not convert back: {back:?}");
            if let Ok(back) = back {
                assert_eq!(back, (case_id, step), "ActRequest round trip");
            }
        }
    }
}

fn envelope(env: pb::Envelope) {
    match convert::envelope_from_pb(env) {
        Err(e) => assert_names_field("Envelope", &e),
        Ok(e) => {
            if let Err(r) = e.case().check_received("envelope.case") {
                assert_names_field("Case::check_received", &r);
            }
            match convert::envelope_from_pb(convert::envelope_to_pb(&e, Catalog::standard())) {
                Ok(back) => assert_same("Envelope round trip", &e, &back),
                Err(err) => panic!("envelope_to_pb of {e:?} does not convert back: {err}"),
            }
        }
    }
}

fn case(c: pb::Case) {
    match convert::case_from_pb(c) {
        Err(e) => assert_names_field("Case", &e),
        Ok(c) => match convert::case_from_pb(convert::case_to_pb(&c, Catalog::standard())) {
            Ok(back) => assert_same("Case round trip", &c, &back),
            Err(err) => panic!("case_to_pb of {c:?} does not convert back: {err}"),
        },
    }
}

fn tally(entry: pb::TallyEntry) {
    match convert::tally_from_pb(entry) {
        Err(e) => assert_names_field("TallyEntry", &e),
        Ok((key, t)) => {
            if let Err(r) = check_counters("entries.counters", &t.counters) {
                assert_names_field("check_counters", &r);
            }
            match convert::tally_from_pb(convert::tally_to_pb(&key, &t)) {
                Ok(back) => assert_eq!(back, (key, t), "TallyEntry round trip"),
                Err(err) => panic!("tally_to_pb of {key:?} does not convert back: {err}"),
            }
        }
    }
}

fn freshness(f: pb::Freshness) {
    match convert::freshness_from_pb(f) {
        Err(e) => assert_names_field("Freshness", &e),
        Ok(f) => match convert::freshness_from_pb(convert::freshness_to_pb(&f)) {
            Ok(back) => assert_eq!(back, f, "Freshness round trip"),
            Err(err) => panic!("freshness_to_pb of {f:?} does not convert back: {err}"),
        },
    }
}

/// A node code as the federation service reads `from`/`code` (a neighbour must be a node, not a grid).
fn node_code(field: &str, value: &str) -> Option<Code> {
    match Code::parse_node(field, value) {
        Ok(code) => {
            assert_eq!(code.as_str(), value);
            assert_ne!(code.level(), Level::Grid);
            Some(code)
        }
        Err(e) => {
            assert_names_field(field, &e);
            None
        }
    }
}

fn deliver(data: &[u8]) {
    let Some(msg) = decode::<pb::DeliverRequest>(data) else { return };
    node_code("from", &msg.from);
    for m in msg.messages {
        if let Some(env) = m.envelope {
            envelope(env);
        }
    }
}

fn rollup(data: &[u8]) {
    let Some(msg) = decode::<pb::RollupRequest>(data) else { return };
    node_code("from", &msg.from);
    msg.entries.into_iter().for_each(tally);
    msg.fresh.into_iter().for_each(freshness);
}

fn hello(data: &[u8]) {
    let Some(msg) = decode::<pb::HelloRequest>(data) else { return };
    if let Some(code) = node_code("code", &msg.code) {
        // The service compares the stated level with the code's.
        assert_eq!(Level::from_digits(msg.code.len()), Some(code.level()));
    }
}

fn day(field: &str, s: &str) {
    if s.is_empty() {
        return;
    }
    match parse_day(field, s) {
        Ok(d) => assert_eq!(format_day(d), s, "{field}: day {d} formats differently"),
        Err(e) => assert!(e.starts_with(&format!("{field}: ")), "{e}"),
    }
}

fn stats_request(data: &[u8]) {
    let Some(msg) = decode::<pb::StatsRequest>(data) else { return };
    day("from", &msg.from);
    day("to", &msg.to);
    if msg.subtree && !msg.scope.is_empty() {
        match Code::parse("scope", &msg.scope) {
            Ok(code) => assert_eq!(code.to_string(), msg.scope),
            Err(e) => assert_names_field("scope", &e),
        }
    }
}

fn list(data: &[u8]) {
    let Some(msg) = decode::<pb::ListRequest>(data) else { return };
    if !msg.page_token.is_empty() {
        if let Err(e) = check_case_id("page_token", &msg.page_token) {
            assert_names_field("page_token", &e);
        }
    }
    if !msg.state.is_empty() {
        if let Ok(s) = CaseState::parse("state", &msg.state) {
            assert_eq!(s.as_str(), msg.state);
        }
    }
    if !msg.grid.is_empty() {
        if let Err(e) = Code::parse_level("grid", &msg.grid, Level::Grid) {
            assert_names_field("grid", &e);
        }
    }
    if !msg.category.is_empty() {
        let catalog = Catalog::standard();
        match catalog.resolve("category", &msg.category) {
            Ok(c) => {
                assert_eq!(catalog.resolve("category", &c.code).ok(), Some(c), "a code resolves to itself")
            }
            Err(e) => assert_names_field("category", &e),
        }
    }
}

fn stats(data: &[u8]) {
    let Some(msg) = decode::<pb::Stats>(data) else { return };
    let report = convert::stats_from_pb(msg);
    let back = convert::stats_from_pb(convert::stats_to_pb("370102", "", "", &report));
    assert_same("Stats round trip", &report, &back);
    let counters = convert::counters_from_pb(convert::counters_to_pb(&report.counters));
    assert_eq!(counters, report.counters, "Counters round trip");
}

fn department(data: &[u8]) {
    let Some(msg) = decode::<pb::Department>(data) else { return };
    if let Err(e) = check_short("department.name", &msg.name, true) {
        assert_names_field("department.name", &e);
    }
}

fn add_replica(data: &[u8]) {
    let Some(msg) = decode::<pb::AddReplicaRequest>(data) else { return };
    let _ = msg.addr.parse::<std::net::SocketAddr>();
}

/// Decoded, re-encoded and decoded again, a Raft message encodes to the same bytes.
fn raft<T: Serialize + DeserializeOwned>(data: &[u8]) {
    let Ok(first) = bincode::deserialize::<T>(data) else { return };
    let Ok(bytes) = bincode::serialize(&first) else { return };
    let back = bincode::deserialize::<T>(&bytes);
    assert!(back.is_ok(), "a Raft message that encoded does not decode again");
    if let Ok(back) = back {
        assert!(bincode::serialize(&back).ok().as_ref() == Some(&bytes), "Raft message encoding is unstable");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 19 {
        0 => report(rest),
        1 => act(rest),
        2 => {
            if let Some(env) = decode::<pb::Envelope>(rest) {
                envelope(env)
            }
        }
        3 => {
            if let Some(entry) = decode::<pb::TallyEntry>(rest) {
                tally(entry)
            }
        }
        4 => {
            if let Some(f) = decode::<pb::Freshness>(rest) {
                freshness(f)
            }
        }
        5 => {
            if let Some(c) = decode::<pb::Case>(rest) {
                case(c)
            }
        }
        6 => deliver(rest),
        7 => rollup(rest),
        8 => hello(rest),
        9 => stats_request(rest),
        10 => list(rest),
        11 => stats(rest),
        12 => department(rest),
        13 => add_replica(rest),
        14 => {
            // GetRequest: a case id; RemoveReplicaRequest, StatusRequest: decoded, nothing to convert.
            if let Some(get) = decode::<pb::GetRequest>(rest) {
                if let Err(e) = check_case_id("case_id", &get.case_id) {
                    assert_names_field("case_id", &e);
                }
            }
            let _ = decode::<pb::RemoveReplicaRequest>(rest);
            let _ = decode::<pb::StatusRequest>(rest);
        }
        15 => raft::<AppendEntriesRequest<TypeConfig>>(rest),
        16 => raft::<VoteRequest<ReplicaId>>(rest),
        17 => raft::<InstallSnapshotRequest<TypeConfig>>(rest),
        _ => {
            if let Some(counters) = decode::<pb::Counters>(rest) {
                let c = convert::counters_from_pb(counters);
                assert_eq!(convert::counters_from_pb(convert::counters_to_pb(&c)), c, "Counters round trip");
            }
        }
    }
});
