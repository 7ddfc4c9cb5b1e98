//! Date-times as Open311 exchanges them: the W3C profile of ISO 8601 with a time zone
//! (`2010-01-01T00:00:00Z`, `1994-11-05T08:15:30-05:00`). gridfed writes them in Beijing time
//! (`+08:00`) and reads any offset; a date-time without a time zone is refused, as the specification
//! requires one.

use crate::stats::{day_of, day_start, format_day, parse_day};
use crate::Millis;

const CST_OFFSET_MS: Millis = 8 * 3_600_000;

/// `at` as `YYYY-MM-DDThh:mm:ss+08:00`.
pub fn format(at: Millis) -> String {
    let day = day_of(at);
    let ms = at - day_start(day);
    let s = ms / 1000;
    format!("{}T{:02}:{:02}:{:02}+08:00", format_day(day), s / 3600, s / 60 % 60, s % 60)
}

/// Parses `YYYY-MM-DDThh:mm[:ss[.fraction]]` followed by `Z` or `±hh:mm`, naming `field` in the error.
pub fn parse(field: &str, s: &str) -> Result<Millis, String> {
    let bad = || {
        format!(
            "{field}: {s:?} is not a W3C date-time with a time zone (e.g. 2010-01-01T00:00:00Z or \
             2026-11-24T08:30:00+08:00)"
        )
    };
    let (date, rest) = s.split_once('T').ok_or_else(bad)?;
    let day = parse_day(field, date).map_err(|_| bad())?;
    let (time, offset_ms) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else {
        let at = rest.rfind(['+', '-']).ok_or_else(bad)?;
        let (t, tz) = rest.split_at(at);
        let sign = if tz.starts_with('-') { -1 } else { 1 };
        let (h, m) = tz[1..].split_once(':').ok_or_else(bad)?;
        let (h, m) = (two_digits(h).ok_or_else(bad)?, two_digits(m).ok_or_else(bad)?);
        if h > 14 || m > 59 {
            return Err(bad());
        }
        (t, sign * (h * 3_600_000 + m * 60_000))
    };
    let mut parts = time.splitn(3, ':');
    let h = parts.next().and_then(two_digits).ok_or_else(bad)?;
    let m = parts.next().and_then(two_digits).ok_or_else(bad)?;
    let (sec, frac_ms) = match parts.next() {
        None => (0, 0),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let whole = two_digits(whole).ok_or_else(bad)?;
            if !frac.bytes().all(|b| b.is_ascii_digit()) || (sec.contains('.') && frac.is_empty()) {
                return Err(bad());
            }
            let ms = format!("{frac:0<3}")[..3].parse::<i64>().map_err(|_| bad())?;
            (whole, ms)
        }
    };
    if h > 23 || m > 59 || sec > 59 {
        return Err(bad());
    }
    // day_start is Beijing midnight; the clock time is at `offset` from UTC.
    let utc_midnight = day_start(day) + CST_OFFSET_MS;
    Ok(utc_midnight + (h * 3600 + m * 60 + sec) * 1000 + frac_ms - offset_ms)
}

fn two_digits(s: &str) -> Option<i64> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_examples_are_the_same_instant() {
        // "1994-11-05T08:15:30-05:00 corresponds to November 5, 1994, 8:15:30 am, US Eastern Standard
        // Time. 1994-11-05T13:15:30Z corresponds to the same instant."
        let a = parse("start_date", "1994-11-05T08:15:30-05:00").unwrap();
        let b = parse("start_date", "1994-11-05T13:15:30Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, 784_041_330_000);
        assert_eq!(format(b), "1994-11-05T21:15:30+08:00");
        assert_eq!(parse("d", &format(b)).unwrap(), b);
        assert_eq!(parse("d", "2010-01-01T00:00:00Z").unwrap(), 1_262_304_000_000);
        assert_eq!(parse("d", "2010-01-01T00:00Z").unwrap(), 1_262_304_000_000);
        assert_eq!(parse("d", "2010-01-01T00:00:00.25Z").unwrap(), 1_262_304_000_250);
    }

    #[test]
    fn malformed_dates_name_the_field() {
        for bad in [
            "",
            "2010-01-01",
            "2010-01-01T00:00:00",
            "2010-13-01T00:00:00Z",
            "2010-01-01T24:00:00Z",
            "2010-01-01 00:00:00Z",
            "01/01/2010",
            "2010-01-01T00:00:00+0800",
            "2010-01-01T00:00:00.Z",
            "yesterday",
        ] {
            let e = parse("end_date", bad).unwrap_err();
            assert!(e.starts_with("end_date: "), "{bad}: {e}");
        }
    }
}
