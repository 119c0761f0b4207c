//! `login_failures` (PostgreSQL only): the per-username login lockout that
//! every instance on one database shares. A row holds the times of a
//! name's failed (or still unjudged) attempts within the window; a
//! reservation is one upsert that drops the times that left the window and
//! appends now unless the limit is reached, so parallel guesses on
//! different instances cannot outrun it.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use crate::db::DbConnection;

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)]
    attempts: i64,
}

#[derive(QueryableByName)]
struct Wait {
    #[diesel(sql_type = Double)]
    secs: f64,
}

/// Times of the row still in the window (`$3` seconds).
const RECENT: &str = "ARRAY(SELECT t FROM unnest(f.failed_at) AS t \
     WHERE t > now() - make_interval(secs => $3) ORDER BY t)";

/// Reserves one attempt for `name_key`: `None` when reserved, `Some(secs)`
/// until the oldest attempt leaves the window when `max` are in it.
pub fn reserve(
    conn: &mut DbConnection,
    name_key: &str,
    max: i64,
    window_secs: f64,
) -> QueryResult<Option<u64>> {
    let sql = format!(
        "INSERT INTO login_failures AS f (name_key, failed_at) VALUES ($1, ARRAY[now()]) \
         ON CONFLICT (name_key) DO UPDATE \
         SET failed_at = {RECENT} || now() \
         WHERE cardinality({RECENT}) < $2 \
         RETURNING cardinality(f.failed_at)::bigint AS attempts"
    );
    let pg = conn.postgres("failed logins")?;
    let reserved: Option<Reserved> = diesel::sql_query(sql)
        .bind::<Text, _>(name_key)
        .bind::<BigInt, _>(max)
        .bind::<Double, _>(window_secs)
        .get_result(pg)
        .optional()?;
    if reserved.is_some() {
        return Ok(None);
    }
    let wait: Option<Wait> = diesel::sql_query(
        "SELECT COALESCE(EXTRACT(EPOCH FROM (min(t) + make_interval(secs => $2) - now()))::float8, $2) \
             AS secs \
         FROM login_failures, unnest(failed_at) AS t \
         WHERE name_key = $1 AND t > now() - make_interval(secs => $2)",
    )
    .bind::<Text, _>(name_key)
    .bind::<Double, _>(window_secs)
    .get_result(pg)
    .optional()?;
    let secs = wait.map_or(window_secs, |w| w.secs);
    Ok(Some(secs.ceil().max(1.0) as u64))
}

/// Gives back the newest reservation of `name_key` (an attempt whose
/// password was never judged).
pub fn release(conn: &mut DbConnection, name_key: &str) -> QueryResult<()> {
    let pg = conn.postgres("failed logins")?;
    diesel::sql_query(
        "UPDATE login_failures \
         SET failed_at = failed_at[1:cardinality(failed_at) - 1] \
         WHERE name_key = $1",
    )
    .bind::<Text, _>(name_key)
    .execute(pg)?;
    diesel::sql_query(
        "DELETE FROM login_failures WHERE name_key = $1 AND cardinality(failed_at) = 0",
    )
    .bind::<Text, _>(name_key)
    .execute(pg)?;
    Ok(())
}

/// A successful login forgets the name's failures.
pub fn clear(conn: &mut DbConnection, name_key: &str) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM login_failures WHERE name_key = $1")
        .bind::<Text, _>(name_key)
        .execute(conn.postgres("failed logins")?)?;
    Ok(())
}

/// Forgets names whose newest attempt left the window.
pub fn sweep(conn: &mut DbConnection, window_secs: f64) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM login_failures \
         WHERE cardinality(failed_at) = 0 \
            OR failed_at[cardinality(failed_at)] <= now() - make_interval(secs => $1)",
    )
    .bind::<Double, _>(window_secs)
    .execute(conn.postgres("failed logins")?)
}
