//! Checks shared by every record of the people module: short text fields (names, addresses, units,
//! notes) and coordinates. A refusal names the field it came from (`workers[3].name`, `route[17].lat`).

use crate::code::{Code, Level};
use crate::Millis;

/// Longest name of a person, unit or place, in characters (Chinese characters count as one).
pub const MAX_NAME_CHARS: usize = 40;
/// Longest address or note, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// A field whose value is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The field, as the client named it (`name`, `places[2]`, `route[17].lat`).
    pub field: String,
    /// What is wrong with it, for the operator.
    pub reason: String,
}

impl FieldError {
    /// A refusal of `field` for `reason`.
    pub fn new(field: &str, reason: impl Into<String>) -> FieldError {
        FieldError { field: field.to_string(), reason: reason.into() }
    }
}

/// Checks free text: at most `max` characters, no control characters but tab, and not blank when
/// `required`.
pub fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), FieldError> {
    if required && value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(FieldError::new(field, format!("is {n} characters long; at most {max} are allowed")));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(FieldError::new(field, "contains control characters"));
    }
    Ok(())
}

/// Checks a required name (of a person, a unit, a dedicated grid).
pub fn check_name(field: &str, value: &str) -> Result<(), FieldError> {
    check_text(field, value, MAX_NAME_CHARS, true)
}

/// Serializes an id type as its text: `TryFrom<String>` by its `parse`, naming `$field`, and
/// `From<$t> for String` by its `Display`.
macro_rules! id_as_string {
    ($t:ty, $field:literal) => {
        impl TryFrom<String> for $t {
            type Error = $crate::people::field::FieldError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                <$t>::parse($field, &s)
            }
        }

        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.to_string()
            }
        }
    };
}
pub(crate) use id_as_string;

/// Parses one of `all` by its snake_case name or its Chinese label (`names` gives both), trimmed;
/// the refusal names `field` and lists every choice as `网格长 (grid_leader)`. `what` is the noun.
pub fn parse_label<T: Copy>(
    field: &str,
    s: &str,
    what: &str,
    all: &[T],
    names: impl Fn(T) -> (&'static str, &'static str),
) -> Result<T, FieldError> {
    let s = s.trim();
    all.iter().copied().find(|&t| names(t).0 == s || names(t).1 == s).ok_or_else(|| {
        let choices: Vec<String> = all.iter().map(|&t| format!("{} ({})", names(t).1, names(t).0)).collect();
        FieldError::new(field, format!("{s:?} is not a {what}; expected one of {}", choices.join(", ")))
    })
}

/// Parses an id of the form `{prefix}{node code}-{number}` (`W370102001001-007`, `Z370102001-01`):
/// the node that keeps the record, at one of `levels`, then a number of exactly `digits` digits from 1.
/// `example` is quoted in the refusal, which names `field`.
pub fn parse_keyed_id(
    field: &str,
    value: &str,
    (prefix, digits, example): (char, usize, &str),
    levels: &[Level],
) -> Result<(Code, u32), FieldError> {
    let bad = |why: String| FieldError::new(field, format!("{value:?} is not an id: {why}, e.g. {example}"));
    let rest = value.strip_prefix(prefix).ok_or_else(|| bad(format!("it begins with {prefix}")))?;
    let (code, number) = rest.split_once('-').ok_or_else(|| bad("a hyphen precedes the number".into()))?;
    let keeper = Code::parse(field, code).map_err(|_| bad("the keeper is a division code".into()))?;
    if !levels.contains(&keeper.level()) {
        let names: Vec<&str> = levels.iter().map(|l| l.zh()).collect();
        return Err(bad(format!("the keeper is a {} code", names.join(" or "))));
    }
    if number.len() != digits || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("the number is {digits} digits")));
    }
    match number.parse::<u32>() {
        Ok(n) if n > 0 => Ok((keeper, n)),
        _ => Err(bad("numbers run from 1".into())),
    }
}

/// A point reported by a worker's phone: latitude and longitude in degrees, GCJ-02 as Chinese map
/// apps report them (the map converts when it compares; see `geo::crs`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Latitude, -90 to 90.
    pub lat: f64,
    /// Longitude, -180 to 180.
    pub lon: f64,
}

impl Point {
    /// Checks that both coordinates are finite and in range, naming `field.lat` or `field.lon`.
    pub fn check(&self, field: &str) -> Result<(), FieldError> {
        for (name, v, max) in [("lat", self.lat, 90.0), ("lon", self.lon, 180.0)] {
            if !v.is_finite() || v.abs() > max {
                return Err(FieldError::new(&format!("{field}.{name}"), format!("{v} is not within ±{max}")));
            }
        }
        Ok(())
    }
}

/// Checks that `to` is after `from`, naming `field` (an end, a check-out).
pub fn check_after(field: &str, from: Millis, to: Millis) -> Result<(), FieldError> {
    if to <= from {
        return Err(FieldError::new(field, format!("{to} is not after {from}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_checks_name_the_field() {
        check_name("name", "刘晓燕").unwrap();
        assert_eq!(check_name("workers[2].name", " ").unwrap_err().field, "workers[2].name");
        let long = "张".repeat(MAX_NAME_CHARS + 1);
        assert!(check_name("name", &long).unwrap_err().to_string().starts_with("name: is 41 characters"));
        assert!(check_text("note", "a\u{7}b", MAX_TEXT_CHARS, false).is_err());
        check_text("note", "", MAX_TEXT_CHARS, false).unwrap();
    }

    #[test]
    fn points_are_checked_per_coordinate() {
        Point { lat: 36.66, lon: 117.05 }.check("point").unwrap();
        let err = Point { lat: 36.66, lon: f64::NAN }.check("route[4]").unwrap_err();
        assert_eq!(err.field, "route[4].lon");
        assert_eq!(Point { lat: 91.0, lon: 0.0 }.check("p").unwrap_err().field, "p.lat");
        assert!(check_after("end", 10, 10).is_err());
    }

    #[test]
    fn keyed_ids_name_keeper_and_number() {
        let shape = ('H', 4, "H370102001001-0042");
        let (code, n) = parse_keyed_id("id", "H370102001001-0042", shape, &[Level::Community]).unwrap();
        assert_eq!((code.as_str(), n), ("370102001001", 42));
        for bad in
            ["370102001001-0042", "H370102001-0042", "H370102001001-042", "H370102001001-0000", "H3701-0001"]
        {
            let err = parse_keyed_id("households[2].id", bad, shape, &[Level::Community]).unwrap_err();
            assert_eq!(err.field, "households[2].id", "{bad}");
            assert!(err.reason.ends_with("e.g. H370102001001-0042"), "{err}");
        }
    }
}
