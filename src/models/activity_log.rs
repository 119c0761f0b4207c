//! `activity_log`: the append-only trail. Rows are written only through
//! `ActivityLogService` (in `services/`), which owns the never-fail policy;
//! this module holds the row and insert structs and the statements on this
//! table, including the per-day count, whose SQL is literal. The rows themselves are built in `activity_rows`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Text};
use serde::Serialize;

use crate::db::schema::activity_log;
use crate::db::{self, DbConnection, Json, RawJson};
use crate::enums::{ActivityType, ActorType};
use crate::models::User;

/// One row, serialized exactly as an activity item of docs/api.md.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[schema(as = ActivityItem, example = json!({
    "id": 3, "activity_type": "shuffle", "description": "Shuffled \"Road Trip\" with Tempo gradient",
    "playlist_id": "XiZ9cSNar5OCsS1r8dQ7bR", "playlist_name": "Road Trip",
    "actor_type": "user", "actor_name": "alice",
    "metadata": {"algorithm": "tempo_gradient", "params": {"direction": "descending"},
                 "snapshot_id": 1, "track_count": 2},
    "created_at": "2026-12-04T03:32:08.773202Z",
    "context": {"request_id": "5f0c6e1b9a2d4c7e8b3a1f6d0e9c2b4a", "ip_address": "203.0.113.5",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "session_id": 12}
}))]
#[diesel(table_name = activity_log)]
pub struct ActivityLog {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub activity_type: ActivityType,
    pub description: String,
    #[schema(required = true)]
    pub playlist_id: Option<String>,
    #[schema(required = true)]
    pub playlist_name: Option<String>,
    pub actor_type: ActorType,
    #[schema(required = true)]
    pub actor_name: Option<String>,
    /// Small structured context of the action (docs/api.md, "Reading your trail"); never secrets.
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>, required = true)]
    pub metadata: Option<RawJson>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    #[diesel(deserialize_as = crate::db::StoredTime)]
    pub created_at: NaiveDateTime,
    /// Where the action came from: the request that wrote the row; `null`
    /// for rows no request wrote (the scheduler's, the command line's).
    #[diesel(embed)]
    #[serde(serialize_with = "ActivityContext::serialize_or_null")]
    #[schema(value_type = Option<ActivityContext>, required = true)]
    pub context: ActivityContext,
}

/// The request an activity row was written for. Rows written outside a
/// request have every field null, and their item says `context: null`.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = activity_log)]
pub struct ActivityContext {
    /// The request's `X-Request-Id`, as its response carried it.
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// The client's full address; behind a trusted proxy (`TRUSTED_PROXIES`),
    /// the address it forwarded.
    #[schema(required = true)]
    pub ip_address: Option<String>,
    /// The `User-Agent` header, at most 256 characters.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// The session whose token made the request (for a `login`, the session
    /// it opened).
    #[schema(required = true)]
    pub session_id: Option<i64>,
}

impl ActivityContext {
    pub fn is_empty(&self) -> bool {
        *self == ActivityContext::default()
    }

    fn serialize_or_null<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_empty() {
            s.serialize_none()
        } else {
            s.serialize_some(self)
        }
    }
}

/// What a caller wants recorded. Built with [`NewActivity::new`] and the
/// chained setters; the service stamps the time and truncates the text.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    pub user_id: i64,
    pub activity_type: ActivityType,
    pub description: String,
    pub playlist_id: Option<String>,
    pub playlist_name: Option<String>,
    pub actor_type: ActorType,
    pub actor_name: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// The session the row names, when the action itself says which (a
    /// login names the session it opened); else the request's.
    pub session_id: Option<i64>,
}

impl NewActivity {
    /// An activity by the user themselves (actor `user`).
    pub fn new(user_id: i64, activity_type: ActivityType, description: impl Into<String>) -> Self {
        NewActivity {
            user_id,
            activity_type,
            description: description.into(),
            playlist_id: None,
            playlist_name: None,
            actor_type: ActorType::User,
            actor_name: None,
            metadata: None,
            session_id: None,
        }
    }

    /// An activity by `user` through the API: actor `user`, named by the
    /// username.
    pub fn by(user: &User, activity_type: ActivityType, description: impl Into<String>) -> Self {
        Self::new(user.id, activity_type, description).actor(ActorType::User, &user.username)
    }

