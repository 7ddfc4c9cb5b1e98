//! Splitting a range of days (Beijing time, as `federation::stats` numbers them) into the periods of a
//! figures export: days, ISO weeks (Monday to Sunday) or calendar months, clipped to the range.

use federation::stats::format_day;

/// How figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Day,
    Week,
    Month,
}

/// One period: its label and its first and last day (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `2026-11-24`, `2026-W48` or `2026-11`.
    pub label: String,
    pub first: i64,
    pub last: i64,
}

/// Day 0 (1970-01-01) was a Thursday: Monday is 0 here.
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// The ISO week label (`2026-W48`) of a day: the year is that of the week's Thursday.
fn iso_week(day: i64) -> String {
    let thursday = day - weekday(day) + 3;
    let year: i64 = format_day(thursday)[..4].parse().unwrap_or(1970);
    let jan1 = first_of(year, 1);
    let week = (thursday - jan1) / 7 + 1;
    format!("{year}-W{week:02}")
}

/// The day number of the first of `month` in `year` (Howard Hinnant's days_from_civil).
fn first_of(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The periods covering `first..=last`.
pub fn split(first: i64, last: i64, by: By) -> Vec<Period> {
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let (label, end) = match by {
            By::Day => (format_day(day), day),
            By::Week => (iso_week(day), day - weekday(day) + 6),
            By::Month => {
                let s = format_day(day);
                let (y, m): (i64, i64) = (s[..4].parse().unwrap_or(1970), s[5..7].parse().unwrap_or(1));
                let next = if m == 12 { first_of(y + 1, 1) } else { first_of(y, m + 1) };
                (s[..7].to_string(), next - 1)
            }
        };
        let end = end.min(last);
        out.push(Period { label, first: day, last: end });
        day = end + 1;
    }
    out
}

/// The whole day, week or month that contains `day`.
pub fn containing(day: i64, by: By) -> Period {
    let start = match by {
        By::Day => day,
        By::Week => day - weekday(day),
        By::Month => {
            let s = format_day(day);
            first_of(s[..4].parse().unwrap_or(1970), s[5..7].parse().unwrap_or(1))
        }
    };
    // A month is at most 31 days: the first period from `start` is the whole one.
    let whole = split(start, start + 31, by).into_iter().next();
    whole.unwrap_or(Period { label: format_day(day), first: day, last: day })
}

/// The period before `p`: the whole day, week or month before it.
pub fn before(p: &Period, by: By) -> Period {
    containing(p.first - 1, by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use federation::stats::parse_day;

    fn d(s: &str) -> i64 {
        parse_day("d", s).unwrap()
    }

    #[test]
    fn months_weeks_and_days_are_clipped_to_the_range() {
        let m = split(d("2026-01-15"), d("2026-03-02"), By::Month);
        let labels: Vec<_> =
            m.iter().map(|p| (p.label.as_str(), format_day(p.first), format_day(p.last))).collect();
        assert_eq!(
            labels,
            vec![
                ("2026-01", "2026-01-15".into(), "2026-01-31".into()),
                ("2026-02", "2026-02-01".into(), "2026-02-28".into()),
                ("2026-03", "2026-03-01".into(), "2026-03-02".into()),
            ]
        );
        // 2026-11-23 is a Monday, in ISO week 48; 2026-01-01 (a Thursday) is in week 1 of 2026.
        let w = split(d("2026-11-21"), d("2026-11-30"), By::Week);
        assert_eq!(
            w.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(),
            ["2026-W47", "2026-W48", "2026-W49"]
        );
        assert_eq!(format_day(w[1].first), "2026-11-23");
        assert_eq!(format_day(w[1].last), "2026-11-29");
        assert_eq!(iso_week(d("2026-01-01")), "2026-W01");
        assert_eq!(iso_week(d("2027-01-01")), "2026-W53");
        assert_eq!(split(d("2026-11-24"), d("2026-11-26"), By::Day).len(), 3);
        assert!(split(d("2026-11-24"), d("2026-11-23"), By::Day).is_empty());
    }

    #[test]
    fn the_period_containing_a_day_and_the_one_before() {
        let w = containing(d("2026-11-25"), By::Week);
        assert_eq!((w.label.as_str(), w.first, w.last), ("2026-W48", d("2026-11-23"), d("2026-11-29")));
        let b = before(&w, By::Week);
        assert_eq!((b.label.as_str(), b.first, b.last), ("2026-W47", d("2026-11-16"), d("2026-11-22")));
        let m = containing(d("2026-03-01"), By::Month);
        assert_eq!((m.label.as_str(), m.first, m.last), ("2026-03", d("2026-03-01"), d("2026-03-31")));
        let b = before(&m, By::Month);
        assert_eq!((b.label.as_str(), b.first, b.last), ("2026-02", d("2026-02-01"), d("2026-02-28")));
        assert_eq!(before(&containing(d("2026-01-10"), By::Month), By::Month).label, "2025-12");
    }
}
