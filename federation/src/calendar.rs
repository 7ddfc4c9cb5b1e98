//! The working calendar (工作日历): on which days the handling clock runs. Rest days (weekends when
//! `weekends_off`, and listed public holidays) stop it; weekend days worked instead (调休) run it.
//! Days are Beijing-time dates. The default calendar runs the clock every day.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::stats::{day_of, day_start, parse_day};
use crate::Millis;

/// Most dates in each list (a few years of holidays).
pub const MAX_DATES: usize = 400;

/// Which days count for handling deadlines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Calendar {
    /// Saturdays and Sundays are rest days, unless listed in `workdays`.
    pub weekends_off: bool,
    /// Public holidays (`YYYY-MM-DD`): rest days.
    pub holidays: Vec<String>,
    /// Weekend days worked instead of a holiday (调休, `YYYY-MM-DD`): working days.
    pub workdays: Vec<String>,
}

/// Monday is 0, Sunday 6 (1970-01-01, day 0, was a Thursday).
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

impl Calendar {
    /// Checks every date, naming the field (`deadlines.calendar.holidays[2]`, ...).
    pub fn validate(&self, field: &str) -> Result<(), crate::field::FieldError> {
        for (name, list) in [("holidays", &self.holidays), ("workdays", &self.workdays)] {
            if list.len() > MAX_DATES {
                return Err(crate::field::FieldError::new(
                    format!("{field}.{name}"),
                    format!("at most {MAX_DATES} dates"),
                ));
            }
        }
        let holidays = days(&format!("{field}.holidays"), &self.holidays)?;
        let workdays = days(&format!("{field}.workdays"), &self.workdays)?;
        if let Some(i) = workdays.iter().position(|d| holidays.contains(d)) {
            return Err(crate::field::FieldError::new(
                format!("{field}.workdays[{i}]"),
                format!("{} is also listed as a holiday", self.workdays[i]),
            ));
        }
        Ok(())
    }

    /// True when the handling clock runs on `day`.
    pub fn is_working(&self, day: i64) -> bool {
        self.parsed().is_working(day)
    }

    fn parsed(&self) -> Parsed {
        let set = |list: &[String]| list.iter().filter_map(|s| parse_day("", s).ok()).collect();
        Parsed {
            weekends_off: self.weekends_off,
            holidays: set(&self.holidays),
            workdays: set(&self.workdays),
        }
    }

    /// The moment `span` of working time after `from`: time on rest days does not count. A clock that
    /// starts on a rest day starts at the next working day's beginning.
    pub fn add_working(&self, from: Millis, span: Millis) -> Millis {
        if (!self.weekends_off && self.holidays.is_empty()) || span <= 0 {
            return from + span.max(0);
        }
        let cal = self.parsed();
        let (mut t, mut left) = (from, span);
        // Rest days are two in seven at most plus a bounded list of holidays: this ends.
        loop {
            let day = day_of(t);
            let next = day_start(day + 1);
            if cal.is_working(day) {
                if left <= next - t {
                    return t + left;
                }
                left -= next - t;
            }
            t = next;
        }
    }
}

impl Calendar {
    /// Working time between `from` and `to` (zero if `to` is not after `from`).
    pub fn working_between(&self, from: Millis, to: Millis) -> Millis {
        if to <= from {
            return 0;
        }
        if !self.weekends_off && self.holidays.is_empty() {
            return to - from;
        }
        let cal = self.parsed();
        let (mut t, mut sum) = (from, 0);
        while t < to {
            let day = day_of(t);
            let next = day_start(day + 1).min(to);
            if cal.is_working(day) {
                sum += next - t;
            }
            t = next;
        }
        sum
    }
}

/// A calendar with its dates parsed.
struct Parsed {
    weekends_off: bool,
    holidays: BTreeSet<i64>,
    workdays: BTreeSet<i64>,
}

impl Parsed {
    fn is_working(&self, day: i64) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        !(self.holidays.contains(&day) || (self.weekends_off && weekday(day) >= 5))
    }
}

fn days(field: &str, list: &[String]) -> Result<Vec<i64>, crate::field::FieldError> {
    list.iter().enumerate().map(|(i, s)| parse_day(&format!("{field}[{i}]"), s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::parse_day;

    const HOUR: Millis = 3_600_000;
    const DAY_MS: Millis = 24 * HOUR;

    fn at(date: &str, hour: i64) -> Millis {
        day_start(parse_day("t", date).unwrap()) + hour * HOUR
    }

    #[test]
    fn the_default_calendar_runs_every_day() {
        let c = Calendar::default();
        assert_eq!(c.add_working(at("2026-11-28", 10), DAY_MS), at("2026-11-29", 10));
    }

    #[test]
    fn weekends_and_holidays_stop_the_clock_and_make_up_days_run_it() {
        let c = Calendar {
            weekends_off: true,
            holidays: vec!["2026-10-01".into(), "2026-10-02".into()],
            workdays: vec!["2026-10-10".into()],
        };
        // Friday 2026-11-27 10:00 + one day: the weekend does not count; Monday 10:00.
        assert_eq!(c.add_working(at("2026-11-27", 10), DAY_MS), at("2026-11-30", 10));
        // Reported on a Saturday: the clock starts Monday 00:00.
        assert_eq!(c.add_working(at("2026-11-28", 15), 2 * HOUR), at("2026-11-30", 2));
        // Wednesday 2026-09-30 16:00 + two days: Oct 1-2 are holidays, Oct 3-4 the weekend; Oct 6 16:00.
        assert_eq!(c.add_working(at("2026-09-30", 16), 2 * DAY_MS), at("2026-10-06", 16));
        // Saturday 2026-10-10 is a make-up workday.
        assert!(c.is_working(parse_day("t", "2026-10-10").unwrap()));
        assert!(!c.is_working(parse_day("t", "2026-10-11").unwrap()));
    }

    #[test]
    fn bad_dates_are_refused_naming_the_field() {
        let c = Calendar { holidays: vec!["2026-10-01".into(), "2026-13-01".into()], ..Default::default() };
        assert!(c.validate("deadlines.calendar").unwrap_err().field == "deadlines.calendar.holidays[1]");
        let c = Calendar {
            holidays: vec!["2026-10-01".into()],
            workdays: vec!["2026-10-01".into()],
            ..Default::default()
        };
        assert!(c.validate("deadlines.calendar").unwrap_err().field == "deadlines.calendar.workdays[0]");
    }
}
