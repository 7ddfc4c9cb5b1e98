//! Missed visits (逾期未走访) and the visit figures, as pure functions of the register at a time.
//!
//! A household is due again `interval` after its last visit (or after it was registered, if never
//! visited), by the day (see `household::Interval::due_day`); it is missed once the Beijing-time day
//! of `now` is past that due day. The list names households by id only: the community's console joins
//! it with the register for names and addresses, and nothing personal is in what may leave. Per the
//! node's [`MissedPolicy`], a visit missed long enough becomes a case for the responsible worker, with
//! a request id that makes it once per missed period (the state machine's deduplication).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::household::{Category, HouseholdId};
use super::visits::{Register, Visit};
use super::worker::WorkerId;
use crate::calendar::Calendar;
use crate::code::Code;
use crate::geo::PlaceCode;
use crate::stats::{day_of, format_day};
use crate::Millis;

/// A household whose visit is overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missed {
    /// The household (its id: no personal data).
    pub household: HouseholdId,
    /// Why it is visited.
    pub category: Category,
    /// Its grid or micro-grid.
    pub place: PlaceCode,
    /// The responsible worker.
    pub worker: WorkerId,
    /// The last visit, if there was one.
    pub last_visit: Option<Millis>,
    /// The last day the visit was due (days since 1970-01-01, Beijing time).
    pub due_day: i64,
    /// How many days late, counted like the interval (working days or calendar days).
    pub late_days: i64,
}

/// Every active household of `register` whose visit is overdue at `now`, by due day then id.
pub fn missed_visits(register: &Register, calendar: &Calendar, now: Millis) -> Vec<Missed> {
    let today = day_of(now);
    let mut out: Vec<Missed> = register
        .households()
        .filter(|h| h.active)
        .filter_map(|h| {
            let last_visit = register.last_visit(&h.id);
            let due_day = h.interval.due_day(calendar, day_of(last_visit.unwrap_or(h.since)));
            (today > due_day).then(|| Missed {
                household: h.id.clone(),
                category: h.category,
                place: h.place.clone(),
                worker: h.worker.clone(),
                last_visit,
                due_day,
                late_days: h.interval.late_days(calendar, due_day, today),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.due_day, &a.household).cmp(&(b.due_day, &b.household)));
    out
}

/// When a missed visit becomes a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MissedPolicy {
    /// A case is reported once a visit is this many counted days late; `None`: never, the overdue
    /// list only. Default 2: a daily visit missed two working days running is a case.
    pub case_after_late_days: Option<u16>,
}

impl Default for MissedPolicy {
    fn default() -> Self {
        MissedPolicy { case_after_late_days: Some(2) }
    }
}

/// A case to report for a missed visit, without personal data (it may be escalated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedCase {
    /// `visit-missed-{household}-{due day}`: one case per household and missed period.
    pub request_id: String,
    /// The unit grid.
    pub grid: Code,
    /// The grid or micro-grid, for dispatch by place.
    pub place: PlaceCode,
    /// 4-digit case category (民生服务, see `Category::case_category`).
    pub category: &'static str,
    /// E.g. 爱心敲门逾期未走访: 独居老人 H370102001001-0042.
    pub title: String,
    /// When it was due, how late, who is responsible.
    pub description: String,
    /// The responsible worker, to dispatch to.
    pub worker: WorkerId,
}

/// The cases `policy` asks for among `missed`.
pub fn missed_cases(missed: &[Missed], policy: &MissedPolicy) -> Vec<MissedCase> {
    let Some(after) = policy.case_after_late_days else {
        return vec![];
    };
    missed
        .iter()
        .filter(|m| m.late_days >= i64::from(after))
        .map(|m| {
            let due = format_day(m.due_day);
            MissedCase {
                request_id: format!("visit-missed-{}-{due}", m.household),
                grid: m.place.grid().clone(),
                place: m.place.clone(),
                category: m.category.case_category(),
                title: format!("爱心敲门逾期未走访: {} {}", m.category.zh(), m.household),
                description: format!(
                    "应于 {due} 前走访, 已逾期 {} 天 (按走访周期计); 责任网格员 {}",
                    m.late_days, m.worker
                ),
                worker: m.worker.clone(),
            }
        })
        .collect()
}

