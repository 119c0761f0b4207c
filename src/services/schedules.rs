//! Schedules: validation (the same rules for create and for the merged
//! result of a PATCH), `next_run_at`, and the `schedule_*` activity rows.
//!
//! An interval schedule first runs one interval after it is created or
//! enabled, then one interval after each run; a cron schedule (five fields,
//! UTC) at its first match after that moment. Missed runs are coalesced:
//! after downtime a schedule runs once, not once per missed slot.

use chrono::{NaiveDateTime, Utc};
use serde_json::{json, Value};

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::enums::{ActivityType, ActorType, IntervalValue, JobType, ScheduleType};
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::Playlist;
use crate::models::schedule::{NewSchedule, Schedule};
use crate::models::upstream_source::UpstreamSource;
use crate::models::{NewActivity, User};
use crate::services::shuffle::{find as find_algorithm, keys as algorithm_keys, validate_params};
use crate::services::ActivityLogService;

/// Schedules one user may keep.
pub const MAX_SCHEDULES: i64 = 5;

/// A five-field cron expression, parsed; `Err` says what is wrong.
pub fn parse_cron(value: &str) -> Result<croner::Cron, String> {
    let fields = value.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day month weekday), this one has {fields}"
        ));
    }
    croner::Cron::new(value)
        .parse()
        .map_err(|e| format!("invalid cron expression: {e}"))
}

/// When a schedule runs next, counting from `after`.
pub fn next_run(
    schedule_type: ScheduleType,
    value: &str,
    after: NaiveDateTime,
) -> Result<NaiveDateTime, String> {
    match schedule_type {
        ScheduleType::Interval => {
            let interval: IntervalValue = value.parse().map_err(|_| interval_error())?;
            Ok(after + interval.duration())
        }
        ScheduleType::Cron => {
            let cron = parse_cron(value)?;
            let next = cron
                .find_next_occurrence(&after.and_utc(), false)
                .map_err(|e| format!("the cron expression never matches: {e}"))?;
            Ok(db::truncate_to_micros(next.with_timezone(&Utc).naive_utc()))
        }
    }
}

fn interval_error() -> String {
    let values: Vec<String> = <IntervalValue as strum::IntoEnumIterator>::iter()
        .map(|v| v.to_string())
        .collect();
    format!("must be one of: {}", values.join(", "))
}

/// Everything a schedule is, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleInput {
    pub job_type: JobType,
    pub target_playlist_id: String,
    pub schedule_type: ScheduleType,
    pub schedule_value: String,
    pub source_playlist_ids: Vec<String>,
    pub algorithm_name: Option<String>,
    pub algorithm_params: Value,
    pub is_enabled: bool,
}

impl ScheduleInput {
    fn of(s: &Schedule) -> Self {
        ScheduleInput {
            job_type: s.job_type,
            target_playlist_id: s.target_playlist_id.clone(),
            schedule_type: s.schedule_type,
            schedule_value: s.schedule_value.clone(),
            source_playlist_ids: s.source_playlist_ids.strings(),
            algorithm_name: s.algorithm_name.clone(),
            algorithm_params: s.algorithm_params.0.clone(),
            is_enabled: s.is_enabled,
        }
    }
}

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

