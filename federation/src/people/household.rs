//! The caring-visit register (爱心敲门台账): households that need regular visits, how often, and who
//! visits them. A household's name, address and phone are residents' personal data: they stay on
//! the community node (see `privacy`); everything that leaves it names the household by its id.
//!
//! ```text
//! H370102001001-0042   household 42 of community 370102001001 (4 digits, never reused)
//! interval   daily = 1 working day · twice_weekly = 3 working days · weekly = 5 working days
//!            "4wd" / 每4个工作日 = every 4 working days · "1d" / 每1天 = every calendar day, rest days included
//! ```
//! Intervals count working days of the node's calendar (`calendar::Calendar`) by default: visits are
//! work done on duty, and a daily visit falls due on each working day, so a visit on Friday covers
//! the weekend when weekends are off. Where someone must be seen on rest days too, the register says
//! so with calendar days (`1d`). With the default calendar (every day a working day) the two agree.
//! "Twice a week" is an interval of 3 working days: Monday and Thursday keep it, and so does any pair
//! of visits no more than 3 working days apart.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::field::{
    check_name, check_text, id_as_string, parse_keyed_id, parse_label, FieldError, MAX_TEXT_CHARS,
};
use super::phone::Phone;
use super::worker::WorkerId;
use crate::calendar::Calendar;
use crate::code::{Code, Level};
use crate::geo::PlaceCode;
use crate::Millis;

/// Longest interval between visits, in days.
pub const MAX_INTERVAL_DAYS: u16 = 92;

/// A household's id: `H`, the community's code, a hyphen, 4 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HouseholdId {
    community: Code,
    number: u16,
}

impl HouseholdId {
    /// Parses `value`, naming `field` in the error.
    pub fn parse(field: &str, value: &str) -> Result<HouseholdId, FieldError> {
        let (community, number) =
            parse_keyed_id(field, value, ('H', 4, "H370102001001-0042"), &[Level::Community])?;
        // Four digits: at most 9999.
        Ok(HouseholdId { community, number: number as u16 })
    }

    /// Household `number` (1-9999) of `community`.
    pub fn new(field: &str, community: &Code, number: u16) -> Result<HouseholdId, FieldError> {
        HouseholdId::parse(field, &format!("H{community}-{number:04}"))
    }

    /// The community that keeps the household.
    pub fn community(&self) -> &Code {
        &self.community
    }

    /// The number within the community.
    pub fn number(&self) -> u16 {
        self.number
    }
}

impl fmt::Display for HouseholdId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "H{}-{:04}", self.community, self.number)
    }
}

id_as_string!(HouseholdId, "household");

/// Why a household needs visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 独居老人: an elderly person living alone.
    ElderlyAlone,
    /// 空巢老人: elderly people whose children live elsewhere.
    EmptyNest,
    /// 残疾人.
    Disabled,
    /// 留守儿童: a child whose parents work elsewhere.
    LeftBehindChild,
    /// 特困人员: without income, ability to work or anyone to support them.
    Destitute,
    /// 低保家庭: on the minimum living allowance.
    LowIncome,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Category::ElderlyAlone,
        Category::EmptyNest,
        Category::Disabled,
        Category::LeftBehindChild,
        Category::Destitute,
        Category::LowIncome,
    ];

    /// The snake_case name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::ElderlyAlone => "elderly_alone",
            Category::EmptyNest => "empty_nest",
            Category::Disabled => "disabled",
            Category::LeftBehindChild => "left_behind_child",
            Category::Destitute => "destitute",
            Category::LowIncome => "low_income",
        }
    }

    /// The Chinese label.
    pub fn zh(self) -> &'static str {
        match self {
            Category::ElderlyAlone => "独居老人",
            Category::EmptyNest => "空巢老人",
            Category::Disabled => "残疾人",
            Category::LeftBehindChild => "留守儿童",
            Category::Destitute => "特困人员",
            Category::LowIncome => "低保家庭",
        }
    }

    /// Parses the snake_case name or the Chinese label, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Category, FieldError> {
        parse_label(field, s, "household category", &Category::ALL, |c| (c.as_str(), c.zh()))
    }

    /// The case category (4-digit code of `data/categories.toml`, 民生服务) of a missed visit.
    pub fn case_category(self) -> &'static str {
        match self {
            Category::ElderlyAlone | Category::EmptyNest => "2301",
            Category::Disabled => "2302",
            Category::LeftBehindChild => "2303",
            Category::Destitute | Category::LowIncome => "2304",
        }
    }
}

/// What an interval counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Working days of the node's calendar: rest days do not count.
    WorkingDays,
    /// Every calendar day counts.
    CalendarDays,
}

/// The longest a household may go without a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    /// How many days (1 to [`MAX_INTERVAL_DAYS`]).
    pub days: u16,
    /// Which days count.
    pub basis: Basis,
}

impl Interval {
    /// 每个工作日: a visit each working day.
    pub const DAILY: Interval = Interval { days: 1, basis: Basis::WorkingDays };
    /// 每周两次: at most 3 working days apart.
    pub const TWICE_WEEKLY: Interval = Interval { days: 3, basis: Basis::WorkingDays };
    /// 每周一次: at most 5 working days apart.
    pub const WEEKLY: Interval = Interval { days: 5, basis: Basis::WorkingDays };

