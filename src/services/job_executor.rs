//! The job executor: runs one schedule's job (raid, shuffle or both) as
//! docs/api.md ("Schedules") describes, records the execution and the schedule's `last_*`
//! fields, and logs exactly one `schedule_run` row per run: success,
//! failure, refusal or interruption.
//!
//! A run is two transactions: a short one that locks the schedule, marks a
//! dead predecessor `interrupted` and inserts the `running` execution (so a
//! concurrent run-now sees it and answers 409), then the job itself with its
//! bookkeeping, holding the target playlist's row lock. When the job fails,
//! its changes roll back and a third transaction records the failure. A job
//! that involves Spotify (a Spotify source, a linked target) reads and
//! writes Spotify between transactions, holding no connection, and a
//! Spotify failure fails the run with its message (see `perform`).
//!
//! A scheduled run holds its schedule's claim (`crate::scheduler`): the
//! first transaction checks the claim is still this instance's and marks it
//! started; whichever transaction records how the run ended (success,
//! failure, refusal, or interruption by recovery) also sets `next_run_at`
//! and ends the claim, so a due occurrence gets exactly one execution.
//!
//! While a run is in hand, a heartbeat thread renews its lease on a
//! connection of its own (docs/api.md, "Schedules"), outside the job's transaction; when
//! the process dies, the lease expires and any instance's scheduler marks
//! the run `interrupted` with its `schedule_run` row ([`JobExecutor::recover`]).
//! Scheduled jobs compute their order under the playlist lock rather than
//! before it, as user rewrites do: a raid and its shuffle must land
//! together, and the shuffle of at most 10,000 tracks takes milliseconds.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Lease;
use crate::db::{self, write_transaction, Checkout, DbConnection, Pool};
use crate::enums::{ActorType, ExecutionStatus, JobType, TriggeredBy};
use crate::error::{AppError, AppResult};
use crate::metrics;
use crate::models::job_execution::{JobExecution, INTERRUPTED};
use crate::models::playlist::Playlist;
use crate::models::schedule::Schedule;
use crate::models::{NewActivity, RunOutcome, User};
use crate::providers::spotify::Spotify;
use crate::services::job_plan::{self, Fetched, JobPlan, Source};
use crate::services::playlists::PlaylistService;
use crate::services::rewrite::linked::{self, Unfinished};
use crate::services::rewrite::{replace_order, Rewrite, RewriteTarget};
use crate::services::rotation::{self, ArchiveBack};
use crate::services::schedule_rules::next_run;
use crate::services::spotify::SpotifyService;
use crate::services::ActivityLogService;
use crate::validate::truncate_chars;

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
    spotify: Option<Arc<Spotify>>,
}

impl JobExecutor {
    pub fn new(pool: Pool, lease: Lease) -> Self {
        JobExecutor {
            pool,
            lease,
            spotify: None,
        }
    }

    /// The executor with Spotify, for raids from Spotify sources and jobs
    /// on linked playlists.
    pub fn with_spotify(mut self, spotify: Option<Arc<Spotify>>) -> Self {
        self.spotify = spotify;
        self
    }

