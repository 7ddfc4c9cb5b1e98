//! Certificate identities and division codes from arbitrary strings: `Identity::parse_uri` and `Code` parsing
//! never panic, errors name their field, and whatever parses comes back the same from `uri()` / `to_string()`.
#![no_main]

use std::str::FromStr;

use federation::code::{Code, Level};
use federation::identity::Identity;
use libfuzzer_sys::fuzz_target;

fn code(s: &str) {
    let parsed = Code::parse("c", s);
    assert_eq!(parsed.clone().ok(), Code::from_str(s).ok(), "parse and from_str disagree on {s:?}");
    let c = match parsed {
        Ok(c) => c,
        Err(e) => {
            assert!(e.to_string().starts_with("c: "), "{e}");
            return;
        }
    };
    assert_eq!(c.as_str(), s);
    assert_eq!(Code::parse("c", &c.to_string()), Ok(c.clone()));
    assert_eq!(c.level().digits(), s.len());
    assert_eq!(Code::parse_level("c", s, c.level()), Ok(c.clone()));
    assert_eq!(Code::parse_node("c", s).is_ok(), c.level() != Level::Grid);
    match c.parent() {
        None => assert_eq!(c.level(), Level::District),
        Some(p) => {
            assert!(c.is_within(&p) && !p.is_within(&c));
            assert_eq!(p.level().digits() + 3, s.len());
            assert_eq!(p.child("c", &s[p.as_str().len()..]), Ok(c.clone()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Identity::parse_uri("san", text) {
        Ok(id) => {
            assert_eq!(id.uri(), text, "an identity's URI is the text it was parsed from");
            assert_eq!(Identity::parse_uri("san", &id.uri()), Ok(id.clone()));
            assert!(id.covers(&id.code));
        }
        Err(e) => assert!(e.to_string().starts_with("san"), "{e}"),
    }
    code(text);
    // The code part of a URI-like string, and each piece of a comma-separated list.
    if let Some(rest) = text.strip_prefix("gridfed://") {
        code(rest.split('/').next().unwrap_or(rest));
    }
    text.split(',').for_each(code);
});