/// Visit figures of a grid or a community: counts only, so they may be rolled up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitFigures {
    /// Active households on the register.
    pub households: u32,
    /// Of those, visited within their interval.
    pub up_to_date: u32,
    /// Of those, overdue.
    pub missed: u32,
}

impl VisitFigures {
    /// Adds `other` (rolling grids up to the community, communities up to the street).
    pub fn add(&mut self, other: &VisitFigures) {
        self.households += other.households;
        self.up_to_date += other.up_to_date;
        self.missed += other.missed;
    }

    /// Visit coverage: up to date / households, from the summed counts (0 with no households).
    pub fn coverage(&self) -> f64 {
        crate::stats::rate(i64::from(self.up_to_date), i64::from(self.households))
    }
}

/// Visit figures per unit grid of `register` at `now`.
pub fn visit_figures(register: &Register, calendar: &Calendar, now: Millis) -> BTreeMap<Code, VisitFigures> {
    let late: BTreeSet<HouseholdId> =
        missed_visits(register, calendar, now).into_iter().map(|m| m.household).collect();
    let mut out: BTreeMap<Code, VisitFigures> = BTreeMap::new();
    for h in register.households().filter(|h| h.active) {
        let f = out.entry(h.place.grid().clone()).or_default();
        f.households += 1;
        if late.contains(&h.id) {
            f.missed += 1;
        } else {
            f.up_to_date += 1;
        }
    }
    out
}

