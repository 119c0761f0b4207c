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

use chrono::{Datelike, NaiveDateTime, Timelike};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

/// A `NaiveDateTime` to bind as a `Timestamp`.
#[derive(Debug, Clone, Copy, AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct StoredTime(pub NaiveDateTime);

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

    #[test]
    fn writes_what_diesel_writes() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        for (h, m, s, nanos) in [
            (0, 0, 0, 0),
            (23, 59, 59, 120_000_000),
            (7, 5, 3, 123_456_000),
            (12, 0, 1, 1_000),
            (1, 2, 3, 123_456_789),
        ] {
            let t = day.and_hms_nano_opt(h, m, s, nanos).unwrap();
            assert_eq!(
                sqlite_text(&t).unwrap(),
                t.format("%F %T%.f").to_string(),
                "{t:?}"
            );
        }
        let epoch = chrono::DateTime::UNIX_EPOCH.naive_utc();
        assert_eq!(sqlite_text(&epoch).unwrap(), "1970-01-01 00:00:00");
    }
}
