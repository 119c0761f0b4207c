//! `ActivityLogService`: the one way rows enter `activity_log`, and the reads
//! behind the activity endpoints.
//!
//! Writing never fails the action it records: [`ActivityLogService::log`]
//! runs its insert in a savepoint when the caller is inside a transaction
//! (so on PostgreSQL a failed insert does not abort the caller's
//! transaction), and on any error it logs a warning, bumps
//! `shuffify_activity_log_write_failures_total` and returns `None`. Reads
//! likewise answer empty results on a database error, with a warning.
//!
//! Ordering everywhere is `created_at DESC, id DESC`, so rows written within
//! the same microsecond still come out newest first.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::{self, DbConnection, Json};
use crate::enums::ActivityType;
use crate::metrics;
use crate::models::activity_log::ActivityLogInsert;
use crate::models::{ActivityLog, NewActivity};
use crate::request_context;
use crate::validate::truncate_chars;

/// Longest description kept, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Rows per statement of [`ActivityLogService::write_history`] (13 columns
/// each, well under SQLite's 32,766 bound variables).
const HISTORY_CHUNK: usize = 500;

pub struct ActivityLogService;

/// One day's count in a summary, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DayCount {
    pub date: chrono::NaiveDate,
    pub count: i64,
}

impl ActivityLogService {
    /// Records one activity. Never panics, never errors: `None` means the
    /// row was not written (and the failure was logged and counted).
    ///
    /// The row's context columns come from the request being served
    /// (`request_context`), if any: rows written outside a request (the
    /// scheduler's, the CLI's) have none.
    pub fn log(conn: &mut DbConnection, activity: NewActivity) -> Option<ActivityLog> {
        let context = request_context::current();
        let context = context.as_deref();
        let row = ActivityLogInsert {
            user_id: activity.user_id,
            activity_type: activity.activity_type,
            description: truncate_chars(&activity.description, MAX_DESCRIPTION_CHARS),
            playlist_id: activity.playlist_id.as_deref(),
            playlist_name: activity.playlist_name.as_deref(),
            actor_type: activity.actor_type,
            actor_name: activity.actor_name.as_deref(),
            metadata: activity.metadata.clone().map(Json),
            created_at: db::now(),
            request_id: context.map(|c| c.request_id.as_str()),
            ip_address: context.and_then(|c| c.ip_address.as_deref()),
            user_agent: context.and_then(|c| c.user_agent.as_deref()),
            session_id: activity
                .session_id
                .or_else(|| context.and_then(|c| c.session_id())),
        };
        // Inside a transaction this is a savepoint; outside, a transaction
        // of its own. Either way a failure rolls back only this insert.
        let result = conn.transaction(|conn| {
            ActivityLog::lock_user_order(conn, row.user_id)?;
            ActivityLog::insert(conn, &row)
        });
        match result {
            Ok(logged) => {
                metrics::global().activity_written();
                crate::webhooks::wake::row_written();
                Some(logged)
            }
            Err(err) => {
                metrics::global().activity_write_failed();
                log::warn!(
                    "activity log write failed (type {}, user {}): {err}",
                    activity.activity_type,
                    activity.user_id
                );
                None
            }
        }
    }

