//! Regression tests for the defects an independent client written from the .proto files found (issue
//! 15), each named after what it pins. They speak gRPC directly, as such a client does.

mod common;

use std::time::Duration;

use common::{cli, cli_json, tls_channel, wait_for, Cluster, Tuning, GRID};
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::{ActRequest, GetRequest, Handler, ReportRequest};
use tonic::Code;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

async fn plain(addr: &str) -> CaseServiceClient<tonic::transport::Channel> {
    let ch =
        tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    CaseServiceClient::new(ch)
}

fn report_req(title: &str) -> ReportRequest {
    ReportRequest {
        grid: GRID.into(),
        category: "0101".into(),
        source: "hotline".into(),
        title: title.into(),
        reporter: "市民".into(),
        ..Default::default()
    }
}

fn act_req(case_id: &str, action: &str) -> ActRequest {
    ActRequest {
        case_id: case_id.into(),
        action: action.into(),
        actor: "值班员".into(),
        ..Default::default()
    }
}

#[test]
fn extend_refuses_a_deadline_beyond_the_extension_limit() {
    let c = Cluster::start(1, Tuning::default());
    c.wait_leader();
    rt().block_on(async {
        let mut cl = plain(c.addr(1)).await;
        let case = cl.report(report_req("楼道堆物")).await.unwrap().into_inner().case.unwrap();
        cl.act(act_req(&case.id, "register")).await.unwrap();
        let dispatch = ActRequest {
            handler: Some(Handler { kind: "grid_worker".into(), name: "张伟".into() }),
            ..act_req(&case.id, "dispatch")
        };
        let dispatched = cl.act(dispatch).await.unwrap().into_inner().case.unwrap();
        for new_due in [i64::MAX, dispatched.due_at_ms.unwrap() + 91 * 86_400_000] {
            let extend = ActRequest {
                new_due_ms: Some(new_due),
                note: "需协调物业".into(),
                ..act_req(&case.id, "extend")
            };
            let err = cl.act(extend).await.unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
            assert!(
                err.message().starts_with("new_due:") && err.message().contains("max_extension_days"),
                "{err:?}"
            );
        }
        let now = cl.get(GetRequest { case_id: case.id.clone(), local: false }).await.unwrap().into_inner();
        assert_eq!(now.case.unwrap().version, dispatched.version, "a refused extension changed the case");
        // Within the limit it is granted.
        let ok = ActRequest {
            new_due_ms: Some(dispatched.due_at_ms.unwrap() + 10 * 86_400_000),
            note: "需协调物业".into(),
            ..act_req(&case.id, "extend")
        };
        assert_eq!(cl.act(ok).await.unwrap().into_inner().case.unwrap().extensions, 1);
    });
}

#[test]
fn the_audit_trail_records_the_authenticated_caller_not_the_claimed_actor() {
    let c = Cluster::start(3, Tuning { tls: true, ..Tuning::default() });
    let leader = c.wait_leader();
    let follower = (1..=3).find(|&i| i != leader).unwrap();
    let operator = c.issue("370102001001", "operator", "王芳");
    rt().block_on(async {
        // Through a follower, so the request is forwarded to the leader.
        let mut cl = CaseServiceClient::new(tls_channel(c.addr(follower), &operator).await.unwrap());
        let mut r = report_req("冒名测试");
        r.reporter = "区长(伪造)".into();
        let case = cl.report(r).await.unwrap().into_inner().case.unwrap();
        let act = ActRequest { actor: "区长(伪造)".into(), ..act_req(&case.id, "register") };
        let acted = cl.act(act).await.unwrap().into_inner().case.unwrap();
        for entry in &acted.audit {
            assert!(entry.by.starts_with("gridfed://370102001001/operator"), "{entry:?}");
            assert!(entry.by.contains("王芳"), "{entry:?}");
            // The free-text name is kept beside it, as given.
            assert_eq!(entry.actor, "区长(伪造)");
        }
    });
    let shown = c.cli(&["case", "show", &c.report("另一件", "by-2"), "--node", &c.all()]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("authenticated: gridfed://370102/operator"), "{text}");
}