    /// Parses `daily`/`每天`, `twice_weekly`/`每周两次`, `weekly`/`每周`, `Nwd`/`每N个工作日` (N working
    /// days) or `Nd`/`每N天` (N calendar days), naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Interval, FieldError> {
        let s = s.trim();
        match s {
            "daily" | "每天" | "每日" | "每个工作日" => return Ok(Interval::DAILY),
            "twice_weekly" | "每周两次" => return Ok(Interval::TWICE_WEEKLY),
            "weekly" | "每周" | "每周一次" => return Ok(Interval::WEEKLY),
            _ => {}
        }
        let bare = s.strip_prefix('每').unwrap_or(s);
        let (n, basis) = if let Some(n) = bare.strip_suffix("wd").or_else(|| bare.strip_suffix("个工作日"))
        {
            (n, Basis::WorkingDays)
        } else {
            (bare.strip_suffix('d').or_else(|| bare.strip_suffix('天')).unwrap_or("x"), Basis::CalendarDays)
        };
        let interval = n.parse::<u16>().ok().map(|days| Interval { days, basis });
        match interval {
            Some(i) if (1..=MAX_INTERVAL_DAYS).contains(&i.days) => Ok(i),
            _ => Err(FieldError::new(
                field,
                format!(
                    "{s:?} is not a visit interval; expected 每天 (daily), 每周两次 (twice_weekly), 每周 \
                     (weekly), 每N个工作日 (Nwd) or 每N天 (Nd), N from 1 to {MAX_INTERVAL_DAYS}"
                ),
            )),
        }
    }

    /// The Chinese label, as the register's sheet shows it (parsed back by [`Interval::parse`]).
    pub fn zh(self) -> String {
        match (self, self.basis) {
            (Interval::DAILY, _) => "每个工作日".into(),
            (Interval::TWICE_WEEKLY, _) => "每周两次".into(),
            (Interval::WEEKLY, _) => "每周一次".into(),
            (_, Basis::WorkingDays) => format!("每{}个工作日", self.days),
            (_, Basis::CalendarDays) => format!("每{}天", self.days),
        }
    }

    /// The last day (days since 1970-01-01, Beijing time) by which the next visit is due after a visit
    /// on `day`: `days` days later, counting only working days of `calendar` for [`Basis::WorkingDays`].
    pub fn due_day(self, calendar: &Calendar, day: i64) -> i64 {
        match self.basis {
            Basis::CalendarDays => day + i64::from(self.days),
            Basis::WorkingDays => {
                let (mut d, mut counted) = (day, 0);
                // Rest days are at most the weekends plus a bounded list of holidays: this ends.
                while counted < self.days {
                    d += 1;
                    if calendar.is_working(d) {
                        counted += 1;
                    }
                }
                d
            }
        }
    }

    /// How many counted days lie after `due` up to and including `today` (0 when not yet late).
    pub fn late_days(self, calendar: &Calendar, due: i64, today: i64) -> i64 {
        match self.basis {
            Basis::CalendarDays => (today - due).max(0),
            Basis::WorkingDays => (due + 1..=today).filter(|&d| calendar.is_working(d)).count() as i64,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.basis {
            Basis::WorkingDays => write!(f, "{}wd", self.days),
            Basis::CalendarDays => write!(f, "{}d", self.days),
        }
    }
}

/// A household on the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    /// Its id (no personal data).
    pub id: HouseholdId,
    /// Why it is visited.
    pub category: Category,
    /// The person visited (personal data: stays in the community).
    pub name: String,
    /// Address within the grid, e.g. 山大路47号3号楼2单元501 (personal data).
    pub address: String,
    /// Contact number, if any (personal data).
    pub phone: Option<Phone>,
    /// The grid or micro-grid the address lies in.
    pub place: PlaceCode,
    /// How often it is visited.
    pub interval: Interval,
    /// The worker responsible for the visits.
    pub worker: WorkerId,
    /// When it was registered: the first visit falls due as if a visit had been made that day.
    pub since: Millis,
    /// False once taken off the register (moved away, passed away): no longer due.
    pub active: bool,
    /// The serial of its current QR code; a reprinted code (lost, photographed) makes older ones void.
    pub token_serial: u32,
}

