//! Deadline policy. The default is Jinan's "7123": register within 7 minutes of the report, then 1 day to
//! handle in the grid, 2 days at the community, 3 days at the street; the district gets 5. Any tier can be
//! overridden per category (4-digit category code). Handling deadlines count working time only, by the
//! node's working calendar (see `calendar`); by default every day counts. `DeadlinePolicy::working_due`
//! is the one place a handling deadline is computed or moved; `workflow` keeps a case's two clocks with
//! it (the step deadline of its current handler, the overall deadline of the case).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::case::HandlerKind;
use crate::Millis;

const MINUTE: Millis = 60_000;
pub(crate) const DAY: Millis = 24 * 60 * MINUTE;

/// Time limits of each step, in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// From report to registration (立案).
    pub register_minutes: i64,
    /// Handling by a grid worker (小事不出网格).
    pub grid_minutes: i64,
    /// Handling by the community.
    pub community_minutes: i64,
    /// Handling by the street office.
    pub street_minutes: i64,
    /// Handling by a department or the district.
    pub department_minutes: i64,
    /// Verification (核查) of a handled case, for its traffic light.
    pub verify_minutes: i64,
    /// Escalate an owned case to the parent node when its handling deadline passes (督办).
    pub auto_escalate: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            register_minutes: 7,
            grid_minutes: DAY / MINUTE,
            community_minutes: 2 * DAY / MINUTE,
            street_minutes: 3 * DAY / MINUTE,
            department_minutes: 5 * DAY / MINUTE,
            verify_minutes: 30,
            auto_escalate: true,
        }
    }
}

impl Limits {
    fn validate(&self, field: &str) -> Result<(), crate::field::FieldError> {
        for (name, v) in [
            ("register_minutes", self.register_minutes),
            ("grid_minutes", self.grid_minutes),
            ("community_minutes", self.community_minutes),
            ("street_minutes", self.street_minutes),
            ("department_minutes", self.department_minutes),
            ("verify_minutes", self.verify_minutes),
        ] {
            if v <= 0 || v > 366 * DAY / MINUTE {
                return Err(crate::field::FieldError::new(
                    format!("{field}.{name}"),
                    format!("{v} is out of range; expected 1 to 527040 minutes"),
                ));
            }
        }
        Ok(())
    }
}

/// The deadline policy of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadlinePolicy {
    /// Limits for every category without an override.
    pub default: Limits,
    /// Per-category limits, keyed by 4-digit category code.
    pub categories: BTreeMap<String, Limits>,
    /// Which days the handling clock runs (weekends, holidays, make-up workdays).
    pub calendar: Calendar,
    /// An extension (延时) may set a deadline at most this many days after the moment it is granted.
    pub max_extension_days: i64,
}

/// The longest extension by default, in days.
pub const MAX_EXTENSION_DAYS: i64 = 90;

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy {
            default: Limits::default(),
            categories: BTreeMap::new(),
            calendar: Calendar::default(),
            max_extension_days: MAX_EXTENSION_DAYS,
        }
    }
}

impl DeadlinePolicy {
    /// The limits that apply to `category` (4-digit code): its override, or the default.
    pub fn limits(&self, category: &str) -> &Limits {
        self.categories.get(category).unwrap_or(&self.default)
    }

    /// When a case reported at `reported_at` must be registered.
    pub fn register_due(&self, category: &str, reported_at: Millis) -> Millis {
        reported_at + self.limits(category).register_minutes * MINUTE
    }

    /// The one place a handling deadline is computed or moved: the moment `span` of working time after
    /// `from`, under the node's working calendar (rest days stop the clock; a clock started on a rest
    /// day starts at the next working day). Every handling deadline goes through it: a dispatch by tier
    /// (`handling_due`) or by a department's own limit, a resumed suspension and an extension
    /// (`moved_by`). Only the 7-minute registration and the 30-minute verification run by the wall clock.
    pub fn working_due(&self, from: Millis, span: Millis) -> Millis {
        self.calendar.add_working(from, span)
    }

    /// `due` moved on by the working time between `from` and `to` (rest days in between count for
    /// nothing). A suspension from `from` to `to` moves the deadlines so; an extension of the step
    /// deadline from `from` to `to` moves the case's overall deadline so.
    pub fn moved_by(&self, due: Millis, from: Millis, to: Millis) -> Millis {
        self.working_due(due, self.calendar.working_between(from, to))
    }

    /// The handling limit of a handler of `kind` for `category`, in milliseconds of working time.
    pub fn handling_limit(&self, category: &str, kind: HandlerKind) -> Millis {
        let l = self.limits(category);
        let minutes = match kind {
            HandlerKind::GridWorker => l.grid_minutes,
            HandlerKind::Community => l.community_minutes,
            HandlerKind::Street => l.street_minutes,
            HandlerKind::Department => l.department_minutes,
        };
        minutes * MINUTE
    }