    pub fn playlist(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.playlist_id = Some(id.into());
        self.playlist_name = Some(name.into());
        self
    }

    pub fn actor(mut self, actor_type: ActorType, name: impl Into<String>) -> Self {
        self.actor_type = actor_type;
        self.actor_name = Some(name.into());
        self
    }

    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    pub fn session(mut self, session_id: i64) -> Self {
        self.session_id = Some(session_id);
        self
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = activity_log, treat_none_as_default_value = false)]
pub(crate) struct ActivityLogInsert<'a> {
    pub user_id: i64,
    pub activity_type: ActivityType,
    pub description: &'a str,
    pub playlist_id: Option<&'a str>,
    pub playlist_name: Option<&'a str>,
    pub actor_type: ActorType,
    pub actor_name: Option<&'a str>,
    pub metadata: Option<Json>,
    pub created_at: NaiveDateTime,
    pub request_id: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub session_id: Option<i64>,
}

/// How far before the last row seen a read by id still looks: an hour.
/// Reads by id (the live tail, a stream's replay, webhook delivery) also
/// bound `created_at` from below, so that PostgreSQL reads only the newest
/// monthly partitions (docs/architecture.md, "Partitions"); the hour covers
/// rows stamped before a slow transaction committed them. A row written
/// with a time older than that (a back-dated import, the demo trail) is
/// not news, and these reads pass it by; the listing shows it.
pub const ID_READ_MARGIN_SECS: i64 = 60 * 60;

/// The lower bound of `created_at` for a read by id after a row of time
/// `last_seen` (or, for the live tail, after now): an hour before it; with
/// no row seen, the first instant of year 1, which bounds nothing.
pub fn id_read_floor(last_seen: Option<NaiveDateTime>) -> NaiveDateTime {
    let year_one = NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN);
    // Never above now: a row stamped by an instance whose clock ran fast
    // must not push the floor past the rows the others write after it.
    let now = chrono::Utc::now().naive_utc();
    last_seen
        .map(|t| t.min(now))
        .and_then(|t| t.checked_sub_signed(chrono::Duration::seconds(ID_READ_MARGIN_SECS)))
        .map_or(year_one, |t| t.max(year_one))
}

/// A read by id's `created_at >= since`, boxed. On PostgreSQL a plain
/// comparison, which prunes partitions. On SQLite, which has none, it is
/// written `+created_at`, which no index can serve, so the read keeps its
/// plan: it walks each user's ids from the cursor (`ix_activity_user_id`,
/// whose entries end in the id) and checks the time on the few rows it
/// finds, instead of reading the user's whole last hour by time. Both
/// backends thus return the same rows.
pub fn created_since(
    backend: db::Backend,
    since: NaiveDateTime,
) -> Box<dyn BoxableExpression<activity_log::table, db::MultiBackend, SqlType = Bool>> {
    match backend {
        db::Backend::Postgres => Box::new(activity_log::created_at.ge(since)),
        db::Backend::Sqlite => {
            Box::new(sql::<Bool>("+created_at >= ").bind::<diesel::sql_types::Timestamp, _>(since))
        }
    }
}

// The table again, under another name, for a count inside a read of it.
diesel::alias!(activity_log as counted: CountedActivity);
const COUNTED: diesel::query_source::Alias<CountedActivity> = counted;

/// Runs `$rows` (a query of one user's rows) newest first, from after the
/// keyset position `$after` (from the newest when `None`), at most `$limit`
/// rows of `$select`: the one keyset walk of the listing and `/since`,
/// whatever they select.
macro_rules! newest_after {
    ($conn:expr, $rows:expr, $after:expr, $limit:expr, $select:expr) => {{
        let newest_first = (activity_log::created_at.desc(), activity_log::id.desc());
        match $after {
            None => db::with_backend!($conn, |c| $rows
                .order(newest_first)
                .limit($limit)
                .select($select)
                .load(c)),
            // No row-value comparison in diesel: spell it out. The
            // redundant `created_at <= t` gives PostgreSQL an index range
            // to scan backwards instead of an OR it cannot.
            Some((at, id)) => db::with_backend!($conn, |c| $rows
                .filter(activity_log::created_at.le(db::StoredTime(at)))
                .filter(
                    activity_log::created_at
                        .lt(db::StoredTime(at))
                        .or(activity_log::created_at
                            .eq(db::StoredTime(at))
                            .and(activity_log::id.lt(id))),
                )
                .order(newest_first)
                .limit($limit)
                .select($select)
                .load(c)),
        }
    }};
}

