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
}
