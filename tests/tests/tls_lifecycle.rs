//! Certificates over time: expired and not-yet-valid certificates are refused with a log line that
//! says so, and a CA and certificate rotated on disk are picked up while the old ones stop working
//! (including connections that were already open).

mod common;

use common::*;
use proto::v1::case_service_client::CaseServiceClient;
use std::time::Duration;
use time::OffsetDateTime;

/// A certificate from the cluster's CA with any validity (the CLI only issues valid ones).
fn forge(
    c: &Cluster,
    code: &str,
    role: &str,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Vec<(String, String)> {
    let ca = c.dir.path().join("ca");
    let ca_key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(ca.join("ca.key")).unwrap()).unwrap();
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&std::fs::read_to_string(ca.join("ca.pem")).unwrap(), ca_key)
            .unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let uri = format!("gridfed://{code}/{role}");
    params.subject_alt_names.push(rcgen::SanType::URI(uri.clone().try_into().unwrap()));
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = from;
    params.not_after = until;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let stem = c.dir.path().join(format!("forged-{}", from.unix_timestamp()));
    let (cert_path, key_path) = (stem.with_extension("pem"), stem.with_extension("key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    vec![
        ("GRIDNODE_CA".to_string(), ca.join("ca.pem").display().to_string()),
        ("GRIDNODE_CERT".to_string(), cert_path.display().to_string()),
        ("GRIDNODE_KEY".to_string(), key_path.display().to_string()),
    ]
}

/// Lists cases over a fresh TLS connection made with `env`'s files.
async fn list(addr: &str, env: &[(String, String)]) -> Result<usize, String> {
    let ch = tls_channel(addr, env).await?;
    list_on(&mut CaseServiceClient::new(ch)).await
}

async fn list_on(client: &mut CaseServiceClient<tonic::transport::Channel>) -> Result<usize, String> {
    let mut req = tonic::Request::new(proto::v1::ListRequest::default());
    req.set_timeout(Duration::from_secs(3));
    client.list(req).await.map(|r| r.into_inner().cases.len()).map_err(|s| format!("{s:?}"))
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused_with_a_log_line() {
    let c = Cluster::start(1, Tuning { tls: true, ..Tuning::default() });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    // The control: a valid certificate of the same identity works.
    let valid = forge(&c, "370102", "operator", now - day, now + day);
    rt.block_on(list(c.addr(1), &valid)).expect("a valid certificate is accepted");
    for (from, until, said) in [
        (now - 10 * day, now - day, "certificate expired"),
        (now + day, now + 10 * day, "certificate not valid yet"),
    ] {
        let env = forge(&c, "370102", "operator", from, until);
        let refused = rt.block_on(list(c.addr(1), &env));
        assert!(refused.is_err(), "{said}: accepted");
        wait_for(&format!("a log line saying {said}"), Duration::from_secs(10), || {
            let log = c.log_of(1);
            log.lines().any(|l| l.contains("TLS handshake refused") && l.contains(said)).then_some(())
        });
        // The CLI refuses to use such a certificate at all, and says why.
        let out = cli_env(&env, &["case", "list", "--node", c.addr(1)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("is not valid now"), "{err}");
    }
}

/// Replaces `dst` with `src` the way rotation tools do: write beside, then rename over.
fn replace(src: &str, dst: &str) {
    let tmp = format!("{dst}.new");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dst).unwrap();
}

#[test]
fn a_rotated_ca_and_certificate_are_picked_up_and_the_old_ones_stop_working() {
    let c = Cluster::start(1, Tuning { tls: true, ..Tuning::default() });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = c.addr(1).to_string();
    c.report("轮换前上报", "rotate-1");
    // A connection opened under the old CA, kept open across the rotation.
    let mut open = rt.block_on(async {
        CaseServiceClient::new(tls_channel(&addr, &c.env).await.expect("old operator connects"))
    });
    assert_eq!(rt.block_on(list_on(&mut open)), Ok(1));

    // The district re-keys: a new CA, a new certificate for the replica, a new operator certificate.
    let ca2 = c.dir.path().join("ca2");
    assert!(cli(&["certs", "init-ca", "--out", ca2.to_str().unwrap()]).status.success());
    let issue = |role: &str, code: &str, host: Option<&str>| {
        let mut args = vec!["certs", "issue", "--ca", ca2.to_str().unwrap(), "--code", code, "--role", role];
        let out = c.dir.path().join("issued2");
        args.extend(["--out", out.to_str().unwrap(), "--json"]);
        if let Some(h) = host {
            // The replica's new certificate is short-lived, so the replica warns about it.
            args.extend(["--host", h, "--days", "10"]);
        }
        let v = cli_json(&args);
        (v["cert"].as_str().unwrap().to_string(), v["key"].as_str().unwrap().to_string())
    };
    let (replica_cert, replica_key) = issue("replica", COMMUNITY, Some(&addr));
    let (op_cert, op_key) = issue("operator", "370102", None);
    let new_env = vec![
        ("GRIDNODE_CA".to_string(), ca2.join("ca.pem").display().to_string()),
        ("GRIDNODE_CERT".to_string(), op_cert),
        ("GRIDNODE_KEY".to_string(), op_key),
    ];
    // Before the files change, the new operator is a stranger.
    assert!(rt.block_on(list(&addr, &new_env)).is_err());

    let cfg: toml::Table = toml::from_str(&std::fs::read_to_string(&c.replicas[0].config).unwrap()).unwrap();
    let tls = cfg["tls"].as_table().expect("[tls] section");
    let path = |k: &str| tls[k].as_str().unwrap().to_string();
    replace(&replica_key, &path("key"));
    replace(&replica_cert, &path("cert"));
    replace(ca2.join("ca.pem").to_str().unwrap(), &path("ca"));

    // Picked up without a restart: the new operator, trusting only the new CA, is served (so the
    // replica presents its new certificate too) ...
    wait_for("the new CA and certificate in use", Duration::from_secs(15), || {
        rt.block_on(list(&addr, &new_env)).ok()
    });
    assert!(c.log_of(1).contains("TLS files changed on disk"));
    wait_for("a warning about the short-lived certificate", Duration::from_secs(10), || {
        c.log_of(1).contains("TLS certificate expires soon").then_some(())
    });
    // ... and the old ones stop working: new connections, and the one that was open.
    assert!(rt.block_on(list(&addr, &c.env)).is_err(), "the old operator certificate still works");
    assert!(rt.block_on(list_on(&mut open)).is_err(), "a connection under the old CA stayed open");
    let out = c.cli(&["case", "list", "--node", &addr, "--timeout", "2"]);
    assert!(!out.status.success(), "the CLI with the old files still works");
    // The CLI with the new files works.
    let out = cli_env(&new_env, &["case", "list", "--node", &addr, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