impl ActivityLog {
    /// Inserts one row and reads it back.
    pub(crate) fn insert(
        conn: &mut DbConnection,
        row: &ActivityLogInsert<'_>,
    ) -> QueryResult<ActivityLog> {
        db::with_backend!(conn, |c| diesel::insert_into(activity_log::table)
            .values(row)
            .returning(ActivityLog::as_returning())
            .get_result(c))
    }

    /// Several rows in one statement, in the order given.
    pub(crate) fn insert_many(
        conn: &mut DbConnection,
        rows: &[ActivityLogInsert<'_>],
    ) -> QueryResult<usize> {
        db::with_backend!(conn, |c| diesel::insert_into(activity_log::table)
            .values(rows)
            .execute(c))
    }

    /// Makes one user's activity ids visible in ascending order
    /// (docs/architecture.md, "The live feed"), for the live stream's `id > N`: on PostgreSQL an id is drawn
    /// before its transaction commits, so two writers of one user could
    /// commit out of order; a transaction-scoped advisory lock on the user,
    /// taken just before the insert, serialises them from there to commit.
    /// SQLite's single writer already commits in id order. Users whose ids
    /// collide modulo 2^32 only share a lock.
    pub(crate) fn lock_user_order(conn: &mut DbConnection, user_id: i64) -> QueryResult<()> {
        match conn {
            DbConnection::Postgres(pg) => {
                diesel::sql_query("SELECT pg_advisory_xact_lock(1936224614, CAST($1 AS INTEGER))")
                    .bind::<diesel::sql_types::BigInt, _>(user_id & 0x7fff_ffff)
                    .execute(pg)
                    .map(|_| ())
            }
            DbConnection::Sqlite(_) => Ok(()),
        }
    }

    /// The highest id of a user's rows: where a live stream starts.
    pub fn last_id(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .select(diesel::dsl::max(activity_log::id))
            .first::<Option<i64>>(conn)
            .map(|id| id.unwrap_or(0))
    }

    /// The time of a user's newest row at or below id `id` (`None` when
    /// there is none): where a read by id resumes, in time.
    pub fn time_of(
        conn: &mut DbConnection,
        user_id: i64,
        id: i64,
    ) -> QueryResult<Option<NaiveDateTime>> {
        activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::id.le(id))
            .order(activity_log::id.desc())
            .select(activity_log::created_at)
            .first(conn)
            .optional()
    }

    /// A user's rows after `after_id` written at or after `since` (see
    /// [`id_read_floor`]), oldest first: a stream's replay.
    pub fn after(
        conn: &mut DbConnection,
        user_id: i64,
        after_id: i64,
        since: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<ActivityLog>> {
        let backend = conn.backend();
        activity_log::table
            .into_boxed()
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::id.gt(after_id))
            .filter(created_since(backend, since))
            .order(activity_log::id.asc())
            .limit(limit)
            .select(ActivityLog::as_select())
            .load(conn)
    }

