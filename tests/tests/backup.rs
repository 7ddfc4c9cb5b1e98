//! Backups and restores with real replica processes: one replica of a live node restored from a backup
//! rejoins without voting until it has caught up; a damaged, truncated or foreign backup file is
//! refused with a clear error and nothing in the data directory changes; authorization.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{cli, cli_env, holds_exactly, wait_for, Cluster, Tuning, GRID, SIBLING};
use serde_json::Value;

/// Reports `n` cases through `c` from 4 threads; returns the acknowledged ids.
fn report_many(c: &Cluster, n: usize, prefix: &str) -> Vec<String> {
    let per = n.div_ceil(4);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    (0..per)
                        .filter(|i| t * per + i < n)
                        .map(|i| {
                            c.report(&format!("楼道堆物 {prefix}-{t}-{i}"), &format!("{prefix}-{t}-{i}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("reporter")).collect()
    })
}

fn config_of(c: &Cluster, id: u64) -> String {
    c.replicas.iter().find(|r| r.id == id).expect("replica").config.display().to_string()
}

#[test]
fn a_replica_restored_into_a_live_node_rejoins_without_voting_and_catches_up() {
    let mut c = Cluster::start(3, Tuning { tls: true, ..Default::default() });
    let leader = c.wait_leader();
    let others: Vec<u64> = (1..=3).filter(|&i| i != leader).collect();
    let (a, b) = (others[0], others[1]);
    let before = report_many(&c, 30, "before");
    c.wait_caught_up(a);

    // The backup, taken on A over mutual TLS with the district operator's certificate.
    let file = c.dir.path().join("community.gfbak");
    let v = c.cli_json(&["backup", "--node", c.addr(a), "--out", file.to_str().unwrap(), "--json"]);
    let m = &v["manifest"];
    assert_eq!(m["node"], common::COMMUNITY);
    assert_eq!(m["replica"], a);
    assert!(m["applied_index"].as_u64().unwrap() >= 30, "{m}");
    assert_eq!(m["storage_format"], 2);
    assert_eq!(m["sha256"].as_str().map(str::len), Some(64));
    // An operator of another community may not back this one up.
    let stranger = c.issue(SIBLING, "operator", "li");
    let refused = c.dir.path().join("refused.gfbak");
    let out = cli_env(&stranger, &["backup", "--node", c.addr(a), "--out", refused.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not include node"), "{out:?}");
    assert!(!refused.exists());

    // B is down: the next reports are acknowledged by the leader and A alone.
    c.kill(b);
    let after = report_many(&c, 30, "after");
    // A's machine is lost; its replacement is restored from the backup, which lacks `after`.
    c.kill(a);
    let r = common::cli_json(&[
        "restore",
        file.to_str().unwrap(),
        "--config",
        &config_of(&c, a),
        "--replace",
        "--json",
    ]);
    assert_eq!(r["repairing"], true, "{r}");
    assert!(c.data_dir(a).join("REPAIRING").exists());
    assert!(r["moved_aside"].as_str().is_some_and(|p| Path::new(p).join("db").exists()), "{r}");
    c.kill(leader);
    c.start_replica(a);
    c.start_replica(b);
    // Neither A nor B holds `after`. A does not vote while it is behind, so B cannot win an election
    // and nothing is written over the reports only the old leader holds.
    let out = c.cli(&[
        "case",
        "report",
        "--node",
        &c.live(),
        "--grid",
        GRID,
        "--category",
        "市容环境/暴露垃圾",
        "--title",
        "不该写入",
        "--timeout",
        "4",
    ]);
    assert!(!out.status.success(), "a write succeeded while only B and the restored A were up");
    c.start_replica(leader);
    c.wait_leader();
    wait_for("A to catch up and vote again", Duration::from_secs(60), || {
        c.log_of(a).contains("repair finished").then_some(())
    });
    assert!(!c.data_dir(a).join("REPAIRING").exists());
    let all: Vec<String> = before.iter().chain(&after).cloned().collect();
    for id in [leader, a, b] {
        holds_exactly(&c, id, &all);
    }
    // A votes again: with the old leader gone, A and B elect a leader.
    c.kill(leader);
    let new = c.wait_leader();
    assert_ne!(new, leader);
    let more = c.report("恢复后仍可上报", "after-restore");
    let mut all = all;
    all.push(more);
    holds_exactly(&c, a, &all);
}

/// Every file under `dir` with its size and modification time.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let e = e.expect("entry");
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(e.path());
            }
            out.push((e.path(), meta.len(), meta.modified().expect("mtime")));
        }
    }
    out.sort();
    out
}

