//! The schedule loop inside `serve`: every `SCHEDULER_TICK_SECS` it finds
//! due schedules and runs them through the job executor.
//!
//! A due schedule is claimed before it runs: a conditional UPDATE moves
//! `next_run_at` forward only if it still holds the value this process read,
//! so when several processes share one database exactly one of them runs
//! each due occurrence. The new `next_run_at` counts from the claim (the
//! run's time), so runs missed during downtime are coalesced into one.
//!
//! The loop runs on a thread of its own and blocks only on the database.
//! Each tick first marks runs whose lease expired (docs/api.md, "Schedules") as
//! `interrupted`. On shutdown it starts no new run, finishes the job in
//! hand, then stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Lease;
use crate::db::{self, Checkout, Pool};
use crate::models::schedule::Schedule;
use crate::providers::spotify::Spotify;
use crate::services::job_executor::{JobExecutor, Trigger};
use crate::services::schedule_rules::next_run;

/// Most schedules looked at per tick; the rest wait for the next one.
const DUE_BATCH: i64 = 100;

/// Marks runs whose lease expired `interrupted` (see
/// [`JobExecutor::recover`]), then claims and runs every due schedule once;
/// returns how many ran. Once `stopping` is set, no new run starts.
pub fn tick(db: &mut Checkout, executor: &JobExecutor, stopping: &AtomicBool) -> usize {
    let conn = match db.conn() {
        Ok(conn) => conn,
        Err(err) => {
            log::warn!("scheduler: no database connection: {err}");
            return 0;
        }
    };
    if let Err(err) = executor.recover(conn) {
        log::warn!("scheduler: cannot recover interrupted runs: {err}");
    }
    let now = db::now();
    let due = match Schedule::due(conn, now, DUE_BATCH) {
        Ok(due) => due,
        Err(err) => {
            log::warn!("scheduler: cannot read due schedules: {err}");
            return 0;
        }
    };
    let mut ran = 0;
    for schedule in due {
        if stopping.load(Ordering::SeqCst) {
            log::info!("scheduler: shutting down; the remaining due schedules wait");
            break;
        }
        let Some(seen) = schedule.next_run_at else {
            continue;
        };
        let next = match next_run(schedule.schedule_type, &schedule.schedule_value, now) {
            Ok(next) => Some(next),
            Err(message) => {
                // Stored values are validated; a stale one stops the
                // schedule rather than spinning on it.
                log::warn!(
                    "scheduler: schedule #{} has no next run ({message}); it will not run again",
                    schedule.id
                );
                None
            }
        };
        let claimed = db
            .conn()
            .and_then(|conn| Ok(Schedule::claim(conn, schedule.id, seen, next)?));
        match claimed {
            Ok(true) => {}
            Ok(false) => continue, // another process got it
            Err(err) => {
                log::warn!("scheduler: cannot claim schedule #{}: {err}", schedule.id);
                continue;
            }
        }
        match executor.run(db, &schedule, &Trigger::Scheduler) {
            Ok(execution) => {
                ran += 1;
                log::info!(
                    "scheduler: schedule #{} run #{} {}",
                    schedule.id,
                    execution.id,
                    execution.status
                );
            }
            Err(err) => log::warn!("scheduler: schedule #{} did not run: {err}", schedule.id),
        }
    }
    ran
}

/// At start-up: marks runs whose lease expired (a crash) `interrupted`.
/// A run of another live instance keeps its lease and is left alone.
pub fn recover_interrupted(pool: &Pool, lease: Lease) -> Result<usize, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    JobExecutor::new(pool.clone(), lease)
        .recover(&mut conn)
        .map_err(|e| e.to_string())
}

/// Tells the loop to start no new run; cloneable, so shutdown handling can
/// hold one while `main` keeps the [`SchedulerHandle`].
#[derive(Clone)]
pub struct StopSignal {
    stopping: Arc<AtomicBool>,
    wake: mpsc::Sender<()>,
}

impl StopSignal {
    pub fn send(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
    }
}

/// The running loop. Send its [`StopSignal`] when shutdown begins (before
/// the HTTP drain); [`stop`](Self::stop) then waits for the job in hand.
pub struct SchedulerHandle {
    signal: StopSignal,
    thread: JoinHandle<()>,
}

impl SchedulerHandle {
    pub fn stop_signal(&self) -> StopSignal {
        self.signal.clone()
    }

    pub fn stop(self) {
        self.signal.send();
        let _ = self.thread.join();
    }
}

pub fn spawn(
    pool: Pool,
    tick: Duration,
    lease: Lease,
    spotify: Option<Arc<Spotify>>,
) -> SchedulerHandle {
    let (wake, woken) = mpsc::channel::<()>();
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = stopping.clone();
    let executor = JobExecutor::new(pool.clone(), lease).with_spotify(spotify);
    let thread = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || loop {
            self::tick(&mut Checkout::new(pool.clone()), &executor, &flag);
            if flag.load(Ordering::SeqCst) {
                break;
            }
            match woken.recv_timeout(tick) {
                Err(RecvTimeoutError::Timeout) => continue,
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        })
        .expect("the scheduler thread starts");
    SchedulerHandle {
        signal: StopSignal { stopping, wake },
        thread,
    }
}
