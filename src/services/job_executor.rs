//! The job executor: runs one schedule's job (raid, shuffle or both) as
//! SPEC §8 describes, records the execution and the schedule's `last_*`
//! fields, and logs exactly one `schedule_run` row per run, success or
//! failure.
//!
//! A run is two transactions: a short one that inserts the `running`
//! execution (so a concurrent run-now sees it and answers 409), then the job
//! itself with its bookkeeping. When the job fails, its changes roll back
//! and a third transaction records the failure.

use std::collections::HashSet;

use serde_json::json;

use crate::db::{self, write_transaction, DbConnection};
use crate::enums::{ActivityType, ActorType, ExecutionStatus, JobType, SnapshotType, TriggeredBy};
use crate::error::{AppError, AppResult};
use crate::metrics;
use crate::models::job_execution::JobExecution;
use crate::models::playlist::Playlist;
use crate::models::schedule::Schedule;
use crate::models::track::Track;
use crate::models::upstream_source::UpstreamSource;
use crate::models::{NewActivity, User};
use crate::services::activity_log::truncate_chars;
use crate::services::playlists::PlaylistService;
use crate::services::shuffle::service::{algorithm, params, ShuffleService};
use crate::services::snapshots::SnapshotService;
use crate::services::ActivityLogService;

/// Longest stored error message, in characters.
pub const MAX_ERROR_CHARS: usize = 1000;

/// Who started a run.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Run-now by the owner (actor `user`).
    Manual(User),
    /// The schedule loop (actor `scheduler`).
    Scheduler,
}

impl Trigger {
    fn triggered_by(&self) -> TriggeredBy {
        match self {
            Trigger::Manual(_) => TriggeredBy::Manual,
            Trigger::Scheduler => TriggeredBy::Scheduler,
        }
    }
}

struct Outcome {
    added: usize,
    total: usize,
    playlist_name: String,
}

pub struct JobExecutor;

impl JobExecutor {
    /// Runs `schedule` now and returns its finished execution. A run while
    /// another of the same schedule is `running` is a 409.
    pub fn run(
        conn: &mut DbConnection,
        schedule: &Schedule,
        trigger: &Trigger,
    ) -> AppResult<JobExecution> {
        let execution = write_transaction(conn, |conn| {
            if let DbConnection::Postgres(pg) = conn {
                // Serialize run starts per schedule (SQLite's IMMEDIATE
                // transaction already does).
                use diesel::RunQueryDsl;
                diesel::sql_query("SELECT id FROM schedules WHERE id = $1 FOR UPDATE")
                    .bind::<diesel::sql_types::BigInt, _>(schedule.id)
                    .execute(pg)?;
            }
            if JobExecution::is_running(conn, schedule.id)? {
                return Err(AppError::Conflict(format!(
                    "schedule #{} is already running",
                    schedule.id
                )));
            }
            Ok(JobExecution::start(
                conn,
                schedule.id,
                trigger.triggered_by(),
                db::now(),
            )?)
        })?;

        let succeeded = write_transaction(conn, |conn| {
            let outcome = Self::perform(conn, schedule)?;
            let finished = Self::finish(
                conn,
                schedule,
                trigger,
                &execution,
                ExecutionStatus::Success,
                &outcome,
                None,
            )?;
            Ok::<_, AppError>(finished)
        });
        let finished = match succeeded {
            Ok(finished) => finished,
            Err(err) => {
                let message = match &err {
                    AppError::Internal(detail) => {
                        log::error!("schedule #{} failed: {detail}", schedule.id);
                        "internal error".to_string()
                    }
                    other => other.to_string(),
                };
                let message = truncate_chars(&message, MAX_ERROR_CHARS).to_string();
                let outcome = Outcome {
                    added: 0,
                    total: 0,
                    playlist_name: schedule.target_playlist_name.clone(),
                };
                write_transaction(conn, |conn| {
                    Self::finish(
                        conn,
                        schedule,
                        trigger,
                        &execution,
                        ExecutionStatus::Failed,
                        &outcome,
                        Some(&message),
                    )
                })?
            }
        };
        metrics::global().job_run(finished.status.as_ref());
        Ok(finished)
    }

