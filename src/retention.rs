//! Activity retention: with `ACTIVITY_RETENTION_DAYS` = N > 0, `serve` prunes
//! rows older than N days at start-up and then once a day. Pruning is not an
//! activity and logs no row; it logs a line with the count. `shuffify
//! activity prune` deletes through the same functions, for every user or
//! one ([`PruneScope`]), and counts first with [`count`] for `--dry-run`.
//!
//! On PostgreSQL a prune of every user's rows first drops the monthly
//! partitions wholly older than the cutoff (`db::partitions`), counting
//! their rows, then deletes in batches what is left before the cutoff: the
//! rows of the cutoff's own month and of the DEFAULT partition. A prune of
//! one user's rows deletes in batches only.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::{self, partitions, DbConnection, Pool};
use crate::models::ActivityLog;

/// Rows per prune `DELETE`.
pub const PRUNE_BATCH_SIZE: i64 = 1000;

/// Which rows a prune takes: those older than `cutoff`, of one user or of
/// every user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneScope {
    pub cutoff: NaiveDateTime,
    pub user_id: Option<i64>,
}

/// The cutoff of an age: now minus `age`, in whole seconds (so the time a
/// command prints is exactly the one it used). An age reaching back before
/// year 1 gives year 1's first instant, which no row precedes (and which
/// PostgreSQL, unlike chrono's earliest date, can compare).
pub fn cutoff_for(age: chrono::Duration) -> NaiveDateTime {
    use chrono::Timelike;
    let year_one = chrono::NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN);
    let cutoff = db::now()
        .checked_sub_signed(age)
        .map_or(year_one, |c| c.max(year_one));
    cutoff.with_nanosecond(0).unwrap_or(cutoff)
}

/// How many rows a prune of `scope` would delete now.
pub fn count(conn: &mut DbConnection, scope: &PruneScope) -> QueryResult<u64> {
    ActivityLog::count_before(conn, scope.cutoff, scope.user_id).map(|n| n.max(0) as u64)
}

/// Deletes the rows of `scope`, `batch_size` rows per statement so no
/// single transaction grows large (whole months by dropping their
/// partitions, on PostgreSQL, when every user's rows go); returns the count.
pub fn prune(conn: &mut DbConnection, scope: &PruneScope, batch_size: i64) -> QueryResult<u64> {
    let dropped = match scope.user_id {
        None => partitions::drop_months_before(conn, scope.cutoff)?,
        Some(_) => 0,
    };
    let deleted = ActivityLog::delete_before(conn, scope.cutoff, scope.user_id, batch_size)?;
    Ok(dropped + deleted)
}

/// Deletes every user's rows older than `cutoff`; returns the count.
pub fn prune_before(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    batch_size: i64,
) -> QueryResult<u64> {
    let scope = PruneScope {
        cutoff,
        user_id: None,
    };
    prune(conn, &scope, batch_size)
}

/// Deletes rows older than `age`; returns how many.
pub fn prune_older_than(pool: &Pool, age: chrono::Duration) -> Result<u64, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    prune_before(&mut conn, cutoff_for(age), PRUNE_BATCH_SIZE).map_err(|e| e.to_string())
}

/// Runs forever on the actix runtime; the database work runs off the async
/// threads.
pub async fn run_daily(pool: Pool, days: u32) {
    let age = chrono::Duration::days(i64::from(days));
    let mut ticker = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    loop {
        ticker.tick().await;
        let pool = pool.clone();
        match actix_web::rt::task::spawn_blocking(move || prune_older_than(&pool, age)).await {
            Ok(Ok(count)) => {
                log::info!("retention: pruned {count} activity rows older than {days} days")
            }
            Ok(Err(err)) => log::warn!("retention: prune failed: {err}"),
            Err(err) => log::warn!("retention: prune task failed: {err}"),
        }
    }
}

/// Parses an age such as `90d` or `12h`.
/// Any input gives an age or a message, never a panic: the unit is split
/// off by characters (not bytes), and an age too large to represent is an
/// error.
pub fn parse_age(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let not_an_age = || format!("{text:?} is not an age like 90d or 12h");
    let (number, unit) = match text.char_indices().last() {
        Some((at, unit)) => (&text[..at], unit),
        None => return Err(not_an_age()),
    };
    let n: i64 = number.parse().map_err(|_| not_an_age())?;
    if n < 0 {
        return Err("an age cannot be negative".into());
    }
    let age = match unit {
        'd' => chrono::Duration::try_days(n),
        'h' => chrono::Duration::try_hours(n),
        _ => return Err(not_an_age()),
    };
    age.ok_or_else(|| format!("{text:?} is too long an age"))
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d").unwrap(), chrono::Duration::days(90));
        assert_eq!(parse_age("12h").unwrap(), chrono::Duration::hours(12));
        assert!(parse_age("90").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("-1d").is_err());
    }

    #[test]
    fn odd_ages_are_errors_not_panics() {
        assert!(parse_age("9é").unwrap_err().contains("not an age"));
        assert!(parse_age("é").is_err());
        assert!(parse_age("").is_err());
        assert!(parse_age("999999999999999d")
            .unwrap_err()
            .contains("too long"));
        assert!(parse_age("99999999999999999999d").is_err());
        // Representable, but reaching before the calendar: still an age.
        assert!(parse_age("99999999999d").is_ok());
    }
}
