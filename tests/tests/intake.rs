//! Intake by place on a real federation (district, two streets, four communities): grid boundaries
//! imported at the district (all or nothing, every problem listed), flowing down so each node holds its
//! subtree's; locating a point (WGS-84 and GCJ-02) by the CLI and the HTTP API; reports by point routed
//! down to the community that owns the grid; a point in no grid refused naming the point, or parked as
//! unassigned (待分派) where the node says so and then placed by an operator; re-imports as new versions
//! that leave old cases' grids alone.

mod common;

use std::time::Duration;

use common::fed::{Federation, COMMUNITIES, DISTRICT, STREET_A, STREET_B};
use common::wait_for;
use serde_json::Value;

const FIXTURE: &str = include_str!("../fixtures/lixia_grids.geojson");

/// A point inside micro-grid 370102001001001-03 (WGS-84).
const MICRO_03: (f64, f64) = (36.6668, 117.0521);
/// A point inside grid 370102002001001 (street B), WGS-84.
const STREET_B_POINT: (f64, f64) = (36.6645, 117.0558);
/// A point inside grid 370102001001002, WGS-84.
const GRID_002: (f64, f64) = (36.6675, 117.0560);
/// A point in no grid.
const NOWHERE: (f64, f64) = (36.70, 117.10);