    fn finish(
        conn: &mut DbConnection,
        schedule: &Schedule,
        trigger: &Trigger,
        execution: &JobExecution,
        status: ExecutionStatus,
        outcome: &Outcome,
        error: Option<&str>,
    ) -> AppResult<JobExecution> {
        let now = db::now();
        let finished = JobExecution::finish(
            conn,
            execution.id,
            status,
            outcome.added as i32,
            outcome.total as i32,
            error,
            now,
        )?;
        Schedule::record_run(conn, schedule.id, now, status.as_ref(), error)?;
        let (actor, actor_name) = match trigger {
            Trigger::Manual(user) => (ActorType::User, user.username.clone()),
            Trigger::Scheduler => (ActorType::Scheduler, format!("Schedule #{}", schedule.id)),
        };
        let description = match error {
            None => format!(
                "Schedule #{} ran {} on \"{}\": {} tracks added, {} in total",
                schedule.id, schedule.job_type, outcome.playlist_name, outcome.added, outcome.total
            ),
            Some(message) => format!("Schedule #{} failed: {message}", schedule.id),
        };
        let mut metadata = json!({
            "schedule_id": schedule.id,
            "execution_id": finished.id,
            "job_type": schedule.job_type,
            "status": status,
            "tracks_added": outcome.added,
            "tracks_total": outcome.total,
        });
        if let Some(message) = error {
            metadata["error"] = json!(message);
        }
        ActivityLogService::log(
            conn,
            NewActivity::new(schedule.user_id, ActivityType::ScheduleRun, description)
                .playlist(&schedule.target_playlist_id, &outcome.playlist_name)
                .actor(actor, actor_name)
                .metadata(metadata),
        );
        Ok(finished)
    }

    /// The job itself; an `Err` rolls its changes back.
    fn perform(conn: &mut DbConnection, schedule: &Schedule) -> AppResult<Outcome> {
        let mut target =
            Playlist::find_owned(conn, schedule.user_id, &schedule.target_playlist_id)?
                .ok_or_else(|| {
                    AppError::Conflict(format!(
                        "target playlist {} no longer exists",
                        schedule.target_playlist_id
                    ))
                })?;
        let mut added = 0;
        if matches!(schedule.job_type, JobType::Raid | JobType::RaidAndShuffle) {
            let (playlist, count) = Self::raid(conn, schedule, target)?;
            target = playlist;
            added = count;
        }
        if matches!(
            schedule.job_type,
            JobType::Shuffle | JobType::RaidAndShuffle
        ) {
            target = Self::shuffle(conn, schedule, target)?;
        }
        let total = Playlist::track_uris(conn, &target.id)?.len();
        Ok(Outcome {
            added,
            total,
            playlist_name: target.name,
        })
    }

    /// Appends the sources' tracks that the target lacks, once each, in
    /// source order. A source that no longer exists (or is no longer
    /// readable) is skipped.
    fn raid(
        conn: &mut DbConnection,
        schedule: &Schedule,
        target: Playlist,
    ) -> AppResult<(Playlist, usize)> {
        let mut source_ids = schedule.source_playlist_ids.strings();
        if source_ids.is_empty() {
            source_ids = UpstreamSource::list_for_target(conn, schedule.user_id, &target.id)?
                .into_iter()
                .map(|s| s.source_playlist_id)
                .collect();
        }
        let current = Playlist::track_uris(conn, &target.id)?;
        let mut seen: HashSet<String> = current.iter().cloned().collect();
        let mut fresh = Vec::new();
        for id in source_ids {
            if id == target.id {
                continue;
            }
            let Some(source) = Playlist::find_readable(conn, schedule.user_id, &id)? else {
                log::info!("schedule #{}: source {id} is gone, skipped", schedule.id);
                continue;
            };
            for uri in Playlist::track_uris(conn, &source.id)? {
                if seen.insert(uri.clone()) {
                    fresh.push(uri);
                }
            }
        }
        if fresh.is_empty() {
            return Ok((target, 0));
        }
        SnapshotService::take_automatic(
            conn,
            &target,
            &current,
            SnapshotType::AutoPreRaid,
            &format!("Before schedule #{} raid", schedule.id),
        )?;
        let mut order = current;
        order.extend(fresh.iter().cloned());
        let updated = PlaylistService::write_order(conn, &target, &order)?;
        Ok((updated, fresh.len()))
    }

    fn shuffle(
        conn: &mut DbConnection,
        schedule: &Schedule,
        target: Playlist,
    ) -> AppResult<Playlist> {
        let key = schedule
            .algorithm_name
            .as_deref()
            .ok_or_else(|| AppError::invalid("algorithm_name", "the schedule has no algorithm"))?;
        let chosen = algorithm(key)?;
        let p = params(chosen, Some(&schedule.algorithm_params.0))?;
        let rows = Playlist::tracks(conn, &target.id)?;
        let tracks: Vec<&Track> = rows.iter().map(|(_, t)| t).collect();
        let current: Vec<String> = tracks.iter().map(|t| t.uri.clone()).collect();
        let order = ShuffleService::order(chosen, &p, &tracks, None);
        if order == current {
            return Ok(target);
        }
        SnapshotService::take_automatic(
            conn,
            &target,
            &current,
            SnapshotType::ScheduledPreExecution,
            &format!("Before schedule #{} shuffle", schedule.id),
        )?;
        PlaylistService::write_order(conn, &target, &order)
    }
}
