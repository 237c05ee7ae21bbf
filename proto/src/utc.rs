//! UTC times for people: RFC 3339 with the date, always (a time of day alone is ambiguous on a
//! watch floor that runs across midnight, and in an audit spanning days). One home for the
//! calendar arithmetic, so the CLI, the console and the auditor's report print times alike.

/// `2027-01-15T08:00:00.000Z` for UNIX milliseconds `ms` (proleptic Gregorian calendar).
pub fn rfc3339_ms(ms: u64) -> String {
    let (date, day_ms) = (ms / 86_400_000, ms % 86_400_000);
    let (y, m, d) = civil_from_days(date);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        day_ms / 3_600_000,
        (day_ms / 60_000) % 60,
        (day_ms / 1000) % 60,
        day_ms % 1000
    )
}

/// `2027-01-15 08:00:00Z`: [`rfc3339_ms`] to the second, with a space, for tables.
pub fn utc_seconds(ms: u64) -> String {
    let full = rfc3339_ms(ms);
    format!("{} {}Z", &full[..10], &full[11..19])
}

/// UNIX milliseconds of an RFC 3339 time, as people write them for an incident:
/// `2026-11-15T06:00:00Z`, `2026-11-15T14:00:00+08:00`, `2026-11-15 06:00:00.250Z` (a space for
/// the `T`, fractions of a second to the millisecond). None for anything else, a time before 1970
/// or a date that does not exist (2026-02-30). Leap seconds (`:60`) are refused: the log's clock
/// has none.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u64> {
        let part = b.get(from..from + n)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |acc, d| acc * 10 + u64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (h, mi, s) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo)
        || d == 0
        || d > month_days[usize::try_from(mo - 1).ok()?]
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    let mut at = 19;
    let mut ms = 0;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        // Milliseconds: the first three digits, the rest dropped.
        let frac = &b[start..at.min(start + 3)];
        ms = frac.iter().fold(0, |acc, d| acc * 10 + u64::from(d - b'0')) * 10u64.pow(3 - frac.len() as u32);
    }
    let offset_s: i64 = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 5 && rest[2] == b':' => {
            let (oh, om) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::try_from(oh * 3600 + om * 60).ok()?;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = i64::try_from(days_from_civil(y, mo, d)).ok()?;
    let local_s = days * 86_400 + i64::try_from(h * 3600 + mi * 60 + s).ok()?;
    let utc_s = u64::try_from(local_s - offset_s).ok()?;
    utc_s.checked_mul(1000)?.checked_add(ms)
}

/// Days from 1970-01-01 to a date of 1970 or later (H. Hinnant's `days_from_civil`); dates
/// before 1970 wrap to huge numbers, refused by the caller's conversion.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y.wrapping_sub(1) } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).wrapping_sub(719_468)
}

/// Year, month, day of the `days`-th day after 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_704_067_200_000), "2024-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(rfc3339_ms(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
        assert_eq!(utc_seconds(1_800_000_000_123), "2027-01-15 08:00:00Z");
        // The largest time does not overflow.
        assert!(rfc3339_ms(u64::MAX).ends_with('Z'));
    }

    #[test]
    fn parses_what_it_prints_and_what_people_write() {
        for ms in [0, 951_782_400_000, 1_704_067_200_000, 1_800_000_000_123, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339_ms(ms)), Some(ms), "{}", rfc3339_ms(ms));
        }
        assert_eq!(parse_rfc3339("2026-11-15T06:00:00Z"), Some(1_794_722_400_000));
        assert_eq!(parse_rfc3339("2026-11-15T14:00:00+08:00"), Some(1_794_722_400_000));
        assert_eq!(parse_rfc3339("2026-11-15 01:30:00-04:30"), Some(1_794_722_400_000));
        assert_eq!(parse_rfc3339("2026-11-15t06:00:00.25z"), Some(1_794_722_400_250));
        assert_eq!(parse_rfc3339("2026-11-15T06:00:00.123456Z"), Some(1_794_722_400_123));
        for bad in [
            "",
            "2026-11-15",
            "2026-11-15T06:00Z",
            "2026-11-15T06:00:00",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-15T24:00:00Z",
            "2026-11-15T23:59:60Z",
            "1969-12-31T23:59:59Z",
            "2026-11-15T06:00:00.Z",
            "2026-11-15T06:00:00+8:00",
            "２026-11-15T06:00:00Z",
            "2026-11-15T06:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
    }
}
