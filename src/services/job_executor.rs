//! The job executor: runs one schedule's job (raid, shuffle or both) as
//! SPEC §8 describes, records the execution and the schedule's `last_*`
//! fields, and logs exactly one `schedule_run` row per run: success,
//! failure, refusal or interruption.
//!
//! A run is two transactions: a short one that locks the schedule, marks a
//! dead predecessor `interrupted` and inserts the `running` execution (so a
//! concurrent run-now sees it and answers 409), then the job itself with its
//! bookkeeping, holding the target playlist's row lock. When the job fails,
//! its changes roll back and a third transaction records the failure.
//!
//! While a run is in hand, a heartbeat thread renews its lease on a
//! connection of its own (SPEC §10.6), outside the job's transaction; when
//! the process dies, the lease expires and any instance's scheduler marks
//! the run `interrupted` with its `schedule_run` row ([`JobExecutor::recover`]).
//! Scheduled jobs compute their order under the playlist lock rather than
//! before it, as user rewrites do: a raid and its shuffle must land
//! together, and the shuffle of at most 10,000 tracks takes milliseconds.

use std::collections::HashSet;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;

use crate::config::Lease;
use crate::db::{self, write_transaction, DbConnection, Pool};
use crate::enums::{ActorType, ExecutionStatus, JobType, TriggeredBy};
use crate::error::{AppError, AppResult};
use crate::metrics;
use crate::models::job_execution::{JobExecution, INTERRUPTED};
use crate::models::playlist::Playlist;
use crate::models::schedule::Schedule;
use crate::models::track::Track;
use crate::models::upstream_source::UpstreamSource;
use crate::models::{NewActivity, RunOutcome, User};
use crate::services::activity_log::truncate_chars;
use crate::services::playlists::{PlaylistService, Rewrite, RewriteTarget, MAX_TRACKS};
use crate::services::shuffle::{choose, order_uris, ChoiceFields};
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

    fn actor(&self, schedule_id: i64) -> (ActorType, String) {
        match self {
            Trigger::Manual(user) => (ActorType::User, user.username.clone()),
            Trigger::Scheduler => (ActorType::Scheduler, format!("Schedule #{schedule_id}")),
        }
    }
}

