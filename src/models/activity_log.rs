//! `activity_log`: the append-only trail. Rows are written only through
//! `ActivityLogService` (in `services/`), which owns the never-fail policy;
//! this module holds the row and insert structs and the statements on this
//! table, including the one whose SQL differs per backend (the per-day
//! count). The rows themselves are built in `activity_rows`.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use serde::Serialize;

use crate::db::schema::activity_log;
use crate::db::{self, DbConnection, Json};
use crate::enums::{ActivityType, ActorType};
use crate::models::User;

/// One row, serialized exactly as an activity item of SPEC §6.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = activity_log)]
pub struct ActivityLog {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub activity_type: ActivityType,
    pub description: String,
    pub playlist_id: Option<String>,
    pub playlist_name: Option<String>,
    pub actor_type: ActorType,
    pub actor_name: Option<String>,
    pub metadata: Option<Json>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
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
}

#[derive(Debug, Insertable)]
#[diesel(table_name = activity_log)]
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
}

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
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

    /// The newest `limit` rows of a user, optionally of one type.
    pub fn recent(
        conn: &mut DbConnection,
        user_id: i64,
        limit: i64,
        activity_type: Option<ActivityType>,
    ) -> QueryResult<Vec<ActivityLog>> {
        let mut query = activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .into_boxed();
        if let Some(t) = activity_type {
            query = query.filter(activity_log::activity_type.eq(t));
        }
        query
            .order((activity_log::created_at.desc(), activity_log::id.desc()))
            .limit(limit.max(0))
            .select(ActivityLog::as_select())
            .load(conn)
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

    /// Rows of a user per type from `start` on; types with none are absent.
    pub fn count_by_type(
        conn: &mut DbConnection,
        user_id: i64,
        start: NaiveDateTime,
    ) -> QueryResult<Vec<(ActivityType, i64)>> {
        activity_log::table
            .filter(activity_log::user_id.eq(user_id))
            .filter(activity_log::created_at.ge(start))
            .group_by(activity_log::activity_type)
            .select((activity_log::activity_type, count_star()))
            .load(conn)
    }

    /// Rows of a user per UTC day (`YYYY-MM-DD`) from `start` on; days
    /// with none are absent.
    pub fn count_per_day(
        conn: &mut DbConnection,
        user_id: i64,
        start: NaiveDateTime,
    ) -> QueryResult<Vec<(String, i64)>> {
        // The day of a timestamp is spelled differently on each backend;
        // SQLite stores "YYYY-MM-DD HH:MM:SS[.ffffff]" text.
        let sql = match conn.backend() {
            db::Backend::Sqlite => {
                "SELECT substr(created_at, 1, 10) AS day, COUNT(*) AS n FROM activity_log \
                 WHERE user_id = ? AND created_at >= ? GROUP BY substr(created_at, 1, 10)"
            }
            db::Backend::Postgres => {
                "SELECT to_char(created_at, 'YYYY-MM-DD') AS day, COUNT(*) AS n FROM activity_log \
                 WHERE user_id = $1 AND created_at >= $2 GROUP BY to_char(created_at, 'YYYY-MM-DD')"
            }
        };
        let rows = diesel::sql_query(sql)
            .bind::<BigInt, _>(user_id)
            .bind::<Timestamp, _>(start)
            .load::<DayRow>(conn)?;
        Ok(rows.into_iter().map(|r| (r.day, r.n)).collect())
    }

    /// Deletes every row older than `cutoff`, `batch_size` rows per
    /// statement so no single transaction grows large; returns the count.
    pub fn delete_before(
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        batch_size: i64,
    ) -> QueryResult<u64> {
        let mut total = 0u64;
        loop {
            let batch = activity_log::table
                .filter(activity_log::created_at.lt(cutoff))
                .select(activity_log::id)
                .limit(batch_size)
                .load::<i64>(conn)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let deleted =
                diesel::delete(activity_log::table.filter(activity_log::id.eq_any(&batch)))
                    .execute(conn)?;
            total += deleted as u64;
        }
    }
}
