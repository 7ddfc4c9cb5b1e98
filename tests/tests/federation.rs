//! A real three-level federation on loopback: links cut and leaders killed in the middle of
//! escalations, dispatches and rollups; after healing, everything applied exactly once, one owner per
//! case, origins see final states, and the district's subtree statistics equal the ground truth.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::fed::*;
use common::wait_for;
use serde_json::Value;

const COUNTED: [&str; 7] =
    ["total", "registered", "closed", "closed_on_time", "returned", "self_handled", "cancelled"];

/// The ground truth: every node's own statistics, summed.
fn ground_truth(f: &Federation, within: &str) -> BTreeMap<&'static str, i64> {
    let mut sum = BTreeMap::new();
    for node in Federation::nodes().into_iter().filter(|n| n.starts_with(within)) {
        let s = f.stats(node, None);
        for k in COUNTED {
            *sum.entry(k).or_insert(0) += s[k].as_i64().unwrap();
        }
    }
    sum
}

fn counted(s: &Value) -> BTreeMap<&'static str, i64> {
    COUNTED.iter().map(|k| (*k, s[*k].as_i64().unwrap())).collect()
}

/// Exactly one node owns each case; returns id -> owner.
fn owners(f: &Federation) -> BTreeMap<String, String> {
    let mut owner = BTreeMap::new();
    for node in Federation::nodes() {
        for id in f.cases(node, true).into_keys() {
            if let Some(other) = owner.insert(id.clone(), node.to_string()) {
                panic!("case {id} is owned by both {other} and {node}");
            }
        }
    }
    owner
}