/// The members of a backup file: (name, bytes).
fn members(file: &Path) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(std::fs::File::open(file).expect("open"));
    a.entries()
        .expect("entries")
        .map(|e| {
            let mut e = e.expect("entry");
            let name = e.path().unwrap().display().to_string();
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("read");
            (name, b)
        })
        .collect()
}

fn write_members(file: &Path, members: &[(String, Vec<u8>)]) {
    let mut t = tar::Builder::new(std::fs::File::create(file).expect("create"));
    for (name, b) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(b.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        t.append_data(&mut h, name, &b[..]).expect("append");
    }
    t.finish().expect("finish");
}

#[test]
fn a_corrupted_truncated_or_foreign_backup_is_refused_and_nothing_changes() {
    let mut c = Cluster::start(1, Tuning::default());
    let kept = report_many(&c, 6, "kept");
    let dir = c.dir.path().to_path_buf();
    let good = dir.join("good.gfbak");
    let out = cli(&["backup", "--node", c.addr(1), "--out", good.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    // Not on a terminal: plain progress lines, no bar.
    assert!(String::from_utf8_lossy(&out.stderr).contains("backup: "), "{out:?}");
    // Scheduled backups (gridnode-backup@.service): named by node and time, verified, the newest kept.
    let scheduled = dir.join("scheduled");
    let mut names = Vec::new();
    for _ in 0..3 {
        let v = common::cli_json(&[
            "backup",
            "--node",
            c.addr(1),
            "--out-dir",
            scheduled.to_str().unwrap(),
            "--keep",
            "2",
            "--verify",
            "--json",
        ]);
        assert_eq!(v["verified"], true);
        names.push(v["file"].as_str().unwrap().to_string());
        // One file per second of the clock: wait for the next second rather than overwrite.
        let t = std::time::SystemTime::now();
        wait_for("the next second", Duration::from_secs(3), || {
            (t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                != std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs())
            .then_some(())
        });
    }
    let mut left: Vec<String> =
        std::fs::read_dir(&scheduled).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    left.sort();
    assert_eq!(left, names[1..].to_vec());
    assert!(
        names[0].contains(&format!("/{}-", common::COMMUNITY)) && names[0].ends_with(".gfbak"),
        "{names:?}"
    );
    let later = c.report("备份之后", "after-backup");
    c.stop(1);
    let config = config_of(&c, 1);
    let data = c.data_dir(1);
    let before = listing(&data);

    let bytes = std::fs::read(&good).expect("backup");
    let parts = members(&good);
    assert_eq!(parts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["store.tar.gz", "manifest.json"]);
    let mut flipped = bytes.clone();
    flipped[512 + parts[0].1.len() / 2] ^= 0x55;
    let mut foreign = parts.clone();
    let mut m: Value = serde_json::from_slice(&foreign[1].1).expect("manifest");
    m["node"] = "370102001002".into();
    foreign[1].1 = serde_json::to_vec(&m).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("corrupted", flipped, "is corrupted: the store's SHA-256"),
        ("truncated", bytes[..bytes.len() / 2].to_vec(), "is truncated"),
        (
            "no-manifest",
            bytes[..512 + parts[0].1.len().div_ceil(512) * 512].to_vec(),
            "manifest.json is missing",
        ),
        ("foreign", Vec::new(), "is a backup of node 370102001002"),
    ];
    for (name, content, expect) in cases {
        let file = dir.join(format!("{name}.gfbak"));
        if name == "foreign" {
            write_members(&file, &foreign);
        } else {
            std::fs::write(&file, content).expect("write");
        }
        let out = cli(&["restore", file.to_str().unwrap(), "--config", &config, "--replace"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: restored");
        assert!(err.contains(expect) && err.contains("nothing was changed"), "{name}: {err}");
        assert_eq!(listing(&data), before, "{name}: the data directory changed");
    }
    // A good file does not overwrite a store unless told.
    let out = cli(&["restore", good.to_str().unwrap(), "--config", &config]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a store"), "{out:?}");
    assert_eq!(listing(&data), before);

    // With --replace, the old store is moved aside and the node comes back at the backup.
    let r =
        common::cli_json(&["restore", good.to_str().unwrap(), "--config", &config, "--replace", "--json"]);
    assert_eq!(r["repairing"], false, "a node of one replica is restored whole: {r}");
    let aside = PathBuf::from(r["moved_aside"].as_str().expect("moved aside"));
    assert!(aside.join("db").is_dir() && aside.join("durable-index").is_file());
    c.start_replica(1);
    c.wait_leader();
    holds_exactly(&c, 1, &kept);
    assert!(!c.local_ids(1).contains(&later));
}
