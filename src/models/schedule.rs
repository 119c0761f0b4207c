//! `schedules`: jobs that run on an interval or a cron expression, and the
//! claims (`claimed_by`, `claimed_until`) by which one instance at a time
//! runs a due occurrence (`crate::scheduler`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::schedules;
use crate::db::{DbConnection, Json};
use crate::enums::{JobType, ScheduleType};

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = schedules)]
pub struct Schedule {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub job_type: JobType,
    pub target_playlist_id: String,
    pub target_playlist_name: String,
    #[schema(value_type = Vec<String>)]
    pub source_playlist_ids: Json,
    #[schema(required = true)]
    pub algorithm_name: Option<String>,
    #[schema(value_type = crate::services::shuffle::AlgorithmParams)]
    pub algorithm_params: Json,
    pub schedule_type: ScheduleType,
    pub schedule_value: String,
    pub is_enabled: bool,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub next_run_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub last_run_at: Option<NaiveDateTime>,
    /// The status of the last run: `success` or `failed`.
    #[schema(required = true)]
    pub last_status: Option<String>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = schedules, treat_none_as_default_value = false)]
pub struct NewSchedule {
    pub user_id: i64,
    pub job_type: JobType,
    pub target_playlist_id: String,
    pub target_playlist_name: String,
    pub source_playlist_ids: Json,
    pub algorithm_name: Option<String>,
    pub algorithm_params: Json,
    pub schedule_type: ScheduleType,
    pub schedule_value: String,
    pub is_enabled: bool,
    pub next_run_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Every field a PATCH, toggle or run may change.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = schedules, treat_none_as_null = true)]
struct ScheduleChanges<'a> {
    job_type: JobType,
    target_playlist_id: &'a str,
    target_playlist_name: &'a str,
    source_playlist_ids: &'a Json,
    algorithm_name: Option<&'a str>,
    algorithm_params: &'a Json,
    schedule_type: ScheduleType,
    schedule_value: &'a str,
    is_enabled: bool,
    next_run_at: Option<NaiveDateTime>,
    last_run_at: Option<NaiveDateTime>,
    last_status: Option<&'a str>,
    last_error: Option<&'a str>,
    updated_at: NaiveDateTime,
}

impl NewSchedule {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<Schedule> {
        crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(schedules::table)
            .values(self)
            .returning(Schedule::as_returning())
            .get_result(c))
    }
}