#[test]
fn cut_links_and_killed_leaders_lose_and_double_nothing() {
    let mut f = Federation::start();
    let [a1, a2, b1, b2] = COMMUNITIES;

    // 12345 tickets at the district, dispatched down to the grids' communities.
    let mut hotline = BTreeMap::new();
    for (i, c) in COMMUNITIES.iter().enumerate() {
        for j in 0..2 {
            let id = f.report(
                DISTRICT,
                &format!("{c}00{}", j + 1),
                &format!("12345 工单 {i}-{j}"),
                &format!("h{i}{j}"),
            );
            hotline.insert(id, c.to_string());
        }
    }
    // Community cases, registered; some escalated to the street.
    let mut escalated = BTreeMap::new();
    let mut local = Vec::new();
    for (i, c) in [a1, a2, b1].iter().enumerate() {
        for j in 0..4 {
            let id = f.report(c, &format!("{c}001"), &format!("巡查发现 {i}-{j}"), &format!("c{i}{j}"));
            f.act(c, &id, &["--action", "register"]);
            if j < 2 {
                f.act(c, &id, &["--action", "escalate", "--note", "社区无法协调"]);
                escalated.insert(id, c.to_string());
            } else {
                local.push((c.to_string(), id));
            }
        }
    }

    // Faults: the street A <-> district link and the b1 <-> street B link are cut, and street A's leader
    // is killed, while escalations, dispatches and rollups are under way.
    f.cut(STREET_A);
    f.cut(b1);
    let killed = f.leader(STREET_A);
    f.kill(STREET_A, killed);
    for (i, c) in [a1, a2, b1].iter().enumerate() {
        let id = f.report(c, &format!("{c}002"), &format!("断网期间上报 {i}"), &format!("d{i}"));
        f.act(c, &id, &["--action", "register"]);
        f.act(c, &id, &["--action", "escalate", "--note", "需街道协调"]);
        escalated.insert(id, c.to_string());
    }
    for (i, c) in COMMUNITIES.iter().enumerate() {
        let id = f.report(DISTRICT, &format!("{c}002"), &format!("断网期间工单 {i}"), &format!("dh{i}"));
        hotline.insert(id, c.to_string());
    }
    // Communities go on with their own cases while cut off.
    for (c, id) in &local {
        for a in [
            &["--action", "dispatch", "--handler", "张伟"][..],
            &["--action", "start"],
            &["--action", "handled"],
            &["--action", "close"],
        ] {
            f.act(c, id, a);
        }
    }
    f.restart(STREET_A, killed);
    f.leader(STREET_A);
    f.heal(STREET_A);
    f.heal(b1);

    // The streets handle what reached them (吹哨: a department); one case goes back down (协同办).
    wait_for("escalations to reach the streets", Duration::from_secs(60), || {
        let owned = f.cases(STREET_A, true).len() + f.cases(STREET_B, true).len();
        (owned == escalated.len()).then_some(())
    });
    for street in [STREET_A, STREET_B] {
        let addrs = f.addrs(street);
        let out = f.cli(&["department", "add", "--node", &addrs, "--name", "区城管执法局", "--hours", "48"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut sent_down = None;
    let district_leader = f.leader(DISTRICT);
    for (n, (id, c)) in escalated.iter().enumerate() {
        let street = &c[..9];
        if n == 0 && street == STREET_A {
            f.act(street, id, &["--action", "send_down", "--to", c, "--note", "请社区牵头，街道配合"]);
            sent_down = Some((id.clone(), c.clone()));
            continue;
        }
        if n == 3 {
            // Kill the district's leader in the middle of the streets' rollups.
            f.kill(DISTRICT, district_leader);
        }
        f.act(
            street,
            id,
            &["--action", "dispatch", "--handler", "区城管执法局", "--handler-kind", "department"],
        );
        f.act(street, id, &["--action", "start"]);
        f.act(street, id, &["--action", "handled", "--note", "已清理"]);
        f.act(street, id, &["--action", "close"]);
    }
    f.restart(DISTRICT, district_leader);
    let (back_id, back_to) = sent_down.expect("a case was sent down");
    wait_for("the sent-down case to arrive", Duration::from_secs(60), || {
        f.cases(&back_to, true).contains_key(&back_id).then_some(())
    });
    f.act(&back_to, &back_id, &["--action", "dispatch", "--handler", "李娜"]);
    // Hotline tickets: the communities register and dispatch them.
    for (id, c) in &hotline {
        wait_for("a ticket to land", Duration::from_secs(60), || {
            f.cases(c, true).contains_key(id).then_some(())
        });
        f.act(c, id, &["--action", "register"]);
    }

    f.drained();
    let owner = owners(&f);
    for (id, c) in &hotline {
        assert_eq!(owner.get(id), Some(c), "ticket {id} must be owned by {c}");
    }
    for (id, c) in &escalated {
        let expect = if *id == back_id { c.clone() } else { c[..9].to_string() };
        assert_eq!(owner.get(id), Some(&expect), "escalated case {id}");
    }
    assert_eq!(owner.len(), hotline.len() + escalated.len() + local.len(), "a case was lost or made twice");

    // Every origin sees the final state of what it escalated or dispatched down.
    let origins: Vec<(String, String)> = escalated
        .iter()
        .map(|(id, c)| (id.clone(), c.clone()))
        .chain(hotline.keys().map(|id| (id.clone(), DISTRICT.to_string())))
        .collect();
    wait_for("origins to see final states", Duration::from_secs(60), || {
        let fresh = origins.iter().all(|(id, origin)| {
            let theirs = &f.cases(&owner[id], true)[id];
            f.cases(origin, false)
                .get(id)
                .is_some_and(|m| m["version"] == theirs["version"] && m["state"] == theirs["state"])
        });
        fresh.then_some(())
    });

    // The district's subtree statistics equal the ground truth, for the whole district and each street.
    for scope in [DISTRICT, STREET_A, STREET_B] {
        wait_for(&format!("rollups of {scope} to settle"), Duration::from_secs(60), || {
            let truth = ground_truth(&f, scope);
            let seen = counted(&f.stats(DISTRICT, Some(if scope == DISTRICT { "" } else { scope })));
            (seen == truth).then_some(())
        });
    }
    let all = f.stats(DISTRICT, Some(""));
    assert_eq!(all["total"].as_i64().unwrap() as usize, owner.len());

    // Freshness (measured, not asserted): a case closed in a community, seen in the district's rollup.
    let before = f.stats(DISTRICT, Some(""))["closed"].as_i64().unwrap();
    let id = f.report(a2, &format!("{a2}001"), "新鲜度测量", "fresh-1");
    for a in [
        &["--action", "register"][..],
        &["--action", "dispatch", "--handler", "王芳"],
        &["--action", "start"],
        &["--action", "handled"],
    ] {
        f.act(a2, &id, a);
    }
    let start = Instant::now();
    f.act(a2, &id, &["--action", "close"]);
    wait_for("the close to roll up", Duration::from_secs(30), || {
        (f.stats(DISTRICT, Some(""))["closed"].as_i64().unwrap() > before).then_some(())
    });
    eprintln!("freshness: a close in {a2} reached the district's subtree statistics in {:?} (including CLI polling)", start.elapsed());
    let _ = b2;
}

#[test]
fn a_long_outage_queues_hundreds_of_escalations_and_drains_them_once() {
    let f = Federation::start();
    let c = COMMUNITIES[2]; // under street B
    f.cut(c);
    let mut ids = Vec::new();
    for i in 0..160 {
        let id = f.report(c, &format!("{c}001"), &format!("长时间断网 {i}"), &format!("o{i}"));
        f.act(c, &id, &["--action", "register"]);
        f.act(c, &id, &["--action", "escalate", "--note", "上报街道"]);
        ids.push(id);
    }
    // The community went on working; its messages wait in its replicated outbox.
    let status = f.cli_json(&["federation", "status", "--node", &f.addrs(c), "--json"]);
    let link = &status["links"][0];
    assert_eq!(link["peer"], STREET_B);
    assert_eq!(link["backlog"].as_u64().unwrap(), 160, "{status}");
    assert_eq!(link["up"], false);
    assert!(link["oldest_age_ms"].as_i64().unwrap() > 0);
    assert_eq!(f.cases(STREET_B, true).len(), 0);

    f.heal(c);
    f.drained();
    let owned = f.cases(STREET_B, true);
    assert_eq!(owned.len(), 160);
    for id in &ids {
        assert!(owned.contains_key(id), "{id} lost");
        assert_eq!(owned[id]["origin"], c);
    }
    let copies = f.cases(c, false);
    assert!(ids.iter().all(|id| copies[id]["owner"] == STREET_B));
    assert_eq!(f.cases(c, true).len(), 0);
    // In order: the street's ids arrived in the community's sequence.
    let street_stats = f.stats(STREET_B, None);
    assert_eq!(street_stats["total"], 160);
}

#[test]
fn overdue_cases_are_escalated_by_supervision_and_bad_grids_refused_at_intake() {
    // One-minute handling limits and a supervisor that looks every 200 ms.
    let f = Federation::start_with(|_, cfg| {
        let fed = cfg.get_mut("federation").and_then(|v| v.as_table_mut()).unwrap();
        fed.insert("supervise_ms".into(), toml::Value::Integer(200));
        let limits = toml::map::Map::from_iter([
            ("grid_minutes".to_string(), toml::Value::Integer(1)),
            ("community_minutes".to_string(), toml::Value::Integer(1)),
        ]);
        let default = toml::map::Map::from_iter([("default".to_string(), toml::Value::Table(limits))]);
        cfg.insert("deadlines".into(), toml::Value::Table(default));
    });
    let c = COMMUNITIES[0];
    let id = f.report(c, &format!("{c}001"), "超期未处置的案件", "late-1");
    f.act(c, &id, &["--action", "register"]);
    f.act(c, &id, &["--action", "dispatch", "--handler", "张伟"]);
    let started = Instant::now();
    // Nobody handles it: after the deadline the community's leader escalates it to the street (督办).
    let escalated = wait_for("supervision to escalate the overdue case", Duration::from_secs(120), || {
        f.cases(STREET_A, true).remove(&id)
    });
    assert!(started.elapsed() >= Duration::from_secs(50), "escalated before its deadline");
    let audit = escalated["audit"].as_array().unwrap();
    let last = audit.last().unwrap();
    assert_eq!(last["action"], "escalate");
    assert_eq!(last["actor"], "督办");
    assert!(f.cases(c, true).is_empty());
    // Counted as 督办 (a client cannot mark an escalation so): on the case, and in the street's figures.
    assert_eq!(escalated["supervised"], 1, "{escalated}");
    let street = f.stats(STREET_A, None);
    assert_eq!(street["supervised"], 1, "{street}");

    // Intake refuses grids outside the subtree or unknown to the topology, naming the field.
    for (node, grid) in
        [(STREET_A, "370102002001001"), (DISTRICT, "370102001001009"), (DISTRICT, "370103001001001")]
    {
        let out = f.cli(&[
            "case",
            "report",
            "--node",
            &f.addrs(node),
            "--grid",
            grid,
            "--category",
            "0101",
            "--source",
            "hotline",
            "--title",
            "错误网格",
            "--reporter",
            "市民",
        ]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("grid"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
