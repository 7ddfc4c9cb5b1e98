//! The console in a real browser: headless Chromium driven through WebDriver against a three-level
//! federation of real replicas on loopback (the district and a street of 3 replicas, over mutual TLS;
//! the consoles on plain HTTP on loopback, as `gridnode demo` serves them). Signs in with a token
//! from `gridnode access token create`, reads the tree and checks every figure on it against
//! `/api/v1/stats/subtree?scope=` and `gridnode stats --subtree`, opens a case escalated to the
//! district, is refused with the error next to the field, dispatches it, sees the CLI's next step
//! arrive live, sees a new report change the figures live, switches language, signs in as a viewer
//! (no action buttons), and saves screenshots of the dashboard, a case, the charts and the wall
//! screen at 1920x1080 under `<target>/screenshots/`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use common::fed::{Federation, COMMUNITIES, DISTRICT, STREET_A};
use common::http::Http;
use common::webdriver::{self, Browser};
use common::{free_port, wait_for};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(30);

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    dir.parent().map(|p| p.join("screenshots")).unwrap_or(dir)
}

/// Chinese fonts for the screenshots (Debian's fonts-noto-cjk), installed when missing.
fn cjk_fonts() {
    let has = || {
        std::process::Command::new("fc-list")
            .arg(":lang=zh")
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    };
    if !has() {
        let _ = std::process::Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", "fonts-noto-cjk"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .status();
    }
    if !has() {
        eprintln!(
            "\n*** no Chinese font (fonts-noto-cjk): screenshots will show boxes for Chinese text ***\n"
        );
    }
}

/// A case's figures the page shows, by node: figure -> (value, text).
fn page_figures(b: &Browser, root: &str) -> BTreeMap<String, BTreeMap<String, (Value, String)>> {
    let v = b.js(
        "const out = {};
         for (const el of document.querySelectorAll(arguments[0].split(',').map(s => s + ' [data-figure]').join(','))) {
           (out[el.dataset.node] = out[el.dataset.node] || {})[el.dataset.figure] = [JSON.parse(el.dataset.value), el.textContent];
         }
         return out;",
        vec![json!(root)],
    );
    serde_json::from_value(v).unwrap()
}

/// The open cases of a subtree's figures: every state but closed and cancelled.
fn open_of(stats: &Value) -> i64 {
    stats["counters"]["by_state"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k != "closed" && *k != "cancelled")
                .map(|(_, v)| v.as_i64().unwrap())
                .sum()
        })
        .unwrap_or(0)
}

/// How the page must show a rate with this denominator.
fn shown_rate(rate: f64, denominator: i64) -> String {
    if denominator > 0 {
        format!("{:.1}%", rate * 100.0)
    } else {
        "—".into()
    }
}

/// Whether the figures on the page equal the API's and the CLI's for every node of the tree;
/// the first difference otherwise.
fn figures_agree(b: &Browser, f: &Federation, api: &Http, auth: &str, nodes: &[&str]) -> Result<(), String> {
    let page = page_figures(b, "#tree");
    let dist = f.addrs(DISTRICT);
    for node in nodes {
        let ours = page.get(*node).ok_or(format!("no row for {node} on the page"))?;
        let a = api.get(&format!("/api/v1/stats/subtree?scope={node}"), &[("Authorization", auth)]).json();
        let cli = f.cli_json(&["stats", "--node", &dist, "--subtree", node, "--json"]);
        let c = &a["counters"];
        let want = [
            ("total", c["total"].clone(), cli["total"].clone()),
            ("open", json!(open_of(&a)), json!(open_of(&json!({"counters": {"by_state": cli["by_state"]}})))),
            ("closure_rate", a["closure_rate"].clone(), cli["closure_rate"].clone()),
            ("on_time_closure_rate", a["on_time_closure_rate"].clone(), cli["on_time_closure_rate"].clone()),
            ("rework_rate", a["rework_rate"].clone(), cli["rework_rate"].clone()),
            ("overdue", a["overdue"].clone(), cli["overdue"].clone()),
        ];
        for (name, from_api, from_cli) in want {
            let (shown, text) = ours.get(name).ok_or(format!("{node}: no {name} on the page"))?;
            // JSON from the page writes 0.0 as 0: compare numbers as numbers.
            if shown.as_f64() != from_api.as_f64()
                || from_api.as_f64() != from_cli.as_f64()
                || from_api.is_null()
            {
                return Err(format!("{node} {name}: page {shown}, API {from_api}, CLI {from_cli}"));
            }
            let expect = match name {
                "closure_rate" | "on_time_closure_rate" | "rework_rate" => {
                    shown_rate(from_api.as_f64().unwrap(), c["registered"].as_i64().unwrap())
                }
                _ => from_api.as_i64().unwrap().to_string(),
            };
            assert_eq!(text, &expect, "{node} {name}: the page's text");
        }
    }
    Ok(())
}