/// Renews one execution's lease until dropped.
pub struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    fn start(pool: Pool, execution_id: i64, every: std::time::Duration) -> Heartbeat {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("lease-{execution_id}"))
            .spawn(move || loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                // A short checkout of its own: never the job's connection,
                // never inside the job's transaction.
                let renewed = pool.get().map_err(|e| e.to_string()).and_then(|mut c| {
                    JobExecution::renew(&mut c, execution_id, db::now()).map_err(|e| e.to_string())
                });
                match renewed {
                    Ok(true) => {}
                    Ok(false) => return, // no longer running
                    Err(err) => log::warn!("run #{execution_id}: lease not renewed: {err}"),
                }
            })
            .ok();
        if thread.is_none() {
            log::warn!("run #{execution_id}: no heartbeat thread; its lease will expire");
        }
        Heartbeat {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs jobs; holds what a run needs beyond the connection it runs on.
#[derive(Clone)]
pub struct JobExecutor {
    pool: Pool,
    lease: Lease,
}

impl JobExecutor {
    pub fn new(pool: Pool, lease: Lease) -> Self {
        JobExecutor { pool, lease }
    }

    /// Renews `execution_id`'s lease on a connection of its own until the
    /// returned guard is dropped.
    pub fn keep_alive(&self, execution_id: i64) -> Heartbeat {
        Heartbeat::start(self.pool.clone(), execution_id, self.lease.renew_every)
    }

    fn lease_cutoff(&self, now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
        let expiry = chrono::Duration::from_std(self.lease.expires_after)
            .unwrap_or(chrono::Duration::seconds(60));
        now - expiry
    }

    /// Runs `schedule` now and returns its finished execution. While
    /// another run of it holds a live lease, a run-now is a 409 and a
    /// scheduled run is recorded as a `failed` execution saying why; a
    /// predecessor whose lease expired is marked `interrupted` first.
    pub fn run(
        &self,
        conn: &mut DbConnection,
        schedule: &Schedule,
        trigger: &Trigger,
    ) -> AppResult<JobExecution> {
        let started = write_transaction(conn, |conn| {
            let schedule = Schedule::lock(conn, schedule.id)?.ok_or(AppError::NotFound)?;
            let now = db::now();
            for dead in JobExecution::expired(conn, self.lease_cutoff(now), Some(schedule.id))? {
                Self::interrupt(conn, &schedule, &dead, self.lease_cutoff(now), now)?;
            }
            if JobExecution::is_running(conn, schedule.id)? {
                return Ok(None);
            }
            let execution =
                JobExecution::start(conn, schedule.id, trigger.triggered_by(), db::now())?;
            Ok::<_, AppError>(Some(execution))
        })?;
        let Some(execution) = started else {
            let refusal = format!("schedule #{} is already running", schedule.id);
            if let Trigger::Manual(_) = trigger {
                return Err(AppError::Conflict(refusal));
            }
            let refused = write_transaction(conn, |conn| {
                let execution =
                    JobExecution::start(conn, schedule.id, trigger.triggered_by(), db::now())?;
                Self::finish(conn, schedule, trigger, &execution, Err(&refusal))
            })?;
            metrics::global().job_run(refused.status.as_ref());
            return Ok(refused);
        };

        let heartbeat = self.keep_alive(execution.id);
        let succeeded = write_transaction(conn, |conn| {
            let outcome = Self::perform(conn, schedule)?;
            Self::finish(conn, schedule, trigger, &execution, Ok(&outcome))
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
                // If even this fails, the heartbeat stops with this run and
                // the lease expires: the run is then recorded `interrupted`.
                write_transaction(conn, |conn| {
                    Self::finish(conn, schedule, trigger, &execution, Err(&message))
                })?
            }
        };
        drop(heartbeat);
        metrics::global().job_run(finished.status.as_ref());
        Ok(finished)
    }

    /// Marks every running execution whose lease expired `interrupted`,
    /// each with its `schedule_run` row and its schedule's `last_*` fields,
    /// one transaction per execution. Returns how many. Run at start-up and
    /// on every scheduler tick, by every instance; a renewed or finished
    /// run is left alone.
    pub fn recover(&self, conn: &mut DbConnection) -> AppResult<usize> {
        let cutoff = self.lease_cutoff(db::now());
        let mut recovered = 0;
        for dead in JobExecution::expired(conn, cutoff, None)? {
            let done = write_transaction(conn, |conn| {
                let Some(schedule) = Schedule::lock(conn, dead.schedule_id)? else {
                    return Ok(false);
                };
                Self::interrupt(conn, &schedule, &dead, cutoff, db::now())
            })?;
            if done {
                recovered += 1;
                metrics::global().job_run(ExecutionStatus::Failed.as_ref());
            }
        }
        Ok(recovered)
    }

    /// Marks `dead` interrupted if its lease is still expired, with its
    /// row and the schedule's `last_*` fields; the schedule is locked.
    fn interrupt(
        conn: &mut DbConnection,
        schedule: &Schedule,
        dead: &JobExecution,
        cutoff: chrono::NaiveDateTime,
        now: chrono::NaiveDateTime,
    ) -> AppResult<bool> {
        if !JobExecution::interrupt(conn, dead.id, cutoff, now)? {
            return Ok(false);
        }
        log::warn!(
            "schedule #{}: run #{} lost its lease; marked {INTERRUPTED}",
            schedule.id,
            dead.id
        );
        Schedule::record_run(
            conn,
            schedule.id,
            now,
            ExecutionStatus::Failed.as_ref(),
            Some(INTERRUPTED),
        )?;
        let trigger = Trigger::Scheduler;
        Self::log_run(
            conn,
            schedule,
            &trigger,
            dead.id,
            Some(INTERRUPTED),
            &RunOutcome {
                playlist_name: schedule.target_playlist_name.clone(),
                ..RunOutcome::default()
            },
        );
        Ok(true)
    }

    /// Records how a run ended: its execution, the schedule's `last_*`
    /// fields and its one `schedule_run` row.
    fn finish(
        conn: &mut DbConnection,
        schedule: &Schedule,
        trigger: &Trigger,
        execution: &JobExecution,
        result: Result<&RunOutcome, &str>,
    ) -> AppResult<JobExecution> {
        let now = db::now();
        let failed_outcome = RunOutcome {
            playlist_name: schedule.target_playlist_name.clone(),
            ..RunOutcome::default()
        };
        let (status, outcome, error) = match result {
            Ok(outcome) => (ExecutionStatus::Success, outcome, None),
            Err(message) => (
                ExecutionStatus::Failed,
                &failed_outcome,
                Some(truncate_chars(message, MAX_ERROR_CHARS)),
            ),
        };
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
        Self::log_run(conn, schedule, trigger, finished.id, error, outcome);
        Ok(finished)
    }

    /// The `schedule_run` row of one run (SPEC §4).
    fn log_run(
        conn: &mut DbConnection,
        schedule: &Schedule,
        trigger: &Trigger,
        execution_id: i64,
        error: Option<&str>,
        outcome: &RunOutcome,
    ) {
        ActivityLogService::log(
            conn,
            NewActivity::schedule_run(
                schedule,
                trigger.actor(schedule.id),
                execution_id,
                error,
                outcome,
            ),
        );
    }

    /// The job itself, holding the target playlist's lock; an `Err` rolls
    /// its changes back.
    fn perform(conn: &mut DbConnection, schedule: &Schedule) -> AppResult<RunOutcome> {
        let mut target =
            PlaylistService::lock_owned(conn, schedule.user_id, &schedule.target_playlist_id)
                .map_err(|err| match err {
                    AppError::NotFound => AppError::Conflict(format!(
                        "target playlist {} no longer exists",
                        schedule.target_playlist_id
                    )),
                    other => other,
                })?;
        let mut outcome = RunOutcome::default();
        if matches!(schedule.job_type, JobType::Raid | JobType::RaidAndShuffle) {
            target = Self::raid(conn, schedule, target, &mut outcome)?;
        }
        if matches!(
            schedule.job_type,
            JobType::Shuffle | JobType::RaidAndShuffle
        ) {
            target = Self::shuffle(conn, schedule, target, &mut outcome)?;
        }
        outcome.total = PlaylistService::track_uris(conn, &target)?.len();
        outcome.playlist_name = target.name;
        Ok(outcome)
    }

    /// Appends the sources' tracks that the target lacks, once each, in
    /// source order, up to the playlist's track limit. A source that no
    /// longer exists (or is no longer readable) is skipped.
    fn raid(
        conn: &mut DbConnection,
        schedule: &Schedule,
        target: Playlist,
        outcome: &mut RunOutcome,
    ) -> AppResult<Playlist> {
        let mut source_ids = schedule.source_playlist_ids.strings();
        if source_ids.is_empty() {
            source_ids = UpstreamSource::list_for_target(conn, schedule.user_id, &target.id)?
                .into_iter()
                .map(|s| s.source_playlist_id)
                .collect();
        }
        let current = PlaylistService::track_uris(conn, &target)?;
        let mut seen: HashSet<String> = current.iter().cloned().collect();
        let mut fresh = Vec::new();
        for id in source_ids {
            if id == target.id {
                continue;
            }
            let Some(source) = PlaylistService::find_readable(conn, schedule.user_id, &id)? else {
                log::info!("schedule #{}: source {id} is gone, skipped", schedule.id);
                continue;
            };
            for uri in PlaylistService::track_uris(conn, &source)? {
                if seen.insert(uri.clone()) {
                    fresh.push(uri);
                }
            }
        }
        let room = MAX_TRACKS.saturating_sub(current.len());
        outcome.left_out = fresh.len().saturating_sub(room);
        fresh.truncate(room);
        if fresh.is_empty() {
            return Ok(target);
        }
        let mut order = current.clone();
        order.extend(fresh.iter().cloned());
        let raid = Rewrite::Raid {
            schedule_id: schedule.id,
        };
        let Some(written) = PlaylistService::rewrite_order(
            conn,
            &RewriteTarget::new(target.clone()),
            &current,
            &order,
            raid,
        )?
        else {
            return Ok(target);
        };
        outcome.added = fresh.len();
        outcome.snapshot_ids.extend(written.snapshot_id);
        Ok(written.playlist)
    }

    fn shuffle(
        conn: &mut DbConnection,
        schedule: &Schedule,
        target: Playlist,
        outcome: &mut RunOutcome,
    ) -> AppResult<Playlist> {
        let key = schedule
            .algorithm_name
            .as_deref()
            .ok_or_else(|| AppError::invalid("algorithm_name", "the schedule has no algorithm"))?;
        let (chosen, params) = choose(key, &schedule.algorithm_params.0, ChoiceFields::SCHEDULE)?;
        let rows = PlaylistService::tracks(conn, &target)?;
        let tracks: Vec<&Track> = rows.iter().map(|(_, t)| t).collect();
        let current: Vec<String> = tracks.iter().map(|t| t.uri.clone()).collect();
        let order = order_uris(chosen, &params, &tracks, rand::random());
        let shuffle = Rewrite::ScheduledShuffle {
            schedule_id: schedule.id,
        };
        let Some(written) = PlaylistService::rewrite_order(
            conn,
            &RewriteTarget::new(target.clone()),
            &current,
            &order,
            shuffle,
        )?
        else {
            return Ok(target);
        };
        outcome.snapshot_ids.extend(written.snapshot_id);
        Ok(written.playlist)
    }
}
