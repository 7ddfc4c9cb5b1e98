//! `gridnode export cases|figures` against a real node: CSV (with its byte-order mark), XLSX (read back
//! with calamine) and JSON, Chinese and English headers, the date and subtree filters, and a large-ish
//! export that goes page by page in bounded memory.

mod common;

use std::path::Path;

use calamine::{open_workbook, Data, Reader, Xlsx};
use common::{Cluster, Tuning, GRID};
use serde_json::Value;

const GRID_2: &str = "370102001001002";

fn export(c: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--node", c.addr(1), "--json"]);
    c.cli_json(&all)
}

fn csv_rows(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("csv");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "the CSV starts with a UTF-8 byte-order mark");
    String::from_utf8(bytes[3..].to_vec()).expect("utf-8").lines().map(str::to_string).collect()
}

#[test]
fn cases_and_figures_export_to_csv_xlsx_and_json_with_chinese_or_english_headers() {
    let c = Cluster::start(1, Tuning::default());
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(c.report(&format!("文化东路{i}号, 垃圾\"堆积\""), &format!("export-{i}")));
    }
    // One case in the community's second grid, one closed with all its times.
    let other = c.cli_json(&[
        "case",
        "report",
        "--node",
        c.addr(1),
        "--grid",
        GRID_2,
        "--category",
        "市容环境/暴露垃圾",
        "--title",
        "二号网格",
        "--json",
    ]);
    ids.push(other["id"].as_str().expect("id").to_string());
    for (action, extra) in [
        ("register", vec![]),
        ("dispatch", vec!["--handler", "张伟"]),
        ("start", vec![]),
        ("handled", vec!["--note", "已清运"]),
        ("close", vec![]),
    ] {
        let mut args = vec!["case", "act", &ids[0], "--node", c.addr(1), "--action", action, "--json"];
        args.extend(extra);
        c.cli_json(&args);
    }
    let dir = c.dir.path();

    // CSV, Chinese headers.
    let csv = dir.join("cases.csv");
    let s = export(&c, &["cases", "--out", csv.to_str().unwrap()]);
    assert_eq!(s["rows"], 5);
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 6);
    assert!(rows[0].starts_with("案件编号,标题,状态,灯,网格"), "{}", rows[0]);
    for id in &ids {
        assert!(rows.iter().any(|r| r.starts_with(id.as_str())), "{id} missing");
    }
    let closed = rows.iter().find(|r| r.starts_with(ids[0].as_str())).expect("closed case row");
    assert!(closed.contains("\"文化东路0号, 垃圾\"\"堆积\"\"\""), "quoted title: {closed}");
    assert!(
        closed.contains(",closed,") && closed.contains(",张伟,grid_worker,") && closed.contains(",是,"),
        "{closed}"
    );

    // English headers, and the subtree filter (the community's second grid).
    let en = dir.join("grid2.csv");
    let s = export(&c, &["cases", "--subtree", GRID_2, "--lang", "en", "--out", en.to_str().unwrap()]);
    assert_eq!(s["rows"], 1);
    let rows = csv_rows(&en);
    assert!(rows[0].starts_with("id,title,state,light,grid"), "{}", rows[0]);
    assert!(rows[1].starts_with(ids[4].as_str()));

    // A date range before the cases were reported holds none.
    let old = dir.join("old.json");
    let s = export(
        &c,
        &[
            "cases",
            "--from",
            "2020-01-01",
            "--to",
            "2020-12-31",
            "--format",
            "json",
            "--out",
            old.to_str().unwrap(),
        ],
    );
    assert_eq!(s["rows"], 0);
    let v: Value = serde_json::from_slice(&std::fs::read(&old).unwrap()).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(0));

    // JSON, keyed by the English column ids whatever the language.
    let json = dir.join("cases.json");
    export(&c, &["cases", "--format", "json", "--out", json.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 5);
    let first = arr.iter().find(|r| r["id"] == ids[0].as_str()).expect("closed case");
    assert_eq!(first["state"], "closed");
    assert_eq!(first["grid"], GRID);
    assert!(first["closed_at"].as_str().is_some_and(|t| t.len() == 19), "{first}");
    assert_eq!(first["returns"], 0);

    // XLSX, read back.
    let xlsx = dir.join("cases.xlsx");
    export(&c, &["cases", "--format", "xlsx", "--out", xlsx.to_str().unwrap()]);
    let mut book: Xlsx<_> = open_workbook(&xlsx).expect("open xlsx");
    let sheet = book.worksheet_range_at(0).expect("a sheet").expect("read sheet");
    assert_eq!(sheet.height(), 6);
    assert_eq!(sheet.get((0, 0)), Some(&Data::String("案件编号".into())));
    assert_eq!(sheet.get((0, 1)), Some(&Data::String("标题".into())));
    let ids_in_sheet: Vec<String> =
        (1..6).map(|r| sheet.get((r, 0)).map(|d| d.to_string()).unwrap_or_default()).collect();
    for id in &ids {
        assert!(ids_in_sheet.contains(id), "{id} not in the sheet");
    }

    // Figures per day: today's row counts the five cases and the closure.
    let today = common::cli_json(&["case", "show", &ids[0], "--node", c.addr(1), "--json"])["reported_at"]
        .as_i64()
        .expect("reported_at");
    let day = {
        let secs = today / 1000 + 8 * 3600;
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d"])
            .output()
            .expect("date");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let figs = dir.join("figures.xlsx");
    let s = export(
        &c,
        &[
            "figures",
            "--by",
            "day",
            "--from",
            &day,
            "--to",
            &day,
            "--format",
            "xlsx",
            "--lang",
            "en",
            "--out",
            figs.to_str().unwrap(),
        ],
    );
    assert_eq!(s["rows"], 1);
    let mut book: Xlsx<_> = open_workbook(&figs).expect("open xlsx");
    let sheet = book.worksheet_range_at(0).expect("a sheet").expect("read sheet");
    let header: Vec<String> =
        (0..sheet.width()).map(|i| sheet.get((0, i)).map(|d| d.to_string()).unwrap_or_default()).collect();
    let col =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    assert_eq!(sheet.get((1, col("period"))), Some(&Data::String(day.clone())));
    assert_eq!(sheet.get((1, col("node"))), Some(&Data::String(common::COMMUNITY.into())));
    assert_eq!(sheet.get((1, col("total"))), Some(&Data::Float(5.0)));
    assert_eq!(sheet.get((1, col("closed"))), Some(&Data::Float(1.0)));
    assert_eq!(sheet.get((1, col("closure_rate"))), Some(&Data::Float(1.0)));
    let figs_csv = dir.join("figures.csv");
    export(&c, &["figures", "--by", "month", "--from", &day, "--out", figs_csv.to_str().unwrap()]);
    let rows = csv_rows(&figs_csv);
    assert!(rows[0].starts_with("周期,开始日期,结束日期,节点(含下级),上报数"), "{}", rows[0]);
    assert!(rows[1].contains(",100.00%,"), "{}", rows[1]);
}

#[test]
fn a_large_export_goes_page_by_page_in_bounded_memory() {
    use proto::v1::case_service_client::CaseServiceClient;
    use proto::v1::ReportRequest;

    let c = Cluster::start(1, Tuning::default());
    const CASES: usize = 4800;
    const PAGE: usize = 100;
    // Each case carries a 2000-character description (6 KB of UTF-8): about 29 MB in all, so that what
    // a page and the writer cost (about 7 MB with 2 runtime threads' allocator arenas) is far below it.
    let description: String = "街面秩序占道经营情况复杂需要协调处理".chars().cycle().take(2000).collect();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let addr = c.addr(1).to_string();
    rt.block_on(async {
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("connect");
        let mut tasks = Vec::new();
        for t in 0..16 {
            let (channel, description) = (channel.clone(), description.clone());
            tasks.push(tokio::spawn(async move {
                let mut client = CaseServiceClient::new(channel);
                for i in (t..CASES).step_by(16) {
                    let req = ReportRequest {
                        request_id: Some(format!("bulk-{i}")),
                        grid: GRID.into(),
                        category: "市容环境/暴露垃圾".into(),
                        source: "patrol".into(),
                        title: format!("批量案件 {i}"),
                        description: description.clone(),
                        reporter: "网格员".into(),
                        ..Default::default()
                    };
                    client.report(req).await.expect("report");
                }
            }));
        }
        for t in tasks {
            t.await.expect("reporter");
        }
    });
    let dir = c.dir.path();
    for format in ["csv", "xlsx"] {
        // What the export costs in this format with no case, then with all of them.
        let none = dir.join(format!("none.{format}"));
        let small = export(
            &c,
            &["cases", "--format", format, "--subtree", "370102001001002", "--out", none.to_str().unwrap()],
        );
        assert_eq!(small["rows"], 0, "{small}");
        let out = dir.join(format!("all.{format}"));
        let s = export(
            &c,
            &["cases", "--format", format, "--page-size", &PAGE.to_string(), "--out", out.to_str().unwrap()],
        );
        assert_eq!(s["rows"], CASES as u64);
        assert_eq!(s["pages"], (CASES / PAGE) as u64, "{s}");
        assert!(s["largest_page"].as_u64().unwrap() <= PAGE as u64, "{s}");
        let grew =
            s["peak_rss_kib"].as_u64().unwrap().saturating_sub(small["peak_rss_kib"].as_u64().unwrap());
        let data_kib = (CASES * description.len()) as u64 / 1024;
        // Holding the cases would take at least their size; page by page takes a small part of it.
        assert!(grew < data_kib / 2, "{format}: peak memory grew by {grew} KiB for {data_kib} KiB of cases");
        if format == "csv" {
            assert_eq!(csv_rows(&out).len(), CASES + 1);
        }
    }
}
