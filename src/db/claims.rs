//! Claiming a batch of rows for one instance, in one statement.
//!
//! The scheduler claims due schedules and the webhook worker claims
//! webhooks with work the same way: a row carries `claimed_by` (the
//! instance) and `claimed_until` (when the claim runs out), and one
//! `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING id` takes up to `n`
//! rows that match a condition. On PostgreSQL the candidates are locked
//! `FOR UPDATE SKIP LOCKED`, so instances claiming at once take different
//! rows and none waits on another; a row another instance claimed
//! meanwhile fails the caller's condition once that claim commits. On
//! SQLite the single writer serialises claims.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::{Backend, DbConnection};

/// What to claim. The conditions and the order name the table by
/// `alias`, and may use the statement's parameters: `$1` now, `$2` the
/// instance, `$3` the claim's end, `$4` the limit (written `$N` for both
/// backends; SQLite's are renumbered `?N`).
pub struct Claim<'a> {
    pub table: &'static str,
    pub alias: &'static str,
    /// Which rows may be claimed, on PostgreSQL.
    pub postgres_condition: &'a str,
    /// The same on SQLite (the two differ only where their SQL does).
    pub sqlite_condition: &'a str,
    /// The order rows are claimed in: which go first when more match than
    /// the limit.
    pub order: &'static str,
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Claims up to `limit` rows of `claim` for `instance` until `until`;
/// returns their ids, in no particular order.
pub fn claim_batch(
    conn: &mut DbConnection,
    claim: &Claim<'_>,
    instance: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let ids: Vec<ClaimedId> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(claim_statement(claim, Backend::Postgres))
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(instance)
            .bind::<Timestamp, _>(until)
            .bind::<BigInt, _>(limit)
            .load(pg)?,
        DbConnection::Sqlite(c) => diesel::sql_query(claim_statement(claim, Backend::Sqlite))
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(instance)
            .bind::<Timestamp, _>(until)
            .bind::<BigInt, _>(limit)
            .load(c)?,
    };
    Ok(ids.into_iter().map(|row| row.id).collect())
}

/// The claim's statement as `backend` is sent it.
///
/// On PostgreSQL the candidates' ids come back as an array
/// (`id = ANY(ARRAY(…))`): the subquery then runs once, before the
/// update, which finds its rows by primary key. Written `id IN (…)`,
/// PostgreSQL's generic plan (a prepared statement after its fifth run,
/// which cannot see that the limit is small) joined the candidates to a
/// scan of the whole table: 20 ms a claim at 100,000 schedules, 350 ms
/// under load, which capped the scheduler near 50 runs a second.
pub fn claim_statement(claim: &Claim<'_>, backend: Backend) -> String {
    let Claim {
        table,
        alias: a,
        order,
        ..
    } = claim;
    match backend {
        Backend::Postgres => format!(
            "UPDATE {table} SET claimed_by = $2, claimed_until = $3 WHERE id = ANY(ARRAY(\
             SELECT {a}.id FROM {table} {a} WHERE {condition} ORDER BY {order} \
             LIMIT $4 FOR UPDATE SKIP LOCKED)) RETURNING id",
            condition = claim.postgres_condition
        ),
        Backend::Sqlite => sqlite_parameters(&format!(
            "UPDATE {table} SET claimed_by = $2, claimed_until = $3 WHERE id IN \
             (SELECT {a}.id FROM {table} {a} WHERE {condition} ORDER BY {order} \
              LIMIT $4) RETURNING id",
            condition = claim.sqlite_condition
        )),
    }
}

/// `sql` with PostgreSQL's numbered parameters (`$1`) written as SQLite
/// numbers them (`?1`). Only a `$` followed by a digit is one; the
/// statements here have no `$` inside a string literal.
fn sqlite_parameters(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sqlite_parameters;

    #[test]
    fn renumbers_parameters_and_nothing_else() {
        assert_eq!(
            sqlite_parameters("a = $1 AND b < $12 AND c = '$' AND d = $x"),
            "a = ?1 AND b < ?12 AND c = '$' AND d = $x"
        );
    }
}
