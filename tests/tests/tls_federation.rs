//! Federation over mutual TLS: the street (370102001) and its community (370102001001) as real TLS
//! nodes. A community certificate may push rollups and escalate only for its own code; it can neither
//! pose as its sibling nor dispatch as the district. And per-peer limits: a flooding peer is refused
//! with RESOURCE_EXHAUSTED while another peer is served.

mod common;

use common::*;
use proto::v1 as pb;
use proto::v1::case_service_client::CaseServiceClient;
use proto::v1::peer_service_client::PeerServiceClient;
use std::time::Duration;
use tonic::Code;

const STREET: &str = "370102001";

fn rollup(from: &str, owner: &str) -> pb::RollupRequest {
    let entries = if owner.is_empty() {
        vec![]
    } else {
        vec![pb::TallyEntry {
            owner: owner.into(),
            day: 20_000,
            grid: format!("{owner}001"),
            version: 1,
            counters: Some(pb::Counters { total: 1, ..Default::default() }),
        }]
    };
    pb::RollupRequest { from: from.into(), entries, fresh: vec![] }
}

fn escalation(from: &str, origin: &str, case: &pb::Case) -> pb::DeliverRequest {
    let envelope = pb::Envelope {
        origin: origin.into(),
        to: STREET.into(),
        queued_at_ms: 0,
        body: Some(pb::envelope::Body::Transfer(case.clone())),
    };
    pb::DeliverRequest {
        from: from.into(),
        messages: vec![pb::Sequenced { seq: 1, envelope: Some(envelope) }],
    }
}

#[test]
fn a_community_cannot_push_rollups_or_escalate_as_another_nor_dispatch() {
    let mut c = Cluster::start(1, Tuning { tls: true, ..Tuning::default() });
    let street = c.start_node(STREET).remove(0);
    let id = c.report("冒充测试", "impersonate-1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let case = rt.block_on(async {
        let mut client = CaseServiceClient::new(tls_channel(c.addr(1), &c.env).await.unwrap());
        client.get(pb::GetRequest { case_id: id, local: false }).await.unwrap().into_inner().case.unwrap()
    });
    // The community's real replica certificate (issued again: same identity).
    let community = c.issue(COMMUNITY, "replica", "impostor");
    let codes = rt.block_on(async {
        let ch = wait_for_async_channel(&street, &community).await;
        let mut fed = PeerServiceClient::new(ch);
        let mut call = async |what: &str| -> Code {
            let r = match what {
                "own rollup" => {
                    fed.push_rollup(common::versioned(rollup(COMMUNITY, COMMUNITY))).await.map(|_| ())
                }
                "rollup as the sibling" => {
                    fed.push_rollup(common::versioned(rollup(SIBLING, SIBLING))).await.map(|_| ())
                }
                "rollup of the sibling's grids" => {
                    fed.push_rollup(common::versioned(rollup(COMMUNITY, SIBLING))).await.map(|_| ())
                }
                "escalation as the sibling" => {
                    fed.deliver(common::versioned(escalation(SIBLING, SIBLING, &case))).await.map(|_| ())
                }
                "escalation of the sibling's case" => {
                    fed.deliver(common::versioned(escalation(COMMUNITY, SIBLING, &case))).await.map(|_| ())
                }
                "dispatch as the district" => {
                    fed.deliver(common::versioned(escalation("370102", "370102", &case))).await.map(|_| ())
                }
                "escalation of an oversized case" => {
                    let mut big = case.clone();
                    big.title = "超".repeat(101);
                    match fed.deliver(common::versioned(escalation(COMMUNITY, COMMUNITY, &big))).await {
                        Err(s) if !s.message().contains("messages[0].envelope.case.title") => {
                            panic!("refused without naming the field: {s:?}")
                        }
                        r => r.map(|_| ()),
                    }
                }
                other => unreachable!("{other}"),
            };
            r.err().map_or(Code::Ok, |s| s.code())
        };
        let mut codes = Vec::new();
        for what in [
            "own rollup",
            "rollup as the sibling",
            "rollup of the sibling's grids",
            "escalation as the sibling",
            "escalation of the sibling's case",
            "dispatch as the district",
            "escalation of an oversized case",
        ] {
            codes.push((what, call(what).await));
        }
        codes
    });
    assert_eq!(codes[0], ("own rollup", Code::Ok), "the control failed: {codes:?}");
    let (last, refused) = codes[1..].split_last().unwrap();
    for (what, code) in refused {
        assert_eq!(*code, Code::PermissionDenied, "{what}: {codes:?}");
    }
    assert_eq!(last.1, Code::InvalidArgument, "{codes:?}");
    let log = std::fs::read_to_string(c.dir.path().join(format!("{STREET}-1.log"))).unwrap();
    assert!(log.contains("request refused") && log.contains("outside"), "refusals are logged");
}

/// Connects once the street's server is up (it was just started).
async fn wait_for_async_channel(addr: &str, env: &[(String, String)]) -> tonic::transport::Channel {
    let start = std::time::Instant::now();
    loop {
        match tls_channel(addr, env).await {
            Ok(ch) => return ch,
            Err(e) if start.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("street never came up: {e}"),
        }
    }
}

#[test]
fn a_flooding_peer_is_refused_while_another_is_served() {
    let c = Cluster::start(1, Tuning { tls: true, limits: "max_inflight_per_peer = 4", ..Tuning::default() });
    let calm = c.issue(STREET, "operator", "calm");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (flood, served) = rt.block_on(async {
        let flooder = CaseServiceClient::new(tls_channel(c.addr(1), &c.env).await.unwrap());
        let mut other = CaseServiceClient::new(tls_channel(c.addr(1), &calm).await.unwrap());
        let report = |n: usize| pb::ReportRequest {
            request_id: Some(format!("flood-{n}")),
            grid: GRID.into(),
            category: "市容环境/暴露垃圾".into(),
            source: "patrol".into(),
            reporter: "网格员".into(),
            title: format!("洪泛测试 {n}"),
            ..Default::default()
        };
        let flood: Vec<_> = (0..64)
            .map(|n| {
                let mut f = flooder.clone();
                let req = report(n);
                tokio::spawn(
                    async move { f.report(req).await.err().map(|s| (s.code(), s.message().to_string())) },
                )
            })
            .collect();
        let mut served = 0;
        for n in 0..5 {
            if other.report(report(1000 + n)).await.is_ok() {
                served += 1;
            }
        }
        let mut codes = Vec::new();
        for f in flood {
            codes.push(f.await.unwrap());
        }
        (codes, served)
    });
    let refused = flood.iter().filter(|c| matches!(c, Some((Code::ResourceExhausted, _)))).count();
    let ok = flood.iter().filter(|c| c.is_none()).count();
    assert!(refused > 0, "64 concurrent requests against a budget of 4 were all admitted: {flood:?}");
    assert!(ok >= 4, "the flooder's own budget was not served: {flood:?}");
    assert_eq!(refused + ok, 64, "{flood:?}");
    assert_eq!(served, 5, "another peer was starved");
    assert!(c.log_of(1).contains("too many requests in flight"));
}
