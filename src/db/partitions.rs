//! Monthly partitions of `activity_log` on PostgreSQL (docs/architecture.md,
//! "Partitions"); on SQLite every function here does nothing.
//!
//! The table is range-partitioned by month of `created_at`: one partition a
//! month, named `activity_log_pYYYY_MM`, and `activity_log_default`, which
//! takes a row of any month that has no partition (a back-dated import, the
//! demo trail, a restore), so no write ever fails for want of one.
//!
//! [`upkeep`] keeps this month and the [`MONTHS_AHEAD`] after it in place;
//! `serve` runs it at start-up and every `partition_upkeep` (an hour),
//! whatever `SCHEDULER_ENABLED` says, so every instance does it and any one
//! is enough. A month created while the DEFAULT partition holds rows of it
//! takes them in the same transaction: the rows are moved into a new table,
//! which is then attached as the month's partition.
//!
//! [`drop_months_before`] is retention's fast path: a month wholly older
//! than the cutoff is counted and dropped, instead of deleted row by row.
//!
//! Both run under one transaction-scoped advisory lock, keyed by the
//! schema, so two instances (or two tests in their own schemas) never
//! create or drop the same partition at once; and both read the catalog
//! under that lock, so a partition that already exists is simply done.

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::PgConnection;

use super::{DbConnection, Pool};

/// Months after the current one that have their partition ready.
pub const MONTHS_AHEAD: u32 = 3;

/// The partition that takes rows of months with none of their own.
pub const DEFAULT_PARTITION: &str = "activity_log_default";

/// What an upkeep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Upkeep {
    /// The partitions it created, oldest month first.
    pub created: Vec<String>,
    /// Rows it moved out of the DEFAULT partition into them.
    pub moved: u64,
}

/// One partition of `activity_log`: its name, and its months' range
/// (`None` for the DEFAULT partition or a bound this module did not write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub range: Option<(NaiveDateTime, NaiveDateTime)>,
}

/// The first instant of `at`'s month.
pub fn month_start(at: NaiveDateTime) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(at)
}

/// The partition name of the month starting at `month`.
pub fn partition_name(month: NaiveDateTime) -> String {
    format!("activity_log_p{:04}_{:02}", month.year(), month.month())
}

/// Creates the partitions of `now`'s month and the [`MONTHS_AHEAD`] after
/// it that do not exist yet, moving their rows out of the DEFAULT
/// partition. Nothing on SQLite, or while `activity_log` is not
/// partitioned (migrations not yet applied).
pub fn upkeep(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Upkeep> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(Upkeep::default());
    };
    pg.transaction(|pg| {
        if !lock(pg)? {
            return Ok(Upkeep::default());
        }
        let existing = list(pg)?;
        let has_default = existing.iter().any(|p| p.name == DEFAULT_PARTITION);
        let mut done = Upkeep::default();
        let first = month_start(now);
        for ahead in 0..=MONTHS_AHEAD {
            let (Some(from), Some(to)) = (
                first.checked_add_months(Months::new(ahead)),
                first.checked_add_months(Months::new(ahead + 1)),
            ) else {
                break;
            };
            let covered = existing
                .iter()
                .any(|p| p.range.is_some_and(|(lo, hi)| lo < to && from < hi));
            if covered {
                continue;
            }
            done.moved += create_month(pg, from, to, has_default)?;
            done.created.push(partition_name(from));
        }
        Ok(done)
    })
}

/// Drops every partition whose months all lie before `cutoff`, counting its
/// rows first; returns how many rows went. Each partition goes in a
/// transaction of its own, which waits at most a few seconds for the
/// table's lock: one that cannot be dropped now is left to the batched
/// delete that follows (`retention::prune`), which takes its rows anyway.
pub fn drop_months_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<u64> {
    let DbConnection::Postgres(pg) = conn else {
        return Ok(0);
    };
    let old: Vec<String> = list(pg)?
        .into_iter()
        .filter(|p| p.range.is_some_and(|(_, to)| to <= cutoff))
        .map(|p| p.name)
        .collect();
    let mut total = 0;
    for name in old {
        let dropped = pg.transaction(|pg| -> QueryResult<Option<u64>> {
            if !lock(pg)? {
                return Ok(None);
            }
            // Read again under the lock: another instance may have gone first.
            if !list(pg)?.iter().any(|p| p.name == name) {
                return Ok(None);
            }
            diesel::sql_query("SET LOCAL lock_timeout = '5s'").execute(pg)?;
            // The parent first, as writers and PostgreSQL's own drop take
            // them (partition first would deadlock against a writer or a
            // batched delete holding the parent). Writes wait from here,
            // so the count is exactly what the drop removes; reads go on
            // until the drop itself.
            diesel::sql_query("LOCK TABLE activity_log IN SHARE ROW EXCLUSIVE MODE").execute(pg)?;
            let table = quoted(&name);
            let rows = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(pg)?
                .n;
            diesel::sql_query(format!("DROP TABLE {table}")).execute(pg)?;
            Ok(Some(rows.max(0) as u64))
        });
        match dropped {
            Ok(Some(rows)) => total += rows,
            Ok(None) => {}
            Err(err) => log::warn!("retention: partition {name} not dropped ({err}); its rows are deleted in batches instead"),
        }
    }
    Ok(total)
}

/// The partitions of `activity_log` in the current schema (none on SQLite).
pub fn partitions(conn: &mut DbConnection) -> QueryResult<Vec<Partition>> {
    match conn {
        DbConnection::Postgres(pg) => list(pg),
        DbConnection::Sqlite(_) => Ok(Vec::new()),
    }
}