/// Checks the rules of SPEC §6; returns the target playlist.
fn validate(conn: &mut DbConnection, user: &User, input: &ScheduleInput) -> AppResult<Playlist> {
    let mut errors = Vec::new();
    let target = Playlist::find_owned(conn, user.id, &input.target_playlist_id)?;
    if target.is_none() {
        errors.push(FieldError::new(
            "target_playlist_id",
            "is not one of your playlists",
        ));
    }
    match input.schedule_type {
        ScheduleType::Interval if input.schedule_value.parse::<IntervalValue>().is_err() => {
            errors.push(FieldError::new("schedule_value", interval_error()));
        }
        ScheduleType::Cron => {
            if let Err(message) = parse_cron(&input.schedule_value) {
                errors.push(FieldError::new("schedule_value", message));
            }
        }
        _ => {}
    }
    if input.source_playlist_ids.len() > 50 {
        errors.push(FieldError::new("source_playlist_ids", "at most 50 sources"));
    }
    for id in &input.source_playlist_ids {
        if *id == input.target_playlist_id {
            errors.push(FieldError::new(
                "source_playlist_ids",
                "a playlist cannot be its own source",
            ));
        } else if Playlist::find_readable(conn, user.id, id)?.is_none() {
            errors.push(FieldError::new(
                "source_playlist_ids",
                format!("{id:?} is not a playlist you can read"),
            ));
        }
    }
    let raids = matches!(input.job_type, JobType::Raid | JobType::RaidAndShuffle);
    let shuffles = matches!(input.job_type, JobType::Shuffle | JobType::RaidAndShuffle);
    if raids && input.source_playlist_ids.is_empty() && target.is_some() {
        let upstream = UpstreamSource::list_for_target(conn, user.id, &input.target_playlist_id)?;
        if upstream.is_empty() {
            errors.push(FieldError::new(
                "source_playlist_ids",
                "a raid needs sources: give source_playlist_ids or add upstream sources to the target",
            ));
        }
    }
    match (&input.algorithm_name, shuffles) {
        (None, true) => errors.push(FieldError::new(
            "algorithm_name",
            format!(
                "a {} job needs an algorithm: one of {}",
                input.job_type,
                algorithm_keys().join(", ")
            ),
        )),
        (Some(key), _) => match find_algorithm(key) {
            None => errors.push(FieldError::new(
                "algorithm_name",
                format!(
                    "unknown algorithm {key:?}; valid algorithms: {}",
                    algorithm_keys().join(", ")
                ),
            )),
            Some(algorithm) => {
                if let Err(problems) = validate_params(algorithm, &input.algorithm_params) {
                    errors.extend(problems.into_iter().map(|(f, m)| {
                        FieldError::new(f.replacen("params", "algorithm_params", 1), m)
                    }));
                }
            }
        },
        (None, false) => {
            if input
                .algorithm_params
                .as_object()
                .is_some_and(|p| !p.is_empty())
            {
                errors.push(FieldError::new(
                    "algorithm_params",
                    "given without an algorithm_name",
                ));
            }
        }
    }
    if !input.algorithm_params.is_object() {
        errors.push(FieldError::new("algorithm_params", "must be an object"));
    }
    AppError::ensure_valid(errors)?;
    target.ok_or(AppError::NotFound)
}

