//! Tests of the Open311 mapping, written from the published GeoReport v2 specification
//! (<http://wiki.open311.org/GeoReport_v2>): its example POST body, its example responses and its
//! error list, with the example's service code, jurisdiction and coordinates swapped for ours where
//! the test needs a request that succeeds.

use super::*;
use crate::access::hash_secret;
use crate::case::{AuditEntry, Source};
use crate::code::Code;
use crate::workflow::tests::new_case;

/// The specification's example request body, verbatim.
const SPEC_POST: &str = "api_key=xyz&jurisdiction_id=city.gov&service_code=001&lat=37.76524078&long=-122.4212043&address_string=1234+5th+street&email=smit333%40sfgov.edu&device_id=tt222111&account_id=123456&first_name=john&last_name=smith&phone=111111111&description=A+large+sinkhole+is+destroying+the+street&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg&attribute[WHISPAWN]=123456&attribute[WHISDORN]=COISL001";

/// x-www-form-urlencoded, decoded (tests only).
fn pairs(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let b = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() + 1 {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn form(body: &str) -> RequestForm {
    let p = pairs(body);
    RequestForm::from_pairs(p.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn key() -> ApiKey {
    ApiKey {
        id: "a1b2c3d4".into(),
        name: "12345热线".into(),
        scope: Code::parse("scope", "370102001").unwrap(),
        source: Source::Hotline,
        hash: hash_secret("0123456789abcdef"),
        created_at: 0,
        created_by: String::new(),
        revoked_at: None,
    }
}

#[test]
fn the_specifications_example_post_is_read_field_by_field() {
    let f = form(SPEC_POST);
    assert_eq!(f.jurisdiction_id, "city.gov");
    assert_eq!(f.service_code, "001");
    assert_eq!((f.lat.as_str(), f.long.as_str()), ("37.76524078", "-122.4212043"));
    assert_eq!(f.address_string, "1234 5th street");
    assert_eq!(f.email, "smit333@sfgov.edu");
    assert_eq!((f.first_name.as_str(), f.last_name.as_str()), ("john", "smith"));
    assert_eq!(f.description, "A large sinkhole is destroying the street");
    assert_eq!(f.media_url, "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg");
}

#[test]
fn the_example_as_sent_is_refused_with_the_specifications_codes() {
    // Neither city.gov nor service 001 exist here: 404 for both, listed together.
    let errors = to_report(&form(SPEC_POST), &key(), Catalog::standard(), "370102").unwrap_err();
    assert_eq!(errors.iter().map(|e| e.code).collect::<Vec<_>>(), [404, 404], "{errors:?}");
    assert!(errors[0].description.starts_with("jurisdiction_id: "), "{errors:?}");
    assert!(errors[1].description.starts_with("service_code: \"001\""), "{errors:?}");
}

#[test]
fn the_example_with_our_service_and_jurisdiction_becomes_a_report() {
    let body = SPEC_POST.replace("jurisdiction_id=city.gov", "jurisdiction_id=370102").replace(
        "service_code=001",
        "service_code=0401", // 突发事件/路面塌陷: a sinkhole
    );
    let new =
        to_report(&form(&format!("{body}&request_id=tt-1")), &key(), Catalog::standard(), "370102").unwrap();
    assert_eq!(new.grid, None, "located by the state machine");
    assert_eq!(new.category, "0401");
    assert_eq!(new.source, Source::Hotline);
    assert_eq!(new.title, "路面塌陷：A large sinkhole is destroying the street");
    let loc = new.location.unwrap();
    assert_eq!((loc.lat, loc.lon), (Some(37.76524078), Some(-122.4212043)));
    assert_eq!(loc.address, "1234 5th street");
    assert_eq!(new.reporter, "john smith 111111111 smit333@sfgov.edu");
    assert_eq!(new.request_id.as_deref(), Some("open311:a1b2c3d4:tt-1"));
    assert_eq!(new.within.as_ref().map(Code::as_str), Some("370102001"));
    assert_eq!(new.by, "open311 key a1b2c3d4 (12345热线)");
    assert_eq!(new.intake.channel.as_deref(), Some("open311:a1b2c3d4"));
    assert_eq!(
        new.intake.media_url.as_deref(),
        Some("http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg")
    );
}

#[test]
fn bad_requests_get_400_and_name_the_argument() {
    let base = "service_code=0101&description=%E5%9E%83%E5%9C%BE";
    let cases = [
        (base.to_string(), "location: missing"),
        (format!("{base}&lat=36.66"), "lat, long: both"),
        (format!("{base}&lat=north&long=117.05"), "lat: \"north\""),
        (format!("{base}&lat=36.66&long=217.05"), "long: \"217.05\""),
        (format!("{base}&lat=36.66&long=117.05&media_url=file%3A%2F%2Fx"), "media_url: "),
        (format!("{}&lat=36.66&long=117.05", base.replace("0101", "")), "service_code: missing"),
    ];
    for (body, start) in cases {
        let errors = to_report(&form(&body), &key(), Catalog::standard(), "370102").unwrap_err();
        assert_eq!(errors.len(), 1, "{body}: {errors:?}");
        assert_eq!(errors[0].code, 400, "{body}");
        assert!(errors[0].description.starts_with(start), "{body}: {}", errors[0].description);
    }
    let long = format!("service_code=0101&lat=36.66&long=117.05&description={}", "x".repeat(2001));
    let errors = to_report(&form(&long), &key(), Catalog::standard(), "370102").unwrap_err();
    assert!(errors[0].description.starts_with("description: 2001 characters"));
    // An address alone is a location: the node parks or refuses it, as its settings say.
    let address_only =
        form("service_code=0101&address_string=%E6%96%87%E5%8C%96%E4%B8%9C%E8%B7%AF59%E5%8F%B7");
    let new = to_report(&address_only, &key(), Catalog::standard(), "370102").unwrap();
    assert_eq!(new.location.unwrap().lat, None);
    assert_eq!(new.title, "暴露垃圾");
}

#[test]
fn services_are_the_catalogue() {
    let all = services(Catalog::standard());
    assert_eq!(all.len(), Catalog::standard().all().len());
    let s = service(Catalog::standard(), "0101").unwrap();
    assert_eq!(
        (s.service_name.as_str(), s.group.as_str(), s.kind, s.metadata),
        ("暴露垃圾", "市容环境", "realtime", false)
    );
    let json = serde_json::to_value(&s).unwrap();
    // The specification's field names, "type" among them.
    for field in ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
    assert_eq!(service(Catalog::standard(), "033").unwrap_err().code, 404);
}

fn entry(action: &str, note: &str, at: Millis, to: CaseState) -> AuditEntry {
    AuditEntry {
        at,
        actor: "op".into(),
        action: action.into(),
        from: None,
        to,
        note: note.into(),
        by: String::new(),
    }
}

#[test]
fn a_case_is_shown_as_the_specifications_example_response_is() {
    // As in the example: a request closed as a duplicate, with its note.
    let mut c = new_case("370102001001-20261124-000001", 1_795_000_000_000);
    c.description = "楼道堆放杂物".into();
    c.location =
        Some(Location { lat: Some(36.6676), lon: Some(117.0521), address: "文化东路59号".into() });
    c.audit = vec![
        entry("report", "source: hotline", c.reported_at, CaseState::Reported),
        entry("cancel", "Duplicate request.", c.reported_at + 60_000, CaseState::Cancelled),
    ];
    c.state = CaseState::Cancelled;
    c.closed_at = Some(c.reported_at + 60_000);
    c.intake.owner_name = "文化东路社区".into();
    c.intake.media_url = Some("http://example.cn/638344.jpg".into());
    let r = request_of(&c, Catalog::standard(), "");
    assert_eq!(r.status, Status::Closed);
    assert_eq!(r.status_notes.as_deref(), Some("作废：Duplicate request."));
    assert_eq!(r.service_code, "0101");
    assert_eq!(r.service_name.as_deref(), Some("暴露垃圾"));
    assert_eq!(r.agency_responsible.as_deref(), Some("文化东路社区"));
    assert_eq!(r.requested_datetime, w3c::format(c.reported_at));
    assert_eq!(r.updated_datetime, w3c::format(c.reported_at + 60_000));
    assert_eq!((r.lat, r.long), (Some(36.6676), Some(117.0521)));
    let json = serde_json::to_value(&r).unwrap();
    for field in [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
    assert_eq!(json["status"], "closed");
    // Open for every state short of closed and cancelled.
    for s in CaseState::ALL {
        assert_eq!(Status::of(s) == Status::Closed, matches!(s, CaseState::Closed | CaseState::Cancelled));
    }
}

#[test]
fn queries_default_to_ninety_days_and_refuse_malformed_dates() {
    let now = 1_795_000_000_000;
    let q = query(&QueryArgs::default(), Catalog::standard(), "370102", now).unwrap();
    assert_eq!((q.start, q.end), (now - MAX_SPAN_MS, now));
    // The specification's sample URL.
    let args = QueryArgs {
        start_date: "2010-05-24T00:00:00Z".into(),
        end_date: "2010-06-24T00:00:00Z".into(),
        status: "open".into(),
        ..Default::default()
    };
    let q = query(&args, Catalog::standard(), "370102", now).unwrap();
    assert_eq!(q.statuses, [Status::Open]);
    assert_eq!(q.end - q.start, 31 * 86_400_000);
    let bad = |a: QueryArgs| query(&a, Catalog::standard(), "370102", now).unwrap_err();
    let e = bad(QueryArgs { start_date: "2010-05-24".into(), ..Default::default() });
    assert_eq!((e[0].code, e[0].description.starts_with("start_date: ")), (400, true), "{e:?}");
    let e = bad(QueryArgs { end_date: "24/06/2010".into(), status: "pending".into(), ..Default::default() });
    assert_eq!(e.len(), 2, "every error is listed: {e:?}");
    let e = bad(QueryArgs {
        start_date: "2010-01-01T00:00:00Z".into(),
        end_date: "2010-06-01T00:00:00Z".into(),
        ..Default::default()
    });
    assert!(e[0].description.contains("90 days"), "{e:?}");
    let e = bad(QueryArgs { jurisdiction_id: "city.gov".into(), ..Default::default() });
    assert_eq!(e[0].code, 404);
    // service_request_id overrides every other filter.
    let q = query(
        &QueryArgs { service_request_id: "a, b".into(), status: "closed".into(), ..Default::default() },
        Catalog::standard(),
        "370102",
        now,
    )
    .unwrap();
    let mut c = new_case("a", 0);
    assert!(q.matches(&c));
    c.id = "c".into();
    assert!(!q.matches(&c));
}

#[test]
fn only_cases_that_came_through_open311_are_published() {
    let mut c = new_case("x", 0);
    assert!(!is_published(&c));
    c.intake.channel = Some("open311:a1b2c3d4".into());
    assert!(is_published(&c));
}
