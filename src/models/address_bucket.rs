//! `address_buckets` (PostgreSQL only): the per-address token buckets that
//! every instance on one database shares. Each statement is atomic on its
//! own (an upsert locks its row), so instances racing for one address's
//! last token cannot both have it. Times are the database's, so the
//! instances' clocks never disagree about a refill.

use diesel::prelude::*;
use diesel::sql_types::{Double, Text};

use crate::db::DbConnection;

/// A bucket's rule: at most `burst` tokens, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Refill {
    pub burst: f64,
    pub per_second: f64,
}

#[derive(QueryableByName)]
struct Tokens {
    #[diesel(sql_type = Double)]
    tokens: f64,
}

/// The tokens a row holds now: what it had, plus what time refilled, up
/// to the burst. `$2` is the burst, `$3` the rate.
const REFILLED: &str = "LEAST($2, b.tokens + $3 * GREATEST(0, \
     EXTRACT(EPOCH FROM (now() - b.updated_at))::float8))";

/// Takes one token from `bucket` (a missing row is a full bucket): `true`
/// when one was there to take.
pub fn take(conn: &mut DbConnection, bucket: &str, rule: Refill) -> QueryResult<bool> {
    let sql = format!(
        "INSERT INTO address_buckets AS b (bucket, tokens, updated_at, refill_secs) \
         VALUES ($1, $2 - 1, now(), $2 / $3) \
         ON CONFLICT (bucket) DO UPDATE \
         SET tokens = {REFILLED} - 1, updated_at = GREATEST(b.updated_at, now()), \
             refill_secs = $2 / $3 \
         WHERE {REFILLED} >= 1 \
         RETURNING b.tokens"
    );
    let taken: Option<Tokens> = diesel::sql_query(sql)
        .bind::<Text, _>(bucket)
        .bind::<Double, _>(rule.burst)
        .bind::<Double, _>(rule.per_second)
        .get_result(conn.postgres("address buckets")?)
        .optional()?;
    Ok(taken.is_some())
}

/// Whether `bucket` holds a token now, taking none.
pub fn has_token(conn: &mut DbConnection, bucket: &str, rule: Refill) -> QueryResult<bool> {
    let sql = format!("SELECT {REFILLED} AS tokens FROM address_buckets b WHERE b.bucket = $1");
    let row: Option<Tokens> = diesel::sql_query(sql)
        .bind::<Text, _>(bucket)
        .bind::<Double, _>(rule.burst)
        .bind::<Double, _>(rule.per_second)
        .get_result(conn.postgres("address buckets")?)
        .optional()?;
    Ok(row.is_none_or(|row| row.tokens >= 1.0))
}

/// Forgets buckets that have filled up again since their last use: they
/// mean the same as no row.
pub fn sweep(conn: &mut DbConnection) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM address_buckets \
         WHERE updated_at + make_interval(secs => refill_secs) < now()",
    )
    .execute(conn.postgres("address buckets")?)
}