impl Household {
    /// Checks the fields that stand on their own (the register checks the place and the worker).
    pub fn check(&self) -> Result<(), FieldError> {
        check_name("name", &self.name)?;
        check_text("address", &self.address, MAX_TEXT_CHARS, true)?;
        if !(1..=MAX_INTERVAL_DAYS).contains(&self.interval.days) {
            return Err(FieldError::new("interval", format!("1 to {MAX_INTERVAL_DAYS} days")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{format_day, parse_day};

    fn day(s: &str) -> i64 {
        parse_day("d", s).unwrap()
    }

    fn workweek() -> Calendar {
        Calendar {
            weekends_off: true,
            holidays: vec!["2026-10-01".into(), "2026-10-02".into(), "2026-10-05".into()],
            workdays: vec!["2026-10-10".into()],
        }
    }

    #[test]
    fn intervals_parse_from_presets_and_counts() {
        assert_eq!(Interval::parse("interval", "每天").unwrap(), Interval::DAILY);
        assert_eq!(Interval::parse("interval", "twice_weekly").unwrap().days, 3);
        let (wd, d) = (Basis::WorkingDays, Basis::CalendarDays);
        for (text, days, basis) in [("4wd", 4, wd), ("1d", 1, d), ("每4个工作日", 4, wd), ("每2天", 2, d)]
        {
            assert_eq!(Interval::parse("interval", text).unwrap(), Interval { days, basis }, "{text}");
        }
        assert_eq!(Interval::parse("interval", "7d").unwrap().to_string(), "7d");
        for text in ["每个工作日", "每周两次", "每周一次", "每4个工作日", "每1天", "每30天"]
        {
            assert_eq!(Interval::parse("interval", text).unwrap().zh(), text);
        }
        for bad in ["", "0d", "93d", "d", "wd", "weekly2", "-1wd", "每年", "每天两次"] {
            assert_eq!(
                Interval::parse("households[0].interval", bad).unwrap_err().field,
                "households[0].interval"
            );
        }
    }

    #[test]
    fn working_day_intervals_skip_weekends_and_holidays() {
        let cal = workweek();
        // Friday 2026-11-27, daily: due Monday; on calendar days, due Saturday.
        assert_eq!(format_day(Interval::DAILY.due_day(&cal, day("2026-11-27"))), "2026-11-30");
        let every_day = Interval { days: 1, basis: Basis::CalendarDays };
        assert_eq!(format_day(every_day.due_day(&cal, day("2026-11-27"))), "2026-11-28");
        // A visit on Saturday (a rest day) counts; the next working day is due.
        assert_eq!(format_day(Interval::DAILY.due_day(&cal, day("2026-11-28"))), "2026-11-30");
        // Twice a week from Monday: Thursday; from Thursday: the next Tuesday.
        assert_eq!(format_day(Interval::TWICE_WEEKLY.due_day(&cal, day("2026-11-23"))), "2026-11-26");
        assert_eq!(format_day(Interval::TWICE_WEEKLY.due_day(&cal, day("2026-11-26"))), "2026-12-01");
        // National Day: Wednesday Sep 30, daily: Oct 1-2 holidays, 3-4 the weekend, 5 a holiday: Oct 6.
        assert_eq!(format_day(Interval::DAILY.due_day(&cal, day("2026-09-30"))), "2026-10-06");
        // Weekly from Friday Oct 9: Saturday Oct 10 is a make-up workday, so 5 working days end Thursday.
        assert_eq!(format_day(Interval::WEEKLY.due_day(&cal, day("2026-10-09"))), "2026-10-15");
        // The default calendar counts every day.
        assert_eq!(
            format_day(Interval::DAILY.due_day(&Calendar::default(), day("2026-11-27"))),
            "2026-11-28"
        );
    }

    #[test]
    fn late_days_count_in_the_interval_basis() {
        let cal = workweek();
        let due = day("2026-11-27");
        assert_eq!(Interval::DAILY.late_days(&cal, due, due), 0);
        assert_eq!(Interval::DAILY.late_days(&cal, due, day("2026-11-29")), 0, "the weekend is not late");
        assert_eq!(Interval::DAILY.late_days(&cal, due, day("2026-12-01")), 2);
        let every_day = Interval { days: 1, basis: Basis::CalendarDays };
        assert_eq!(every_day.late_days(&cal, due, day("2026-12-01")), 4);
    }

    proptest::proptest! {
        #[test]
        fn a_working_day_interval_ends_on_its_nth_working_day(start in 20_000i64..21_000, days in 1u16..=20) {
            let cal = workweek();
            let due = Interval { days, basis: Basis::WorkingDays }.due_day(&cal, start);
            proptest::prop_assert!(cal.is_working(due));
            let counted = (start + 1..=due).filter(|&d| cal.is_working(d)).count();
            proptest::prop_assert_eq!(counted, usize::from(days));
            let interval = Interval { days, basis: Basis::WorkingDays };
            proptest::prop_assert_eq!(interval.late_days(&cal, due, due), 0);
            // A week after: five working days, give or take the holidays and make-up day of the calendar.
            proptest::prop_assert!((2..=6).contains(&interval.late_days(&cal, due, due + 7)));
        }
    }

    #[test]
    fn ids_and_categories() {
        let id = HouseholdId::parse("id", "H370102001001-0042").unwrap();
        assert_eq!((id.community().as_str(), id.number()), ("370102001001", 42));
        assert!(HouseholdId::parse("id", "H370102001-0042").is_err(), "households are kept by communities");
        assert_eq!(Category::parse("category", "留守儿童").unwrap(), Category::LeftBehindChild);
        assert_eq!(Category::parse("category", "elderly_alone").unwrap().case_category(), "2301");
        assert!(Category::parse("households[3].category", "老人")
            .unwrap_err()
            .to_string()
            .starts_with("households[3].category:"));
    }
}