    /// Each watched user's rows after that user's cursor, oldest first, in
    /// one statement: the live stream's tail (`cursors` are `(user_id,
    /// last id seen)`; at most a few hundred per call), written at or after
    /// `since` (the tail passes [`id_read_floor`] of now).
    pub fn after_each(
        conn: &mut DbConnection,
        cursors: &[(i64, i64)],
        since: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<ActivityLog>> {
        type Condition =
            Box<dyn BoxableExpression<activity_log::table, db::MultiBackend, SqlType = Bool>>;
        let Some(condition) = cursors
            .iter()
            .map(|&(user_id, after)| -> Condition {
                Box::new(
                    activity_log::user_id
                        .eq(user_id)
                        .and(activity_log::id.gt(after)),
                )
            })
            .reduce(|a, b| Box::new(a.or(b)))
        else {
            return Ok(Vec::new());
        };
        let backend = conn.backend();
        activity_log::table
            .into_boxed()
            .filter(condition)
            .filter(created_since(backend, since))
            .order(activity_log::id.asc())
            .limit(limit)
            .select(ActivityLog::as_select())
            .load(conn)
    }

    /// The newest `limit` rows of a user, optionally of one type.
    ///
    /// Hot paths (this, [`Self::page`], [`Self::count_by_day_and_type`])
    /// are fixed query shapes run on the concrete connection: diesel caches
    /// each as a prepared statement keyed by its type, with no SQL built per
    /// call (a boxed query would be parsed and planned by SQLite every
    /// time).
    pub fn recent(
        conn: &mut DbConnection,
        user_id: i64,
        limit: i64,
        activity_type: Option<ActivityType>,
    ) -> QueryResult<Vec<ActivityLog>> {
        let mine = activity_log::table.filter(activity_log::user_id.eq(user_id));
        let newest_first = (activity_log::created_at.desc(), activity_log::id.desc());
        let limit = limit.max(0);
        match activity_type {
            None => db::with_backend!(conn, |c| mine
                .order(newest_first)
                .limit(limit)
                .select(ActivityLog::as_select())
                .load(c)),
            Some(t) => db::with_backend!(conn, |c| mine
                .filter(activity_log::activity_type.eq(t))
                .order(newest_first)
                .limit(limit)
                .select(ActivityLog::as_select())
                .load(c)),
        }
    }

    /// [`Self::recent`] of any of several types.
    pub fn recent_among(
        conn: &mut DbConnection,
        user_id: i64,
        limit: i64,
        types: &[ActivityType],
    ) -> QueryResult<Vec<ActivityLog>> {
        let newest_first = (activity_log::created_at.desc(), activity_log::id.desc());
        db::with_backend!(conn, |c| activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::activity_type.eq_any(types))
            .order(newest_first)
            .limit(limit.max(0))
            .select(ActivityLog::as_select())
            .load(c))
    }

