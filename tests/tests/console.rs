//! The console's server side on real replicas: HTTPS with the district CA, authentication by operator
//! certificate or access token (bearer or session cookie), the gRPC authorization rule for both, the
//! JSON API's figures against the CLI's, live events, probes, metrics (checked by promtool), the
//! OpenAPI document, and the standard gRPC health and reflection services.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::http::Http;
use common::*;
use serde_json::{json, Value};

/// Every route the console serves (the OpenAPI document must list each).
const ROUTES: &[&str] = &[
    "/",
    "/screen",
    "/assets/{path}",
    "/login",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/openapi.json",
    "/api/v1/session",
    "/api/v1/cases",
    "/api/v1/cases/{id}",
    "/api/v1/cases/{id}/actions",
    "/api/v1/staff",
    "/api/v1/staff/{id}",
    "/api/v1/stats",
    "/api/v1/stats/subtree",
    "/api/v1/stats/series",
    "/api/v1/stats/tree",
    "/api/v1/grids",
    "/api/v1/grids/locate",
    "/api/v1/grids/geojson",
    "/api/v1/grids/figures",
    "/api/v1/departments",
    "/api/v1/categories",
    "/api/v1/links",
    "/api/v1/cluster",
    "/api/v1/events",
    "/open311/v2/{file}",
    "/open311/v2/services/{file}",
    "/open311/v2/requests/{file}",
    "/open311/v2/tokens/{file}",
];

/// Gives the HTTP side of a replica config a free port; returns its address.
fn free_http(config: &mut toml::Table) -> String {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut http = toml::Table::new();
    http.insert("listen".into(), toml::Value::String(addr.clone()));
    config.insert("http".into(), toml::Value::Table(http));
    addr
}

fn http_of(config: &Path) -> String {
    let t: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    t["http"]["listen"].as_str().unwrap().to_string()
}

/// Creates a token with the CLI as `env`'s operator; returns (id, secret).
fn token(env: &[(String, String)], node: &str, scope: &str, role: &str, expires: &str) -> (String, String) {
    let v = cli_json_env(
        env,
        &[
            "access",
            "token",
            "create",
            "--node",
            node,
            "--scope",
            scope,
            "--role",
            role,
            "--expires",
            expires,
            "--json",
        ],
    );
    (v["id"].as_str().unwrap().to_string(), v["secret"].as_str().unwrap().to_string())
}

fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}

fn wait_ready(h: &Http) {
    wait_for("/readyz to answer 200", Duration::from_secs(30), || {
        h.send("GET", "/readyz", &[], None).ok().filter(|a| a.status == 200)
    });
}

