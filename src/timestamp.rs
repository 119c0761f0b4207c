//! How timestamps look on the wire: RFC 3339, UTC, exactly six fractional
//! digits and a `Z` (`2026-05-01T12:00:00.123456Z`). Any RFC 3339 offset is
//! accepted on input and converted to UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serializer;

pub fn format(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
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
    s.serialize_str(&format(t))
}

/// `#[serde(serialize_with = "timestamp::serialize_option")]`
pub fn serialize_option<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format(t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_six_digits_and_z() {
        let t = parse("2026-05-01T14:00:00.1234567+02:00").unwrap();
        assert_eq!(format(&t), "2026-05-01T12:00:00.123456Z");
        let whole = parse("2026-05-01T12:00:00Z").unwrap();
        assert_eq!(format(&whole), "2026-05-01T12:00:00.000000Z");
        assert!(parse("2026-05-01 12:00").is_none());
    }
}
