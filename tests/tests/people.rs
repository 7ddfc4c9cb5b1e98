//! The people of the grid on a real federation, through the CLI as a community's office would use it:
//! a roster imported from a sheet (a bad row refuses the whole sheet), workers added, assigned and
//! deactivated, phone numbers masked for everyone but the community's own operators, hotline tickets
//! from the district dispatched on arrival to the worker of their place (精准派单), `--to-worker auto`
//! refused clearly when nobody is assigned, and the roster exported with Chinese headers.

mod common;

use std::path::Path;
use std::time::Duration;

use calamine::{open_workbook_auto, Reader};
use common::fed::{Federation, COMMUNITIES, DISTRICT};
use common::{issue_env, wait_for, Office};
use serde_json::Value;

const GRID_1: &str = "370102001001001";
const GRID_2: &str = "370102001001002";

/// The active workers of `office`'s roster (with `extra` flags).
fn workers(office: &Office, extra: &[&str]) -> Vec<Value> {
    let mut a = vec!["staff", "list"];
    a.extend_from_slice(extra);
    office.json(&a)["workers"].as_array().cloned().unwrap_or_default()
}

/// The case `id` as the community holds it.
fn community_case(f: &Federation, id: &str) -> Value {
    f.cases(COMMUNITIES[0], true).get(id).cloned().unwrap_or(Value::Null)
}

