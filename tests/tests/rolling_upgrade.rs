//! Rolling upgrades with real replica processes: the replicas of a node run adjacent protocol versions
//! side by side, one replica restarted at a time under a steady load, and nothing acknowledged is lost.
//! `serve --protocol-version N` makes a replica announce and behave as version N (the previous one here:
//! no newer commands; version 1 is the gridnode from before protocol versions, with no header and no
//! checks); a replica two versions apart is refused, logged once, and the node goes on without it.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{cli_env, wait_for, Cluster, Tuning, GRID};
use serde_json::Value;

/// The protocol this gridnode speaks, the one before, and one two versions ahead.
fn versions() -> (String, String, String) {
    let v = federation::protocol::CURRENT;
    (v.to_string(), (v - 1).to_string(), (v + 2).to_string())
}

/// Reports cases one after another until stopped; keeps the ids acknowledged.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(c: &Cluster) -> Load {
        let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (addrs, env) = (c.all(), c.env.clone());
        let (s, a) = (stop.clone(), acked.clone());
        let thread = std::thread::spawn(move || {
            let mut i = 0;
            while !s.load(Ordering::Relaxed) {
                let rid = format!("upgrade-{i}");
                let out = cli_env(
                    &env,
                    &[
                        "case",
                        "report",
                        "--node",
                        &addrs,
                        "--grid",
                        GRID,
                        "--category",
                        "市容环境/暴露垃圾",
                        "--title",
                        &format!("滚动升级 {i}"),
                        "--request-id",
                        &rid,
                        "--timeout",
                        "15",
                        "--json",
                    ],
                );
                if out.status.success() {
                    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
                    a.lock().unwrap().push(v["id"].as_str().expect("id").to_string());
                    i += 1;
                }
                // A failed report is retried with the same request id: never doubled.
            }
        });
        Load { stop, acked, thread: Some(thread) }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits until `n` more reports than now were acknowledged.
    fn progress(&self, n: usize, what: &str) {
        let start = self.count();
        wait_for(what, Duration::from_secs(60), || (self.count() >= start + n).then_some(()));
    }

    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("load");
        }
        self.acked.lock().unwrap().clone()
    }
}

/// Reports a case, registers and dispatches it through any replica, and returns its overall deadline
/// as each replica holds it once caught up: the same everywhere, or the replicas disagree.
fn dispatched_overall_due(c: &Cluster, tag: &str) -> Value {
    let addrs = c.all();
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--node", &addrs, "--json"]);
        let out = cli_env(&c.env, &a);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    let id =
        run(&["case", "report", "--grid", GRID, "--category", "0101", "--title", tag, "--request-id", tag])
            ["id"]
            .as_str()
            .expect("id")
            .to_string();
    run(&["case", "act", &id, "--action", "register"]);
    run(&["case", "act", &id, "--action", "dispatch", "--handler", "张伟"]);
    let mut seen = BTreeSet::new();
    for r in 1..=3 {
        c.wait_caught_up(r);
        let out = cli_env(&c.env, &["case", "show", &id, "--node", c.addr(r), "--local", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        seen.insert(v["overall_due"].to_string());
    }
    assert_eq!(seen.len(), 1, "the replicas disagree on case {id}'s overall deadline: {seen:?}");
    serde_json::from_str(seen.first().expect("one")).expect("json")
}

fn held(c: &Cluster, id: u64) -> BTreeSet<String> {
    c.local_ids(id).into_iter().collect()
}

#[test]
fn a_node_is_upgraded_one_replica_at_a_time_under_load_and_loses_nothing() {
    let (current, previous, two_ahead) = versions();
    let mut c = Cluster::start(3, Tuning::default());
    let load = Load::start(&c);
    load.progress(5, "the first reports");
    // Every replica back to the previous protocol version, then forward again, one at a time.
    for version in [Some(previous.as_str()), None] {
        for id in 1..=3 {
            c.stop(id);
            match version {
                Some(v) => c.start_replica_args(id, &["--protocol-version", v]),
                None => c.start_replica(id),
            }
            c.wait_leader();
            c.wait_caught_up(id);
            load.progress(5, &format!("reports with replica {id} at protocol {version:?}"));
            let serving = format!("protocol={}", version.unwrap_or(&current));
            assert!(c
                .log_of(id)
                .lines()
                .rev()
                .any(|l| l.contains("replica serving") && l.contains(&serving)));
            // While any replica speaks the previous protocol, an action applies by the clock rules every
            // replica knows (no overall deadline); once all speak the current one, by the new ones.
            let all_current = version.is_none() && id == 3;
            let overall = dispatched_overall_due(&c, &format!("时钟-{version:?}-{id}"));
            assert_eq!(overall.is_null(), !all_current, "replica {id} at {version:?}: overall_due {overall}");
        }
    }

    // A replica two versions ahead is refused by the others, logged once, and the node goes on.
    let leader = c.wait_leader();
    let x = (1..=3).find(|&i| i != leader).unwrap();
    c.stop(x);
    c.start_replica_args(x, &["--protocol-version", &two_ahead]);
    wait_for("the leader to refuse the replica two versions apart", Duration::from_secs(30), || {
        c.log_of(leader).contains("PROTOCOL").then_some(())
    });
    // Both sides log the refusal, each in its own time (CI once counted before the refused side had).
    wait_for("the replica two versions apart to log its refusal", Duration::from_secs(30), || {
        c.log_of(x).contains("PROTOCOL").then_some(())
    });
    // (A client that tries the refused replica first waits for it to find no leader, then moves on.)
    load.progress(3, "reports while a replica is refused");
    let refusals = c.log_of(leader).lines().filter(|l| l.contains("PROTOCOL")).count();
    // Once as the refusing side, at most once more as the refused side (its calls to the replica).
    assert!((1..=2).contains(&refusals), "the leader floods its log:\n{}", c.log_of(leader));
    let refused = c.log_of(x).lines().filter(|l| l.contains("PROTOCOL")).count();
    assert!((1..=2).contains(&refused), "the refused replica floods its log:\n{}", c.log_of(x));
    c.stop(x);
    c.start_replica(x);
    c.wait_caught_up(x);
    load.progress(5, "reports after the refused replica came back");

    let acked = load.finish();
    assert!(acked.len() >= 50, "only {} reports under load", acked.len());
    let leader = c.wait_leader();
    for id in 1..=3 {
        c.wait_caught_up(id);
    }
    let on_leader = held(&c, leader);
    for id in acked.iter() {
        assert!(on_leader.contains(id), "acknowledged case {id} lost");
    }
    for id in 1..=3 {
        assert_eq!(held(&c, id), on_leader, "replica {id} differs from the leader");
    }
}