    /// The lease its runs hold, and its claims.
    pub fn lease(&self) -> Lease {
        self.lease
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
    ///
    /// It takes a [`Checkout`], not a connection: a run that reads a
    /// Spotify source or writes a linked target gives its connection back
    /// while it calls Spotify (docs/spotify.md).
    pub fn run(
        &self,
        db: &mut Checkout,
        schedule: &Schedule,
        trigger: &Trigger,
    ) -> AppResult<JobExecution> {
        let begun = write_transaction(db.conn()?, |conn| {
            let schedule = Schedule::lock(conn, schedule.id)?.ok_or(AppError::NotFound)?;
            self.begin(conn, &schedule, trigger)
        })?;
        self.carry_out(db, schedule, trigger, begun)
    }

    /// Runs the due schedule `schedule_id` that `instance` claimed
    /// (`crate::scheduler`), as the scheduler; `None` when there is
    /// nothing to run: the claim was taken over after it ran out (or the
    /// schedule deleted), or the schedule was disabled or moved since.
    ///
    /// The first transaction locks the schedule, checks the claim, and
    /// inserts the `running` execution marking the claim started, so an
    /// instance that dies from here on leaves a run for recovery to mark
    /// `interrupted`, never one to start again. Every way the run ends
    /// ([`Self::finish`]) moves `next_run_at` on and ends the claim.
    pub fn run_claimed(
        &self,
        db: &mut Checkout,
        schedule_id: i64,
        instance: &str,
    ) -> AppResult<Option<JobExecution>> {
        match self.begin_claimed(db, schedule_id, instance)? {
            Some(run) => self.carry_out_claimed(db, run).map(Some),
            None => Ok(None),
        }
    }

    /// The first transaction of [`Self::run_claimed`]; `None` when there
    /// is nothing to run. An instance that stops between this and
    /// [`Self::carry_out_claimed`] (it died) leaves a run for recovery.
    pub fn begin_claimed(
        &self,
        db: &mut Checkout,
        schedule_id: i64,
        instance: &str,
    ) -> AppResult<Option<ClaimedRun>> {
        let trigger = Trigger::Scheduler;
        let begun = write_transaction(db.conn()?, |conn| {
            let Some(schedule) = Schedule::lock(conn, schedule_id)? else {
                return Ok(None);
            };
            match Schedule::claim_of(conn, schedule.id)? {
                (Some(by), Some(_)) if by == instance => {}
                _ => return Ok(None),
            }
            let due = schedule.next_run_at.is_some_and(|at| at <= db::now());
            if !schedule.is_enabled || !due {
                Schedule::end_claim(conn, schedule.id, schedule.next_run_at)?;
                return Ok(None);
            }
            let begun = self.begin(conn, &schedule, &trigger)?;
            if let Begun::Started(_) = begun {
                Schedule::start_claim(conn, schedule.id, instance)?;
            }
            Ok::<_, AppError>(Some(ClaimedRun { schedule, begun }))
        })?;
        Ok(begun)
    }

    /// The job of a run [`Self::begin_claimed`] began, and how it ended.
    pub fn carry_out_claimed(&self, db: &mut Checkout, run: ClaimedRun) -> AppResult<JobExecution> {
        self.carry_out(db, &run.schedule, &Trigger::Scheduler, run.begun)
    }

    /// With the schedule locked: marks a dead predecessor `interrupted`,
    /// then inserts the `running` execution, unless another run holds a
    /// live lease (a scheduled run is then recorded refused, at once).
    fn begin(
        &self,
        conn: &mut DbConnection,
        schedule: &Schedule,
        trigger: &Trigger,
    ) -> AppResult<Begun> {
        let now = db::now();
        for dead in JobExecution::expired(conn, self.lease_cutoff(now), Some(schedule.id))? {
            Self::interrupt(conn, schedule, &dead, self.lease_cutoff(now), now)?;
        }
        if JobExecution::is_running(conn, schedule.id)? {
            if let Trigger::Manual(_) = trigger {
                return Ok(Begun::Busy);
            }
            let refusal = format!("schedule #{} is already running", schedule.id);
            let execution =
                JobExecution::start(conn, schedule.id, trigger.triggered_by(), db::now())?;
            let refused = Self::finish(conn, schedule, trigger, &execution, Err((&refusal, &[])))?;
            return Ok(Begun::Refused(refused));
        }
        let execution = JobExecution::start(conn, schedule.id, trigger.triggered_by(), db::now())?;
        Ok(Begun::Started(execution))
    }

    /// The job of a begun run, and how it ended.
    fn carry_out(
        &self,
        db: &mut Checkout,
        schedule: &Schedule,
        trigger: &Trigger,
        begun: Begun,
    ) -> AppResult<JobExecution> {
        let execution = match begun {
            Begun::Started(execution) => execution,
            Begun::Refused(refused) => {
                metrics::global().job_run(refused.status.as_ref());
                return Ok(refused);
            }
            Begun::Busy => {
                return Err(AppError::Conflict(format!(
                    "schedule #{} is already running",
                    schedule.id
                )))
            }
        };
        let heartbeat = self.keep_alive(execution.id);
        let finished = match self.perform(db, schedule, trigger, &execution) {
            Ok(finished) => finished,
            Err(Failure {
                error: err,
                snapshot_ids,
            }) => {
                let message = match &err {
                    AppError::Internal(detail) => {
                        log::error!("schedule #{} failed: {detail}", schedule.id);
                        "internal error".to_string()
                    }
                    other => other.to_string(),
                };
                // If even this fails, the heartbeat stops with this run and
                // the lease expires: the run is then recorded `interrupted`.
                write_transaction(db.conn()?, |conn| {
                    Self::finish(
                        conn,
                        schedule,
                        trigger,
                        &execution,
                        Err((&message, &snapshot_ids)),
                    )
                })?
            }
        };
        drop(heartbeat);
        metrics::global().job_run(finished.status.as_ref());
        Ok(finished)
    }

    /// The job and its bookkeeping. Spotify sources are read first, with
    /// no connection held, and their tracks added to the catalog. Then one
    /// transaction holds the target's lock and plans the job: a local
    /// target (with a local rotation archive) is written there and then,
    /// with the execution; an `Err` rolls it all back. A linked target's
    /// new order, or a linked archive's, goes through the write-back
    /// ([`linked`]): claimed with its automatic snapshots in that
    /// transaction, sent to Spotify (the archive first, so entries that
    /// rotate out are never in neither playlist), then written here with the
    /// execution. A failure before anything reached Spotify drops the
    /// snapshots; one part-way keeps them (the run's row lists them).
    fn perform(
        &self,
        db: &mut Checkout,
        schedule: &Schedule,
        trigger: &Trigger,
        execution: &JobExecution,
    ) -> Result<JobExecution, Failure> {
        let fetched = self.fetch_spotify_sources(db, schedule)?;
        let started = std::time::Instant::now();
        // Like a user's rewrite, a run that finds another write of its
        // target to Spotify under way waits for it (`claim_wait`, 15 s),
        // then fails saying so.
        let wait = self
            .spotify
            .as_ref()
            .map_or(Duration::ZERO, |s| s.claim_wait);
        let planned = loop {
            match self.plan_step(db, schedule, trigger, execution, &fetched)? {
                Next::Done(finished) => return Ok(finished),
                Next::WriteBack(planned) => break *planned,
                Next::Busy => linked::wait_for_claim(db, started, wait)?,
            }
        };
        let WriteBack {
            target,
            plan,
            snapshot_ids,
            target_back,
            archive,
        } = planned;
        let spotify = self.spotify.as_deref().ok_or_else(spotify_missing)?;
        let actor = trigger.actor(schedule.id);
        let archive_sent = match archive.as_ref().filter(|a| a.changes()) {
            Some(back) => match back.send(db, spotify) {
                Ok(spotify_snapshot_id) => Some(spotify_snapshot_id),
                Err(unfinished) => {
                    if target_back {
                        rotation::release_claim(db, &target.id, &snapshot_ids)?;
                    }
                    return Err(Failure::unfinished(unfinished, &back.snapshot_ids));
                }
            },
            None => None,
        };
        let (current, order) = (&plan.current, plan.final_order());
        let target_sent = if target_back {
            match linked::send(db, spotify, &target, current, order, &snapshot_ids) {
                Ok(spotify_snapshot_id) => Some(spotify_snapshot_id),
                Err(unfinished) => {
                    if let (Some(back), Some(sent)) = (&archive, archive_sent) {
                        back.land_alone(db, schedule.id, &target.id, &actor, sent);
                    }
                    return Err(Failure::unfinished(unfinished, &snapshot_ids));
                }
            }
        } else {
            None
        };
        let landed = write_transaction(db.conn()?, |conn| {
            let locked = Self::lock_target(conn, schedule)?;
            let mut outcome = match target_sent.clone() {
                Some(spotify_snapshot_id) => {
                    let why = Rewrite::ScheduledShuffle {
                        schedule_id: schedule.id,
                    };
                    let written_back =
                        RewriteTarget::written_back(locked, None, spotify_snapshot_id);
                    let done = replace_order(conn, &written_back, current, order, why)?
                        .ok_or_else(|| {
                            AppError::Internal("a changed order wrote nothing".into())
                        })?;
                    let mut outcome = plan.outcome(&done.playlist, snapshot_ids.clone());
                    outcome.spotify_snapshot_id = done.spotify_snapshot_id;
                    plan.archive_locally(conn, schedule, &actor, &mut outcome)?;
                    outcome
                }
                None => {
                    // A local target whose archive went to Spotify: written
                    // now, unless it changed since the plan.
                    if locked.version != target.version {
                        return Err(AppError::Conflict(format!(
                            "playlist {} changed while its rotation was written to Spotify",
                            target.id
                        )));
                    }
                    plan.apply_local(conn, schedule, locked, &actor)?
                }
            };
            if let Some(back) = &archive {
                if let Some(rotation) = &mut outcome.rotation {
                    rotation.dropped = back.appended.dropped;
                }
                if let Some(sent) = archive_sent.clone() {
                    back.land(conn, schedule.id, &target.id, &actor, sent)?;
                }
            }
            Self::finish(conn, schedule, trigger, execution, Ok(&outcome))
        });
        landed.map_err(|error| {
            // Spotify has what we do not.
            if target_sent.is_some() {
                if let Ok(conn) = db.conn() {
                    let _ = Playlist::mark_out_of_sync(conn, &target.id);
                }
            }
            if let (Some(back), Some(_)) = (&archive, &archive_sent) {
                back.mark_out_of_sync(db);
            }
            Failure {
                error,
                snapshot_ids: if target_sent.is_some() {
                    snapshot_ids.clone()
                } else {
                    Vec::new()
                },
            }
        })
    }

    /// One transaction with the target locked: plans the job; a local (or
    /// unchanged) target with nothing for a linked archive is written there
    /// and then, with the execution; otherwise the linked playlists it
    /// writes are claimed, both or neither, with their automatic snapshots
    /// ([`Next::Busy`] while another write of either to Spotify is under
    /// way).
    fn plan_step(
        &self,
        db: &mut Checkout,
        schedule: &Schedule,
        trigger: &Trigger,
        execution: &JobExecution,
        fetched: &Fetched,
    ) -> AppResult<Next> {
        write_transaction(db.conn()?, |conn| {
            let target = Self::lock_target(conn, schedule)?;
            let plan = JobPlan::compute(conn, schedule, &target, fetched)?;
            let unchanged = plan.final_order() == plan.current.as_slice();
            let target_back = target.link.is_linked() && !unchanged;
            let mut archive = match plan.rotation.as_ref().and_then(|r| r.to_archive.as_ref()) {
                Some(to_archive) => ArchiveBack::plan(conn, to_archive)?,
                None => None,
            };
            let archive_back = archive.as_ref().is_some_and(ArchiveBack::changes);
            if !target_back && !archive_back {
                let actor = trigger.actor(schedule.id);
                let mut outcome = plan.apply_local(conn, schedule, target, &actor)?;
                if let (Some(back), Some(rotation)) = (&archive, &mut outcome.rotation) {
                    rotation.dropped = back.appended.dropped;
                }
                let finished = Self::finish(conn, schedule, trigger, execution, Ok(&outcome))?;
                return Ok(Next::Done(finished));
            }
            if self.spotify.is_none() {
                return Err(spotify_missing());
            }
            let now = db::now();
            let archive_busy = archive_back
                && archive
                    .as_ref()
                    .is_some_and(|a| linked::claim_is_live(&a.archive.link, now));
            if archive_busy || (target_back && linked::claim_is_live(&target.link, now)) {
                return Ok(Next::Busy);
            }
            let mut snapshot_ids = Vec::new();
            if target_back {
                let steps = plan.steps(schedule).into_iter();
                let claimed =
                    linked::claim(conn, &target, steps.map(|(before, _, why)| (before, why)))?;
                snapshot_ids = claimed.ok_or_else(linked::write_under_way)?;
            }
            if let Some(back) = archive.as_mut().filter(|_| archive_back) {
                back.claim(conn, schedule.id)?
                    .ok_or_else(linked::write_under_way)?;
            }
            Ok(Next::WriteBack(Box::new(WriteBack {
                target,
                plan,
                snapshot_ids,
                target_back,
                archive,
            })))
        })
    }

    /// The schedule's target, locked; gone is a 409 naming it.
    fn lock_target(conn: &mut DbConnection, schedule: &Schedule) -> AppResult<Playlist> {
        PlaylistService::lock_owned(conn, schedule.user_id, &schedule.target_playlist_id).map_err(
            |err| match err {
                AppError::NotFound => AppError::Conflict(format!(
                    "target playlist {} no longer exists",
                    schedule.target_playlist_id
                )),
                other => other,
            },
        )
    }

    /// The tracks of a raid's Spotify sources, by Spotify id, read with no
    /// connection held and added to the catalog; a source Spotify no longer
    /// has is skipped, as a gone playlist is. Empty when the run raids
    /// none.
    fn fetch_spotify_sources(&self, db: &mut Checkout, schedule: &Schedule) -> AppResult<Fetched> {
        let mut fetched = Fetched::default();
        if !matches!(schedule.job_type, JobType::Raid | JobType::RaidAndShuffle) {
            return Ok(fetched);
        }
        let mut wanted = Vec::new();
        let mut liked = false;
        for source in job_plan::sources(db.conn()?, schedule)? {
            match source {
                Source::Spotify(id) => wanted.push(id),
                Source::SpotifyLiked => liked = true,
                Source::Local(_) => {}
            }
        }
        if wanted.is_empty() && !liked {
            return Ok(fetched);
        }
        let spotify = self.spotify.as_deref().ok_or_else(spotify_missing)?;
        for id in wanted {
            match SpotifyService::source_tracks(db, spotify, schedule.user_id, &id)? {
                Some((tracks, unread)) => {
                    SpotifyService::add_to_catalog(db.conn()?, schedule.user_id, &tracks)?;
                    fetched.unread += unread;
                    fetched
                        .uris
                        .insert(id, tracks.into_iter().map(|t| t.uri).collect());
                }
                None => log::info!(
                    "schedule #{}: Spotify source {id} is gone, skipped",
                    schedule.id
                ),
            }
        }
        if liked {
            let (tracks, unread) = SpotifyService::liked_tracks(db, spotify, schedule.user_id)?;
            SpotifyService::add_to_catalog(db.conn()?, schedule.user_id, &tracks)?;
            fetched.unread += unread;
            fetched.liked = Some(tracks.into_iter().map(|t| t.uri).collect());
        }
        Ok(fetched)
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
        // A scheduled run that started holds its schedule's claim until it
        // ends: ending it here moves the schedule on, so an interrupted
        // occurrence is not run again before its next time.
        if dead.triggered_by == TriggeredBy::Scheduler {
            if let (Some(_), None) = Schedule::claim_of(conn, schedule.id)? {
                Schedule::end_claim(conn, schedule.id, Self::next_after(schedule, now))?;
            }
        }
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
        result: Result<&RunOutcome, (&str, &[i64])>,
    ) -> AppResult<JobExecution> {
        let now = db::now();
        let failed_outcome = RunOutcome {
            playlist_name: schedule.target_playlist_name.clone(),
            snapshot_ids: result
                .err()
                .map(|(_, ids)| ids.to_vec())
                .unwrap_or_default(),
            ..RunOutcome::default()
        };
        let (status, outcome, error) = match result {
            Ok(outcome) => (ExecutionStatus::Success, outcome, None),
            Err((message, _)) => (
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
        if let Trigger::Scheduler = trigger {
            // Read after the update above, which holds the row: a PATCH or
            // a toggle during the run is taken into account.
            let current = Schedule::find(conn, schedule.id)?.ok_or(AppError::NotFound)?;
            Schedule::end_claim(conn, schedule.id, Self::next_after(&current, now))?;
        }
        Self::log_run(conn, schedule, trigger, finished.id, error, outcome);
        Ok(finished)
    }

    /// When a schedule runs next after a scheduled run at `now`: missed
    /// slots are coalesced into this run. A disabled schedule keeps what
    /// it has (none); a stored value that no longer parses stops it rather
    /// than have it spin.
    fn next_after(
        schedule: &Schedule,
        now: chrono::NaiveDateTime,
    ) -> Option<chrono::NaiveDateTime> {
        if !schedule.is_enabled {
            return schedule.next_run_at;
        }
        match next_run(schedule.schedule_type, &schedule.schedule_value, now) {
            Ok(next) => Some(next),
            Err(message) => {
                log::warn!(
                    "scheduler: schedule #{} has no next run ({message}); it will not run again",
                    schedule.id
                );
                None
            }
        }
    }

    /// The `schedule_run` row of one run (docs/api.md, "Reading your trail").
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
}

/// A claimed schedule's run after its first transaction.
pub struct ClaimedRun {
    schedule: Schedule,
    begun: Begun,
}

impl ClaimedRun {
    /// Its execution: `running`, or already `failed` when it met a live run.
    pub fn execution(&self) -> Option<&JobExecution> {
        match &self.begun {
            Begun::Started(execution) | Begun::Refused(execution) => Some(execution),
            Begun::Busy => None,
        }
    }
}

/// How a run's first transaction ended.
enum Begun {
    /// Its `running` execution, and a heartbeat to start.
    Started(JobExecution),
    /// A scheduled run that met a live one, recorded `failed`.
    Refused(JobExecution),
    /// A run-now that met a live one: a 409.
    Busy,
}

/// What a run's locked transaction left to do.
enum Next {
    Done(JobExecution),
    WriteBack(Box<WriteBack>),
    /// Another write of the target to Spotify is under way.
    Busy,
}

/// A run that writes to Spotify: its target and plan, the target's
/// snapshots when its own order goes there (`target_back`), and its
/// rotation's linked archive, claimed when its order changes.
struct WriteBack {
    target: Playlist,
    plan: JobPlan,
    snapshot_ids: Vec<i64>,
    target_back: bool,
    archive: Option<ArchiveBack>,
}

/// Why a run failed, and the automatic snapshots it still leaves (its
/// `schedule_run` row lists them: docs/api.md, "Reading your trail").
struct Failure {
    error: AppError,
    snapshot_ids: Vec<i64>,
}

impl Failure {
    /// A write-back that did not finish, and the snapshots taken for it
    /// when they remain.
    fn unfinished(unfinished: Unfinished, snapshot_ids: &[i64]) -> Self {
        Failure {
            error: unfinished.error,
            snapshot_ids: if unfinished.keeps_snapshots {
                snapshot_ids.to_vec()
            } else {
                Vec::new()
            },
        }
    }
}

impl<E: Into<AppError>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            error: error.into(),
            snapshot_ids: Vec::new(),
        }
    }
}

fn spotify_missing() -> AppError {
    AppError::Conflict("the job needs Spotify, which is not configured on this server".into())
}
