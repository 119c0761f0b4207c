//! `job_executions`: one row per run of a schedule.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::job_executions as executions;
use crate::db::DbConnection;
use crate::enums::{ExecutionStatus, TriggeredBy};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = executions)]
pub struct JobExecution {
    pub id: i64,
    pub schedule_id: i64,
    pub triggered_by: TriggeredBy,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub started_at: NaiveDateTime,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    pub completed_at: Option<NaiveDateTime>,
    pub status: ExecutionStatus,
    pub tracks_added: i32,
    pub tracks_total: i32,
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
        };
        crate::with_backend!(&mut *conn, |c| diesel::insert_into(executions::table)
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

    /// At start-up: runs left `running` by a crash become `failed` with
    /// the message `interrupted`. Returns how many.
    pub fn mark_interrupted(conn: &mut DbConnection, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(executions::table.filter(executions::status.eq(ExecutionStatus::Running)))
            .set((
                executions::status.eq(ExecutionStatus::Failed),
                executions::error_message.eq(Some("interrupted")),
                executions::completed_at.eq(Some(at)),
            ))
            .execute(conn)
    }
}
