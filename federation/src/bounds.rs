//! Bounds on what crosses an edge, beyond the per-field checks of a new report or an action: case ids
//! and page tokens, cases received from a neighbour (whose every field is checked before it is
//! stored), and the sizes of statistics pushed up. A refusal names the field.

use crate::case::{Case, MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS};
use crate::machine::{check_short, check_text, invalid, Refusal};
use crate::stats::Counters;

/// Longest case id, in bytes (`{12-digit node}-{yyyymmdd}-{seq}`, with room for long sequences).
pub const MAX_CASE_ID_BYTES: usize = 48;
/// Most audit entries a case may carry (a case with more is refused, not cut).
pub const MAX_AUDIT_ENTRIES: usize = 2_000;
/// Most watchers of a case: every level from the grid's community up to the district, and more.
pub const MAX_WATCHERS: usize = 16;
/// Most keys in each breakdown of a counters record (by state, category, grid, department).
pub const MAX_BREAKDOWN_KEYS: usize = 5_000;

/// A case id as the nodes mint them: 1 to [`MAX_CASE_ID_BYTES`] digits and dashes.
pub fn check_case_id(field: &str, id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_CASE_ID_BYTES {
        return Err(invalid(field, format!("must be 1 to {MAX_CASE_ID_BYTES} bytes long")));
    }
    if !id.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(invalid(
            field,
            format!("{id:?} is not a case id (digits and dashes, e.g. 370102001001-20261124-000001)"),
        ));
    }
    Ok(())
}

impl Case {
    /// Checks a case a neighbour sent (escalation, dispatch, status) before it is stored: every
    /// free-text field within its length, and lists within their bounds. `field` prefixes the names.
    pub fn check_received(&self, field: &str) -> Result<(), Refusal> {
        let f = |name: &str| format!("{field}.{name}");
        check_case_id(&f("id"), &self.id)?;
        check_text(&f("title"), &self.title, MAX_TITLE_CHARS, true)?;
        check_text(&f("description"), &self.description, MAX_DESCRIPTION_CHARS, false)?;
        check_short(&f("reporter"), &self.reporter, false)?;
        if let Some(loc) = &self.location {
            check_short(&f("location.address"), &loc.address, false)?;
        }
        if let Some(h) = &self.handler {
            check_short(&f("handler.name"), &h.name, false)?;
        }
        if self.category.len() > 16 {
            return Err(invalid(&f("category"), "is longer than a category code"));
        }
        if self.watchers.len() > MAX_WATCHERS {
            return Err(invalid(&f("watchers"), format!("at most {MAX_WATCHERS}")));
        }
        if self.audit.len() > MAX_AUDIT_ENTRIES {
            return Err(invalid(&f("audit"), format!("at most {MAX_AUDIT_ENTRIES} entries")));
        }
        for (i, a) in self.audit.iter().enumerate() {
            check_short(&f(&format!("audit[{i}].actor")), &a.actor, false)?;
            check_short(&f(&format!("audit[{i}].action")), &a.action, false)?;
            check_short(&f(&format!("audit[{i}].note")), &a.note, false)?;
        }
        self.intake.check_received(&f("intake"))
    }
}

/// Checks the breakdowns of pushed-up counters: bounded key counts and short keys.
pub fn check_counters(field: &str, c: &Counters) -> Result<(), Refusal> {
    for (name, map) in [
        ("by_state", &c.by_state),
        ("by_category", &c.by_category),
        ("by_grid", &c.by_grid),
        ("by_department", &c.by_department),
    ] {
        let name = format!("{field}.{name}");
        if map.len() > MAX_BREAKDOWN_KEYS {
            return Err(invalid(&name, format!("at most {MAX_BREAKDOWN_KEYS} keys")));
        }
        if let Some(k) = map.keys().find(|k| k.is_empty() || k.chars().count() > 64) {
            return Err(invalid(&name, format!("key {k:?} must be 1 to 64 characters")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_digits_and_dashes_of_bounded_length() {
        check_case_id("case_id", "370102001001-20261124-000001").unwrap();
        for bad in ["", "../etc", "370102001001-2026\u{0}", &"1".repeat(MAX_CASE_ID_BYTES + 1)] {
            let err = check_case_id("case_id", bad).unwrap_err().to_string();
            assert!(err.starts_with("case_id:"), "{err}");
        }
    }
}
