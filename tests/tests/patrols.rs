//! The patrol log (日巡查) on a real federation, through the CLI as a community's office would use it: a
//! worker of the roster starts a patrol of grid 001, reports a case found on it (the case carries the
//! patrol id; the same id on grid 002 is refused naming the field), ends it with a route from a file;
//! the patrols are listed by day and grid, and the figures show grid 001 patrolled today and grid 002
//! not, one case found on patrol against one reported by the public.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::fed::{Federation, COMMUNITIES};
use common::{issue_env, Office};
use serde_json::{json, Value};

const GRID_1: &str = "370102001001001";
const GRID_2: &str = "370102001001002";

/// Reports a case on `grid` from `source` at `office`, with `more` flags; the CLI's output.
fn report(office: &Office, grid: &str, source: &str, title: &str, more: &[&str]) -> std::process::Output {
    let mut a =
        vec!["case", "report", "--grid", grid, "--category", "0101", "--source", source, "--title", title];
    a.extend_from_slice(more);
    a.push("--json");
    office.run(&a)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn a_patrol_is_walked_cases_found_on_it_carry_its_id_and_the_figures_show_coverage() {
    let f = Federation::start();
    let community = COMMUNITIES[0];
    let env = issue_env(
        &f.dir.path().join("ca"),
        community,
        "operator",
        "历山路社区值班员",
        &f.dir.path().join("own"),
    );
    let own = Office { env, node: f.addrs(community) };

    let add = |name: &str, phone: &str, grid: &str| {
        own.json(&["staff", "add", "--name", name, "--role", "full_time", "--phone", phone, "--place", grid])
            ["workers"][0]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let sun = add("孙雅琴", "13805311002", GRID_1);
    let zhao = add("赵强", "13805311004", GRID_2);
    assert_eq!((sun.as_str(), zhao.as_str()), ("W370102001001-001", "W370102001001-002"));

    // An unknown worker cannot patrol; 孙雅琴 starts a patrol of grid 001.
    let out = own.run(&["patrol", "start", "--worker", "W370102001001-009", "--grid", GRID_1]);
    assert!(!out.status.success() && stderr(&out).contains("worker:"), "{}", stderr(&out));
    let started = own.json(&["patrol", "start", "--worker", &sun, "--grid", GRID_1]);
    let id = started["id"].as_str().unwrap().to_string();
    assert_eq!(id, "P370102001001-000001");
    assert_eq!((started["worker"].as_str(), started["ended_at"].clone()), (Some(sun.as_str()), Value::Null));

    // A case found on the patrol carries its id; the same id on grid 002 is refused, naming the field.
    let found = stdout_json(&report(&own, GRID_1, "patrol", "井盖破损", &["--patrol", &id]));
    assert_eq!(found["intake"]["patrol"], id.as_str(), "{found}");
    let shown = String::from_utf8(own.run(&["case", "show", found["id"].as_str().unwrap()]).stdout).unwrap();
    assert!(shown.contains(&format!("patrol     {id}")), "{shown}");
    let out = report(&own, GRID_2, "patrol", "路灯不亮", &["--patrol", &id]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let why = stderr(&out);
    assert!(why.contains("patrol_id") && why.contains("another grid"), "{why}");
    // And one reported by the public on grid 001.
    stdout_json(&report(&own, GRID_1, "public", "垃圾满溢", &["--reporter", "市民"]));

    // The patrol ends with its route, read from a file.
    let t = now_ms();
    let route = f.dir.path().join("route.json");
    let points = json!([
        { "lat": 36.6612, "lon": 117.0412, "at": t - 60_000 },
        { "lat": 36.6625, "lon": 117.0431, "at": t - 1_000 },
    ]);
    std::fs::write(&route, points.to_string()).unwrap();
    let ended = own.json(&["patrol", "end", &id, "--route", route.to_str().unwrap()]);
    assert!(ended["ended_at"].as_i64().unwrap() >= started["started_at"].as_i64().unwrap(), "{ended}");
    assert_eq!(ended["route"], points, "{ended}");
    let out = own.run(&["patrol", "end", &id]);
    assert!(
        !out.status.success() && stderr(&out).contains(&format!("id: {id} ended at")),
        "{}",
        stderr(&out)
    );

    // Listed by day and grid.
    let day = ended["day"].as_str().unwrap().to_string();
    let listed = own.json(&["patrol", "list", "--day", &day, "--grid", GRID_1]);
    assert_eq!(listed["patrols"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["patrols"][0]["route"], points);
    let listed = own.json(&["patrol", "list", "--grid", GRID_2]);
    assert_eq!(listed["patrols"], json!([]), "{listed}");

    // The figures: grid 001 patrolled today, grid 002 not; found on patrol 1 against public 1.
    let fig = own.json(&["patrol", "figures"]);
    assert_eq!(
        (fig["today"].as_str(), fig["from"].as_str()),
        (Some(day.as_str()), Some(day.as_str())),
        "{fig}"
    );
    let grids = fig["grids"].as_array().unwrap();
    assert_eq!(grids.len(), 2, "{fig}");
    assert_eq!(
        grids[0],
        json!({
            "grid": GRID_1, "patrols": 1, "days": [{ "day": day, "patrols": 1 }], "patrolled_today": true,
            "found_on_patrol": 1, "reported_by_public": 1, "other": 0,
        })
    );
    assert_eq!(
        (&grids[1]["grid"], &grids[1]["patrolled_today"], &grids[1]["patrols"], &grids[1]["found_on_patrol"]),
        (&json!(GRID_2), &json!(false), &json!(0), &json!(0))
    );
    assert_eq!(fig["unpatrolled_today"], json!([GRID_2]));
    let table = String::from_utf8(own.run(&["patrol", "figures"]).stdout).unwrap();
    assert!(table.contains(&format!("今日未巡查: {GRID_2}")), "{table}");
}