fn write_sheet(path: &Path, rows: &[&str]) {
    std::fs::write(path, format!("\u{feff}{}\r\n", rows.join("\r\n"))).unwrap();
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A hotline ticket reported at the district for `grid`, once its community owns it in `state`.
fn ticket(f: &Federation, grid: &str, rid: &str, state: &str) -> Value {
    let id = f.report(DISTRICT, grid, "小区门口垃圾堆放", rid);
    wait_for(&format!("{id} {state} at the community"), Duration::from_secs(30), || {
        let c = community_case(f, &id);
        (c["state"] == state).then_some(c)
    })
}

#[test]
fn a_community_roster_dispatches_hotline_tickets_to_the_worker_of_the_place() {
    let f = Federation::start();
    let community = COMMUNITIES[0];
    let own_env = issue_env(
        &f.dir.path().join("ca"),
        community,
        "operator",
        "历山路社区值班员",
        &f.dir.path().join("own"),
    );
    let own = Office { env: own_env, node: f.addrs(community) };
    let district = Office { env: f.env.clone(), node: f.addrs(community) };

    // A sheet with one bad row is refused whole, naming the row and the column.
    let sheet = f.dir.path().join("花名册.csv");
    let header = "工号,姓名,岗位,手机号,负责网格,状态";
    write_sheet(
        &sheet,
        &[
            header,
            ",刘晓燕,网格长,13805311001,370102001001001,在岗",
            ",孙雅琴,专职网格员,1380531,370102001001001,在岗",
        ],
    );
    let out = own.run(&["staff", "import", sheet.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("rows:") && stderr(&out).contains("第3行 手机号"), "{}", stderr(&out));
    assert!(workers(&own, &["--all"]).is_empty(), "nothing imported");

    // The corrected sheet: a grid leader, a full-time worker of grid 001, a building leader of a
    // micro-grid, and a full-time worker who has left (离岗).
    write_sheet(
        &sheet,
        &[
            header,
            ",刘晓燕,网格长,13805311001,370102001001001,在岗",
            ",孙雅琴,专职网格员,13805311002,\"370102001001001,370102001001001-03\",在岗",
            ",王芳,楼栋长,13805311003,370102001001001-03,在岗",
            ",赵强,专职网格员,13805311004,370102001001002,离岗",
        ],
    );
    let imported = own.json(&["staff", "import", sheet.to_str().unwrap()]);
    let ids: Vec<&str> =
        imported["workers"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["W370102001001-001", "W370102001001-002", "W370102001001-003", "W370102001001-004"]);

    // Places outside the community are refused, naming the place.
    let out = own.run(&[
        "staff",
        "add",
        "--name",
        "张伟",
        "--role",
        "兼职网格员",
        "--phone",
        "13905310001",
        "--place",
        "370102001002001",
    ]);
    assert!(
        !out.status.success()
            && stderr(&out).contains("places[0]")
            && stderr(&out).contains("370102001002001"),
        "{}",
        stderr(&out)
    );
    let added =
        own.json(&["staff", "add", "--name", "张伟", "--role", "part_time", "--phone", "13905310001"]);
    assert_eq!(added["workers"][0]["id"], "W370102001001-005");

    // Phones: in full for the community's own operators, masked for the district's.
    let listed = workers(&own, &[]);
    assert_eq!(listed.len(), 4, "active workers only: {listed:?}");
    assert_eq!(listed[1]["phone"], "13805311002");
    let seen_above = workers(&district, &["--all"]);
    assert_eq!(seen_above.len(), 5);
    assert!(seen_above.iter().all(|w| w["phone"].as_str().unwrap().contains("****")), "{seen_above:?}");
    let table = String::from_utf8(district.run(&["staff", "list"]).stdout).unwrap();
    assert!(
        table.contains("孙雅琴") && table.contains("138****1002") && !table.contains("13805311002"),
        "{table}"
    );

    // The console's API answers the same, masked for the district's operator; a change is refused
    // naming its field.
    let api = f.http(community);
    let listed = api.get("/api/v1/staff?all=true", &[]).json();
    assert_eq!(listed["workers"].as_array().unwrap().len(), 5, "{listed}");
    assert_eq!(listed["workers"][1]["phone"], "138****1002", "{listed}");
    let refused = api.post(
        "/api/v1/staff/W370102001001-001",
        &[("content-type", "application/json")],
        r#"{"op":"retire"}"#,
    );
    assert_eq!((refused.status, refused.json()["field"].as_str()), (400, Some("op")), "{}", refused.json());

    // A hotline ticket from the district for grid 001 goes to the full-time worker of the grid, and the
    // audit trail says why.
    let c = ticket(&f, GRID_1, "hotline-people-1", "dispatched");
    assert_eq!(c["handler"]["name"], "W370102001001-002", "{c}");
    let note = c["audit"].as_array().unwrap().last().unwrap()["note"].as_str().unwrap().to_string();
    assert!(
        note.contains("自动派单") && note.contains("孙雅琴") && note.contains("网格 370102001001001"),
        "{note}"
    );

    // She checks in on site (到场) from her phone's map app (GCJ-02) within 7 minutes of the report: the
    // community's figures count it; a second check-in is refused, the first stands.
    let id = c["id"].as_str().unwrap().to_string();
    let arrived = own.json(&[
        "case", "act", &id, "--action", "arrive", "--lat", "36.6649", "--lon", "117.0619", "--crs", "gcj02",
    ]);
    let on_site = &arrived["on_site"];
    assert!(on_site["at"].as_i64().unwrap() <= arrived["register_due"].as_i64().unwrap(), "{arrived}");
    let (lat, lon) = (on_site["point"][0].as_f64().unwrap(), on_site["point"][1].as_f64().unwrap());
    assert!(
        (lat - 36.6649).abs() > 1e-4 && (lat - 36.6649).abs() < 0.01 && (lon - 117.0619).abs() < 0.01,
        "WGS-84: {on_site}"
    );
    let again = own.run(&["case", "act", &id, "--action", "arrive"]);
    assert!(
        !again.status.success() && stderr(&again).contains("first check-in stands"),
        "{}",
        stderr(&again)
    );
    let stats = own.json(&["stats"]);
    assert_eq!(
        (stats["hotline"].as_i64(), stats["on_site"].as_i64(), stats["on_site_in_time"].as_i64()),
        (Some(1), Some(1), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["on_site_rate"], 1.0, "{stats}");
    // Urged (催办): the handler and the state stay, the push is recorded and counted.
    let urged = own.json(&["case", "act", &id, "--action", "urge", "--note", "居民再次来电，请尽快处理"]);
    assert_eq!((urged["state"].as_str(), urged["urges"].as_u64()), (Some("dispatched"), Some(1)), "{urged}");
    assert_eq!(urged["handler"]["name"], "W370102001001-002");
    assert_eq!(own.json(&["stats"])["urged"], 1);

    // Deactivated, she is skipped: the grid leader is next.
    own.json(&["staff", "deactivate", "W370102001001-002"]);
    let c = ticket(&f, GRID_1, "hotline-people-2", "dispatched");
    assert_eq!(c["handler"]["name"], "W370102001001-001", "{c}");

    // Grid 002 has nobody active: the ticket waits for an operator; `--to-worker auto` says why.
    let c = ticket(&f, GRID_2, "hotline-people-3", "reported");
    let id = c["id"].as_str().unwrap();
    own.json(&["case", "act", id, "--action", "register"]);
    let out = own.run(&["case", "act", id, "--action", "dispatch", "--to-worker", "auto"]);
    assert!(!out.status.success());
    let why = stderr(&out);
    assert!(
        why.contains("handler.name") && why.contains("370102001001002") && why.contains("W370102001001-004"),
        "{why}"
    );
    assert!(why.contains("gridnode staff assign"), "{why}");
    own.json(&["staff", "assign", "W370102001001-005", "--place", GRID_2]);
    let acted = own.json(&["case", "act", id, "--action", "dispatch", "--to-worker", "auto"]);
    assert_eq!(acted["handler"]["name"], "W370102001001-005", "{acted}");

    // Figures per worker, next to the figures by area: one ticket each for the full-time worker (on
    // site within 7 minutes), the grid leader and the part-time worker; none for the building leader.
    let figures = own.json(&["staff", "figures"]);
    let of = |id: &str| {
        let all = figures["workers"].as_array().unwrap();
        all.iter().find(|w| w["id"] == id).cloned().unwrap_or_else(|| panic!("{id} in {figures}"))
    };
    let sun = of("W370102001001-002");
    assert_eq!(
        (sun["assigned"].as_u64(), sun["on_site"].as_u64(), sun["on_site_in_time"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{sun}"
    );
    assert_eq!(of("W370102001001-001")["assigned"], 1);
    assert_eq!(of("W370102001001-005")["assigned"], 1);
    assert_eq!(of("W370102001001-003")["assigned"], 0);
    let text = String::from_utf8(own.run(&["staff", "figures"]).stdout).unwrap();
    assert!(text.contains("7分钟到场") && text.contains("孙雅琴"), "{text}");

    // The roster as a sheet with the office's headers; the district cannot keep one.
    let xlsx = f.dir.path().join("roster.xlsx");
    let out = own.run(&["staff", "export", "--all", "--out", xlsx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut book = open_workbook_auto(&xlsx).unwrap();
    let rows: Vec<Vec<String>> = book
        .worksheet_range_at(0)
        .unwrap()
        .unwrap()
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[0], ["工号", "姓名", "岗位", "手机号", "负责网格", "状态"]);
    assert_eq!(rows.len(), 6);
    assert_eq!(
        rows[2],
        [
            "W370102001001-002",
            "孙雅琴",
            "专职网格员",
            "13805311002",
            "370102001001001、370102001001001-03",
            "离岗"
        ]
    );
    let at_district = Office { env: f.env.clone(), node: f.addrs(DISTRICT) };
    let out =
        at_district.run(&["staff", "add", "--name", "李明", "--role", "full_time", "--phone", "13905310002"]);
    assert!(!out.status.success() && stderr(&out).contains("keeper"), "{}", stderr(&out));
}
