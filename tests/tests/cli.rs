//! The `gridnode` CLI against a real single-replica node: the workflow, refusals that name the field,
//! optimistic concurrency, statistics and the topology checks.

mod common;

use common::*;
use serde_json::Value;

fn act(c: &Cluster, id: &str, args: &[&str]) -> std::process::Output {
    let node = c.all();
    let mut a = vec!["case", "act", id, "--node", &node, "--json"];
    a.extend_from_slice(args);
    cli(&a)
}

fn act_ok(c: &Cluster, id: &str, args: &[&str]) -> Value {
    let out = act(c, id, args);
    assert!(out.status.success(), "act {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_case_goes_through_the_workflow_and_the_statistics_follow() {
    let c = Cluster::start(1, Tuning::default());
    let node = c.all();
    let id = c.report("文化东路59号院门口暴露垃圾", "wf-1");
    let shown = cli_json(&["case", "show", &id, "--node", &node, "--json"]);
    for field in ["id", "state", "grid", "category", "owner", "version"] {
        assert!(shown.get(field).is_some(), "case JSON lacks {field}: {shown}");
    }
    assert_eq!(shown["state"], "reported");
    assert_eq!(shown["owner"], COMMUNITY);
    assert_eq!(shown["category_label"], "市容环境/暴露垃圾");
    // Just reported: the 7-minute registration clock shows green.
    assert_eq!(shown["light"], "green");

    // Illegal: closing a case that was never handled. Refused, nothing changes.
    let out = act(&c, &id, &["--action", "close"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not allowed") && stderr(&out).contains("register"), "{}", stderr(&out));
    assert_eq!(cli_json(&["case", "show", &id, "--node", &node, "--json"])["version"], 1);

    // Registered and not yet dispatched, no clock runs: no light.
    assert_eq!(act_ok(&c, &id, &["--action", "register", "--expect-version", "1"])["light"], "");
    // Optimistic concurrency: a stale version is refused.
    let out = act(&c, &id, &["--action", "dispatch", "--handler", "张伟", "--expect-version", "1"]);
    assert!(stderr(&out).contains("version"), "{}", stderr(&out));
    let dispatched = act_ok(&c, &id, &["--action", "dispatch", "--handler", "张伟", "--expect-version", "2"]);
    assert_eq!(dispatched["light"], "green", "a day to handle it, just started");
    let green = cli_json(&["case", "list", "--node", &node, "--light", "green", "--json"]);
    assert_eq!(green["cases"][0]["id"], id.as_str());
    let red = cli_json(&["case", "list", "--node", &node, "--light", "red", "--json"]);
    assert!(red["cases"].as_array().unwrap().is_empty(), "{red}");
    let out = cli(&["case", "list", "--node", &node, "--light", "purple"]);
    assert!(stderr(&out).contains("light:"), "{}", stderr(&out));
    let table = cli(&["case", "list", "--node", &node]);
    assert!(
        String::from_utf8_lossy(&table.stdout).contains(" 绿 "),
        "{}",
        String::from_utf8_lossy(&table.stdout)
    );
    act_ok(&c, &id, &["--action", "start"]);
    act_ok(&c, &id, &["--action", "handled", "--note", "已清运"]);
    // Return needs a reason.
    assert!(stderr(&act(&c, &id, &["--action", "return"])).contains("note"));
    act_ok(&c, &id, &["--action", "return", "--note", "现场仍有残留"]);
    act_ok(&c, &id, &["--action", "start"]);
    act_ok(&c, &id, &["--action", "handled"]);
    let closed = act_ok(&c, &id, &["--action", "close", "--actor", "核查员"]);
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["light"], "");
    assert_eq!(closed["returns"], 1);
    assert_eq!(closed["audit"].as_array().unwrap().len(), 9);

    let other = c.report("路灯不亮", "wf-2");
    act_ok(&c, &other, &["--action", "register"]);
    let cancelled = c.report("重复上报", "wf-3");
    act_ok(&c, &cancelled, &["--action", "cancel", "--note", "重复"]);

    let s = cli_json(&["stats", "--node", &node, "--json"]);
    assert_eq!(s["total"], 3);
    assert_eq!(s["registered"], 2);
    assert_eq!(s["closed"], 1);
    assert_eq!(s["closure_rate"], 0.5);
    assert_eq!(s["on_time_closure_rate"], 0.5);
    // 返工率 divides by the cases that should be closed (2), not by the closed one.
    assert_eq!(s["rework_rate"], 0.5);
    assert_eq!(s["handling_rate"], 0.5);
    assert_eq!(s["extension_rate"], 0.0);
    assert_eq!(s["closed_late"], 0);
    assert_eq!(s["overdue"], 0);
    assert_eq!(s["cancelled"], 1);
    assert_eq!(s["by_state"]["closed"], 1);
    assert_eq!(s["by_grid"][GRID], 3);
    // A date range before any case: nothing counted.
    let empty = cli_json(&["stats", "--node", &node, "--from", "2020-01-01", "--to", "2020-12-31", "--json"]);
    assert_eq!(empty["total"], 0);

    let listed = cli_json(&["case", "list", "--node", &node, "--state", "closed", "--json"]);
    assert_eq!(listed["cases"].as_array().unwrap().len(), 1);
    let page = cli_json(&["case", "list", "--node", &node, "--page-size", "2", "--json"]);
    assert_eq!(page["cases"].as_array().unwrap().len(), 2);
    assert!(!page["next_page_token"].as_str().unwrap().is_empty());
}

#[test]
fn bad_input_is_refused_naming_the_field_and_nothing_is_written() {
    let c = Cluster::start(1, Tuning::default());
    let node = c.all();
    let report = |grid: &str, category: &str, title: &str, source: &str| {
        cli(&[
            "case",
            "report",
            "--node",
            &node,
            "--grid",
            grid,
            "--category",
            category,
            "--title",
            title,
            "--source",
            source,
        ])
    };
    let cases = [
        (report("37010200100100", "0101", "t", "patrol"), "grid"),
        (report("370102001002001", "0101", "t", "patrol"), "grid"),
        (report("370102001001009", "0101", "t", "patrol"), "grid"),
        (report(GRID, "不存在的类别", "t", "patrol"), "category"),
        (report(GRID, "0101", "", "patrol"), "title"),
        (report(GRID, "0101", &"长".repeat(101), "patrol"), "title"),
        (report(GRID, "0101", "t", "fax"), "source"),
    ];
    for (out, field) in cases {
        assert!(!out.status.success());
        assert!(stderr(&out).contains(field), "expected a refusal naming {field}: {}", stderr(&out));
    }
    let none = cli_json(&["stats", "--node", &node, "--json"]);
    assert_eq!(none["total"], 0, "a refused report was written");
    let out = cli(&["case", "show", "370102001001-20260101-000001", "--node", &node]);
    assert!(stderr(&out).contains("no case"), "{}", stderr(&out));
    let out = cli(&["stats", "--node", &node, "--from", "2026-13-01"]);
    assert!(stderr(&out).contains("from"), "{}", stderr(&out));
    let out = cli(&["case", "list", "--node", &node, "--page-size", "100000"]);
    assert!(stderr(&out).contains("page_size"), "{}", stderr(&out));
    let out = cli(&["case", "show", "../../etc/passwd", "--node", &node]);
    assert!(stderr(&out).contains("case_id") && stderr(&out).contains("not a case id"), "{}", stderr(&out));
    let out = cli(&["case", "list", "--node", "nonsense"]);
    assert!(stderr(&out).contains("--node"), "{}", stderr(&out));
}

#[test]
fn categories_ship_as_data() {
    let v = cli_json(&["case", "categories", "--json"]);
    let all = v.as_array().unwrap();
    assert!(all.len() > 50);
    assert!(all.iter().any(|c| c["code"] == "0101" && c["name"] == "市容环境/暴露垃圾"));
}

#[test]
fn topology_check_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[[node]]
code = "370102"
name = "历下区"
replicas = ["127.0.0.1:7101", "127.0.0.1:7102"]
[[node]]
code = "370102001001"
name = "文化东路社区"
replicas = ["127.0.0.1:7101"]
grids = ["001"]
[[node]]
code = "3701020010"
name = "坏代码"
replicas = ["127.0.0.1:7401"]
"#,
    )
    .unwrap();
    let out = cli(&["topology", "check", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for needle in ["node[0].replicas", "127.0.0.1:7101", "node[1]", "370102001", "node[2].code"] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    let out =
        cli(&["topology", "render", path.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(!dir.path().join("o").exists(), "a refused topology rendered configs");
}

#[test]
fn the_district_ca_issues_certificates_naming_code_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let out = dir.path().join("certs");
    let (ca_s, out_s) = (ca.to_str().unwrap(), out.to_str().unwrap());
    assert!(cli(&["certs", "init-ca", "--out", ca_s, "--name", "历下区"]).status.success());
    let again = cli(&["certs", "init-ca", "--out", ca_s]);
    assert!(!again.status.success() && stderr(&again).contains("refusing to overwrite"));
    let issued = cli_json(&[
        "certs",
        "issue",
        "--ca",
        ca_s,
        "--code",
        "370102001",
        "--role",
        "operator",
        "--name",
        "wang",
        "--out",
        out_s,
        "--json",
    ]);
    assert_eq!(issued["identity"], "gridfed://370102001/operator");
    let shown = cli_json(&["certs", "show", issued["cert"].as_str().unwrap(), "--json"]);
    assert_eq!(shown["identities"][0], "gridfed://370102001/operator");
    assert_eq!(shown["is_ca"], false);
    for (args, field) in [
        (["--code", "3701020", "--role", "replica"], "--code"),
        (["--code", "370102", "--role", "admin"], "--role"),
    ] {
        let mut a = vec!["certs", "issue", "--ca", ca_s, "--out", out_s];
        a.extend_from_slice(&args);
        let o = cli(&a);
        assert!(!o.status.success() && stderr(&o).contains(field), "{}", stderr(&o));
    }
}