#[test]
fn an_idle_healthy_link_reads_up_and_a_dead_one_down() {
    let mut c = Cluster::start_with(1, Tuning::default(), |_, t| {
        let fed = t.entry("federation").or_insert(toml::Value::Table(Default::default()));
        fed.as_table_mut().unwrap().insert("probe_ms".into(), toml::Value::Integer(300));
    });
    c.wait_leader();
    let street = c.start_node("370102001");
    let links = |node: &str| cli_json(&["federation", "status", "--node", node, "--json", "--timeout", "3"]);
    // No message has gone either way, yet both ends of the link read up: idle links are probed.
    wait_for("the idle link to read up at both ends", Duration::from_secs(30), || {
        let at_street = links(&street[0]);
        let child = at_street["links"].as_array()?.iter().find(|l| l["peer"] == "370102001001")?.clone();
        let at_community = links(c.addr(1));
        let parent = at_community["links"].as_array()?.iter().find(|l| l["peer"] == "370102001")?.clone();
        (child["state"] == "up" && child["up"] == true && parent["state"] == "up").then_some(())
    });
    // The district is not running: that link reads down, with the reason.
    let at_street = links(&street[0]);
    let parent =
        at_street["links"].as_array().unwrap().iter().find(|l| l["peer"] == "370102").unwrap().clone();
    assert_eq!(parent["state"], "down", "{parent}");
    assert!(!parent["last_error"].as_str().unwrap_or_default().is_empty(), "{parent}");
    // The community goes away: the street sees its idle link go down.
    c.kill(1);
    wait_for("the dead child link to read down", Duration::from_secs(30), || {
        let at_street = links(&street[0]);
        let child = at_street["links"].as_array()?.iter().find(|l| l["peer"] == "370102001001")?.clone();
        (child["state"] == "down").then_some(())
    });
}

#[test]
fn refusals_list_escalate_and_send_down_among_the_allowed_actions() {
    let c = Cluster::start(1, Tuning::default());
    c.wait_leader();
    rt().block_on(async {
        let mut cl = plain(c.addr(1)).await;
        let case = cl.report(report_req("楼道堆物")).await.unwrap().into_inner().case.unwrap();
        cl.act(act_req(&case.id, "register")).await.unwrap();
        let err = cl.act(act_req(&case.id, "start")).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        for action in ["dispatch", "cancel", "suspend", "escalate", "send_down"] {
            assert!(err.message().contains(action), "{action} missing: {}", err.message());
        }
        let err = cl.act(act_req(&case.id, "fly")).await.unwrap_err();
        assert!(
            err.message().contains("escalate") && err.message().contains("send_down"),
            "{}",
            err.message()
        );
    });
}

#[test]
fn an_oversized_request_is_resource_exhausted() {
    let c = Cluster::start(1, Tuning::default());
    c.wait_leader();
    rt().block_on(async {
        let mut cl = plain(c.addr(1)).await;
        let mut r = report_req("很长的描述");
        r.description = "垃".repeat(2 << 20);
        let err = cl.report(r).await.unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    });
}

#[test]
fn certs_init_ca_prints_json_like_every_other_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ca");
    let v = cli_json(&["certs", "init-ca", "--out", out.to_str().unwrap(), "--json"]);
    assert!(v["cert"].as_str().unwrap().ends_with("ca.pem"), "{v}");
    assert!(v["key"].as_str().unwrap().ends_with("ca.key"), "{v}");
}

#[test]
fn stats_name_the_categories_beside_their_codes() {
    let c = Cluster::start(1, Tuning::default());
    c.wait_leader();
    c.report("楼道堆物", "cat-1");
    let v = c.cli_json(&["stats", "--node", &c.live(), "--json"]);
    assert_eq!(v["by_category"]["0101"], 1, "{v}");
    assert_eq!(v["by_category_label"]["0101"], "市容环境/暴露垃圾", "{v}");
    let out = cli(&["stats", "--node", &c.live(), "--insecure"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0101 市容环境/暴露垃圾"), "{text}");
}
