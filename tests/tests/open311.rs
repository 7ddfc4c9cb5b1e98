//! Open311 GeoReport v2 on a real federation, written from the specification's published examples
//! (<http://wiki.open311.org/GeoReport_v2>): discovery, the service list and a service's definition, a
//! POST of a service request with the fields of the specification's example (answered with its id and
//! notice), the request read back (single and in a list with its filters, JSON and XML), and the bad
//! requests the specification's error format covers: missing location, unknown service code, a
//! missing, wrong or revoked api_key, malformed dates, a point outside every grid (and outside the
//! key's subtree). Each bad request gets the error list with its HTTP code and nothing is stored; a
//! retry with the same key and request id returns the first request.

mod common;

use std::time::Duration;

use common::fed::{Federation, COMMUNITIES, DISTRICT, STREET_B};
use common::http::{Answer, Http};
use common::wait_for;
use serde_json::Value;

const FIXTURE: &str = include_str!("../fixtures/lixia_grids.geojson");

/// A point in grid 370102002001001 (临湖社区, under 泉城路街道), WGS-84.
const LAT: &str = "36.6645";
const LONG: &str = "117.0558";

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// The specification's error list: every entry a code equal to the status and a description.
fn assert_errors(a: &Answer, status: u16, needle: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    let list = a.json();
    let list = list.as_array().unwrap_or_else(|| panic!("not an error list: {}", a.body));
    assert!(!list.is_empty());
    for e in list {
        assert!(e["code"].as_u64().is_some() && e["description"].as_str().is_some(), "{e}");
    }
    assert_eq!(list[0]["code"].as_u64(), Some(status as u64));
    assert!(a.body.contains(needle), "{needle:?} not in {}", a.body);
}

fn stored(f: &Federation) -> usize {
    f.cases(STREET_B, false).len() + f.cases(COMMUNITIES[2], false).len()
}

