//! The `X-Sdk-Date` timestamp: `YYYYMMDDTHHMMSSZ`, always UTC.
//!
//! Formatting and parsing are a few lines of calendar arithmetic, so the signer does not pull a
//! date-time crate into every downstream build.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: u64 = 86_400;

/// Formats `time` as `YYYYMMDDTHHMMSSZ`. `None` before 1970 or after 9999.
pub fn format(time: SystemTime) -> Option<String> {
    let secs = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let (year, month, day) = civil_from_days(secs / SECONDS_PER_DAY);
    if year > 9999 {
        return None;
    }
    let rem = secs % SECONDS_PER_DAY;
    let mut out = *b"00000000T000000Z";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(4, 2, month);
    put(6, 2, day);
    put(9, 2, rem / 3600);
    put(11, 2, rem / 60 % 60);
    put(13, 2, rem % 60);
    // Digits, `T` and `Z`: ASCII.
    std::str::from_utf8(&out).ok().map(str::to_owned)
}

/// Parses exactly `YYYYMMDDTHHMMSSZ`; `None` for anything else, including impossible dates.
pub fn parse(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = &b[range];
        digits.iter().all(u8::is_ascii_digit).then(|| {
            digits
                .iter()
                .fold(0, |acc, d| acc * 10 + u64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if year < 1970 || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `civil_from_days` / `days_from_civil`, restricted to dates from 1970 on.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format(UNIX_EPOCH).unwrap(), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_710_491_730);
        assert_eq!(format(t).unwrap(), "20240315T083530Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_825_599); // 2000-02-29 11:59:59
        assert_eq!(format(leap).unwrap(), "20000229T115959Z");
    }

    #[test]
    fn parse_inverts_format_across_four_centuries() {
        // One instant every ~3.1 days, odd seconds included, up to the year 2370.
        let mut secs = 0u64;
        while secs < 12_650_000_000 {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let text = format(t).unwrap();
            assert_eq!(parse(&text), Some(t), "{text}");
            secs += 270_001;
        }
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        for bad in [
            "",
            "20240315T081530",
            "20240315 081530Z",
            "2024031T5081530Z",
            "20240230T000000Z",
            "20230229T000000Z",
            "20241301T000000Z",
            "20240315T240000Z",
            "20240315T236000Z",
            "19691231T235959Z",
            "20240315T08153aZ",
            "２0240315T081530Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert!(parse("20240229T000000Z").is_some());
    }
}
