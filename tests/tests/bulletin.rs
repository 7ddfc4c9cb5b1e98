//! `gridnode bulletin` against a real federation: streets and communities ranked on the district's
//! rolled-up figures, the change against the period before, the file a street office sends upward, and
//! refusals that name the flag.

mod common;

use std::time::Duration;

use calamine::{open_workbook, Data, Reader, Xlsx};
use common::fed::{Federation, COMMUNITIES, DISTRICT, STREET_A, STREET_B};
use common::wait_for;
use federation::stats::{day_of, format_day};
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

fn line<'a>(b: &'a Value, level: &str, node: &str) -> &'a Value {
    b[level].as_array().unwrap().iter().find(|l| l["node"] == node).unwrap_or_else(|| panic!("{node} in {b}"))
}

#[test]
fn a_bulletin_ranks_streets_and_communities_on_the_districts_figures() {
    let f = Federation::start();
    let dist = f.addrs(DISTRICT);
    let grid = |c: &str| format!("{c}001");
    // Community 1: two cases, both closed. Community 2: two registered, one closed, one returned
    // before it was closed. Community 3: one reported, not registered: nothing to close.
    for i in 0..2 {
        let id = f.report(COMMUNITIES[0], &grid(COMMUNITIES[0]), &format!("绿地脏乱 {i}"), &format!("a-{i}"));
        f.close(COMMUNITIES[0], &id);
    }
    let done = f.report(COMMUNITIES[1], &grid(COMMUNITIES[1]), "道路不洁", "b-1");
    for a in [
        &["--action", "register"][..],
        &["--action", "dispatch", "--handler", "李娜", "--handler-kind", "grid_worker"],
        &["--action", "start"],
        &["--action", "handled", "--note", "已清扫"],
        &["--action", "return", "--note", "仍有残留"],
        &["--action", "start"],
        &["--action", "handled", "--note", "已清扫干净"],
        &["--action", "close"],
    ] {
        f.act(COMMUNITIES[1], &done, a);
    }
    let open = f.report(COMMUNITIES[1], &grid(COMMUNITIES[1]), "非法小广告", "b-2");
    f.act(COMMUNITIES[1], &open, &["--action", "register"]);
    f.report(COMMUNITIES[2], &grid(COMMUNITIES[2]), "井盖缺失", "c-1");

    let today = format_day(day_of(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64,
    ));
    let bulletin = |extra: &[&str]| {
        let mut args = vec!["bulletin", "--node", &dist, "--from", &today, "--to", &today];
        args.extend_from_slice(extra);
        f.cli_json(&args)
    };
    // The district sees every community's figures once the rollups have arrived.
    let b = wait_for("the district to hold every community's figures", T, || {
        let b = bulletin(&["--json"]);
        let rolled = |c: &str, registered: i64| {
            let lines = b["communities"].as_array();
            let l = lines.and_then(|ls| ls.iter().find(|l| l["node"] == c));
            l.and_then(|l| l["current"]["registered"].as_i64()) == Some(registered)
        };
        (rolled(COMMUNITIES[0], 2) && rolled(COMMUNITIES[1], 2) && b["total"]["current"]["total"] == 5)
            .then_some(b)
    });
    assert_eq!(b["subtree"], DISTRICT);
    assert_eq!(b["period"]["from"], today.as_str());
    let (c1, c2, c3) = (
        line(&b, "communities", COMMUNITIES[0]),
        line(&b, "communities", COMMUNITIES[1]),
        line(&b, "communities", COMMUNITIES[2]),
    );
    // 100 % on time beats 50 %; a community with nothing to close has no rank; nobody had a case the
    // day before, so nobody had a rank then.
    assert_eq!(
        (c1["rank"].as_u64(), c2["rank"].as_u64(), c3["rank"].as_u64()),
        (Some(1), Some(2), None),
        "{b}"
    );
    assert!(c1["previous_rank"].is_null() && c1["rank_change"].is_null(), "{c1}");
    assert_eq!(c2["current"]["rework_rate"], 0.5, "one returned of two to close: {c2}");
    assert_eq!(c2["current"]["closure_rate"], 0.5);
    assert_eq!(c3["current"]["registered"], 0);
    assert_eq!(b["communities"][0]["node"], COMMUNITIES[0], "ranked first, listed first");
    assert_eq!(line(&b, "streets", STREET_A)["rank"], 1);
    assert!(line(&b, "streets", STREET_B)["rank"].is_null(), "nothing to close in street B: {b}");

    // The same bulletin for a street: only its communities.
    let street = bulletin(&["--subtree", STREET_A, "--json"]);
    let nodes: Vec<&str> =
        street["communities"].as_array().unwrap().iter().map(|l| l["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, [COMMUNITIES[0], COMMUNITIES[1]]);
    assert!(street["streets"].as_array().unwrap().is_empty());

    // As printed: the ranking with the rank change (新: not ranked before).
    let out = f.cli(&["bulletin", "--node", &dist, "--from", &today, "--to", &today]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("社区排名 communities"), "{text}");
    let first = text.lines().find(|l| l.contains(COMMUNITIES[0])).unwrap_or_default();
    assert!(
        first.trim_start().starts_with("1") && first.contains("新") && first.contains("100.00%"),
        "{text}"
    );

    // As an office sends it upward: an XLSX sheet with Chinese headers, a row per street and community.
    let file = f.dir.path().join("周通报.xlsx");
    let v = bulletin(&["--out", file.to_str().unwrap(), "--json"]);
    let rows = v["rows"].as_u64().unwrap();
    let mut book: Xlsx<_> = open_workbook(&file).expect("xlsx");
    let sheet = book.worksheet_range("周通报").expect("sheet 周通报");
    let header: Vec<String> = sheet.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(&header[..3], ["周期", "层级", "排名"]);
    let c1_row = sheet.rows().find(|r| r.iter().any(|c| *c == Data::String(COMMUNITIES[0].into()))).unwrap();
    assert_eq!(c1_row[2], Data::Float(1.0), "{c1_row:?}");
    // Beside the ranking, the departments and the overdue cases, a sheet each with its headers.
    let depts = book.worksheet_range("部门").expect("sheet 部门");
    let head: Vec<String> = depts.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(head, ["部门", "本期派遣数", "上期派遣数"]);
    let late = book.worksheet_range("超期案件").expect("sheet 超期案件");
    let head: Vec<String> = late.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(&head[..2], ["案件编号", "网格"]);
    let data_rows = |r: &calamine::Range<Data>| r.rows().count() as u64 - 1;
    assert_eq!(
        data_rows(&sheet) + data_rows(&depts) + data_rows(&late),
        rows,
        "every row written is in a sheet"
    );

    // Refusals name the flag.
    let bad = f.cli(&["bulletin", "--node", &dist, "--from", "2026-13-01", "--to", &today]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--from"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let bad = f.cli(&["bulletin", "--node", &dist, "--from", &today, "--to", "2020-01-01"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--from"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let bad = f.cli(&["bulletin", "--node", &dist, "--subtree", "370103001"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("scope"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
