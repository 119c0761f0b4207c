//! How timestamps look on the wire: RFC 3339, UTC, exactly six fractional
//! digits and a `Z` (`2026-05-01T12:00:00.123456Z`). Any RFC 3339 offset is
//! accepted on input and converted to UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serializer;

pub fn format(t: &NaiveDateTime) -> String {
    let mut buf = [0u8; LEN];
    match write(t, &mut buf) {
        Some(text) => text.to_string(),
        None => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`
const LEN: usize = 27;

/// The wire form written into `buf` digit by digit, for years 0 to 9999
/// and no leap second (`None` otherwise). chrono's `format` interprets its pattern on every
/// call, and every activity item carries a timestamp: this was 5% of a
/// feed request's CPU time under load.
fn write<'a>(t: &NaiveDateTime, buf: &'a mut [u8; LEN]) -> Option<&'a str> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    // A leap second (nanosecond >= 1e9) is left to chrono.
    let micros = Some(t.nanosecond() / 1_000).filter(|m| *m <= 999_999)?;
    let mut put = |at: usize, value: u32, digits: u32| {
        let mut v = value;
        for i in (0..digits as usize).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    put(20, micros, 6);
    for (at, byte) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        buf[at] = byte;
    }
    std::str::from_utf8(buf).ok()
}

/// Parses an RFC 3339 timestamp into the stored form (UTC, microseconds).
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let parsed = DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(crate::db::truncate_to_micros(
        parsed.with_timezone(&Utc).naive_utc(),
    ))
}

/// `#[serde(serialize_with = "timestamp::serialize")]`
pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; LEN];
    match write(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&format(t)),
    }
}

/// `#[serde(serialize_with = "timestamp::serialize_option")]`
pub fn serialize_option<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

/// `#[serde(serialize_with = "timestamp::serialize_option_option")]`, for
/// a field sent as `null` when the inner value is `None` and left out when
/// the outer one is (`skip_serializing_if = "Option::is_none"`).
pub fn serialize_option_option<S: Serializer>(
    t: &Option<Option<NaiveDateTime>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    serialize_option(&t.flatten(), s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn formats_six_digits_and_z() {
        let t = parse("2026-05-01T14:00:00.1234567+02:00").unwrap();
        assert_eq!(format(&t), "2026-05-01T12:00:00.123456Z");
        let whole = parse("2026-05-01T12:00:00Z").unwrap();
        assert_eq!(format(&whole), "2026-05-01T12:00:00.000000Z");
        assert!(parse("2026-05-01 12:00").is_none());
    }

    #[test]
    fn the_fast_path_writes_what_chrono_writes() {
        use chrono::{Duration, NaiveDate};
        let start = NaiveDate::from_ymd_opt(1, 1, 1)
            .unwrap()
            .and_hms_micro_opt(0, 0, 0, 7)
            .unwrap();
        let mut t = start;
        // Steps of a prime number of microseconds through years 1 to 9999.
        let step = Duration::microseconds(3_155_695_200_000_003 / 20_011);
        while t.year() < 9999 {
            let mut buf = [0u8; LEN];
            assert_eq!(
                write(&t, &mut buf).unwrap(),
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
            t += step;
        }
        let late = NaiveDate::from_ymd_opt(10000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(format(&late), "+10000-01-01T00:00:00.000000Z");
    }
}
