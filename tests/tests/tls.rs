//! Mutual TLS between replicas and with the CLI: configs rendered with `--ca` run a TLS-only node;
//! clients without a certificate from the district's CA are refused.

mod common;

use common::*;

#[test]
fn a_tls_node_serves_operators_of_its_ca_and_refuses_everyone_else() {
    let c = Cluster::start(3, Tuning { tls: true, ..Tuning::default() });
    // The replicas elected a leader over TLS, and an operator of the district reports and reads.
    let id = c.report("文化东路59号门口垃圾堆积", "tls-1");
    let shown = c.cli_json(&["case", "show", &id, "--node", &c.all(), "--json"]);
    assert_eq!(shown["state"], "reported");
    let leader = c.wait_leader();
    let follower = [1, 2, 3].into_iter().find(|&r| r != leader).unwrap();
    // A write through a follower is forwarded to the leader over TLS too.
    let out = c.cli(&[
        "case",
        "report",
        "--node",
        c.addr(follower),
        "--grid",
        GRID,
        "--category",
        "0101",
        "--title",
        "经由从副本上报",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Plaintext clients are refused.
    let out = cli(&["case", "show", &id, "--node", &c.all(), "--timeout", "2"]);
    assert!(!out.status.success());
    // A certificate from another CA is refused.
    let other = c.dir.path().join("other-ca");
    assert!(cli(&["certs", "init-ca", "--out", other.to_str().unwrap()]).status.success());
    let stranger = issue_env(&other, "370102", "operator", "stranger", &c.dir.path().join("stranger"));
    // The node's own CA to verify the node, and the stranger's certificate.
    let env = vec![c.env[0].clone(), stranger[1].clone(), stranger[2].clone()];
    let out = cli_env(&env, &["case", "show", &id, "--node", &c.all(), "--timeout", "2"]);
    assert!(!out.status.success(), "a stranger's certificate was accepted");
    // A profile holds the node and the TLS files, so an operator need not repeat them.
    let profile = c.dir.path().join("profile.toml");
    let [ca, cert, key] = [0, 1, 2].map(|i| c.env[i].1.clone());
    std::fs::write(&profile, format!("node = {:?}\nca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\n", c.all()))
        .unwrap();
    let with_profile = |extra: &[(&str, &str)], args: &[&str]| {
        let mut env = vec![
            ("GRIDNODE_PROFILE".to_string(), profile.display().to_string()),
            ("GRIDNODE_INSECURE".to_string(), "false".to_string()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        cli_env(&env, args)
    };
    let out = with_profile(&[], &["case", "show", &id, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Explicit files win over the profile's: the stranger's certificate is used, and refused.
    let out = with_profile(
        &[
            ("GRIDNODE_CERT", stranger[1].1.as_str()),
            ("GRIDNODE_KEY", stranger[2].1.as_str()),
            ("GRIDNODE_CA", &ca),
        ],
        &["case", "show", &id, "--timeout", "2"],
    );
    assert!(!out.status.success(), "the profile's certificate was used instead of the explicit one");
    std::fs::write(&profile, "nodes = \"x\"\n").unwrap();
    let err = String::from_utf8_lossy(&with_profile(&[], &["case", "show", &id]).stderr).to_string();
    assert!(err.contains("profile") && err.contains("nodes"), "{err}");

    // Half a TLS configuration is an error that says what is missing.
    let out = cli_env(&env[..1], &["case", "show", &id, "--node", &c.all()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca, --cert and --key"));
}

#[test]
fn certificates_are_authorized_by_code_and_role() {
    let c = Cluster::start(3, Tuning { tls: true, ..Tuning::default() });
    c.report("授权测试", "authz-1");
    // An operator of the community, or of its street, may work here; one of another street may not.
    for (code, ok) in [(COMMUNITY, true), ("370102001", true), ("370102002", false), ("370102001002", false)]
    {
        let env = c.issue(code, "operator", "op");
        let out = cli_env(&env, &["case", "list", "--node", &c.all(), "--json", "--timeout", "3"]);
        assert_eq!(out.status.success(), ok, "operator of {code}: {}", String::from_utf8_lossy(&out.stderr));
        if !ok {
            assert!(String::from_utf8_lossy(&out.stderr).contains("does not include node"));
        }
    }
    // Raft: only replicas of this node. A replica certificate of another node is refused.
    let stranger = c.issue(SIBLING, "replica", "r1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let code = rt.block_on(async {
        let ch = tls_channel(c.addr(1), &stranger).await.unwrap();
        let mut client = proto::v1::raft_service_client::RaftServiceClient::new(ch);
        let mut req = common::versioned(proto::v1::RaftPayload { data: vec![] });
        req.metadata_mut().insert("x-gridfed-node", COMMUNITY.parse().unwrap());
        req.metadata_mut().insert("x-gridfed-replica", "1".parse().unwrap());
        client.vote(req).await.unwrap_err().code()
    });
    assert_eq!(code, tonic::Code::PermissionDenied);
    assert!(c.log_of(1).contains("request refused"));
}
