//! Days and instants in UTC, with the standard library alone: RFC 3339 timestamps for `observed_at`, `YYYY-MM-DD`
//! days for a range, and the `YYYY/MM/DD` folders of the record. Proleptic Gregorian calendar (Howard Hinnant's
//! civil-from-days and days-from-civil algorithms).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A day, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    /// The day of a civil date, or `None` where the date does not exist.
    pub fn from_civil(year: i64, month: u32, day: u32) -> Option<Self> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            _ => return None,
        };
        if day == 0 || day > days_in_month {
            return None;
        }
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Self(era * 146_097 + doe - 719_468))
    }

    /// (year, month, day).
    pub fn civil(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (yoe + era * 400 + i64::from(month <= 2), month, day)
    }

    /// Reads `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        Self::from_civil(digits(0..4)?, u32::try_from(digits(5..7)?).ok()?, u32::try_from(digits(8..10)?).ok()?)
    }

    /// The day of an RFC 3339 UTC timestamp (its first ten characters).
    pub fn of_timestamp(timestamp: &str) -> Option<Self> {
        Self::parse(timestamp.get(..10)?)
    }

    /// The record's folder for this day: `YYYY/MM/DD`.
    pub fn folder(self) -> String {
        let (y, m, d) = self.civil();
        format!("{y:04}/{m:02}/{d:02}")
    }

    /// The next day.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// An instant as RFC 3339 in UTC, to the second: `2026-11-01T03:00:00Z`.
pub(crate) fn timestamp(seconds_since_epoch: i64) -> String {
    let day = Day(seconds_since_epoch.div_euclid(86_400));
    let second = seconds_since_epoch.rem_euclid(86_400);
    format!("{day}T{:02}:{:02}:{:02}Z", second / 3600, second / 60 % 60, second % 60)
}

/// Now, in UTC, to the second: `2026-11-01T03:00:00Z`.
pub fn now() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    timestamp(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp as [`timestamp`] writes it (a `Z` or `+00:00` offset;
/// fractions of a second ignored).
pub(crate) fn seconds(timestamp: &str) -> Option<i64> {
    let day = Day::of_timestamp(timestamp)?;
    let time = timestamp.get(11..19)?;
    let rest = timestamp.get(19..)?.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if timestamp.as_bytes().get(10) != Some(&b'T') || !matches!(rest, "Z" | "+00:00") {
        return None;
    }
    let parts: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = parts[..] else { return None };
    (h < 24 && m < 60 && s < 61).then_some(day.0 * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_and_write_as_civil_dates() {
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert_eq!(Day::parse("2026-11-29").map(|d| d.to_string()).as_deref(), Some("2026-11-29"));
        assert_eq!(Day::parse("2024-02-29").map(|d| d.next().to_string()).as_deref(), Some("2024-03-01"));
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "26-11-01", "2026-11-01T00", "abcd-ef-gh", ""] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
        assert_eq!(Day::parse("2026-11-01").map(Day::folder).as_deref(), Some("2026/11/01"));
    }

    #[test]
    fn timestamps_are_utc_to_the_second_and_read_back() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_795_910_400 + 3 * 3600 + 61), "2026-11-29T03:01:01Z");
        assert_eq!(seconds("2026-11-29T03:01:01Z"), Some(1_795_910_400 + 3 * 3600 + 61));
        assert_eq!(seconds("2026-11-29T03:01:01.250+00:00"), Some(1_795_910_400 + 3 * 3600 + 61));
        assert_eq!(seconds("2026-11-29T03:01:01+02:00"), None, "only UTC");
        assert_eq!(seconds("2026-11-29 03:01:01Z"), None);
        let now = now();
        assert_eq!(seconds(&now).map(timestamp), Some(now));
    }
}