fn log(
    conn: &mut DbConnection,
    user: &User,
    kind: ActivityType,
    s: &Schedule,
    description: String,
    extra: Value,
) {
    let mut metadata = json!({ "schedule_id": s.id, "job_type": s.job_type });
    if let (Some(m), Value::Object(more)) = (metadata.as_object_mut(), extra) {
        m.extend(more);
    }
    ActivityLogService::log(
        conn,
        NewActivity::new(user.id, kind, description)
            .playlist(&s.target_playlist_id, &s.target_playlist_name)
            .actor(ActorType::User, &user.username)
            .metadata(metadata),
    );
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

    pub fn create(
        conn: &mut DbConnection,
        user: &User,
        input: &ScheduleInput,
    ) -> AppResult<Schedule> {
        write_transaction(conn, |conn| {
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
            log(
                conn,
                user,
                ActivityType::ScheduleCreate,
                &schedule,
                format!("Created schedule #{} ({})", schedule.id, schedule.job_type),
                json!({}),
            );
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
            let current = Self::owned(conn, user.id, id)?;
            let before = ScheduleInput::of(&current);
            let mut after = before.clone();
            if let Some(v) = patch.job_type {
                after.job_type = v;
            }
            if let Some(v) = &patch.target_playlist_id {
                after.target_playlist_id = v.clone();
            }
            if let Some(v) = patch.schedule_type {
                after.schedule_type = v;
            }
            if let Some(v) = &patch.schedule_value {
                after.schedule_value = v.trim().to_string();
            }
            if let Some(v) = &patch.source_playlist_ids {
                after.source_playlist_ids = v.clone();
            }
            if let Some(v) = &patch.algorithm_name {
                after.algorithm_name = v.clone();
            }
            if let Some(v) = &patch.algorithm_params {
                after.algorithm_params = v.clone();
            }
            if let Some(v) = patch.is_enabled {
                after.is_enabled = v;
            }
            let mut updated_fields = Vec::new();
            for (field, changed) in [
                ("job_type", after.job_type != before.job_type),
                (
                    "target_playlist_id",
                    after.target_playlist_id != before.target_playlist_id,
                ),
                ("schedule_type", after.schedule_type != before.schedule_type),
                (
                    "schedule_value",
                    after.schedule_value != before.schedule_value,
                ),
                (
                    "source_playlist_ids",
                    after.source_playlist_ids != before.source_playlist_ids,
                ),
                (
                    "algorithm_name",
                    after.algorithm_name != before.algorithm_name,
                ),
                (
                    "algorithm_params",
                    after.algorithm_params != before.algorithm_params,
                ),
                ("is_enabled", after.is_enabled != before.is_enabled),
            ] {
                if changed {
                    updated_fields.push(field);
                }
            }
            if updated_fields.is_empty() {
                return Ok(current);
            }
            let target = validate(conn, user, &after)?;
            let now = db::now();
            let timing_changed = updated_fields
                .iter()
                .any(|f| matches!(*f, "schedule_type" | "schedule_value" | "is_enabled"));
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
            log(
                conn,
                user,
                ActivityType::ScheduleUpdate,
                &next,
                format!(
                    "Updated schedule #{}: {}",
                    next.id,
                    updated_fields.join(", ")
                ),
                json!({ "updated_fields": updated_fields }),
            );
            Ok(next)
        })
    }

    pub fn toggle(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<Schedule> {
        write_transaction(conn, |conn| {
            let mut schedule = Self::owned(conn, user.id, id)?;
            schedule.is_enabled = !schedule.is_enabled;
            let now = db::now();
            schedule.next_run_at = next_if_enabled(&ScheduleInput::of(&schedule), now)?;
            schedule.updated_at = now;
            schedule.save(conn)?;
            let verb = if schedule.is_enabled {
                "Enabled"
            } else {
                "Disabled"
            };
            log(
                conn,
                user,
                ActivityType::ScheduleToggle,
                &schedule,
                format!("{verb} schedule #{}", schedule.id),
                json!({ "is_enabled": schedule.is_enabled }),
            );
            Ok(schedule)
        })
    }

    pub fn delete(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        write_transaction(conn, |conn| {
            let schedule = Self::owned(conn, user.id, id)?;
            Schedule::delete(conn, id)?;
            log(
                conn,
                user,
                ActivityType::ScheduleDelete,
                &schedule,
                format!("Deleted schedule #{}", schedule.id),
                json!({}),
            );
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn intervals_and_cron() {
        let base = t("2026-05-01 10:30:00");
        assert_eq!(
            next_run(ScheduleType::Interval, "every_6h", base).unwrap(),
            t("2026-05-01 16:30:00")
        );
        assert_eq!(
            next_run(ScheduleType::Interval, "weekly", base).unwrap(),
            t("2026-05-08 10:30:00")
        );
        assert_eq!(
            next_run(ScheduleType::Cron, "0 12 * * *", base).unwrap(),
            t("2026-05-01 12:00:00")
        );
        assert_eq!(
            next_run(ScheduleType::Cron, "*/15 * * * *", base).unwrap(),
            t("2026-05-01 10:45:00")
        );
        assert!(next_run(ScheduleType::Interval, "hourly", base).is_err());
        assert!(parse_cron("0 0 12 * * *").unwrap_err().contains("has 6"));
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("@daily").is_err());
    }
}