/// Runs [`upkeep`] now, on a connection of `pool`; logs what it did.
pub fn upkeep_now(pool: &Pool) -> Result<Upkeep, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let done = upkeep(&mut conn, super::now()).map_err(|e| e.to_string())?;
    if !done.created.is_empty() {
        log::info!(
            "partitions: created {} (moved {} rows out of {DEFAULT_PARTITION})",
            done.created.join(", "),
            done.moved
        );
    }
    Ok(done)
}

/// Runs [`upkeep`] every `every`, forever, on the actix runtime; the
/// database work runs off the async threads. A failure is logged and
/// tried again next time (the DEFAULT partition takes the rows meanwhile).
pub async fn run_every(pool: Pool, every: std::time::Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let pool = pool.clone();
        match actix_web::rt::task::spawn_blocking(move || upkeep_now(&pool)).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => log::warn!("partitions: upkeep failed: {err}"),
            Err(err) => log::warn!("partitions: upkeep task failed: {err}"),
        }
    }
}

/// A partition's name as an SQL identifier: the catalog may hold one made
/// by hand, under any name.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Kind {
    #[diesel(sql_type = Nullable<Text>)]
    relkind: Option<String>,
}

/// Takes the upkeep's advisory lock, held to the end of the transaction;
/// `false` (and no lock) when `activity_log` is not a partitioned table
/// here. The key is the schema's, since advisory locks are database-wide.
fn lock(pg: &mut PgConnection) -> QueryResult<bool> {
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.activity_log partitions'))",
    )
    .execute(pg)?;
    let kind = diesel::sql_query(
        "SELECT relkind::text AS relkind FROM pg_class WHERE oid = to_regclass('activity_log')",
    )
    .get_result::<Kind>(pg)
    .optional()?;
    Ok(kind.and_then(|k| k.relkind).as_deref() == Some("p"))
}

#[derive(QueryableByName)]
struct Listed {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    bound: String,
}

fn list(pg: &mut PgConnection) -> QueryResult<Vec<Partition>> {
    let rows = diesel::sql_query(
        "SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = to_regclass('activity_log') ORDER BY c.relname",
    )
    .load::<Listed>(pg)?;
    Ok(rows
        .into_iter()
        .map(|row| Partition {
            range: parse_bound(&row.bound),
            name: row.name,
        })
        .collect())
}

/// `FOR VALUES FROM ('2026-12-01 00:00:00') TO ('2027-01-01 00:00:00')`.
fn parse_bound(bound: &str) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let inner = bound
        .strip_prefix("FOR VALUES FROM ('")?
        .strip_suffix("')")?;
    let (from, to) = inner.split_once("') TO ('")?;
    let parse = |t: &str| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok();
    Some((parse(from)?, parse(to)?))
}

/// Creates the partition of `[from, to)`: a table shaped like
/// `activity_log`, filled with that range's rows from the DEFAULT
/// partition, then attached (which builds its indexes and checks its
/// rows). The DEFAULT partition is locked first, so no row of the range
/// can land there between the move and the attach. Returns the rows moved.
fn create_month(
    pg: &mut PgConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    has_default: bool,
) -> QueryResult<u64> {
    let name = partition_name(from);
    let literal = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let mut moved = 0;
    diesel::sql_query(format!(
        "CREATE TABLE {name} (LIKE activity_log INCLUDING DEFAULTS)"
    ))
    .execute(pg)?;
    if has_default {
        // Writers wait at the parent, so a row of this month waiting to be
        // written is routed afresh, into the new partition, once this
        // commits (waiting at the DEFAULT partition instead, it would fail
        // its new constraint there and be lost).
        diesel::sql_query("LOCK TABLE activity_log IN SHARE ROW EXCLUSIVE MODE").execute(pg)?;
        diesel::sql_query(format!(
            "LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE"
        ))
        .execute(pg)?;
        moved = diesel::sql_query(format!(
            "WITH moved AS (DELETE FROM {DEFAULT_PARTITION} \
                 WHERE created_at >= $1 AND created_at < $2 RETURNING *) \
             INSERT INTO {name} SELECT * FROM moved"
        ))
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .execute(pg)? as u64;
    }
    diesel::sql_query(format!(
        "ALTER TABLE activity_log ATTACH PARTITION {name} FOR VALUES FROM ('{}') TO ('{}')",
        literal(from),
        literal(to)
    ))
    .execute(pg)?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(13, 5, 0)
            .unwrap()
    }

    #[test]
    fn months_and_names() {
        assert_eq!(
            month_start(at(2026, 12, 7)),
            at(2026, 12, 1) - chrono::Duration::minutes(13 * 60 + 5)
        );
        assert_eq!(
            partition_name(month_start(at(2027, 3, 31))),
            "activity_log_p2027_03"
        );
        assert_eq!(
            partition_name(month_start(at(1, 1, 1))),
            "activity_log_p0001_01"
        );
    }

    #[test]
    fn bounds_as_postgresql_prints_them() {
        let (from, to) =
            parse_bound("FOR VALUES FROM ('2026-12-01 00:00:00') TO ('2027-01-01 00:00:00')")
                .unwrap();
        assert_eq!(from, month_start(at(2026, 12, 7)));
        assert_eq!(to, month_start(at(2027, 1, 7)));
        assert_eq!(parse_bound("DEFAULT"), None);
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00')"),
            None
        );
    }
}