    /// Writes rows that happened earlier, each at its own time, outside any
    /// request (every context column null), in as many multi-row inserts
    /// as it takes. For a user with no rows yet only, and oldest first:
    /// then ids still rise with `created_at`, which the listing's keyset
    /// and the live stream's `id > N` rely on. Unlike [`Self::log`] a
    /// failure is the caller's: the history is written whole or not at
    /// all, inside the caller's transaction.
    pub fn write_history(
        conn: &mut DbConnection,
        user_id: i64,
        rows: &[(NaiveDateTime, NewActivity)],
    ) -> QueryResult<usize> {
        let in_order = rows.windows(2).all(|pair| pair[0].0 <= pair[1].0);
        let own = rows.iter().all(|(_, row)| row.user_id == user_id);
        if !in_order || !own || ActivityLog::last_id(conn, user_id)? != 0 {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        ActivityLog::lock_user_order(conn, user_id)?;
        let inserts: Vec<ActivityLogInsert<'_>> = rows
            .iter()
            .map(|(at, row)| ActivityLogInsert {
                user_id: row.user_id,
                activity_type: row.activity_type,
                description: truncate_chars(&row.description, MAX_DESCRIPTION_CHARS),
                playlist_id: row.playlist_id.as_deref(),
                playlist_name: row.playlist_name.as_deref(),
                actor_type: row.actor_type,
                actor_name: row.actor_name.as_deref(),
                metadata: row.metadata.clone().map(Json),
                created_at: *at,
                request_id: None,
                ip_address: None,
                user_agent: None,
                session_id: None,
            })
            .collect();
        let mut written = 0;
        for chunk in inserts.chunks(HISTORY_CHUNK) {
            written += ActivityLog::insert_many(conn, chunk)?;
        }
        Ok(written)
    }

    /// The newest `limit` rows of a user, optionally of one type.
    pub fn get_recent(
        conn: &mut DbConnection,
        user_id: i64,
        limit: i64,
        activity_type: Option<ActivityType>,
    ) -> Vec<ActivityLog> {
        let result = ActivityLog::recent(conn, user_id, limit, activity_type);
        or_empty(result, "recent", user_id)
    }

    /// [`Self::get_recent`] of any of `types` (every type when empty).
    pub fn get_recent_of(
        conn: &mut DbConnection,
        user_id: i64,
        limit: i64,
        types: &[ActivityType],
    ) -> Vec<ActivityLog> {
        match types {
            [] => Self::get_recent(conn, user_id, limit, None),
            [one] => Self::get_recent(conn, user_id, limit, Some(*one)),
            many => {
                let result = ActivityLog::recent_among(conn, user_id, limit, many);
                or_empty(result, "recent", user_id)
            }
        }
    }

    /// Every row of a user with `created_at >= since`, newest first.
    pub fn get_activity_since(
        conn: &mut DbConnection,
        user_id: i64,
        since: NaiveDateTime,
    ) -> Vec<ActivityLog> {
        let result = ActivityLog::since(conn, user_id, since);
        or_empty(result, "since", user_id)
    }

    /// The start of the summary window: midnight UTC `days - 1` days ago,
    /// so the window is `days` calendar days including today.
    pub fn summary_start(days: u32) -> NaiveDateTime {
        let today = Utc::now().date_naive();
        let first = today - Duration::days(i64::from(days.max(1)) - 1);
        first.and_hms_opt(0, 0, 0).unwrap_or_default()
    }

    /// The summary of the last `days` calendar days, from one statement:
    /// rows per type (types with none absent) and rows per UTC day (every
    /// day present, zeros included, oldest first).
    pub fn summary_counts(
        conn: &mut DbConnection,
        user_id: i64,
        days: u32,
    ) -> (BTreeMap<ActivityType, i64>, Vec<DayCount>) {
        let start = Self::summary_start(days);
        let rows = or_empty(
            ActivityLog::count_by_day_and_type(conn, user_id, start),
            "summary",
            user_id,
        );
        let mut by_type = BTreeMap::new();
        let mut by_day = BTreeMap::new();
        for (day, activity_type, n) in rows {
            *by_type.entry(activity_type).or_insert(0) += n;
            *by_day.entry(day).or_insert(0) += n;
        }
        let first = start.date();
        let per_day = (0..i64::from(days.max(1)))
            .map(|offset| {
                let date = first + Duration::days(offset);
                DayCount {
                    date,
                    count: by_day.get(&date).copied().unwrap_or(0),
                }
            })
            .collect();
        (by_type, per_day)
    }

    /// Rows per type over the last `days` calendar days, counted by the
    /// database; types with no rows are absent.
    pub fn get_activity_summary(
        conn: &mut DbConnection,
        user_id: i64,
        days: u32,
    ) -> BTreeMap<ActivityType, i64> {
        Self::summary_counts(conn, user_id, days).0
    }

    /// Rows per UTC day over the last `days` calendar days, every day
    /// present (zeros included), oldest first.
    pub fn get_activity_per_day(conn: &mut DbConnection, user_id: i64, days: u32) -> Vec<DayCount> {
        Self::summary_counts(conn, user_id, days).1
    }
}

pub(crate) fn or_empty<T>(result: QueryResult<Vec<T>>, what: &str, user_id: i64) -> Vec<T> {
    result.unwrap_or_else(|err| {
        log::warn!("activity {what} read failed for user {user_id}: {err}");
        Vec::new()
    })
}