/// promtool from Debian's `prometheus` package, installed when missing; None (said loudly) when it
/// cannot be had.
fn promtool() -> Option<PathBuf> {
    let found = || {
        std::process::Command::new("sh")
            .args(["-c", "command -v promtool"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    };
    if let Some(p) = found() {
        return Some(p);
    }
    let _ = std::process::Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", "prometheus"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(std::process::Stdio::null())
        .status();
    let p = found();
    if p.is_none() {
        eprintln!(
            "\n\n*** SKIPPED: promtool is not installed and `apt-get install prometheus` failed; \
             the /metrics output was NOT checked by promtool ***\n\n"
        );
    }
    p
}

#[test]
fn the_console_authorizes_exactly_as_grpc_over_https() {
    let mut c = Cluster::start_with(1, Tuning { tls: true, ..Tuning::default() }, |_, t| {
        free_http(t);
    });
    let node = c.live();
    let ca = PathBuf::from(&c.env[0].1);
    let http_addr = http_of(&c.replicas[0].config);
    let anon = Http::tls(&http_addr, &ca, None);
    wait_ready(&anon);

    // Plaintext to the HTTPS port gets no answer: the replica has TLS, so its console has too.
    let plain = Http::plain(&http_addr).send("GET", "/healthz", &[], None);
    assert!(plain.map(|a| a.status != 200).unwrap_or(true), "plaintext was served");
    // No credentials: 401 with a JSON error.
    let a = anon.get("/api/v1/cases", &[]);
    assert_eq!(a.status, 401, "{}", a.body);
    assert_eq!(a.json()["code"], "unauthenticated");

    // An operator certificate signs in by itself.
    let cert = Http::tls(&http_addr, &ca, Some((Path::new(&c.env[1].1), Path::new(&c.env[2].1))));
    let who = cert.get("/api/v1/session", &[]).json();
    assert_eq!((who["via"].as_str(), who["scope"].as_str()), (Some("certificate"), Some("370102")));

    // A viewer token reads but cannot act; an operator token acts, with the CLI's validation.
    let (_, viewer) = token(&c.env, &node, COMMUNITY, "viewer", "8h");
    let (_, operator) = token(&c.env, &node, "370102001", "operator", "8h");
    let reported = anon.post(
        "/api/v1/cases",
        &[("Authorization", &bearer(&operator))],
        &json!({"grid": GRID, "category": "市容环境/暴露垃圾", "source": "hotline",
                "title": "文化东路59号 门口垃圾堆积", "address": "文化东路59号", "reporter": "市民李女士"})
        .to_string(),
    );
    assert_eq!(reported.status, 201, "{}", reported.body);
    let id = reported.json()["case"]["id"].as_str().unwrap().to_string();
    let acts = format!("/api/v1/cases/{id}/actions");
    let refused = anon.post(&acts, &[("Authorization", &bearer(&viewer))], r#"{"action":"register"}"#);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.json()["code"], "permission_denied");
    let bad = anon.post(&acts, &[("Authorization", &bearer(&operator))], r#"{"action":"close"}"#);
    assert_eq!((bad.status, bad.json()["code"].as_str()), (409, Some("failed_precondition")), "{}", bad.body);
    let missing = anon.post(
        "/api/v1/cases",
        &[("Authorization", &bearer(&operator))],
        &json!({"grid": "12", "category": "0101",
        "source": "hotline", "title": "x", "reporter": "y"})
        .to_string(),
    );
    assert_eq!((missing.status, missing.json()["field"].as_str()), (400, Some("grid")), "{}", missing.body);
    let ok =
        anon.post(&acts, &[("Authorization", &bearer(&operator))], r#"{"action":"register","note":"立案"}"#);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let detail = ok.json();
    assert_eq!(detail["case"]["state"], "registered");
    assert!(detail["allowed_actions"].as_array().unwrap().contains(&json!("dispatch")));
    assert_eq!(detail["ownership"][0]["to"], COMMUNITY);
    let shown = anon.get(&format!("/api/v1/cases/{id}"), &[("Authorization", &bearer(&viewer))]).json();
    assert_eq!(shown["audit"].as_array().unwrap().len(), 2);
    // Search ignores case and spaces, on titles and addresses.
    let found = anon
        .get("/api/v1/cases?q=%E6%96%87%E5%8C%96%E4%B8%9C%E8%B7%AF59", &[("Authorization", &bearer(&viewer))])
        .json();
    assert_eq!(found["cases"][0]["id"], id.as_str());

    // A session cookie from a token: HttpOnly, Secure, SameSite=Strict; it authenticates.
    let signed = anon.post("/api/v1/session", &[], &json!({ "token": viewer }).to_string());
    assert_eq!(signed.status, 200, "{}", signed.body);
    let cookie = signed.header("set-cookie").unwrap().to_string();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    assert_eq!(anon.get("/api/v1/session", &[("Cookie", &pair)]).json()["role"], "viewer");

    // A token cannot open more than its creator holds, nor a subtree that does not include the node.
    let out = c.cli(&["access", "token", "create", "--node", &node, "--scope", SIBLING, "--role", "viewer"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scope"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A sibling community's token and operator certificate do not open this community.
    let sibling_env = c.issue(SIBLING, "operator", "sibling");
    let sibling_cert =
        Http::tls(&http_addr, &ca, Some((Path::new(&sibling_env[1].1), Path::new(&sibling_env[2].1))));
    let a = sibling_cert.get("/api/v1/cases", &[]);
    assert_eq!(a.status, 403, "{}", a.body);
    let sibling_rendered =
        c.rendered.as_array().unwrap().iter().find(|r| r["node"] == SIBLING).unwrap().clone();
    edit_config(Path::new(sibling_rendered["config"].as_str().unwrap()), |t| {
        free_http(t);
    });
    let sibling = c.start_node(SIBLING).join(",");
    let (_, sibling_token) = wait_for("the sibling to create a token", Duration::from_secs(30), || {
        let out = cli_env(
            &sibling_env,
            &[
                "access",
                "token",
                "create",
                "--node",
                &sibling,
                "--role",
                "viewer",
                "--json",
                "--timeout",
                "3",
            ],
        );
        out.status.success().then(|| {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            (v["id"].as_str().unwrap().to_string(), v["secret"].as_str().unwrap().to_string())
        })
    });
    assert_eq!(anon.get("/api/v1/cases", &[("Authorization", &bearer(&sibling_token))]).status, 401);

    // Revoked: refused at once (one replica: applied before the CLI returns).
    let listed = c.cli_json(&["access", "token", "list", "--node", &node, "--json"]);
    assert!(listed.as_array().unwrap().iter().all(|t| t.get("hash").is_none()));
    let viewer_id = viewer.split('_').nth(1).unwrap().to_string();
    c.cli_json(&["access", "token", "revoke", &viewer_id, "--node", &node, "--json"]);
    let a = anon.get("/api/v1/cases", &[("Authorization", &bearer(&viewer))]);
    assert_eq!(a.status, 401);
    assert!(a.json()["message"].as_str().unwrap().contains("revoked"), "{}", a.body);
    assert_eq!(anon.get("/api/v1/session", &[("Cookie", &pair)]).status, 401);

    // Expired: a one-minute token, then the replica's clock two minutes later.
    let (_, short) = token(&c.env, &node, COMMUNITY, "operator", "1m");
    assert_eq!(anon.get("/api/v1/cases", &[("Authorization", &bearer(&short))]).status, 200);
    c.stop(1);
    c.start_replica_args(1, &["--clock-offset-ms", "120000"]);
    wait_ready(&anon);
    let a = anon.get("/api/v1/cases", &[("Authorization", &bearer(&short))]);
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.json()["message"].as_str().unwrap().contains("expired"), "{}", a.body);
    assert_eq!(anon.get("/api/v1/cases", &[("Authorization", &bearer(&operator))]).status, 200);
}

#[test]
fn the_api_matches_the_cli_streams_changes_and_describes_itself() {
    let c = Cluster::start_with(3, Tuning { tls: true, ..Tuning::default() }, |_, t| {
        free_http(t);
    });
    let node = c.all();
    let ca = PathBuf::from(&c.env[0].1);
    for r in &c.replicas {
        wait_ready(&Http::tls(&http_of(&r.config), &ca, None));
    }
    let (_, op) = token(&c.env, &node, "370102", "operator", "8h");
    let auth = bearer(&op);
    let h = [("Authorization", auth.as_str())];
    // Ask a follower: reads and writes are forwarded to the leader as gRPC ones are.
    let leader = c.wait_leader();
    let follower = c.replicas.iter().find(|r| r.id != leader).unwrap();
    let api = Http::tls(&http_of(&follower.config), &ca, None);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(c.report(&format!("道路不洁 {i}"), &format!("console-{i}")));
    }

    // Live events: a change made through the CLI arrives as a `case` event.
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let api = api.clone();
        let auth = auth.clone();
        std::thread::spawn(move || {
            for line in api.events("/api/v1/events", &[("Authorization", &auth)]) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    let first = rx.recv_timeout(Duration::from_secs(10)).expect("an event");
    assert_eq!(first, "event: hello");
    c.cli_json(&["case", "act", &ids[0], "--node", &node, "--action", "register", "--json"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut seen = false;
    while std::time::Instant::now() < deadline && !seen {
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            seen = line.starts_with("data:") && line.contains(&ids[0]) && line.contains("registered");
        }
    }
    assert!(seen, "no case event for {}", ids[0]);

    // The figures equal the CLI's for the same moment (no writes in between).
    let cli_stats = c.cli_json(&["stats", "--node", &node, "--json"]);
    let api_stats = api.get("/api/v1/stats", &h).json();
    for k in ["total", "registered", "closed", "closed_on_time", "returned", "cancelled"] {
        assert_eq!(api_stats["counters"][k], cli_stats[k], "{k}: api {api_stats} cli {cli_stats}");
    }
    assert_eq!(api_stats["overdue"], cli_stats["overdue"]);
    assert_eq!(api_stats["counters"]["by_state"], cli_stats["by_state"]);
    let cli_sub = c.cli_json(&["stats", "--node", &node, "--subtree", "--json"]);
    let api_sub = api.get("/api/v1/stats/subtree", &h).json();
    assert_eq!(api_sub["counters"]["total"], cli_sub["total"], "api {api_sub} cli {cli_sub}");
    let series = api.get("/api/v1/stats/series", &h).json();
    let days = series["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days.iter().map(|d| d["total"].as_i64().unwrap()).sum::<i64>(), 4);
    let page = api.get("/api/v1/cases?page_size=3&owned=true", &h).json();
    assert_eq!(page["cases"].as_array().unwrap().len(), 3);
    let rest = api
        .get(
            &format!(
                "/api/v1/cases?page_size=3&owned=true&page_token={}",
                page["next_page_token"].as_str().unwrap()
            ),
            &h,
        )
        .json();
    assert_eq!(rest["cases"].as_array().unwrap().len(), 1);
    let cluster = api.get("/api/v1/cluster", &h).json();
    assert_eq!(cluster["leader"].as_u64(), Some(leader));
    assert_eq!(api.get("/api/v1/links", &h).status, 200);
    let err = api.get("/api/v1/cases?page_size=900", &h);
    assert_eq!((err.status, err.json()["field"].as_str()), (400, Some("page_size")));

    // Probes, open without credentials.
    assert_eq!(api.get("/healthz", &[]).status, 200);
    let ready = api.get("/readyz", &[]).json();
    assert_eq!(ready["ready"], true, "{ready}");

    // The OpenAPI document parses and lists every route.
    let doc = api.get("/api/openapi.json", &[]).json();
    let paths = doc["paths"].as_object().unwrap();
    for r in ROUTES {
        assert!(paths.contains_key(*r), "the OpenAPI document lacks {r}");
    }
    assert_eq!(
        paths.len(),
        ROUTES.len(),
        "undocumented or unknown routes: {:?}",
        paths.keys().collect::<Vec<_>>()
    );

    // Metrics in the Prometheus text format, checked by promtool.
    let metrics = api.get("/metrics", &[]);
    assert_eq!(metrics.status, 200);
    for name in [
        "gridfed_raft_term",
        "gridfed_raft_role",
        "gridfed_cases",
        "gridfed_requests_total",
        "gridfed_request_seconds_bucket",
    ] {
        assert!(metrics.body.contains(name), "no {name} in /metrics");
    }
    let leader_http =
        Http::tls(&http_of(&c.replicas.iter().find(|r| r.id == leader).unwrap().config), &ca, None);
    let leader_metrics = leader_http.get("/metrics", &[]).body;
    assert!(leader_metrics.contains("gridfed_commit_seconds_count"), "no commit latency on the leader");
    if let Some(promtool) = promtool() {
        for body in [&metrics.body, &leader_metrics] {
            let mut child = std::process::Command::new(&promtool)
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // The standard gRPC health service and server reflection on the gRPC port.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ch = tls_channel(c.addr(follower.id), &c.env).await.unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
        for service in ["", "gridfed.v1.CaseService"] {
            let mut status = 0;
            for _ in 0..50 {
                let req = tonic_health::pb::HealthCheckRequest { service: service.into() };
                status = health.check(req).await.unwrap().into_inner().status;
                if status == serving {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(status, serving, "health of {service:?}");
        }
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        let mut refl = ServerReflectionClient::new(ch);
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = refl.server_reflection_info(tokio_stream::iter([req])).await.unwrap().into_inner();
        let resp = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("{resp:?}")
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for s in ["gridfed.v1.CaseService", "gridfed.v1.AccessService", "grpc.health.v1.Health"] {
            assert!(names.iter().any(|n| n == s), "reflection lacks {s}: {names:?}");
        }
    });
}

#[test]
fn an_insecure_replica_serves_its_console_in_plaintext_to_anyone() {
    let c = Cluster::start_with(1, Tuning::default(), |_, t| {
        free_http(t);
    });
    let h = Http::plain(&http_of(&c.replicas[0].config));
    wait_ready(&h);
    let who = h.get("/api/v1/session", &[]).json();
    assert_eq!(who["via"], "none");
    assert_eq!(h.get("/api/v1/cases", &[]).status, 200);
    // `/` is the console, which links the API; its modules and ECharts are embedded and typed.
    let page = h.get("/", &[]);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.body.contains("/api/openapi.json") && page.body.contains("/assets/js/app.js"));
    assert!(page.header("content-security-policy").is_some_and(|c| c.contains("script-src 'self'")));
    let js = h.get("/assets/js/app.js", &[]);
    assert_eq!((js.status, js.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    let etag = js.header("etag").unwrap().to_string();
    assert_eq!(h.get("/assets/js/app.js", &[("If-None-Match", &etag)]).status, 304);
    let echarts = h.get("/assets/vendor/echarts-6.1.0/echarts.min.js", &[]);
    assert!(echarts.body.len() > 500_000 && echarts.header("cache-control").unwrap().contains("immutable"));
    assert!(h.get("/screen", &[]).body.contains("/assets/js/screen.js"));
    assert_eq!(h.get("/assets/nothing.js", &[]).status, 404);
    // The tree of a lone community: itself, live.
    let tree = h.get("/api/v1/stats/tree", &[]).json();
    assert_eq!(tree["nodes"][0]["node"], COMMUNITY);
    assert!(tree["nodes"][0]["freshness"].is_null());
    let missing = h.get("/api/v1/nothing", &[]);
    assert_eq!((missing.status, missing.json()["code"].as_str()), (404, Some("not_found")));
}