impl Schedule {
    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Schedule>> {
        schedules::table
            .find(id)
            .select(Schedule::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_owned(
        conn: &mut DbConnection,
        user_id: i64,
        id: i64,
    ) -> QueryResult<Option<Schedule>> {
        Ok(Self::find(conn, id)?.filter(|s| s.user_id == user_id))
    }

    pub fn list(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<Schedule>> {
        schedules::table
            .filter(schedules::user_id.eq(user_id))
            .order(schedules::id.asc())
            .select(Schedule::as_select())
            .load(conn)
    }

    /// The schedule's row, locked until the transaction ends (see
    /// `User::lock` for the lock order).
    pub fn lock(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Schedule>> {
        // `as_select` is typed per backend, so each arm builds its own.
        let query = schedules::table.find(id);
        match conn {
            DbConnection::Postgres(pg) => query
                .select(Schedule::as_select())
                .for_update()
                .first(pg)
                .optional(),
            DbConnection::Sqlite(c) => query.select(Schedule::as_select()).first(c).optional(),
        }
    }

    pub fn count(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        schedules::table
            .filter(schedules::user_id.eq(user_id))
            .count()
            .get_result(conn)
    }

    /// Writes every changeable field back.
    pub fn save(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::update(schedules::table.find(self.id))
            .set(ScheduleChanges {
                job_type: self.job_type,
                target_playlist_id: &self.target_playlist_id,
                target_playlist_name: &self.target_playlist_name,
                source_playlist_ids: &self.source_playlist_ids,
                algorithm_name: self.algorithm_name.as_deref(),
                algorithm_params: &self.algorithm_params,
                schedule_type: self.schedule_type,
                schedule_value: &self.schedule_value,
                is_enabled: self.is_enabled,
                next_run_at: self.next_run_at,
                last_run_at: self.last_run_at,
                last_status: self.last_status.as_deref(),
                last_error: self.last_error.as_deref(),
                updated_at: self.updated_at,
            })
            .execute(conn)
            .map(|_| ())
    }

    /// Records how a run ended, leaving every other field alone.
    pub fn record_run(
        conn: &mut DbConnection,
        id: i64,
        at: NaiveDateTime,
        status: &str,
        error: Option<&str>,
    ) -> QueryResult<()> {
        diesel::update(schedules::table.find(id))
            .set((
                schedules::last_run_at.eq(Some(at)),
                schedules::last_status.eq(Some(status)),
                schedules::last_error.eq(error),
            ))
            .execute(conn)
            .map(|_| ())
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(schedules::table.find(id)).execute(conn)
    }

    /// Which schedules a claim takes: enabled, due, and held by no claim
    /// or by an unstarted one that ran out; the longest due first.
    pub const DUE_CLAIM: crate::db::Claim<'static> = crate::db::Claim {
        table: "schedules",
        alias: "s",
        postgres_condition: Self::DUE,
        sqlite_condition: Self::DUE,
        order: "s.next_run_at, s.id",
    };
    const DUE: &'static str = "s.is_enabled AND s.next_run_at <= $1 \
        AND (s.claimed_by IS NULL OR s.claimed_until < $1)";

    /// Claims up to `limit` due schedules (enabled, `next_run_at` come)
    /// that no claim holds, or whose unstarted claim ran out, for
    /// `instance` until `until`, the longest due first; returns their ids,
    /// in no particular order.
    ///
    /// One statement: on PostgreSQL the rows are taken `FOR UPDATE SKIP
    /// LOCKED`, so instances claiming at once take different schedules,
    /// and a row another instance claimed meanwhile fails the claim test
    /// once that claim commits. On SQLite the caller's `BEGIN IMMEDIATE`
    /// serialises claims. A started claim (`claimed_until` NULL) is never
    /// taken: it ends with its run.
    pub fn claim_due(
        conn: &mut DbConnection,
        instance: &str,
        now: NaiveDateTime,
        until: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<i64>> {
        crate::db::claim_batch(conn, &Self::DUE_CLAIM, instance, now, until, limit)
    }

    /// Who holds a claim on the schedule, and until when (`None` once its
    /// run started).
    pub fn claim_of(
        conn: &mut DbConnection,
        id: i64,
    ) -> QueryResult<(Option<String>, Option<NaiveDateTime>)> {
        schedules::table
            .find(id)
            .select((schedules::claimed_by, schedules::claimed_until))
            .first(conn)
    }

    /// Marks `instance`'s claim started (it then ends only with its run);
    /// `false` when `instance` holds no unstarted claim on it.
    pub fn start_claim(conn: &mut DbConnection, id: i64, instance: &str) -> QueryResult<bool> {
        let updated = diesel::update(
            schedules::table
                .find(id)
                .filter(schedules::claimed_by.eq(instance))
                .filter(schedules::claimed_until.is_not_null()),
        )
        .set(schedules::claimed_until.eq(None::<NaiveDateTime>))
        .execute(conn)?;
        Ok(updated == 1)
    }

    /// Ends the schedule's claim, whoever holds it, and sets the next run:
    /// the last step of a scheduled run.
    pub fn end_claim(
        conn: &mut DbConnection,
        id: i64,
        next_run_at: Option<NaiveDateTime>,
    ) -> QueryResult<()> {
        diesel::update(schedules::table.find(id))
            .set((
                schedules::next_run_at.eq(next_run_at),
                schedules::claimed_by.eq(None::<String>),
                schedules::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Gives back `instance`'s unstarted claims on `ids`, so that another
    /// instance may take them at once; returns how many.
    pub fn release_claims(
        conn: &mut DbConnection,
        ids: &[i64],
        instance: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            schedules::table
                .filter(schedules::id.eq_any(ids))
                .filter(schedules::claimed_by.eq(instance))
                .filter(schedules::claimed_until.is_not_null()),
        )
        .set((
            schedules::claimed_by.eq(None::<String>),
            schedules::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
    }
}
