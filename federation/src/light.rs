//! The traffic light (红黄绿灯) of an open case's current step, as platforms show it: green below 80 % of
//! the step's time limit, yellow from 80 % up to the deadline, red past it. Registration (7 minutes, face
//! to face) and verification (30 minutes after the handler reports it done) are timed by the wall clock;
//! handling by working time under the node's calendar, over the current handler's step: from its dispatch
//! (`dispatched_at`) to its step deadline (`due_at`), which a dispatch to a new handler restarts together
//! (see `workflow`). The case's overall deadline, by which its closure is judged, does not colour it. A
//! case whose clock does not run (closed, cancelled, suspended, or registered and not yet dispatched) has
//! no light.

use crate::case::{Case, CaseState};
use crate::deadline::DeadlinePolicy;
use crate::Millis;

/// The colour of a step's light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Light {
    /// 绿: less than 80 % of the step's time limit used.
    Green,
    /// 黄: 80 % of the limit used or more, the deadline not yet passed.
    Yellow,
    /// 红: past the step's deadline.
    Red,
}

impl Light {
    /// `green`, `yellow` or `red`, as the API and the CLI name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Light::Green => "green",
            Light::Yellow => "yellow",
            Light::Red => "red",
        }
    }

    /// Parses `green`, `yellow` or `red`, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Light, crate::field::FieldError> {
        [Light::Green, Light::Yellow, Light::Red].into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            crate::field::FieldError::new(
                field,
                format!("{s:?} is not a light; expected green, yellow or red"),
            )
        })
    }

    /// 绿, 黄 or 红.
    pub fn zh(self) -> &'static str {
        match self {
            Light::Green => "绿",
            Light::Yellow => "黄",
            Light::Red => "红",
        }
    }

    /// The colour after `used` of a step that allows `allowed`.
    fn of(used: Millis, allowed: Millis) -> Light {
        if used > allowed {
            Light::Red
        } else if used * 5 >= allowed * 4 {
            Light::Yellow
        } else {
            Light::Green
        }
    }
}

impl Case {
    /// The light of the case's current step at `now` under `policy`, or None when no clock runs.
    pub fn light(&self, now: Millis, policy: &DeadlinePolicy) -> Option<Light> {
        match self.state {
            CaseState::Reported => {
                Some(Light::of(now - self.reported_at, self.register_due - self.reported_at))
            }
            CaseState::Dispatched | CaseState::Handling => {
                let (start, due) = (self.dispatched_at?, self.due_at?);
                let cal = &policy.calendar;
                Some(Light::of(cal.working_between(start, now), cal.working_between(start, due).max(1)))
            }
            CaseState::Handled => {
                let verify = policy.limits(&self.category).verify_minutes * 60_000;
                Some(Light::of(now - self.handled_at?, verify))
            }
            CaseState::Registered | CaseState::Suspended | CaseState::Closed | CaseState::Cancelled => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::stats::{day_start, parse_day};
    use crate::workflow::tests::new_case;

    fn policy(calendar: Calendar) -> DeadlinePolicy {
        DeadlinePolicy { calendar, ..Default::default() }
    }

    const MIN: Millis = 60_000;
    const HOUR: Millis = 60 * MIN;

    #[test]
    fn registration_is_green_yellow_then_red_by_the_wall_clock() {
        let c = new_case("c1", 0);
        let cal = policy(Calendar::default());
        assert_eq!(c.light(MIN, &cal), Some(Light::Green));
        assert_eq!(c.light(6 * MIN, &cal), Some(Light::Yellow));
        assert_eq!(c.light(8 * MIN, &cal), Some(Light::Red));
    }

    #[test]
    fn handling_counts_working_time_only() {
        let friday = day_start(parse_day("t", "2026-11-27").unwrap()) + 9 * HOUR;
        let mut c = new_case("c1", friday);
        c.state = CaseState::Dispatched;
        c.dispatched_at = Some(friday);
        let cal = policy(Calendar { weekends_off: true, ..Default::default() });
        c.due_at = Some(cal.calendar.add_working(friday, 24 * HOUR)); // Monday 09:00
                                                                      // Sunday evening: only Friday's 15 hours have run (62 %): green, where the wall clock says yellow.
        let sunday = friday + 2 * 24 * HOUR + 10 * HOUR;
        assert_eq!(c.light(sunday, &cal), Some(Light::Green));
        assert_eq!(c.light(sunday, &policy(Calendar::default())), Some(Light::Yellow));
        // Monday 06:00: 21 of 24 hours (87 %): yellow; Monday 10:00: red.
        assert_eq!(c.light(friday + 3 * 24 * HOUR - 3 * HOUR, &cal), Some(Light::Yellow));
        assert_eq!(c.light(friday + 3 * 24 * HOUR + HOUR, &cal), Some(Light::Red));
        // Handled: the 30-minute verification clock, by the wall clock.
        c.state = CaseState::Handled;
        c.handled_at = Some(sunday);
        assert_eq!(c.light(sunday + 20 * MIN, &cal), Some(Light::Green));
        assert_eq!(c.light(sunday + 25 * MIN, &cal), Some(Light::Yellow));
        assert_eq!(c.light(sunday + 31 * MIN, &cal), Some(Light::Red));
        c.state = CaseState::Suspended;
        assert_eq!(c.light(sunday, &cal), None);
    }

    #[test]
    fn working_between_inverts_add_working() {
        let cal = Calendar { weekends_off: true, holidays: vec!["2026-10-01".into()], ..Default::default() };
        let from = day_start(parse_day("t", "2026-09-30").unwrap()) + 13 * HOUR;
        for span in [0, MIN, 11 * HOUR, 24 * HOUR, 3 * 24 * HOUR + 7 * MIN] {
            assert_eq!(cal.working_between(from, cal.add_working(from, span)), span);
        }
    }
}
