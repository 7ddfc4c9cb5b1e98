//! Clock skew with real replica processes whose clocks a test steps at run time (`serve
//! --clock-offset-file`, a fault-injection switch): a replica whose clock disagrees with its peers'
//! does not lead or escalate overdue cases, and freshness ages are never negative.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{wait_for, Cluster, Tuning, GRID};

const THREE_HOURS_MS: &str = "10800000";

/// Restarts every replica of `c` with a clock-offset file of its own; returns the files.
fn with_offset_files(c: &mut Cluster) -> Vec<PathBuf> {
    let ids: Vec<u64> = c.replicas.iter().map(|r| r.id).collect();
    let mut files = Vec::new();
    for id in ids {
        let f = c.dir.path().join(format!("clock-{id}"));
        std::fs::write(&f, "0").expect("offset file");
        c.stop(id);
        c.start_replica_args(id, &["--clock-offset-file", f.to_str().expect("path")]);
        files.push(f);
    }
    c.wait_leader();
    files
}

#[test]
fn a_leader_whose_clock_jumps_three_hours_ahead_steps_down_and_does_not_lead_while_off() {
    let mut c = Cluster::start(3, Tuning::default());
    let files = with_offset_files(&mut c);
    let skewed = c.wait_leader();
    std::fs::write(&files[skewed as usize - 1], THREE_HOURS_MS).expect("step the clock");
    let next = wait_for("another replica to lead", Duration::from_secs(30), || {
        c.status().and_then(|s| s["leader"].as_u64()).filter(|&l| l != skewed && s_role_is_leader(&c, l))
    });
    let log = c.log_of(skewed);
    assert!(log.contains("CLOCK SKEW") && log.contains("ahead of its peers"), "{log}");
    assert!(log.contains("steps down"), "{log}");
    // With the other fit replica gone, the skewed one is left with one peer: that peer leads.
    c.kill(next);
    let third = c.wait_leader();
    assert_ne!(third, skewed, "the replica with the skewed clock took the lead");
    // Cases are stamped with a fit leader's clock, not three hours ahead.
    let id = c.report("时钟正常的领导者登记", "skew-1");
    let case = c.cli_json(&["case", "show", &id, "--node", &c.live(), "--json"]);
    let reported = case["reported_at"].as_i64().expect("reported_at");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((reported - now).abs() < 60_000, "reported at {reported}, now {now}");
    // Fixed, it may lead again.
    std::fs::write(&files[skewed as usize - 1], "0").expect("fix the clock");
    wait_for("the replica to be fit again", Duration::from_secs(30), || {
        c.log_of(skewed).contains("fit to lead again").then_some(())
    });
}

fn s_role_is_leader(c: &Cluster, id: u64) -> bool {
    c.local_status(id).is_some_and(|s| s["role"] == "leader")
}

#[test]
fn a_community_with_a_fast_clock_escalates_nothing_and_its_freshness_is_never_negative() {
    let mut c = Cluster::start_with(1, Tuning::default(), |_, t| {
        let fed = t.entry("federation").or_insert(toml::Value::Table(Default::default()));
        fed.as_table_mut().expect("table").insert("supervise_ms".into(), toml::Value::Integer(500));
        let deadlines = t.entry("deadlines").or_insert(toml::Value::Table(Default::default()));
        let default = deadlines
            .as_table_mut()
            .expect("table")
            .entry("default")
            .or_insert(toml::Value::Table(Default::default()));
        default.as_table_mut().expect("table").insert("grid_minutes".into(), toml::Value::Integer(60));
    });
    let street = c.start_node("370102001");
    let files = with_offset_files(&mut c);
    let id = c.report("楼道堆物", "fast-1");
    for args in [
        vec!["--action", "register"],
        vec!["--action", "dispatch", "--handler", "张伟", "--handler-kind", "grid_worker"],
    ] {
        let mut a = vec!["case", "act", id.as_str(), "--node", c.addr(1)];
        a.extend(args);
        c.cli_json(&[a, vec!["--json"]].concat());
    }
    std::fs::write(&files[0], THREE_HOURS_MS).expect("step the clock");
    // By its own clock the case is now two hours overdue...
    wait_for("the case to look overdue to the community", Duration::from_secs(20), || {
        let v = c.cli_json(&["case", "list", "--node", c.addr(1), "--light", "red", "--json"]);
        (v["cases"].as_array()?.len() == 1).then_some(())
    });
    // ...but the community's clock disagrees with its street's, so supervision does not act on it.
    wait_for("supervision to hold back", Duration::from_secs(30), || {
        let log = c.log_of(1);
        (log.contains("CLOCK SKEW") && log.contains("supervision skipped")).then_some(())
    });
    let case = c.cli_json(&["case", "show", &id, "--node", c.addr(1), "--json"]);
    assert_eq!(case["owner"], "370102001001", "a case not yet due was escalated");
    assert_eq!(case["state"], "dispatched");
    // The street sees the community's rollups stamped three hours ahead: their age reads 0, not -3 h.
    let stats = wait_for("the street to hear from the community", Duration::from_secs(30), || {
        let v = c.cli_json(&["stats", "--node", &street[0], "--subtree", "--json"]);
        v["parts"].as_array()?.iter().any(|p| p["node"] == "370102001001").then_some(v)
    });
    for p in stats["parts"].as_array().expect("parts") {
        assert!(p["age_ms"].as_i64().expect("age") >= 0, "{p}");
    }
    let _ = GRID;
}