/// Visits made in `[from, to)` per unit grid of their household (households not on `register` are
/// not counted).
pub fn visits_per_grid<'a>(
    register: &Register,
    visits: impl IntoIterator<Item = &'a Visit>,
    from: Millis,
    to: Millis,
) -> BTreeMap<Code, u32> {
    let mut out = BTreeMap::new();
    for v in visits.into_iter().filter(|v| (from..to).contains(&v.at)) {
        if let Ok(h) = register.lookup("household", &v.household) {
            *out.entry(h.place.grid().clone()).or_insert(0) += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::household::Interval;
    use crate::people::replay::{ReplayGuard, ScanPolicy};
    use crate::people::token::KeyRing;
    use crate::people::visits::tests::{by, household, register, staff, SECRET};
    use crate::stats::{day_start, parse_day};

    const HOUR: Millis = 3_600_000;

    fn at(date: &str, hour: i64) -> Millis {
        day_start(parse_day("t", date).unwrap()) + hour * HOUR
    }

    fn workweek() -> Calendar {
        Calendar {
            weekends_off: true,
            holidays: vec!["2026-12-31".into(), "2027-01-01".into()],
            workdays: vec![],
        }
    }

    #[test]
    fn a_daily_visit_on_friday_covers_the_weekend() {
        // Registered Thursday 2026-11-26; visited Friday 10:00.
        let mut reg = register(vec![household(
            1,
            Category::ElderlyAlone,
            "370102001001001-03",
            Interval::DAILY,
            at("2026-11-26", 9),
        )]);
        let ring = KeyRing::new("k1", SECRET).unwrap();
        let hh = reg.households().next().unwrap().id.clone();
        let token = ring.sign(&hh, 1, at("2026-11-26", 9)).unwrap();
        let (mut guard, p, staff) = (ReplayGuard::default(), ScanPolicy::default(), staff());
        let friday = at("2026-11-27", 10);
        reg.scan_in(&ring, &mut guard, &staff, by(2, &token, "fri-visit-000000001", friday), friday, &p)
            .unwrap();

        let cal = workweek();
        assert!(missed_visits(&reg, &cal, at("2026-11-29", 20)).is_empty(), "Sunday: not yet due");
        assert!(missed_visits(&reg, &cal, at("2026-11-30", 23)).is_empty(), "due by the end of Monday");
        let m = missed_visits(&reg, &cal, at("2026-12-01", 8));
        assert_eq!(m.len(), 1);
        assert_eq!(
            (format_day(m[0].due_day).as_str(), m[0].late_days, m[0].last_visit),
            ("2026-11-30", 1, Some(friday))
        );
        // With every day counted (the default calendar), it was due Saturday.
        let m = missed_visits(&reg, &Calendar::default(), at("2026-11-29", 8));
        assert_eq!((format_day(m[0].due_day).as_str(), m[0].late_days), ("2026-11-28", 1));
    }

    #[test]
    fn holidays_extend_the_interval_and_the_policy_makes_a_case() {
        // Registered Monday 2026-12-28. Working days after it: Dec 29, Dec 30, (Dec 31 and Jan 1 are
        // holidays, then the weekend) Jan 4, Jan 5, Jan 6. Twice weekly (3): due Monday Jan 4; weekly
        // (5): due Wednesday Jan 6.
        let reg = register(vec![
            household(1, Category::LeftBehindChild, "370102001001002", Interval::WEEKLY, at("2026-12-28", 9)),
            household(
                2,
                Category::ElderlyAlone,
                "370102001001001-03",
                Interval::TWICE_WEEKLY,
                at("2026-12-28", 9),
            ),
        ]);
        let cal = workweek();
        let m = missed_visits(&reg, &cal, at("2027-01-05", 20));
        assert_eq!(
            m.iter().map(|m| m.household.number()).collect::<Vec<_>>(),
            vec![2],
            "only the twice-weekly one is late"
        );
        let m = missed_visits(&reg, &cal, at("2027-01-08", 9));
        assert_eq!(
            m.iter().map(|m| (m.household.number(), m.late_days)).collect::<Vec<_>>(),
            vec![(2, 4), (1, 2)]
        );

        let c = missed_cases(&m, &MissedPolicy::default());
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].request_id, "visit-missed-H370102001001-0001-2027-01-06");
        assert_eq!((c[1].category, c[1].grid.as_str()), ("2303", "370102001001002"));
        assert_eq!(c[0].title, "爱心敲门逾期未走访: 独居老人 H370102001001-0002");
        assert!(
            !c[0].description.contains("周桂兰") && !c[0].description.contains("山大路"),
            "no personal data"
        );
        assert_eq!(missed_cases(&m, &MissedPolicy { case_after_late_days: Some(3) }).len(), 1);
        assert!(missed_cases(&m, &MissedPolicy { case_after_late_days: None }).is_empty());
    }

    #[test]
    fn figures_are_counts_per_grid() {
        let since = at("2026-11-23", 9);
        let mut reg = register(vec![
            household(1, Category::ElderlyAlone, "370102001001001-03", Interval::DAILY, since),
            household(2, Category::Disabled, "370102001001001", Interval::WEEKLY, since),
            household(3, Category::LowIncome, "370102001001002", Interval::WEEKLY, since),
            household(4, Category::EmptyNest, "370102001001002", Interval::DAILY, since),
        ]);
        let fourth = reg.households().nth(3).unwrap().id.clone();
        reg.deactivate(&fourth).unwrap();
        let f = visit_figures(&reg, &Calendar::default(), at("2026-11-26", 9));
        let g1 = f[&Code::parse("c", "370102001001001").unwrap()];
        assert_eq!(g1, VisitFigures { households: 2, up_to_date: 1, missed: 1 });
        let mut all = VisitFigures::default();
        f.values().for_each(|g| all.add(g));
        assert_eq!(all, VisitFigures { households: 3, up_to_date: 2, missed: 1 });
        assert!((all.coverage() - 2.0 / 3.0).abs() < 1e-9);

        let v = |n: u16, at: Millis| Visit {
            household: reg.households().nth(usize::from(n) - 1).unwrap().id.clone(),
            worker: reg.households().next().unwrap().worker.clone(),
            at,
            note: String::new(),
            point: None,
            by_responsible: true,
        };
        let log = [v(1, since + HOUR), v(3, since + 2 * HOUR), v(3, since + 30 * HOUR)];
        let per = visits_per_grid(&reg, &log, since, since + 24 * HOUR);
        assert_eq!(per.values().copied().collect::<Vec<_>>(), vec![1, 1]);
    }
}