fn write(f: &Federation, name: &str, text: &str) -> String {
    let p = f.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn grids_of(f: &Federation, node: &str) -> Value {
    f.cli_json(&["grids", "list", "--node", &f.addrs(node), "--local", "--json"])
}

fn places(v: &Value) -> Vec<String> {
    v["places"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap().to_string()).collect()
}

fn locate(f: &Federation, node: &str, (lat, lon): (f64, f64), crs: &str) -> Value {
    let (lat, lon) = (lat.to_string(), lon.to_string());
    f.cli_json(&[
        "grids",
        "locate",
        "--node",
        &f.addrs(node),
        "--lat",
        &lat,
        "--lon",
        &lon,
        "--crs",
        crs,
        "--json",
    ])
}

fn reported(out: std::process::Output) -> Value {
    assert!(out.status.success(), "report refused: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits until `node` owns case `id`; returns it.
fn owned_at(f: &Federation, node: &str, id: &str) -> Value {
    wait_for(&format!("{node} to own {id}"), Duration::from_secs(60), || f.cases(node, true).remove(id))
}

#[test]
fn boundaries_flow_down_and_reports_by_place_reach_the_owning_community() {
    let f = Federation::start_with(|node, t| {
        if node == STREET_A {
            let intake =
                toml::Table::from_iter([("unlocated".to_string(), toml::Value::String("park".into()))]);
            t.insert("intake".into(), toml::Value::Table(intake));
        }
    });
    let district = f.addrs(DISTRICT);

    // A file with problems: each listed with its feature, nothing imported.
    let mut bad: Value = serde_json::from_str(FIXTURE).unwrap();
    let features = bad["features"].as_array_mut().unwrap();
    let overlapping = {
        let mut c = features[4].clone();
        c["properties"]["code"] = Value::String("370102002001002".into());
        c
    };
    features.push(overlapping);
    features[5]["geometry"]["coordinates"][0].as_array_mut().unwrap().pop(); // no longer closed
    let bad_file = write(&f, "bad.geojson", &bad.to_string());
    let out = f.cli(&["grids", "import", &bad_file, "--node", &district]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "a bad file was imported");
    assert!(err.contains("nothing imported"), "{err}");
    assert!(err.contains("feature 5 (370102002002001)") && err.contains("not closed"), "{err}");
    assert!(err.contains("feature 10 (370102002001002)") && err.contains("overlap"), "{err}");
    assert!(grids_of(&f, DISTRICT)["version"].is_null(), "something was imported");

    // The fixture: six grids under both streets, four micro-grids.
    let file = write(&f, "lixia.geojson", FIXTURE);
    let v = f.cli_json(&["grids", "import", &file, "--node", &district, "--json"]);
    assert_eq!((v["grids"].as_u64(), v["micro_grids"].as_u64()), (Some(6), Some(4)), "{v}");
    let version = v["version"].clone();
    assert_eq!(version["origin"], DISTRICT);

    // Each node holds its subtree's part, with the district's version.
    let expect = [
        (STREET_A, 8usize),
        (STREET_B, 2),
        (COMMUNITIES[0], 6),
        (COMMUNITIES[1], 2),
        (COMMUNITIES[2], 1),
        (COMMUNITIES[3], 1),
    ];
    for (node, n) in expect {
        let got = wait_for(&format!("{node} to hold its {n} places"), Duration::from_secs(60), || {
            let g = grids_of(&f, node);
            (g["version"] == version && places(&g).len() == n).then_some(g)
        });
        assert!(places(&got).iter().all(|c| c.starts_with(node)), "{node}: {got}");
    }

    // Locating, micro-grid first; GCJ-02 points converted.
    let at = locate(&f, DISTRICT, MICRO_03, "wgs84");
    assert_eq!(
        (at["found"].as_bool(), at["grid"].as_str(), at["micro_grid"].as_str(), at["community"].as_str()),
        (Some(true), Some("370102001001001"), Some("370102001001001-03"), Some(COMMUNITIES[0])),
        "{at}"
    );
    assert_eq!(at["micro_name"], "文化东路小区3号院");
    let (glat, glon) = federation::geo::wgs84_to_gcj02(STREET_B_POINT.0, STREET_B_POINT.1);
    assert!((glon - STREET_B_POINT.1).abs() > 0.003, "GCJ-02 moves points in Jinan by hundreds of metres");
    let at = locate(&f, DISTRICT, (glat, glon), "gcj02");
    assert_eq!(at["grid"], "370102002001001", "{at}");
    assert!((at["wgs84_lat"].as_f64().unwrap() - STREET_B_POINT.0).abs() < 1e-5, "{at}");
    let out = f.cli(&["grids", "locate", "--node", &district, "--lat", "36.7", "--lon", "117.1"]);
    assert_eq!(out.status.code(), Some(3), "a point in no grid");
    // The same in the HTTP API.
    let api = f.http(DISTRICT);
    let q = format!("/api/v1/grids/locate?lat={glat}&lon={glon}&crs=gcj02");
    let a = api.get(&q, &[]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (a.json()["grid"].as_str(), a.json()["community"].as_str()),
        (Some("370102002001001"), Some(COMMUNITIES[2]))
    );
    let bad_crs = api.get("/api/v1/grids/locate?lat=36.6&lon=117.0&crs=bd09", &[]);
    assert_eq!((bad_crs.status, bad_crs.json()["field"].as_str()), (400, Some("crs")), "{}", bad_crs.body);
    let listed = api.get("/api/v1/grids", &[]).json();
    assert_eq!(listed["places"].as_array().unwrap().len(), 10, "{listed}");
    let geo = api.get("/api/v1/grids/geojson", &[]);
    assert!(
        geo.body.contains("370102001001001-03") && geo.body.starts_with("{\"type\":\"FeatureCollection\"")
    );

    // A report by a GCJ-02 point at the district goes down to the community of its grid.
    let case = reported(f.report_at(DISTRICT, (glat, glon), "gcj02", "by-place-1"));
    assert_eq!(
        (case["grid"].as_str(), case["owner"].as_str()),
        (Some("370102002001001"), Some(COMMUNITIES[2]))
    );
    let id = case["id"].as_str().unwrap().to_string();
    let there = owned_at(&f, COMMUNITIES[2], &id);
    assert!(
        (there["location"]["lat"].as_f64().unwrap() - STREET_B_POINT.0).abs() < 1e-5,
        "the case keeps its point"
    );
    // Retried: the same case.
    let again = reported(f.report_at(DISTRICT, (glat, glon), "gcj02", "by-place-1"));
    assert_eq!((again["id"].as_str(), again["duplicate"].as_bool()), (Some(id.as_str()), Some(true)));
    // In a micro-grid: recorded on the case.
    let micro = reported(f.report_at(DISTRICT, MICRO_03, "wgs84", "by-place-2"));
    let micro_id = micro["id"].as_str().unwrap().to_string();
    assert_eq!(owned_at(&f, COMMUNITIES[0], &micro_id)["intake"]["micro"], "370102001001001-03");

    // By the HTTP API.
    let body = serde_json::json!({"category": "0101", "source": "public", "title": "井盖缺失", "reporter": "市民",
        "lat": GRID_002.0, "lon": GRID_002.1, "request_id": "by-place-http"});
    let a = api.post("/api/v1/cases", &[], &body.to_string());
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.json()["case"]["grid"].as_str(), a.json()["case"]["owner"].as_str()),
        (Some("370102001001002"), Some(COMMUNITIES[0]))
    );

    // The map's figures: every grid's cases at the district (rolled up from the communities that own
    // them) and at the owning community, equal; bad ranges are refused naming the field.
    let grid_figures = |api: &common::http::Http| {
        let v = api.get("/api/v1/grids/figures", &[]).json();
        let grids = v["grids"].as_array().cloned().unwrap_or_default();
        let of =
            |g: &str| grids.iter().find(|x| x["grid"] == g).map(|x| (x["total"].clone(), x["open"].clone()));
        (of("370102001001001"), of("370102001001002"), of("370102002001001"))
    };
    let one = Some((1.into(), 1.into()));
    let community = wait_for("the community's map figures", Duration::from_secs(60), || {
        let c = grid_figures(&f.http(COMMUNITIES[0]));
        (c.0 == one && c.1 == one).then_some(c)
    });
    wait_for("the district's map figures to equal the communities'", Duration::from_secs(60), || {
        let d = grid_figures(&api);
        (d.0 == community.0 && d.1 == community.1 && d.2 == one).then_some(())
    });
    let bad = api.get("/api/v1/grids/figures?from=2026-02-30", &[]);
    assert_eq!((bad.status, bad.json()["field"].as_str()), (400, Some("from")), "{}", bad.body);

    // A point in no grid: refused at the district, naming the point; nothing stored.
    let before = f.cases(DISTRICT, false).len();
    let out = f.report_at(DISTRICT, NOWHERE, "wgs84", "nowhere-1");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success() && err.contains("location") && err.contains("(36.7, 117.1)"), "{err}");
    assert_eq!(f.cases(DISTRICT, false).len(), before);

    // Street A parks it as unassigned (待分派); an operator places it, and it goes down.
    let street = f.addrs(STREET_A);
    let parked = reported(f.report_at(STREET_A, NOWHERE, "wgs84", "nowhere-2"));
    assert_eq!(
        (parked["grid"].as_str(), parked["owner"].as_str()),
        (Some("370102001000000"), Some(STREET_A)),
        "{parked}"
    );
    let pid = parked["id"].as_str().unwrap().to_string();
    let out = f.cli(&["case", "place", &pid, "--grid", "370102002001001", "--node", &street]);
    assert!(!out.status.success(), "placed outside the street");
    let placed = f.cli_json(&[
        "case",
        "place",
        &pid,
        "--grid",
        "370102001002001",
        "--node",
        &street,
        "--note",
        "现场核实",
        "--json",
    ]);
    assert_eq!(
        (placed["grid"].as_str(), placed["owner"].as_str()),
        (Some("370102001002001"), Some(COMMUNITIES[1])),
        "{placed}"
    );
    let down = owned_at(&f, COMMUNITIES[1], &pid);
    assert!(down["audit"].as_array().unwrap().iter().any(|e| e["action"] == "place"), "{down}");

    // A re-import is a new version everywhere below; old cases keep their grid.
    let no_micro: Value = {
        let mut v: Value = serde_json::from_str(FIXTURE).unwrap();
        v["features"]
            .as_array_mut()
            .unwrap()
            .retain(|f| !f["properties"]["code"].as_str().unwrap().contains('-'));
        v
    };
    let file2 = write(&f, "lixia-2.geojson", &no_micro.to_string());
    let v2 = f.cli_json(&["grids", "import", &file2, "--node", &district, "--json"]);
    assert_eq!(v2["micro_grids"].as_u64(), Some(0));
    wait_for("the community to take the new version", Duration::from_secs(60), || {
        let g = grids_of(&f, COMMUNITIES[0]);
        (g["version"] == v2["version"] && places(&g).len() == 2).then_some(())
    });
    assert_eq!(f.cases(COMMUNITIES[0], true)[&micro_id]["intake"]["micro"], "370102001001001-03");
    assert_eq!(locate(&f, COMMUNITIES[0], MICRO_03, "wgs84")["micro_grid"], "");
}
