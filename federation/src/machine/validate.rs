//! Checks of what clients and neighbours send, before anything is written: free text, a new case against
//! the node's rules, an action's fields. Each refusal names the field at fault.

use serde::{Deserialize, Serialize};

use crate::case::{
    Location, Priority, Source, MAX_DESCRIPTION_CHARS, MAX_REQUEST_ID_BYTES, MAX_SHORT_CHARS, MAX_TITLE_CHARS,
};
use crate::code::{Code, Level};
use crate::intake::{check_media_url, photo, Intake, PhotoKind};
use crate::workflow::{self, Step};

use super::command::{invalid, Refusal};
use super::outbox::{community_of, route};
use super::store::Rules;

/// A new case as a client reports it: on a grid, or by place (no grid, a point in `location`, WGS-84),
/// which the state machine locates on the node's grid boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCase {
    /// Client-chosen id that makes a retried report return the first case instead of a second one.
    pub request_id: Option<String>,
    /// The unit grid, or none to locate the case by its point.
    pub grid: Option<Code>,
    /// 4-digit category code; must be in the node's catalogue.
    pub category: String,
    /// How the case came in (patrol, hotline, public, video, from above).
    pub source: Source,
    /// Short summary, required, at most `MAX_TITLE_CHARS` characters.
    pub title: String,
    /// Details, at most `MAX_DESCRIPTION_CHARS` characters; may be empty.
    pub description: String,
    /// Where the problem is; required without a grid (a point to locate it by, or at least an address).
    pub location: Option<Location>,
    /// Who reports it (a name, 市民, a hotline agent), required; the report's actor in the audit trail.
    pub reporter: String,
    /// Urgency; recorded, no deadline depends on it.
    pub priority: Priority,
    /// Who reported it, as the node authenticated the caller (see `AuditEntry::by`); set by the node.
    #[serde(default)]
    pub by: String,
    /// Photos before handling, a media link, the sending system (the micro-grid is the state machine's).
    #[serde(default)]
    pub intake: Intake,
    /// Refuse unless the case's grid lies in this subtree (the scope of the key that sent it).
    #[serde(default)]
    pub within: Option<Code>,
}

/// Checks a free-text field: at most `max` characters, no control characters but newline and tab,
/// and not blank when `required`.
pub fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), Refusal> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(invalid(field, format!("is {n} characters long; at most {max} are allowed")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Checks a short free-text field (note, actor, handler name).
pub fn check_short(field: &str, value: &str, required: bool) -> Result<(), Refusal> {
    check_text(field, value, MAX_SHORT_CHARS, required)
}

/// Checks that a case may be put on `grid` at node `rules.node`: a grid under it, known, whose
/// community a configured child leads to.
pub fn check_grid(grid: &Code, rules: &Rules<'_>) -> Result<(), Refusal> {
    if grid.level() != Level::Grid || grid.is_unassigned_grid() {
        return Err(invalid("grid", format!("{grid} is not a 15-digit grid code")));
    }
    if !grid.is_within(rules.node) {
        return Err(invalid("grid", format!("{grid} is not under node {}", rules.node)));
    }
    if !rules.grids.is_empty() && !rules.grids.contains(grid) {
        return Err(invalid("grid", format!("{grid} is not a known grid under node {}", rules.node)));
    }
    if rules.node.level() != Level::Community && route(rules, &community_of(grid)).is_none() {
        return Err(invalid(
            "grid",
            format!("{grid}: no configured child node of {} leads to its community", rules.node),
        ));
    }
    Ok(())
}

impl NewCase {
    /// The point to locate the case by, when it has both coordinates.
    pub fn point(&self) -> Option<(f64, f64)> {
        let l = self.location.as_ref()?;
        Some((l.lat?, l.lon?))
    }

    /// Checks every field against the node's rules (the grid when one is given); the first problem
    /// is named.
    pub fn validate(&self, rules: &Rules<'_>) -> Result<(), Refusal> {
        if let Some(grid) = &self.grid {
            check_grid(grid, rules)?;
        }
        self.validate_fields(rules)
    }

    /// Checks every field but the grid.
    pub fn validate_fields(&self, rules: &Rules<'_>) -> Result<(), Refusal> {
        if let Some(rid) = &self.request_id {
            if rid.is_empty() || rid.len() > MAX_REQUEST_ID_BYTES || rid.chars().any(char::is_control) {
                return Err(invalid(
                    "request_id",
                    format!("must be 1 to {MAX_REQUEST_ID_BYTES} printable bytes"),
                ));
            }
        }
        if let Some(w) = &self.within {
            if !w.is_within(rules.node) && !rules.node.is_within(w) {
                return Err(invalid("within", format!("{w} is neither above nor below node {}", rules.node)));
            }
        }
        photo::check_new(&self.intake.photos, PhotoKind::Before, &[], rules.intake.photo_max_bytes)?;
        if let Some(url) = &self.intake.media_url {
            check_media_url("media_url", url)?;
        }
        if self.intake.channel.as_ref().is_some_and(|c| c.len() > crate::intake::MAX_CHANNEL_BYTES) {
            return Err(invalid("channel", "too long"));
        }
        if self.grid.is_none()
            && self
                .location
                .as_ref()
                .is_none_or(|l| (l.lat.is_none() || l.lon.is_none()) && l.address.trim().is_empty())
        {
            return Err(invalid(
                "location",
                "a report without a grid needs a point (lat and lon) to be located by, or an address",
            ));
        }
        if let Some(l) = &self.location {
            if l.lat.is_some() != l.lon.is_some() {
                return Err(invalid("location", "lat and lon go together"));
            }
            if l.lat.is_some_and(|v| !v.is_finite()) || l.lon.is_some_and(|v| !v.is_finite()) {
                return Err(invalid("location", "lat and lon must be numbers"));
            }
        }
        if rules.catalog.get(&self.category).is_none() {
            return Err(invalid(
                "category",
                format!("unknown category code {:?}; see `gridnode case categories`", self.category),
            ));
        }
        check_text("title", &self.title, MAX_TITLE_CHARS, true)?;
        check_text("description", &self.description, MAX_DESCRIPTION_CHARS, false)?;
        check_short("reporter", &self.reporter, true)?;
        if let Some(loc) = &self.location {
            check_short("location.address", &loc.address, false)?;
            if let Some(lat) = loc.lat {
                if !(-90.0..=90.0).contains(&lat) {
                    return Err(invalid("location.lat", format!("{lat} is outside -90..90")));
                }
            }
            if let Some(lon) = loc.lon {
                if !(-180.0..=180.0).contains(&lon) {
                    return Err(invalid("location.lon", format!("{lon} is outside -180..180")));
                }
            }
        }
        Ok(())
    }
}

impl Step {
    /// Checks the free-text fields of an action.
    pub fn validate(&self) -> Result<(), Refusal> {
        check_short("actor", &self.actor, true)?;
        check_short("note", &self.note, false)?;
        if let workflow::Action::Dispatch { handler } = &self.action {
            check_short("handler", &handler.name, true)?;
        }
        Ok(())
    }
}