    /// When a case dispatched at `at` to a handler of `kind` must be handled.
    pub fn handling_due(&self, category: &str, kind: HandlerKind, at: Millis) -> Millis {
        self.working_due(at, self.handling_limit(category, kind))
    }

    /// Checks every limit, naming the field (`deadlines.default.grid_minutes`, ...).
    pub fn validate(&self, field: &str) -> Result<(), crate::field::FieldError> {
        if !(1..=366).contains(&self.max_extension_days) {
            return Err(crate::field::FieldError::new(
                format!("{field}.max_extension_days"),
                format!("{} is out of range; expected 1 to 366", self.max_extension_days),
            ));
        }
        self.default.validate(&format!("{field}.default"))?;
        self.calendar.validate(&format!("{field}.calendar"))?;
        for (cat, limits) in &self.categories {
            if cat.len() != 4 || !cat.bytes().all(|b| b.is_ascii_digit()) {
                return Err(crate::field::FieldError::new(
                    format!("{field}.categories"),
                    format!("{cat:?} is not a 4-digit category code"),
                ));
            }
            limits.validate(&format!("{field}.categories.{cat}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_7123() {
        let p = DeadlinePolicy::default();
        assert_eq!(p.register_due("0101", 0), 7 * MINUTE);
        assert_eq!(p.handling_due("0101", HandlerKind::GridWorker, 0), DAY);
        assert_eq!(p.handling_due("0101", HandlerKind::Community, 0), 2 * DAY);
        assert_eq!(p.handling_due("0101", HandlerKind::Street, 0), 3 * DAY);
    }

    #[test]
    fn per_category_override() {
        let mut p = DeadlinePolicy::default();
        p.categories.insert("0401".into(), Limits { grid_minutes: 120, ..Limits::default() });
        assert_eq!(p.handling_due("0401", HandlerKind::GridWorker, 0), 120 * MINUTE);
        assert_eq!(p.handling_due("0101", HandlerKind::GridWorker, 0), DAY);
        assert!(p.validate("deadlines").is_ok());
        p.categories.insert("x".into(), Limits::default());
        assert!(p.validate("deadlines").unwrap_err().field.starts_with("deadlines.categories"));
    }

    #[test]
    fn handling_deadlines_skip_rest_days_of_the_calendar() {
        let mut p = DeadlinePolicy::default();
        p.calendar.weekends_off = true;
        // Friday 2026-11-27 09:00 Beijing time (01:00 UTC), to a grid worker: due Monday 09:00.
        let friday =
            crate::stats::day_start(crate::stats::parse_day("t", "2026-11-27").unwrap()) + 9 * 60 * MINUTE;
        assert_eq!(p.handling_due("0101", HandlerKind::GridWorker, friday), friday + 3 * DAY);
        // Registration (7 minutes, face to face) is not moved by the calendar.
        assert_eq!(p.register_due("0101", friday), friday + 7 * MINUTE);
        p.calendar.holidays.push("2026-02-30".into());
        assert!(p.validate("deadlines").unwrap_err().field.starts_with("deadlines.calendar.holidays[0]"));
    }

    #[test]
    fn a_suspension_over_a_weekend_moves_the_deadline_by_its_working_time_only() {
        let mut p = DeadlinePolicy::default();
        p.calendar.weekends_off = true;
        let day = |d: &str| crate::stats::day_start(crate::stats::parse_day("t", d).unwrap());
        // Suspended Friday 2026-11-27 12:00 to Monday 2026-11-30 12:00: 12 hours of Friday and 12 of
        // Monday ran, the weekend did not. A deadline of Monday 09:00 moves 24 working hours: Tuesday 09:00.
        let (since, until) = (day("2026-11-27") + 12 * 60 * MINUTE, day("2026-11-30") + 12 * 60 * MINUTE);
        let due = day("2026-11-30") + 9 * 60 * MINUTE;
        assert_eq!(p.moved_by(due, since, until), day("2026-12-01") + 9 * 60 * MINUTE);
        // With every day working it is the wall-clock time suspended: three days.
        assert_eq!(DeadlinePolicy::default().moved_by(due, since, until), due + 3 * DAY);
    }

    #[test]
    fn zero_limit_is_refused_with_its_field() {
        let p =
            DeadlinePolicy { default: Limits { grid_minutes: 0, ..Limits::default() }, ..Default::default() };
        assert!(p.validate("deadlines").unwrap_err().field.starts_with("deadlines.default.grid_minutes"));
    }
}