#[test]
fn geo_report_v2_as_the_specification_shows_it() {
    let f = Federation::start();
    let file = f.dir.path().join("lixia.geojson");
    std::fs::write(&file, FIXTURE).unwrap();
    f.cli_json(&["grids", "import", file.to_str().unwrap(), "--node", &f.addrs(DISTRICT), "--json"]);
    wait_for("泉城路街道 to hold its grids", Duration::from_secs(60), || {
        let g = f.cli_json(&["grids", "list", "--node", &f.addrs(STREET_B), "--local", "--json"]);
        (g["places"].as_array().map(Vec::len) == Some(2)).then_some(())
    });
    let street = f.addrs(STREET_B);
    let key = f.cli_json(&[
        "access",
        "open311-key",
        "create",
        "--node",
        &street,
        "--name",
        "12345热线",
        "--scope",
        STREET_B,
        "--source",
        "hotline",
        "--json",
    ]);
    let api_key = key["api_key"].as_str().unwrap().to_string();
    assert!(api_key.starts_with("o311_"));
    let listed = f.cli_json(&["access", "open311-key", "list", "--node", &street, "--json"]);
    assert_eq!(listed[0]["name"], "12345热线");
    assert!(!listed.to_string().contains(&api_key[api_key.len() - 16..]), "a listing shows the secret");
    let api: Http = f.http(STREET_B);

    // Discovery.
    let d = api.get("/open311/v2/discovery.json", &[]);
    assert_eq!(d.status, 200, "{}", d.body);
    let ep = &d.json()["endpoints"][0];
    assert_eq!(ep["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert!(ep["url"].as_str().unwrap().ends_with("/open311/v2"), "{ep}");
    assert!(ep["formats"].as_array().unwrap().contains(&Value::from("text/xml")));
    assert!(api.get("/open311/v2/discovery.xml", &[]).body.contains("<discovery><changeset>"));

    // Services: the fields of the specification's example, for our categories.
    let s = api.get("/open311/v2/services.json", &[]).json();
    let svc =
        s.as_array().unwrap().iter().find(|x| x["service_code"] == "0101").expect("service 0101").clone();
    let mut fields: Vec<&str> = svc.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["description", "group", "keywords", "metadata", "service_code", "service_name", "type"]
    );
    assert_eq!((svc["metadata"].as_bool(), svc["type"].as_str()), (Some(false), Some("realtime")));
    let xml = api.get("/open311/v2/services.xml", &[]).body;
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("<services><service><")
            && xml.contains("<service_code>0101</service_code>"),
        "{xml:.200}"
    );
    let def = api.get("/open311/v2/services/0101.json", &[]).json();
    assert_eq!(def["service_code"], "0101");
    assert_errors(&api.get("/open311/v2/services/9999.json", &[]), 404, "service_code");

    // POST a service request with the fields of the specification's example.
    let before = stored(&f);
    let example = |service_code: &str, lat: &str, long: &str, rid: &str, key: &str| {
        form(&[
            ("api_key", key),
            ("jurisdiction_id", STREET_B),
            ("service_code", service_code),
            ("lat", lat),
            ("long", long),
            ("address_string", "泉城路 180 号"),
            ("email", "smith@example.cn"),
            ("device_id", "tt222111"),
            ("account_id", "123456"),
            ("first_name", "john"),
            ("last_name", "smith"),
            ("phone", "111111111"),
            ("description", "路边垃圾桶满溢，无人清运"),
            ("media_url", "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg"),
            ("request_id", rid),
        ])
    };
    let posted = api.post("/open311/v2/requests.json", &[], &example("0101", LAT, LONG, "t-1", &api_key));
    assert_eq!(posted.status, 201, "{}", posted.body);
    let first = posted.json()[0].clone();
    let id = first["service_request_id"].as_str().unwrap().to_string();
    assert!(first["service_notice"].as_str().unwrap().contains("已受理"), "{first}");
    assert!(first["account_id"].is_null());
    // A retry with the same key and request id: the first request, nothing new.
    let again = api.post("/open311/v2/requests.json", &[], &example("0101", LAT, LONG, "t-1", &api_key));
    assert_eq!((again.status, again.json()[0]["service_request_id"].as_str()), (200, Some(id.as_str())));

    // Read back, once the community that owns it has answered.
    let one = wait_for("the owner's name on the request", Duration::from_secs(60), || {
        let r = api.get(&format!("/open311/v2/requests/{id}.json"), &[]);
        (r.status == 200 && r.json()[0]["agency_responsible"] == "临湖社区").then(|| r.json()[0].clone())
    });
    assert_eq!((one["status"].as_str(), one["service_code"].as_str()), (Some("open"), Some("0101")), "{one}");
    assert_eq!(one["media_url"], "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg");
    assert!(
        (one["lat"].as_f64().unwrap() - 36.6645).abs() < 1e-9
            && one["requested_datetime"].as_str().unwrap().ends_with("+08:00")
    );
    assert!(one["status_notes"].as_str().is_some(), "{one}");
    let case = f.cases(COMMUNITIES[2], true).remove(&id).expect("the community owns it");
    assert_eq!((case["source"].as_str(), case["grid"].as_str()), (Some("hotline"), Some("370102002001001")));
    let list = api.get("/open311/v2/requests.json?status=open&service_code=0101", &[]).json();
    assert!(list.as_array().unwrap().iter().any(|r| r["service_request_id"] == id.as_str()), "{list}");
    let list = api.get(&format!("/open311/v2/requests.xml?service_request_id={id}"), &[]).body;
    assert!(list.starts_with("<?xml") && list.contains("<service_requests><request><"), "{list}");
    assert!(list.contains(&format!("<service_request_id>{id}</service_request_id>")), "{list}");
    let closed = api.get("/open311/v2/requests.json?status=closed", &[]).json();
    assert_eq!(closed, Value::Array(vec![]));
    let xml = api.post("/open311/v2/requests.xml", &[], &example("0102", LAT, LONG, "t-2", &api_key));
    assert_eq!(xml.status, 201, "{}", xml.body);
    assert!(
        xml.body.contains("<service_requests><request><") && xml.body.contains("<service_request_id>"),
        "{}",
        xml.body
    );
    let stored_ok = stored(&f);
    assert!(stored_ok >= before + 2);

    // Bad requests: the specification's errors, and nothing stored.
    let no_location = form(&[("api_key", &api_key), ("service_code", "0101"), ("description", "无位置")]);
    assert_errors(&api.post("/open311/v2/requests.json", &[], &no_location), 400, "location");
    assert_errors(
        &api.post("/open311/v2/requests.json", &[], &example("9999", LAT, LONG, "b-1", &api_key)),
        404,
        "service_code",
    );
    let xml_err = api.post("/open311/v2/requests.xml", &[], &example("9999", LAT, LONG, "b-1", &api_key));
    assert!(
        xml_err.status == 404 && xml_err.body.contains("<errors><error><code>404</code><description>"),
        "{}",
        xml_err.body
    );
    assert_errors(
        &api.post("/open311/v2/requests.json", &[], &example("0101", LAT, LONG, "b-2", "")),
        403,
        "api_key",
    );
    let wrong = format!("{}x", &api_key[..api_key.len() - 1]);
    assert_errors(
        &api.post("/open311/v2/requests.json", &[], &example("0101", LAT, LONG, "b-3", &wrong)),
        403,
        "api_key",
    );
    assert_errors(
        &api.post("/open311/v2/requests.json", &[], &example("0101", "36.70", "117.10", "b-4", &api_key)),
        400,
        "(36.7, 117.1)",
    );
    // In a grid of the other street: not among the boundaries this node holds.
    assert_errors(
        &api.post("/open311/v2/requests.json", &[], &example("0101", "36.6675", "117.0560", "b-5", &api_key)),
        400,
        "lies in no grid",
    );
    assert_errors(&api.get("/open311/v2/requests.json?start_date=2026-13-45", &[]), 400, "start_date");
    assert_errors(&api.get("/open311/v2/requests.json?end_date=2026-11-01T00:00:00", &[]), 400, "end_date");
    assert_errors(
        &api.get("/open311/v2/requests/370102002-20260101-999999.json", &[]),
        404,
        "service_request_id",
    );
    assert_errors(&api.get("/open311/v2/tokens/12345.json", &[]), 404, "token");
    let key_id = key["id"].as_str().unwrap();
    f.cli_json(&["access", "open311-key", "revoke", key_id, "--node", &street, "--json"]);
    let revoked = wait_for("the key to be refused", Duration::from_secs(30), || {
        let a = api.post("/open311/v2/requests.json", &[], &example("0101", LAT, LONG, "b-6", &api_key));
        (a.status == 403).then_some(a)
    });
    assert_errors(&revoked, 403, "revoked");
    assert_eq!(stored(&f), stored_ok, "a bad request stored something");
}