/// A case reported at a community by its grid worker, at 文化东路59号.
fn report(f: &Federation, node: &str, grid: &str, title: &str, id: &str) -> String {
    f.report_with(node, grid, title, id, &["--address", "文化东路59号", "--reporter", "网格员张伟"])
}

#[test]
fn the_dashboard_works_in_a_browser_against_a_real_federation() {
    if !webdriver::available() {
        return;
    }
    cjk_fonts();
    // Every replica's console on a free loopback port, plain HTTP (as the demo's).
    let consoles: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());
    let f = Federation::start_with(|node, t| {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut http = toml::Table::new();
        http.insert("listen".into(), toml::Value::String(addr.clone()));
        http.insert("plaintext_loopback".into(), toml::Value::Boolean(true));
        t.insert("http".into(), toml::Value::Table(http));
        consoles.lock().unwrap().entry(node.to_string()).or_default().push(addr);
    });
    let consoles = consoles.into_inner().unwrap();
    let console = consoles[DISTRICT][0].clone();
    let base = format!("http://{console}");
    let dist = f.addrs(DISTRICT);
    let nodes: Vec<&str> = Federation::nodes();

    // Some work in every community: reported, registered, closed; one case escalated twice, to the district.
    f.cli_json(&["department", "add", "--node", &dist, "--name", "区城管执法局", "--hours", "48", "--json"]);
    for (i, c) in COMMUNITIES.iter().enumerate() {
        let grid = format!("{c}001");
        let done = report(&f, c, &grid, &format!("绿地脏乱 {i}"), &format!("seed-a-{i}"));
        f.close(c, &done);
        let open = report(&f, c, &grid, &format!("道路不洁 {i}"), &format!("seed-b-{i}"));
        f.act(c, &open, &["--action", "register"]);
        report(&f, c, &grid, &format!("非法小广告 {i}"), &format!("seed-c-{i}"));
    }
    let title = "文化东路59号门口 <b>垃圾</b> 堆积";
    let id = report(&f, COMMUNITIES[0], &format!("{}001", COMMUNITIES[0]), title, "escalated");
    f.act(COMMUNITIES[0], &id, &["--action", "register"]);
    f.act(COMMUNITIES[0], &id, &["--action", "escalate", "--note", "涉及物业纠纷"]);
    wait_for("the street to own the case", T, || f.cases(STREET_A, true).contains_key(&id).then_some(()));
    f.act(STREET_A, &id, &["--action", "escalate", "--note", "需区城管协调"]);
    wait_for("the district to own the case", T, || f.cases(DISTRICT, true).contains_key(&id).then_some(()));
    f.drained();

    let token = |role: &str| {
        let v = f.cli_json(&[
            "access",
            "token",
            "create",
            "--node",
            &dist,
            "--scope",
            DISTRICT,
            "--role",
            role,
            "--expires",
            "2h",
            "--name",
            "e2e",
            "--json",
        ]);
        v["secret"].as_str().unwrap().to_string()
    };
    let (operator, viewer) = (token("operator"), token("viewer"));
    let api = Http::plain(&console);
    let auth = format!("Bearer {operator}");

    let b = Browser::start(1920, 1080);
    let shots = screenshots();

    // Sign in with the token in the address: no login step, and the token leaves the address bar.
    b.goto(&format!("{base}/login?token={operator}"));
    b.wait("#tree tbody tr", T);
    assert_eq!(b.url(), format!("{base}/"), "the token stays in the address bar");
    assert_eq!(b.text_of("#who-role[data-role]", T), "操作员");
    assert!(b.text_of("#who-scope", T).contains(DISTRICT));
    assert_eq!(b.js("return document.documentElement.lang", vec![]), "zh-CN");

    // The tree: every node of the federation, names where the district knows them.
    b.click_at("#expand-all", T);
    b.wait_for("every node of the tree", T, || {
        (b.js("return document.querySelectorAll('#tree tbody tr').length", vec![]) == json!(nodes.len()))
            .then_some(())
    });
    let street_row = b.text_of(&format!("#tree tr[data-node='{STREET_A}'] th"), T);
    assert!(street_row.contains("解放路街道"), "{street_row}");
    let community_row = b.text_of(&format!("#tree tr[data-node='{}'] th", COMMUNITIES[0]), T);
    assert!(community_row.contains("解放路街道·001"), "{community_row}");
    // Every figure equals the API's and the CLI's (polled: the page and the store settle after rollups).
    wait_for("the page's figures to equal the API's and the CLI's", T, || {
        match figures_agree(&b, &f, &api, &auth, &nodes) {
            Ok(()) => Some(()),
            Err(e) => {
                eprintln!("not yet: {e}");
                b.goto(&format!("{base}/#/"));
                b.click_at("#expand-all", T);
                None
            }
        }
    });
    let root = page_figures(&b, "#tree")[DISTRICT].clone();
    assert_eq!(root["total"].0, json!(COMMUNITIES.len() as i64 * 3 + 1));

    // The case list: search finds the escalated case; its title is text, never markup.
    b.goto(&format!("{base}/#/cases?q=%E6%96%87%E5%8C%96%E4%B8%9C%E8%B7%AF"));
    let link = format!("#case-table tr[data-case='{id}'] a.case-link");
    assert_eq!(b.text_of(&link, T), title);
    assert_eq!(b.js("return document.querySelectorAll('#case-table b').length", vec![]), json!(0));
    b.click_at(&link, T);
    assert_eq!(b.text_of("#case-title", T), title);
    // The audit trail names the actor and who the node authenticated; ownership followed the escalations.
    let audit = b.js(
        "return [...document.querySelectorAll('#audit tbody tr')].map(r => [r.dataset.action, r.querySelector('td.by').textContent])",
        vec![],
    );
    let audit: Vec<(String, String)> = serde_json::from_value(audit).unwrap();
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["report", "register", "escalate", "escalate"], "{audit:?}");
    assert!(audit.iter().all(|(_, by)| by.contains("gridfed://370102/operator")), "{audit:?}");
    assert_eq!(b.js("return document.querySelectorAll('#ownership tbody tr').length", vec![]), json!(3));
    // The actions its state allows here, each once: the district has no parent to escalate to.
    let buttons = b.js(
        "return [...document.querySelectorAll('#action-buttons button')].map(b => b.dataset.action)",
        vec![],
    );
    assert_eq!(buttons, json!(["cancel", "dispatch", "urge", "arrive", "suspend", "send_down"]));

    // Dispatch without a handler: the server's refusal is shown next to the handler field.
    b.click_at("#action-buttons button[data-action='dispatch']", T);
    b.wait("#act-form[data-action='dispatch']", T);
    b.js("document.getElementById('act-handler_kind').value = 'department'", vec![]);
    b.click_at("#act-submit", T);
    let err = b.wait_for("the refusal next to the handler", T, || {
        let t = b.try_text(&b.find("#err-handler_name")?)?;
        (!t.is_empty()).then_some(t)
    });
    assert!(err.contains("handler"), "{err}");
    assert_eq!(
        b.js("return document.getElementById('act-handler_name').getAttribute('aria-invalid')", vec![]),
        "true"
    );
    let version = |b: &Browser| b.text_of("#case-version", T);
    assert_eq!(version(&b), f.cases(DISTRICT, true)[&id]["version"].to_string());
    // Then with one: dispatched to the department, audited as this token.
    b.type_into(&b.wait("#act-handler_name", T), "区城管执法局");
    b.type_into(&b.wait("#act-note", T), "请区城管执法局处置");
    b.click_at("#act-submit", T);
    b.wait(".case-badges [data-state='dispatched']", T);
    assert!(b.text_of("#case-handler", T).contains("区城管执法局"));
    let stored = &f.cases(DISTRICT, true)[&id];
    assert_eq!(
        (stored["state"].as_str(), stored["handler"]["name"].as_str()),
        (Some("dispatched"), Some("区城管执法局"))
    );
    let last_by = b.js("const r = [...document.querySelectorAll('#audit tbody tr')].pop(); return r.querySelector('td.by').textContent", vec![]);
    assert!(last_by.as_str().unwrap().contains("token"), "{last_by}");

    // Another client (the CLI) acts: the page follows without a reload.
    b.js("window.__noReload = 42", vec![]);
    f.act(DISTRICT, &id, &["--action", "start"]);
    b.wait(".case-badges [data-state='handling']", T);
    assert_eq!(b.js("return window.__noReload", vec![]), json!(42), "the page was reloaded");
    assert!(!b.text_of("#case-notice", T).is_empty());
    b.screenshot(&shots.join("case.png"));

    // A new report in a community reaches the district's figures on the page live.
    b.js("location.hash = '#/'", vec![]);
    b.wait(&format!("#tree tr[data-node='{DISTRICT}']"), T);
    // The changes seen live since the page opened are listed, the dispatch and the CLI's start among them.
    b.wait(&format!("#feed li[data-case='{id}'] [data-state='handling']"), T);
    let before = page_figures(&b, "#tree")[DISTRICT]["total"].0.as_i64().unwrap();
    report(&f, COMMUNITIES[3], &format!("{}002", COMMUNITIES[3]), "路灯不亮", "live-one");
    b.wait_for("the new report in the district's total", T, || {
        let now = page_figures(&b, "#tree").get(DISTRICT)?.get("total")?.0.as_i64()?;
        (now == before + 1).then_some(())
    });
    assert_eq!(b.js("return window.__noReload", vec![]), json!(42), "the page was reloaded");
    b.screenshot(&shots.join("dashboard.png"));

    // Charts: daily intake, by category with names.
    b.js("location.hash = '#/charts'", vec![]);
    b.wait("#chart-daily canvas", T);
    b.wait("#table-category", T);
    let cats = b.js("return document.getElementById('table-category').textContent", vec![]);
    assert!(cats.as_str().unwrap().contains("市容环境/暴露垃圾"), "{cats}");
    b.screenshot(&shots.join("charts.png"));

    // The map: the district's grids filled by their open cases, a 12345 ticket's point as a marker
    // (the district keeps a copy of the ticket it sent down to the community of the point).
    let fixture = f.dir.path().join("lixia.geojson");
    std::fs::write(&fixture, include_str!("../fixtures/lixia_grids.geojson")).unwrap();
    f.cli_json(&["grids", "import", fixture.to_str().unwrap(), "--node", &dist, "--json"]);
    let out = f.report_at(DISTRICT, (36.6668, 117.0521), "wgs84", "map-1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ticket: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ticket["grid"], "370102001001001", "{ticket}");
    b.js("location.hash = '#/map'", vec![]);
    b.wait("#map-chart canvas", T);
    let grid = "370102001001001";
    let shown = format!("#map-grids tr[data-grid='{grid}'] [data-fig='open']");
    wait_for("the map's open cases of a grid to equal the API's", T, || {
        let want = api.get("/api/v1/grids/figures", &[("Authorization", &auth)]).json()["grids"]
            .as_array()?
            .iter()
            .find(|g| g["grid"] == grid)?["open"]
            .as_i64()?;
        let markers = b.js(
            "const e = document.getElementById('map-markers'); return e ? Number(e.dataset.n) : 0",
            vec![],
        );
        let on_page = b.try_text(&b.find(&shown)?)?;
        if on_page == want.to_string() && want >= 3 && markers.as_i64() >= Some(1) {
            Some(())
        } else {
            // Not there yet (rollups): read the page afresh once it has drawn again.
            b.js("location.reload()", vec![]);
            b.wait("#map-chart canvas", T);
            None
        }
    });
    b.screenshot(&shots.join("map.png"));

    // Links: the district's two streets, up.
    b.js("location.hash = '#/links'", vec![]);
    b.wait_for("both links up", T, || {
        (b.js("return document.querySelectorAll('#links [data-state=\"up\"]').length", vec![]) == json!(2))
            .then_some(())
    });
    b.wait("#replicas tbody tr", T);

    // English, remembered across a reload; then back to Chinese.
    b.click_at("#lang button[data-lang='en']", T);
    b.wait_for("the English navigation", T, || {
        (b.try_text(&b.find("#nav a[data-route='tree']")?)? == "Overview").then_some(())
    });
    b.goto(&format!("{base}/"));
    b.wait_for("English after a reload", T, || {
        (b.try_text(&b.find("#nav a[data-route='tree']")?)? == "Overview").then_some(())
    });
    assert_eq!(b.js("return document.documentElement.lang", vec![]), "en");
    b.wait("#tree tbody tr", T);
    b.screenshot(&shots.join("dashboard-en.png"));
    b.click_at("#lang button[data-lang='zh']", T);
    b.wait_for("Chinese again", T, || {
        (b.try_text(&b.find("#nav a[data-route='tree']")?)? == "概览").then_some(())
    });

    // The wall screen, signed in as a wall screen is (a viewer token; the link goes on to /screen):
    // the figures are the API's; rankings of streets and communities.
    b.goto(&format!("{base}/login?token={viewer}&next=/screen"));
    b.wait("#s-kpis [data-figure]", T);
    assert_eq!(b.url(), format!("{base}/screen"), "the token stays in the address bar");
    b.wait("table.s-rank[data-level='street'] tbody tr", T);
    b.wait("table.s-rank[data-level='community'] tbody tr", T);
    let rows = |level: &str| {
        b.js(
            &format!(
                "return document.querySelectorAll(\"table.s-rank[data-level='{level}'] tbody tr\").length"
            ),
            vec![],
        )
    };
    assert_eq!((rows("street"), rows("community")), (json!(2), json!(4)));
    b.wait("#s-trend canvas", T);
    b.wait_for("the wall screen's figures to equal the API's", T, || {
        let shown = page_figures(&b, "#s-kpis, #s-states");
        let a = api.get("/api/v1/stats/subtree", &[("Authorization", &auth)]).json();
        let ours = shown.get(DISTRICT)?;
        let same = ours.get("total")?.0.as_f64() == a["counters"]["total"].as_f64()
            && ours.get("closure_rate")?.0.as_f64() == a["closure_rate"].as_f64()
            && ours.get("on_time_closure_rate")?.0.as_f64() == a["on_time_closure_rate"].as_f64()
            && ours.get("overdue")?.0.as_f64() == a["overdue"].as_f64()
            && [
                "reported",
                "registered",
                "dispatched",
                "handling",
                "handled",
                "suspended",
                "closed",
                "cancelled",
            ]
            .iter()
            .all(|s| {
                ours.get(&format!("state_{s}")).map(|f| f.0.as_i64())
                    == Some(Some(a["counters"]["by_state"][s].as_i64().unwrap_or(0)))
            });
        same.then_some(())
    });
    b.screenshot(&shots.join("screen.png"));

    // A viewer reads but sees no action.
    b.goto(&format!("{base}/#/case/{id}"));
    b.wait("#who-role[data-role='viewer']", T);
    b.wait("#case-title", T);
    b.wait_for("the case page's action section", T, || {
        let t = b.try_text(&b.find("section.actions")?)?;
        (!t.is_empty()).then_some(())
    });
    assert!(b.find("#action-buttons").is_none(), "a viewer sees action buttons");
    let refused = api.post(
        &format!("/api/v1/cases/{id}/actions"),
        &[("Authorization", &format!("Bearer {viewer}"))],
        r#"{"action":"handled","note":"x"}"#,
    );
    assert_eq!(refused.status, 403);
    for name in ["dashboard.png", "case.png", "charts.png", "screen.png"] {
        let len = std::fs::metadata(shots.join(name)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 20_000, "{name}: {len} bytes");
    }
    eprintln!("screenshots in {}", shots.display());
}
