//! A timestamp bound into a statement without chrono's pattern
//! interpreter.
//!
//! diesel binds a `NaiveDateTime` on SQLite as `format("%F %T%.f")`, which
//! interprets its pattern on every call; a keyset page binds four of them
//! (its lower bound and the cursor's time three times), a tenth of the
//! page's time in process. [`StoredTime`] writes the same text digit by
//! digit (fractional digits as `%.f` writes them: none, 3, 6 or 9), so
//! what is compared is unchanged; PostgreSQL gets chrono's binary form as
//! before.
//!
//! Reading is the mirror image: diesel parses a stored SQLite timestamp by
//! trying chrono patterns in turn, about a tenth of a recent-20 read's time
//! in process (every activity row, session and user carries one). A field
//! marked `#[diesel(deserialize_as = StoredTime)]` reads the text this
//! service writes digit by digit and leaves any other form to diesel.

use chrono::{Datelike, NaiveDateTime, Timelike};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteType};

use super::MultiBackend;

/// A `NaiveDateTime` to bind as a `Timestamp`, or to read as one.
#[derive(Debug, Clone, Copy, AsExpression, FromSqlRow)]
#[diesel(sql_type = Timestamp)]
pub struct StoredTime(pub NaiveDateTime);

impl From<StoredTime> for NaiveDateTime {
    fn from(t: StoredTime) -> Self {
        t.0
    }
}

/// The time in `text` when it is exactly what [`sqlite_text`] writes
/// (`YYYY-MM-DD HH:MM:SS`, then `.` and one to nine digits or nothing);
/// `None` for any other form, which chrono's patterns then read.
fn parse_sqlite_text(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    for (at, sep) in [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')] {
        if b[at] != sep {
            return None;
        }
    }
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20, b.len())? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_nano_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        nanos,
    )
}

impl FromSql<Timestamp, Sqlite> for StoredTime {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        if value.value_type() == Some(SqliteType::Text) {
            if let Some(t) = parse_sqlite_text(value.read_text()) {
                return Ok(StoredTime(t));
            }
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(StoredTime)
    }
}

impl FromSql<Timestamp, Pg> for StoredTime {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(StoredTime)
    }
}

impl FromSql<Timestamp, MultiBackend> for StoredTime {
    fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<StoredTime, Timestamp>()
    }
}

/// SQLite's text of `t`, exactly as diesel's `%F %T%.f` writes it; `None`
/// for a year outside 0–9999 or a leap second, left to chrono.
fn sqlite_text(t: &NaiveDateTime) -> Option<String> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = Some(t.nanosecond()).filter(|n| *n < 1_000_000_000)?;
    let mut out = String::with_capacity(29);
    put(&mut out, year, 4);
    for (sep, value) in [
        ('-', t.month()),
        ('-', t.day()),
        (' ', t.hour()),
        (':', t.minute()),
        (':', t.second()),
    ] {
        out.push(sep);
        put(&mut out, value, 2);
    }
    if nanos != 0 {
        out.push('.');
        if nanos % 1_000_000 == 0 {
            put(&mut out, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            put(&mut out, nanos / 1_000, 6);
        } else {
            put(&mut out, nanos, 9);
        }
    }
    Some(out)
}

/// The last `digits` decimal digits of `value`, zero-padded.
fn put(out: &mut String, value: u32, digits: u32) {
    for i in (0..digits).rev() {
        out.push(char::from(b'0' + (value / 10u32.pow(i) % 10) as u8));
    }
}

impl ToSql<Timestamp, Sqlite> for StoredTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> diesel::serialize::Result {
        match sqlite_text(&self.0) {
            Some(text) => out.set_value(text),
            None => return ToSql::<Timestamp, Sqlite>::to_sql(&self.0, out),
        }
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for StoredTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
        ToSql::<Timestamp, Pg>::to_sql(&self.0, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Times with none, 3, 6 and 9 fractional digits, midnight and the
    /// day's last second.
    fn samples() -> Vec<NaiveDateTime> {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        [
            (0, 0, 0, 0),
            (23, 59, 59, 120_000_000),
            (7, 5, 3, 123_456_000),
            (12, 0, 1, 1_000),
            (1, 2, 3, 123_456_789),
        ]
        .into_iter()
        .map(|(h, m, s, nanos)| day.and_hms_nano_opt(h, m, s, nanos).unwrap())
        .collect()
    }

    #[test]
    fn writes_what_diesel_writes() {
        for t in samples() {
            assert_eq!(
                sqlite_text(&t).unwrap(),
                t.format("%F %T%.f").to_string(),
                "{t:?}"
            );
        }
        let epoch = chrono::DateTime::UNIX_EPOCH.naive_utc();
        assert_eq!(sqlite_text(&epoch).unwrap(), "1970-01-01 00:00:00");
    }

    #[test]
    fn reads_what_it_writes_and_what_chrono_reads() {
        for t in samples() {
            assert_eq!(
                parse_sqlite_text(&sqlite_text(&t).unwrap()),
                Some(t),
                "{t:?}"
            );
        }
        // Fewer fractional digits than a whole group, as `%.f` reads them.
        for text in [
            "2026-03-09 07:05:03.5",
            "2026-03-09 07:05:03.12",
            "0001-01-01 00:00:00",
        ] {
            let chrono = NaiveDateTime::parse_from_str(text, "%F %T%.f").unwrap();
            assert_eq!(parse_sqlite_text(text), Some(chrono), "{text}");
        }
        // Anything else is left to chrono's patterns.
        for text in [
            "2026-03-09T07:05:03",
            "2026-03-09 07:05",
            "2026-02-30 07:05:03",
            "2026-03-09 24:00:00",
            "2026-03-09 07:05:03.",
            "2026-03-09 07:05:03.1234567890",
            "2026-03-09 07:05:03Z",
            "+026-03-09 07:05:03",
            "2459000.5",
            "",
        ] {
            assert_eq!(parse_sqlite_text(text), None, "{text}");
        }
    }
}
