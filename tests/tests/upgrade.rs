//! Data written by older gridnode versions is opened by this one, migrated and served.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{cli, cli_json, free_port, serve, wait_for};
use serde_json::Value;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// The key fields of every case in a `case list --json` answer, by id.
fn key_fields(v: &Value) -> Vec<(String, String, String, u64)> {
    let mut out: Vec<_> = v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["state"].as_str().unwrap_or_default().to_string(),
                c["owner"].as_str().unwrap_or_default().to_string(),
                c["version"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_store_written_by_storage_format_0_is_migrated_and_served() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/format0");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    copy_dir(&fixture.join("data"), &data);
    // The fixture's topology, with this test's data directory and free ports.
    let topo = std::fs::read_to_string(fixture.join("topo.toml")).expect("topology");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let topo = topo
        .replace("/tmp/fx/data", data.to_str().expect("path"))
        .replace("127.0.0.1:27101", &format!("127.0.0.1:{}", ports[0]))
        .replace("127.0.0.1:27201", &format!("127.0.0.1:{}", ports[1]))
        .replace("127.0.0.1:27301", &format!("127.0.0.1:{}", ports[2]));
    let topo_path = dir.path().join("topo.toml");
    std::fs::write(&topo_path, topo).expect("write topology");
    let cfg = dir.path().join("cfg");
    cli_json(&["topology", "render", topo_path.to_str().unwrap(), "--out", cfg.to_str().unwrap(), "--json"]);
    let mut children = Vec::new();
    for node in ["370102", "370102001", "370102001001"] {
        let config = cfg.join(format!("{node}-r1.toml"));
        common::edit_config(&config, |t| {
            let storage = toml::map::Map::from_iter([("min_free_mb".to_string(), toml::Value::Integer(16))]);
            t.insert("storage".into(), toml::Value::Table(storage));
        });
        children.push(serve(&config, &dir.path().join(format!("{node}.log"))));
    }
    let community = format!("127.0.0.1:{}", ports[2]);
    let district = format!("127.0.0.1:{}", ports[0]);
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("cases-community.json")).unwrap())
            .unwrap();
    let got = wait_for("the community to serve its migrated cases", Duration::from_secs(30), || {
        let out = cli(&["case", "list", "--node", &community, "--all", "--json", "--timeout", "2"]);
        out.status.success().then(|| serde_json::from_slice::<Value>(&out.stdout).ok()).flatten()
    });
    assert_eq!(key_fields(&got), key_fields(&want));
    assert_eq!(got["cases"].as_array().unwrap().len(), 9);
    let log = std::fs::read_to_string(dir.path().join("370102001001.log")).unwrap_or_default();
    assert!(log.contains("storage format migrated"), "{log}");
    // The district's rollup of its subtree, as it was.
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("stats-district.json")).unwrap()).unwrap();
    let stats = wait_for("the district's subtree figures", Duration::from_secs(30), || {
        let out = cli(&["stats", "--node", &district, "--subtree", "--json", "--timeout", "2"]);
        out.status.success().then(|| serde_json::from_slice::<Value>(&out.stdout).ok()).flatten()
    });
    for field in ["total", "registered", "closed", "closed_on_time", "returned", "cancelled"] {
        assert_eq!(stats[field], want[field], "{field}");
    }
    // And the migrated community takes new work.
    let new = cli_json(&[
        "case",
        "report",
        "--node",
        &community,
        "--grid",
        "370102001001001",
        "--category",
        "市容环境/暴露垃圾",
        "--source",
        "patrol",
        "--title",
        "升级后新上报",
        "--reporter",
        "网格员",
        "--json",
    ]);
    assert!(new["id"].as_str().unwrap_or_default().ends_with("000009"), "{new}");
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}
