//! A 3-replica node on loopback: leader loss, catch-up by log and by snapshot, full restart, membership.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

fn assert_exactly(c: &Cluster, replica: u64, acknowledged: &BTreeSet<String>) {
    let ids = c.local_ids(replica);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), unique.len(), "replica {replica} holds a case twice");
    assert_eq!(&unique, acknowledged, "replica {replica} differs from the acknowledged cases");
}

#[test]
fn leader_killed_writes_continue_and_the_old_leader_catches_up() {
    let mut c = Cluster::start(3, Tuning::default());
    let mut acked = BTreeSet::new();
    for i in 0..15 {
        acked.insert(c.report(&format!("楼道堆物 {i}"), &format!("before-{i}")));
    }
    let leader = c.wait_leader();
    c.kill(leader);
    let new_leader = c.wait_leader();
    assert_ne!(new_leader, leader);
    for i in 0..15 {
        acked.insert(c.report(&format!("占道经营 {i}"), &format!("after-{i}")));
    }
    // A retried report (same request id) after the failover does not create a second case.
    let again = c.report("楼道堆物 0", "before-0");
    assert!(acked.contains(&again));
    assert_eq!(acked.len(), 30);

    c.start_replica(leader);
    c.wait_caught_up(leader);
    for r in [1, 2, 3] {
        assert_exactly(&c, r, &acked);
    }
}

#[test]
fn lagging_replica_catches_up_through_a_snapshot_after_log_purge() {
    let mut c = Cluster::start(3, Tuning { snapshot_every: 10, keep_logs: 0, ..Tuning::default() });
    let leader = c.wait_leader();
    let follower = [1, 2, 3].into_iter().find(|&r| r != leader).unwrap();
    c.kill(follower);
    let mut acked = BTreeSet::new();
    for i in 0..40 {
        acked.insert(c.report(&format!("井盖缺失 {i}"), &format!("snap-{i}")));
    }
    // The leader has compacted its log past what the stopped follower holds.
    let purged = wait_for("the leader to purge its log", Duration::from_secs(30), || {
        let s = c.status()?;
        s["purged_index"].as_u64().filter(|&p| p > 20)
    });
    c.start_replica(follower);
    let s = c.wait_caught_up(follower);
    let installed = s["snapshot_index"].as_u64().expect("the follower has a snapshot");
    assert!(installed >= purged.min(20), "snapshot at {installed}, leader purged up to {purged}");
    assert!(c.log_of(follower).contains("replica serving"));
    assert_exactly(&c, follower, &acked);
}

#[test]
fn full_restart_after_kill_9_loses_no_acknowledged_case() {
    let mut c = Cluster::start(3, Tuning::default());
    // Concurrent clients: each acknowledged id is recorded.
    let nodes = c.all();
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let nodes = nodes.clone();
            std::thread::spawn(move || {
                (0..8)
                    .map(|i| {
                        let v = cli_json(&[
                            "case",
                            "report",
                            "--node",
                            &nodes,
                            "--grid",
                            GRID,
                            "--category",
                            "0101",
                            "--title",
                            &format!("垃圾满溢 {t}-{i}"),
                            "--request-id",
                            &format!("t{t}-{i}"),
                            "--json",
                        ]);
                        v["id"].as_str().unwrap().to_string()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let acked: BTreeSet<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(acked.len(), 48);
    for r in [1, 2, 3] {
        c.kill(r);
    }
    for r in [1, 2, 3] {
        c.start_replica(r);
    }
    c.wait_leader();
    for r in [1, 2, 3] {
        c.wait_caught_up(r);
        assert_exactly(&c, r, &acked);
    }
}

#[test]
fn a_replica_is_added_as_learner_then_voter_and_removed() {
    let c = Cluster::start(3, Tuning::default());
    c.report("新增副本前的案件", "m-1");
    // A fourth replica, configured to join rather than bootstrap.
    let port = free_port();
    let config = c.dir.path().join("configs/replica-4.toml");
    let text = std::fs::read_to_string(&c.replicas[0].config).unwrap();
    let mut v: toml::Value = toml::from_str(&text).unwrap();
    let t = v.as_table_mut().unwrap();
    t.insert("replica_id".into(), toml::Value::Integer(4));
    t.insert("listen".into(), toml::Value::String(format!("127.0.0.1:{port}")));
    t.insert("bootstrap".into(), toml::Value::Boolean(false));
    t.insert("data_dir".into(), toml::Value::String(c.dir.path().join("data/r4").display().to_string()));
    std::fs::write(&config, toml::to_string(&v).unwrap()).unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--insecure", "--config", config.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let out = cli(&[
        "cluster",
        "add-replica",
        "--node",
        &c.all(),
        "--id",
        "4",
        "--addr",
        &addr,
        "--json",
        "--timeout",
        "60",
    ]);
    let ok = out.status.success();
    let status = c.status();
    let _ = cli(&["cluster", "remove-replica", "--node", &c.all(), "--id", "4", "--timeout", "30"]);
    let after = c.status();
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "add-replica failed: {}", String::from_utf8_lossy(&out.stderr));
    let status = status.unwrap();
    let voters = |s: &serde_json::Value| {
        s["replicas"].as_array().unwrap().iter().filter(|r| r["voter"] == true).count()
    };
    assert_eq!(voters(&status), 4, "{status}");
    assert_eq!(voters(&after.unwrap()), 3);
}

/// Regression: when a test (or an operator) restarts a replica, another node's replica may have taken
/// its address meanwhile; that process then received this node's Raft messages, and openraft panicked
/// on the foreign group's log. Raft messages now name their node and replica, and others are refused.
#[test]
fn raft_messages_for_another_node_or_replica_are_refused() {
    use proto::v1::raft_service_client::RaftServiceClient;
    use proto::v1::RaftPayload;
    let c = Cluster::start(1, Tuning::default());
    let addr = format!("http://{}", c.addr(1));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let codes: Vec<tonic::Code> = rt.block_on(async {
        let mut client = RaftServiceClient::connect(addr).await.unwrap();
        let mut out = Vec::new();
        for (node, replica) in [(None, None), (Some("370102001002"), Some("1")), (Some(COMMUNITY), Some("2"))]
        {
            let mut req = common::versioned(RaftPayload { data: vec![1, 2, 3] });
            if let Some(n) = node {
                req.metadata_mut().insert("x-gridfed-node", n.parse().unwrap());
            }
            if let Some(r) = replica {
                req.metadata_mut().insert("x-gridfed-replica", r.parse().unwrap());
            }
            out.push(client.vote(req).await.unwrap_err().code());
        }
        // The right node and replica get past the check (and then fail to decode the junk payload).
        let mut req = common::versioned(RaftPayload { data: vec![1, 2, 3] });
        req.metadata_mut().insert("x-gridfed-node", COMMUNITY.parse().unwrap());
        req.metadata_mut().insert("x-gridfed-replica", "1".parse().unwrap());
        out.push(client.vote(req).await.unwrap_err().code());
        out
    });
    use tonic::Code::{InvalidArgument, PermissionDenied};
    assert_eq!(codes, vec![PermissionDenied, PermissionDenied, PermissionDenied, InvalidArgument]);
    assert!(c.log_of(1).contains("refused a Raft message"));
}
