//! Time parsing and formatting at the edges. Inside, every time is an exact `DateTime<Utc>`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// `YYYY-MM-DD HH:MM:SS`, the stock CSV time format (UTC).
pub const STOCK_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Formats a time as the stock CSVs write it.
pub fn format_stock(t: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let (y, mo, d) = (t.year(), t.month(), t.day());
    let (h, mi, se) = (t.hour(), t.minute(), t.second());
    if !(0..=9999).contains(&y) {
        return t.format(STOCK_TIME_FORMAT).to_string();
    }
    // Hand-rolled: this runs for every time cell of million-row reports.
    let mut b = [0u8; 19];
    let put = |b: &mut [u8], at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b, 0, y as u32, 4);
    b[4] = b'-';
    put(&mut b, 5, mo, 2);
    b[7] = b'-';
    put(&mut b, 8, d, 2);
    b[10] = b' ';
    put(&mut b, 11, h, 2);
    b[13] = b':';
    put(&mut b, 14, mi, 2);
    b[16] = b':';
    put(&mut b, 17, se, 2);
    String::from_utf8_lossy(&b).into_owned()
}

/// Formats a time as `YYYYMMDD_HHMMSS`, the stamp in output file names.
pub fn format_stamp(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%d_%H%M%S").to_string()
}

/// Parses a time as the stock CSVs and the original tool wrote it, or as ISO-8601:
/// `2026-03-01 14:23:45`, `2026-03-01 14:23:45+00:00`, `2026-03-01 14:23:45.123456+00:00`,
/// `2026-03-01T14:23:45Z`, `2026-03-01T14:23:45.5+02:00`. A time without an offset is UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() == 19 {
        if let Some(t) = parse_canonical(s.as_bytes()) {
            return Some(t);
        }
    }
    if s.len() < 19 || !s.is_char_boundary(10) {
        return None;
    }
    let normalized;
    let s = if s.as_bytes()[10] == b' ' {
        normalized = format!("{}T{}", &s[..10], &s[11..]);
        normalized.as_str()
    } else {
        s
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

/// The fast path for the canonical `YYYY-MM-DD HH:MM:SS` (or `T` separator), digit by digit.
fn parse_canonical(b: &[u8]) -> Option<DateTime<Utc>> {
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(Utc.from_utc_datetime(&time))
}

/// Parses `YYYY-MM-DD` as midnight UTC, or any time [`parse_time`] accepts.
pub fn parse_date_or_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| Utc.from_utc_datetime(&n));
    }
    parse_time(s)
}

/// Finds a `YYYYMMDD_HHMMSS` stamp in a file name such as `iam_audit_report_20260306_120000.csv`.
pub fn stamp_in_file_name(name: &str) -> Option<DateTime<Utc>> {
    let b = name.as_bytes();
    if b.len() < 15 {
        return None;
    }
    // Take the last stamp in the name, so a directory-like prefix never wins.
    (0..=b.len() - 15).rev().find_map(|i| {
        let w = &b[i..i + 15];
        let shape = w.iter().enumerate().all(|(j, c)| {
            if j == 8 {
                *c == b'_'
            } else {
                c.is_ascii_digit()
            }
        });
        let bounded = (i == 0 || !b[i - 1].is_ascii_digit())
            && (i + 15 == b.len() || !b[i + 15].is_ascii_digit());
        if !(shape && bounded) {
            return None;
        }
        let text = std::str::from_utf8(w).ok()?;
        NaiveDateTime::parse_from_str(text, "%Y%m%d_%H%M%S")
            .ok()
            .map(|n| Utc.from_utc_datetime(&n))
    })
}

/// Exact age in days (fractional) of `t` at `as_of`. Negative when `t` is in the future.
pub fn age_days(as_of: &DateTime<Utc>, t: &DateTime<Utc>) -> f64 {
    (*as_of - *t).num_milliseconds() as f64 / 86_400_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_shape() {
        let want = Utc.with_ymd_and_hms(2026, 3, 1, 14, 23, 45).unwrap();
        for s in [
            "2026-03-01 14:23:45",
            "2026-03-01 14:23:45+00:00",
            "2026-03-01T14:23:45Z",
            "2026-03-01T14:23:45+00:00",
            "2026-03-01T16:23:45+02:00",
            " 2026-03-01 14:23:45 ",
        ] {
            assert_eq!(parse_time(s), Some(want), "{s}");
        }
        assert_eq!(format_stock(&want), "2026-03-01 14:23:45");
        let early = Utc.with_ymd_and_hms(7, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_stock(&early), "0007-01-02 03:04:05");
        let frac = parse_time("2026-03-01 14:23:45.250000+00:00").unwrap();
        assert_eq!(format_stock(&frac), "2026-03-01 14:23:45");
        assert_eq!(frac.timestamp_subsec_millis(), 250);
        for bad in [
            "",
            "Nunca",
            "2026-13-01 00:00:00",
            "2026-03-01",
            "01/03/2026 14:23:45",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn finds_the_stamp_in_a_file_name() {
        let t = stamp_in_file_name("out/iam_audit_report_20260306_120000.csv").unwrap();
        assert_eq!(format_stock(&t), "2026-03-06 12:00:00");
        assert_eq!(stamp_in_file_name("report.csv"), None);
        assert_eq!(stamp_in_file_name("x_20261399_120000.csv"), None);
        assert_eq!(format_stamp(&t), "20260306_120000");
    }

    #[test]
    fn ages_are_exact_days() {
        let as_of = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 0).unwrap();
        assert!((age_days(&as_of, &t) - 1.5).abs() < f64::EPSILON);
    }
}
