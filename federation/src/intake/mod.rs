//! Intake from the outside world, free of I/O: what a case records beyond its core fields (the
//! micro-grid its point lies in, its photos, a reporter's media link, the system that sent it), the
//! node's intake rules (what to do with a point in no grid, how large a photo may be), photos and their
//! checks, the keys of integrating systems, and the Open311 GeoReport v2 mapping.
//!
//! ```text
//! photo     photo metadata, JPEG/PNG header checks, a PNG writer for demos and tests
//! apikey    keys of integrating systems (Open311 `api_key`), stored hashed, scoped, revocable
//! open311   GeoReport v2: services from the catalogue, statuses from the workflow, requests to reports
//! w3c       the W3C date-time format Open311 uses, in Beijing time
//! ```

pub mod apikey;
pub mod open311;
pub mod photo;
pub mod w3c;

use serde::{Deserialize, Serialize};

use crate::geo::PlaceCode;
pub use photo::{Photo, PhotoKind};

/// Longest media link kept (an Open311 `media_url`), in bytes.
pub const MAX_MEDIA_URL_BYTES: usize = 500;
/// Longest channel (the id of the key that sent a report), in bytes.
pub const MAX_CHANNEL_BYTES: usize = 64;

/// What intake recorded about a case beyond its core fields. Every field defaults, so cases stored
/// before it read as having none of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Intake {
    /// The micro-grid (微网格) the reported point lies in, when one does (set by the state machine).
    #[serde(default)]
    pub micro: Option<PlaceCode>,
    /// Photos before and after handling, by hash; their bytes are in the replicas' photo directories.
    #[serde(default)]
    pub photos: Vec<Photo>,
    /// A link to media the reporter gave (Open311 `media_url`), kept as given, never fetched.
    #[serde(default)]
    pub media_url: Option<String>,
    /// The integrating system that sent the report: `open311:<key id>`, or empty.
    #[serde(default)]
    pub channel: Option<String>,
    /// The owning node's name, as the owner last wrote the case (Open311 `agency_responsible`).
    #[serde(default)]
    pub owner_name: String,
    /// The patrol (日巡查) the case was found on, when a grid worker reported it on one: checked by the
    /// state machine against the patrol (open, same grid, same node).
    #[serde(default)]
    pub patrol: Option<crate::people::PatrolId>,
}

/// What a node does with a report whose point lies in no grid it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlocated {
    /// Refuse it, naming the point.
    #[default]
    Refuse,
    /// Keep it at the receiving node as unassigned (待分派) until an operator places it on a grid.
    Park,
}

/// The node's intake rules: the same on every replica (from the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeRules {
    /// The node's name, recorded on cases it owns (Open311 `agency_responsible`).
    pub node_name: String,
    /// What to do with a report whose point lies in no known grid: refuse it (default) or park it.
    pub unlocated: Unlocated,
    /// Largest photo accepted, in bytes.
    pub photo_max_bytes: u64,
}

/// The default rules, for callers that need them for as long as the program runs (tests, tools).
pub static DEFAULT_RULES: IntakeRules = IntakeRules {
    node_name: String::new(),
    unlocated: Unlocated::Refuse,
    photo_max_bytes: photo::DEFAULT_MAX_PHOTO_BYTES,
};

impl Default for IntakeRules {
    fn default() -> Self {
        DEFAULT_RULES.clone()
    }
}

impl Intake {
    /// Checks what a neighbour sent about a case, naming fields under `field`.
    pub fn check_received(&self, field: &str) -> Result<(), crate::machine::Refusal> {
        use crate::machine::invalid;
        if self.photos.len() > photo::MAX_PHOTOS_PER_CASE {
            return Err(invalid(
                &format!("{field}.photos"),
                format!("at most {}", photo::MAX_PHOTOS_PER_CASE),
            ));
        }
        for (i, p) in self.photos.iter().enumerate() {
            p.check(&format!("{field}.photos[{i}]"), photo::ABSOLUTE_MAX_PHOTO_BYTES)?;
        }
        if let Some(url) = &self.media_url {
            check_media_url(&format!("{field}.media_url"), url)?;
        }
        if self.channel.as_ref().is_some_and(|c| c.len() > MAX_CHANNEL_BYTES) {
            return Err(invalid(&format!("{field}.channel"), format!("at most {MAX_CHANNEL_BYTES} bytes")));
        }
        crate::machine::check_short(&format!("{field}.owner_name"), &self.owner_name, false)
    }
}

/// A media link: `http://` or `https://`, printable, at most [`MAX_MEDIA_URL_BYTES`].
pub fn check_media_url(field: &str, url: &str) -> Result<(), crate::machine::Refusal> {
    use crate::machine::invalid;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.len() < 10 {
        return Err(invalid(field, "must be an http:// or https:// link"));
    }
    if url.len() > MAX_MEDIA_URL_BYTES {
        return Err(invalid(field, format!("at most {MAX_MEDIA_URL_BYTES} bytes")));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(field, "must not contain spaces or control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intake_defaults_to_nothing_and_old_cases_read() {
        let i: Intake = serde_json::from_str("{}").unwrap();
        assert_eq!(i, Intake::default());
        assert_eq!(serde_json::to_string(&Unlocated::Park).unwrap(), "\"park\"");
    }

    #[test]
    fn media_links_are_http_and_bounded() {
        check_media_url("media_url", "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg")
            .unwrap();
        for bad in ["ftp://x.example/a.jpg", "javascript:alert(1)", "https://a b.cn/x.jpg", "http://"] {
            assert!(check_media_url("media_url", bad).is_err(), "{bad}");
        }
        let long = format!("https://example.cn/{}", "a".repeat(MAX_MEDIA_URL_BYTES));
        assert!(check_media_url("media_url", &long).unwrap_err().to_string().starts_with("media_url: "));
    }
}
