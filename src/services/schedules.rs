//! Schedules: create, PATCH, toggle and delete, with `next_run_at` kept
//! current and the `schedule_*` activity rows. The rules and the timing live
//! in `schedule_rules`; runs, in `job_executor`. Missed runs are coalesced:
//! after downtime a schedule runs once, not once per missed slot.

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::enums::{JobType, ScheduleType};
use crate::error::{AppError, AppResult};
use crate::models::schedule::{NewSchedule, Schedule};
use crate::models::{Changes, NewActivity, User};
pub use crate::services::schedule_rules::ScheduleInput;
use crate::services::schedule_rules::{next_run, validate};
use crate::services::ActivityLogService;

/// Schedules one user may keep.
pub const MAX_SCHEDULES: i64 = 5;

/// A PATCH: absent fields stay; `algorithm_name: null` clears it.
#[derive(Debug, Clone, Default)]
pub struct SchedulePatch {
    pub job_type: Option<JobType>,
    pub target_playlist_id: Option<String>,
    pub schedule_type: Option<ScheduleType>,
    pub schedule_value: Option<String>,
    pub source_playlist_ids: Option<Vec<String>>,
    pub algorithm_name: Option<Option<String>>,
    pub algorithm_params: Option<Value>,
    pub is_enabled: Option<bool>,
}

impl SchedulePatch {
    /// The schedule `before` with this patch's fields put in.
    pub fn apply(&self, before: &ScheduleInput) -> ScheduleInput {
        let mut after = before.clone();
        if let Some(v) = self.job_type {
            after.job_type = v;
        }
        if let Some(v) = &self.target_playlist_id {
            after.target_playlist_id = v.clone();
        }
        if let Some(v) = self.schedule_type {
            after.schedule_type = v;
        }
        if let Some(v) = &self.schedule_value {
            after.schedule_value = v.trim().to_string();
        }
        if let Some(v) = &self.source_playlist_ids {
            after.source_playlist_ids = v.clone();
        }
        if let Some(v) = &self.algorithm_name {
            after.algorithm_name = v.clone();
        }
        if let Some(v) = &self.algorithm_params {
            after.algorithm_params = v.clone();
        }
        if let Some(v) = self.is_enabled {
            after.is_enabled = v;
        }
        after
    }
}

impl ScheduleInput {
    /// The fields whose values differ in `after`, in the order the API documents them,
    /// with their old and new values (`updated_fields` and `changes` of
    /// `schedule_update`).
    pub fn changes(&self, after: &ScheduleInput) -> Changes {
        Changes::new()
            .field("job_type", &self.job_type, &after.job_type)
            .field(
                "target_playlist_id",
                &self.target_playlist_id,
                &after.target_playlist_id,
            )
            .field("schedule_type", &self.schedule_type, &after.schedule_type)
            .field(
                "schedule_value",
                &self.schedule_value,
                &after.schedule_value,
            )
            .field(
                "source_playlist_ids",
                &self.source_playlist_ids,
                &after.source_playlist_ids,
            )
            .field(
                "algorithm_name",
                &self.algorithm_name,
                &after.algorithm_name,
            )
            .field(
                "algorithm_params",
                &self.algorithm_params,
                &after.algorithm_params,
            )
            .field("is_enabled", &self.is_enabled, &after.is_enabled)
    }
}

fn next_if_enabled(input: &ScheduleInput, now: NaiveDateTime) -> AppResult<Option<NaiveDateTime>> {
    if !input.is_enabled {
        return Ok(None);
    }
    next_run(input.schedule_type, &input.schedule_value, now)
        .map(Some)
        .map_err(|m| AppError::invalid("schedule_value", m))
}

pub struct ScheduleService;