    /// Up to `limit` rows of a user at or after `since` (all when `None`),
    /// newest first, starting after the keyset position `after`: the
    /// unfiltered listing and the `/since` feed.
    pub fn page(
        conn: &mut DbConnection,
        user_id: i64,
        since: Option<NaiveDateTime>,
        after: Option<(NaiveDateTime, i64)>,
        limit: i64,
    ) -> QueryResult<Vec<ActivityLog>> {
        // With no lower bound, the epoch stands in: one shape, not two.
        let since = db::StoredTime(since.unwrap_or(DateTime::UNIX_EPOCH.naive_utc()));
        let mine = activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::created_at.ge(since));
        newest_after!(conn, mine, after, limit.max(0), ActivityLog::as_select())
    }

    /// Every row of a user with `created_at >= since`, newest first.
    pub fn since(
        conn: &mut DbConnection,
        user_id: i64,
        since: NaiveDateTime,
    ) -> QueryResult<Vec<ActivityLog>> {
        activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::created_at.ge(since))
            .order((activity_log::created_at.desc(), activity_log::id.desc()))
            .select(ActivityLog::as_select())
            .load(conn)
    }

    /// [`Self::page`], with the count of every row at or after `since` in
    /// the same statement (a subquery the database runs once), for
    /// `/since`, which answers both: one round trip instead of two. `None`
    /// when the page is empty.
    pub fn page_with_total(
        conn: &mut DbConnection,
        user_id: i64,
        since: Option<NaiveDateTime>,
        after: Option<(NaiveDateTime, i64)>,
        limit: i64,
    ) -> QueryResult<(Vec<ActivityLog>, Option<i64>)> {
        let since = db::StoredTime(since.unwrap_or(DateTime::UNIX_EPOCH.naive_utc()));
        let mine = activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::created_at.ge(since));
        let total = COUNTED
            .filter(COUNTED.field(activity_log::user_id).eq(user_id))
            .filter(COUNTED.field(activity_log::created_at).ge(since))
            .count()
            .single_value();
        let rows: Vec<(ActivityLog, Option<i64>)> = newest_after!(
            conn,
            mine,
            after,
            limit.max(0),
            (ActivityLog::as_select(), total)
        )?;
        let total = rows.first().and_then(|(_, n)| *n);
        Ok((rows.into_iter().map(|(row, _)| row).collect(), total))
    }

    /// How many rows of a user are at or after `since` (all when `None`).
    pub fn count_since(
        conn: &mut DbConnection,
        user_id: i64,
        since: Option<NaiveDateTime>,
    ) -> QueryResult<i64> {
        let since = since.unwrap_or(DateTime::UNIX_EPOCH.naive_utc());
        let mine = activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::created_at.ge(since))
            .count();
        db::with_backend!(conn, |c| mine.get_result(c))
    }

    /// Rows of a user per UTC day and type from `start` (a midnight) on,
    /// in one statement answered from an index alone; (day, type) pairs
    /// with no rows are absent. The summary derives both its per-type and
    /// its per-day counts from it.
    pub fn count_by_day_and_type(
        conn: &mut DbConnection,
        user_id: i64,
        start: NaiveDateTime,
    ) -> QueryResult<Vec<(NaiveDate, ActivityType, i64)>> {
        // diesel cannot group by an expression and select it too, so the
        // day is literal SQL, which diesel would prepare again on every
        // run; its text is a constant, so `db::fixed_sql` caches it.
        let mine = activity_log::table.filter(activity_log::user_id.eq(user_id));
        match conn {
            // SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff": the day is its
            // first ten characters, which `ix_activity_user_day_type`
            // indexes, so the groups come out of the index in order, with
            // no sort.
            DbConnection::Sqlite(c) => {
                struct SummarySqlite;
                let rows: Vec<(String, ActivityType, i64)> = db::fixed_sql::<SummarySqlite, _>(
                    mine.filter(
                        sql::<Bool>("substr(created_at, 1, 10) >= ")
                            .bind::<Text, _>(start.date().to_string()),
                    )
                    .group_by(sql::<Text>("substr(created_at, 1, 10), activity_type"))
                    .select(sql::<(Text, Text, BigInt)>(
                        "substr(created_at, 1, 10), activity_type, COUNT(*)",
                    )),
                )
                .load(c)?;
                // The rows come day by day: read each day's text once,
                // not once per (day, type) row through chrono's parser.
                let mut last: Option<(String, NaiveDate)> = None;
                rows.into_iter()
                    .map(|(text, activity_type, n)| {
                        let day = match &last {
                            Some((seen, day)) if *seen == text => *day,
                            _ => {
                                let day = text.parse::<NaiveDate>().map_err(|e| {
                                    diesel::result::Error::DeserializationError(e.into())
                                })?;
                                last = Some((text, day));
                                day
                            }
                        };
                        Ok((day, activity_type, n))
                    })
                    .collect()
            }
            // PostgreSQL reads `ix_activity_user_created_type` alone.
            DbConnection::Postgres(c) => {
                struct SummaryPostgres;
                db::fixed_sql::<SummaryPostgres, _>(
                    mine.filter(activity_log::created_at.ge(start))
                        .group_by(sql::<Date>("created_at::date, activity_type"))
                        .select(sql::<(Date, Text, BigInt)>(
                            "created_at::date, activity_type, COUNT(*)",
                        )),
                )
                .load(c)
            }
        }
    }

    /// The rows older than `cutoff`, of one user or of every user: what a
    /// prune takes (not a hot path, so one boxed shape serves both).
    fn older_than(
        cutoff: NaiveDateTime,
        user_id: Option<i64>,
    ) -> activity_log::BoxedQuery<'static, db::MultiBackend> {
        let rows = activity_log::table
            .filter(activity_log::created_at.lt(cutoff))
            .into_boxed();
        match user_id {
            Some(user_id) => rows.filter(activity_log::user_id.eq(user_id)),
            None => rows,
        }
    }

    /// How many rows older than `cutoff` there are (of `user_id`, or all).
    pub fn count_before(
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        user_id: Option<i64>,
    ) -> QueryResult<i64> {
        Self::older_than(cutoff, user_id).count().get_result(conn)
    }

    /// Deletes every row older than `cutoff` (of `user_id`, or of every
    /// user), `batch_size` rows per statement so no single transaction
    /// grows large; returns the count.
    pub fn delete_before(
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        user_id: Option<i64>,
        batch_size: i64,
    ) -> QueryResult<u64> {
        let mut total = 0u64;
        loop {
            let batch = Self::older_than(cutoff, user_id)
                .select(activity_log::id)
                .limit(batch_size)
                .load::<i64>(conn)?;
            if batch.is_empty() {
                return Ok(total);
            }
            // The time bound lets PostgreSQL look only in the partitions
            // that can hold such rows.
            let deleted = diesel::delete(
                activity_log::table
                    .filter(activity_log::id.eq_any(&batch))
                    .filter(activity_log::created_at.lt(cutoff)),
            )
            .execute(conn)?;
            total += deleted as u64;
        }
    }
}
