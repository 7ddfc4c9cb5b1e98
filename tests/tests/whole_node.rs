//! A whole node lost and restored from a backup, with real processes: the community (3 replicas) comes
//! back at the backup's index; its street still holds what it queued for the community meanwhile and
//! sends it again (taken from where the street's queue starts); and the community's new escalations,
//! whose sequence numbers the street had already seen from the community as it was before the loss,
//! are renumbered and delivered, not skipped as resends.

mod common;

use std::time::Duration;

use common::{cli_json, wait_for, Cluster, Tuning, COMMUNITY};
use serde_json::Value;

const STREET: &str = "370102001";

/// The case as node `addrs` holds it, if it does.
fn case_at(c: &Cluster, addrs: &str, id: &str) -> Option<Value> {
    let out = c.cli(&["case", "show", id, "--node", addrs, "--json", "--timeout", "3"]);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
}

/// Waits until node `addrs` owns case `id` as `owner`.
fn owned_by(c: &Cluster, addrs: &str, id: &str, owner: &str) -> Value {
    wait_for(&format!("{id} to be owned by {owner}"), Duration::from_secs(60), || {
        case_at(c, addrs, id).filter(|v| v["owner"] == owner)
    })
}

fn act(c: &Cluster, addrs: &str, id: &str, args: &[&str]) {
    let mut all = vec!["case", "act", id, "--node", addrs];
    all.extend_from_slice(args);
    all.push("--json");
    c.cli_json(&all);
}

/// Reports a case at the community, registers and escalates it to the street; returns its id.
fn escalated(c: &Cluster, title: &str, rid: &str) -> String {
    let id = c.report(title, rid);
    act(c, &c.all(), &id, &["--action", "register"]);
    act(c, &c.all(), &id, &["--action", "escalate", "--note", "需街道协调"]);
    id
}

fn backlog(c: &Cluster, addrs: &str, peer: &str) -> Option<u64> {
    let v = c.cli_json(&["federation", "status", "--node", addrs, "--json"]);
    v["links"].as_array()?.iter().find(|l| l["peer"] == peer)?["backlog"].as_u64()
}

#[test]
fn a_whole_node_restored_from_a_backup_gets_what_its_neighbour_held_and_its_new_escalations_arrive() {
    let mut c = Cluster::start(3, Tuning::default());
    let street = c.start_node(STREET).join(",");
    wait_for("the street to serve", Duration::from_secs(30), || {
        let out = c.cli(&["cluster", "status", "--node", &street, "--json", "--timeout", "2"]);
        out.status.success().then_some(())
    });

    // Before the backup: one escalation, delivered.
    let a = escalated(&c, "备份前上报", "before-backup");
    owned_by(&c, &street, &a, STREET);
    let file = c.dir.path().join("community.gfbak");
    let m = c.cli_json(&["backup", "--node", c.addr(1), "--out", file.to_str().unwrap(), "--json"]);
    let backup_index = m["manifest"]["applied_index"].as_u64().expect("index");

    // After the backup: another escalation, and the street works on the first (status updates go
    // back to the community): all acknowledged by the community as it is now.
    let b = escalated(&c, "备份后上报", "after-backup");
    owned_by(&c, &street, &b, STREET);
    act(&c, &street, &a, &["--action", "dispatch", "--handler", "街道城管科", "--handler-kind", "street"]);
    wait_for("the street's status update to reach the community", Duration::from_secs(60), || {
        case_at(&c, &c.all(), &a).filter(|v| v["state"] == "dispatched")
    });
    wait_for("the street's queue to the community to drain", Duration::from_secs(60), || {
        (backlog(&c, &street, COMMUNITY)? == 0).then_some(())
    });

    // Every replica of the community is lost.
    for id in 1..=3 {
        c.kill(id);
    }
    // Meanwhile the street sends both cases back down: queued for the community.
    act(&c, &street, &a, &["--action", "send_down", "--to", COMMUNITY, "--note", "请社区牵头"]);
    act(&c, &street, &b, &["--action", "send_down", "--to", COMMUNITY, "--note", "请社区牵头"]);
    assert_eq!(backlog(&c, &street, COMMUNITY), Some(2));

    // The whole node is restored from the backup, every replica from the same file.
    for id in 1..=3 {
        let config = c.replicas.iter().find(|r| r.id == id).unwrap().config.display().to_string();
        let r = cli_json(&[
            "restore",
            file.to_str().unwrap(),
            "--config",
            &config,
            "--whole-node",
            "--replace",
            "--json",
        ]);
        assert_eq!(r["repairing"], false, "{r}");
        assert!(!c.data_dir(id).join("REPAIRING").exists());
        c.start_replica(id);
    }
    c.wait_leader();
    let status = c.status().expect("status");
    assert!(status["last_applied"].as_u64().unwrap() >= backup_index, "{status}");

    // What the street held for the community arrives: both cases are the community's again.
    let back_a = owned_by(&c, &c.all(), &a, COMMUNITY);
    // With the street's history of it, made after the backup.
    let actions: Vec<&str> =
        back_a["audit"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["report", "register", "escalate", "dispatch", "send_down"], "{back_a}");
    owned_by(&c, &c.all(), &b, COMMUNITY);
    wait_for("the street's queue to the community to drain", Duration::from_secs(60), || {
        (backlog(&c, &street, COMMUNITY)? == 0).then_some(())
    });

    // A new escalation after the restore is delivered, not skipped as a resend of the old numbers.
    let d = escalated(&c, "恢复后上报", "after-restore");
    owned_by(&c, &street, &d, STREET);
    wait_for("the community's queue to the street to drain", Duration::from_secs(60), || {
        (backlog(&c, &c.all(), STREET)? == 0).then_some(())
    });
    let leader = c.wait_leader();
    assert!(c.log_of(leader).contains("RESTORED LINK"), "the link was not resequenced");
    // Delivered once: the street holds d once, as its owner, and the community a read-only copy.
    let listed = c.cli_json(&["case", "list", "--node", &street, "--all", "--json"]);
    let n = listed["cases"].as_array().unwrap().iter().filter(|v| v["id"] == d.as_str()).count();
    assert_eq!(n, 1);
    assert_eq!(case_at(&c, &c.all(), &d).expect("copy")["owner"], STREET);
}