impl ScheduleService {
    pub fn owned(conn: &mut DbConnection, user_id: i64, id: i64) -> AppResult<Schedule> {
        Schedule::find_owned(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    /// Whether a run of the caller's schedule `id` reads or writes
    /// Spotify (a linked target, or a Spotify source): such a run-now runs
    /// on the Spotify pool. 404 when it is not the caller's.
    pub fn needs_spotify(conn: &mut DbConnection, user_id: i64, id: i64) -> AppResult<bool> {
        let schedule = Self::owned(conn, user_id, id)?;
        let linked = crate::models::playlist::Playlist::find_owned(
            conn,
            user_id,
            &schedule.target_playlist_id,
        )?
        .is_some_and(|target| target.link.is_linked());
        Ok(linked
            || crate::services::job_plan::sources(conn, &schedule)?
                .iter()
                .any(|s| matches!(s, crate::services::job_plan::Source::Spotify(_))))
    }

    /// The caller's own schedule, its row locked until the transaction
    /// ends, so a PATCH, toggle, delete and a run's start serialize.
    fn lock_owned(conn: &mut DbConnection, user_id: i64, id: i64) -> AppResult<Schedule> {
        Schedule::lock(conn, id)?
            .filter(|s| s.user_id == user_id)
            .ok_or(AppError::NotFound)
    }

    pub fn create(
        conn: &mut DbConnection,
        user: &User,
        input: &ScheduleInput,
    ) -> AppResult<Schedule> {
        write_transaction(conn, |conn| {
            User::lock(conn, user.id)?;
            if Schedule::count(conn, user.id)? >= MAX_SCHEDULES {
                return Err(AppError::Conflict(format!(
                    "at most {MAX_SCHEDULES} schedules per user; delete one first"
                )));
            }
            let target = validate(conn, user, input)?;
            let now = db::now();
            let schedule = NewSchedule {
                user_id: user.id,
                job_type: input.job_type,
                target_playlist_id: target.id.clone(),
                target_playlist_name: target.name.clone(),
                source_playlist_ids: Json::from_strings(&input.source_playlist_ids),
                algorithm_name: input.algorithm_name.clone(),
                algorithm_params: Json(input.algorithm_params.clone()),
                schedule_type: input.schedule_type,
                schedule_value: input.schedule_value.clone(),
                is_enabled: input.is_enabled,
                next_run_at: next_if_enabled(input, now)?,
                created_at: now,
                updated_at: now,
            }
            .insert(conn)?;
            ActivityLogService::log(conn, NewActivity::schedule_create(user, &schedule));
            Ok(schedule)
        })
    }

    pub fn update(
        conn: &mut DbConnection,
        user: &User,
        id: i64,
        patch: &SchedulePatch,
    ) -> AppResult<Schedule> {
        write_transaction(conn, |conn| {
            let current = Self::lock_owned(conn, user.id, id)?;
            let before = ScheduleInput::of(&current);
            let after = patch.apply(&before);
            let changes = before.changes(&after);
            if changes.is_empty() {
                return Ok(current);
            }
            let target = validate(conn, user, &after)?;
            let now = db::now();
            let timing_changed = ["schedule_type", "schedule_value", "is_enabled"]
                .into_iter()
                .any(|f| changes.contains(f));
            let mut next = current.clone();
            next.job_type = after.job_type;
            next.target_playlist_id = target.id.clone();
            next.target_playlist_name = target.name.clone();
            next.source_playlist_ids = Json::from_strings(&after.source_playlist_ids);
            next.algorithm_name = after.algorithm_name.clone();
            next.algorithm_params = Json(after.algorithm_params.clone());
            next.schedule_type = after.schedule_type;
            next.schedule_value = after.schedule_value.clone();
            next.is_enabled = after.is_enabled;
            if timing_changed {
                next.next_run_at = next_if_enabled(&after, now)?;
            }
            next.updated_at = now;
            next.save(conn)?;
            ActivityLogService::log(conn, NewActivity::schedule_update(user, &next, &changes));
            Ok(next)
        })
    }

    pub fn toggle(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<Schedule> {
        write_transaction(conn, |conn| {
            let mut schedule = Self::lock_owned(conn, user.id, id)?;
            schedule.is_enabled = !schedule.is_enabled;
            let now = db::now();
            schedule.next_run_at = next_if_enabled(&ScheduleInput::of(&schedule), now)?;
            schedule.updated_at = now;
            schedule.save(conn)?;
            ActivityLogService::log(conn, NewActivity::schedule_toggle(user, &schedule));
            Ok(schedule)
        })
    }

    pub fn delete(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        write_transaction(conn, |conn| {
            let schedule = Self::lock_owned(conn, user.id, id)?;
            Schedule::delete(conn, id)?;
            ActivityLogService::log(conn, NewActivity::schedule_delete(user, &schedule));
            Ok(())
        })
    }
}
