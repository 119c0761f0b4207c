//! The rules a schedule must satisfy (docs/api.md, "Schedules"), the same for a create and
//! for the merged result of a PATCH, and when it runs next.
//!
//! An interval schedule first runs one interval after it is created or
//! enabled, then one interval after each run; a cron schedule (five fields,
//! UTC) at its first match after that moment.

use chrono::{NaiveDateTime, Utc};
use serde_json::Value;

use crate::db::{self, DbConnection};
use crate::enums::{IntervalValue, JobType, ScheduleType};
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::Playlist;
use crate::models::schedule::Schedule;
use crate::models::upstream_source::UpstreamSource;
use crate::models::User;
use crate::services::playlists::PlaylistService;
use crate::services::shuffle::{choose, keys as algorithm_keys, ChoiceFields};
use crate::validate;

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
    pub(crate) fn of(s: &Schedule) -> Self {
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

/// Checks those rules; returns the target playlist.
pub(crate) fn validate(
    conn: &mut DbConnection,
    user: &User,
    input: &ScheduleInput,
) -> AppResult<Playlist> {
    let mut errors = Vec::new();
    let target = PlaylistService::find_owned(conn, user.id, &input.target_playlist_id)?;
    if target.is_none() {
        errors.push(FieldError::new(
            "target_playlist_id",
            "is not one of your playlists",
        ));
    }
    match input.schedule_type {
        // The column's width: the cron parser accepts padded or long lists.
        _ if !validate::SCHEDULE_VALUE.fits(&input.schedule_value) => {
            errors.push(FieldError::new(
                "schedule_value",
                validate::SCHEDULE_VALUE.message(),
            ));
        }
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
        } else if PlaylistService::find_readable(conn, user.id, id)?.is_none() {
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
        (Some(key), _) => {
            if let Err(err) = choose(key, &input.algorithm_params, ChoiceFields::SCHEDULE) {
                errors.extend(err.into_details());
            }
        }
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
