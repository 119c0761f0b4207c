//! `job_executions`: one row per run of a schedule.
//!
//! A `running` execution holds a lease (docs/api.md, "Schedules"): `heartbeat_at` is set
//! when it starts and renewed by its process; once neither `heartbeat_at`
//! nor, on rows without one, `started_at` is newer than the expiry cutoff,
//! any instance may mark it `failed` with `interrupted`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::job_executions as executions;
use crate::db::DbConnection;
use crate::enums::{ExecutionStatus, TriggeredBy};

/// The error message of an execution whose lease expired.
pub const INTERRUPTED: &str = "interrupted";

#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = executions)]
pub struct JobExecution {
    pub id: i64,
    pub schedule_id: i64,
    pub triggered_by: TriggeredBy,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub started_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub completed_at: Option<NaiveDateTime>,
    pub status: ExecutionStatus,
    pub tracks_added: i32,
    pub tracks_total: i32,
    #[schema(required = true)]
    pub error_message: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = executions)]
struct NewJobExecution {
    schedule_id: i64,
    triggered_by: TriggeredBy,
    started_at: NaiveDateTime,
    status: ExecutionStatus,
    tracks_added: i32,
    tracks_total: i32,
    heartbeat_at: Option<NaiveDateTime>,
}

/// Running executions whose lease expired before `cutoff`.
macro_rules! expired_before {
    ($cutoff:expr) => {
        executions::status.eq(ExecutionStatus::Running).and(
            executions::heartbeat_at
                .lt($cutoff)
                .or(executions::heartbeat_at
                    .is_null()
                    .and(executions::started_at.lt($cutoff))),
        )
    };
}

impl JobExecution {
    /// A new `running` execution.
    pub fn start(
        conn: &mut DbConnection,
        schedule_id: i64,
        by: TriggeredBy,
        at: NaiveDateTime,
    ) -> QueryResult<JobExecution> {
        let row = NewJobExecution {
            schedule_id,
            triggered_by: by,
            started_at: at,
            status: ExecutionStatus::Running,
            tracks_added: 0,
            tracks_total: 0,
            heartbeat_at: Some(at),
        };
        crate::db::with_backend!(&mut *conn, |c| diesel::insert_into(executions::table)
            .values(&row)
            .returning(JobExecution::as_returning())
            .get_result(c))
    }

    pub fn finish(
        conn: &mut DbConnection,
        id: i64,
        status: ExecutionStatus,
        tracks_added: i32,
        tracks_total: i32,
        error: Option<&str>,
        at: NaiveDateTime,
    ) -> QueryResult<JobExecution> {
        diesel::update(executions::table.find(id))
            .set((
                executions::status.eq(status),
                executions::tracks_added.eq(tracks_added),
                executions::tracks_total.eq(tracks_total),
                executions::error_message.eq(error),
                executions::completed_at.eq(Some(at)),
            ))
            .execute(conn)?;
        executions::table
            .find(id)
            .select(JobExecution::as_select())
            .first(conn)
    }

    /// Renews a running execution's lease; `false` once it is no longer
    /// running (finished, or interrupted by another instance).
    pub fn renew(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<bool> {
        let updated = diesel::update(
            executions::table
                .find(id)
                .filter(executions::status.eq(ExecutionStatus::Running)),
        )
        .set(executions::heartbeat_at.eq(Some(at)))
        .execute(conn)?;
        Ok(updated == 1)
    }

    /// Running executions whose lease expired before `cutoff`, oldest
    /// first; of one schedule when `schedule_id` is given.
    pub fn expired(
        conn: &mut DbConnection,
        cutoff: NaiveDateTime,
        schedule_id: Option<i64>,
    ) -> QueryResult<Vec<JobExecution>> {
        let mut query = executions::table
            .filter(expired_before!(cutoff))
            .order(executions::id.asc())
            .select(JobExecution::as_select())
            .into_boxed();
        if let Some(id) = schedule_id {
            query = query.filter(executions::schedule_id.eq(id));
        }
        query.load(conn)
    }

    /// Marks one execution `failed` with `interrupted`, if its lease is
    /// still expired before `cutoff` (it may have been renewed, finished or
    /// interrupted by another instance since it was read). Whether it did.
    pub fn interrupt(
        conn: &mut DbConnection,
        id: i64,
        cutoff: NaiveDateTime,
        at: NaiveDateTime,
    ) -> QueryResult<bool> {
        let updated = diesel::update(executions::table.find(id).filter(expired_before!(cutoff)))
            .set((
                executions::status.eq(ExecutionStatus::Failed),
                executions::error_message.eq(Some(INTERRUPTED)),
                executions::completed_at.eq(Some(at)),
            ))
            .execute(conn)?;
        Ok(updated == 1)
    }

    pub fn is_running(conn: &mut DbConnection, schedule_id: i64) -> QueryResult<bool> {
        let n: i64 = executions::table
            .filter(executions::schedule_id.eq(schedule_id))
            .filter(executions::status.eq(ExecutionStatus::Running))
            .count()
            .get_result(conn)?;
        Ok(n > 0)
    }

    /// Newest first.
    pub fn history(
        conn: &mut DbConnection,
        schedule_id: i64,
        limit: i64,
    ) -> QueryResult<Vec<JobExecution>> {
        executions::table
            .filter(executions::schedule_id.eq(schedule_id))
            .order((executions::started_at.desc(), executions::id.desc()))
            .limit(limit)
            .select(JobExecution::as_select())
            .load(conn)
    }

    pub fn count_for(conn: &mut DbConnection, schedule_id: i64) -> QueryResult<i64> {
        executions::table
            .filter(executions::schedule_id.eq(schedule_id))
            .count()
            .get_result(conn)
    }
}
