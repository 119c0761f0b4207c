//! The schedule loop inside `serve`: every `SCHEDULER_TICK_SECS` it finds
//! due schedules and runs them through the job executor.
//!
//! A due schedule is claimed before it runs: a conditional UPDATE moves
//! `next_run_at` forward only if it still holds the value this process read,
//! so when several processes share one database exactly one of them runs
//! each due occurrence. The new `next_run_at` counts from the claim (the
//! run's time), so runs missed during downtime are coalesced into one.
//!
//! The loop runs on a thread of its own and blocks only on the database; on
//! shutdown it finishes the job in hand, then stops.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::db::{self, DbConnection, Pool};
use crate::models::job_execution::JobExecution;
use crate::models::schedule::Schedule;
use crate::services::job_executor::{JobExecutor, Trigger};
use crate::services::schedule_rules::next_run;

/// Most schedules looked at per tick; the rest wait for the next one.
const DUE_BATCH: i64 = 100;

/// Claims and runs every due schedule once; returns how many ran.
pub fn tick(conn: &mut DbConnection) -> usize {
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
        match Schedule::claim(conn, schedule.id, seen, next) {
            Ok(true) => {}
            Ok(false) => continue, // another process got it
            Err(err) => {
                log::warn!("scheduler: cannot claim schedule #{}: {err}", schedule.id);
                continue;
            }
        }
        match JobExecutor::run(conn, &schedule, &Trigger::Scheduler) {
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

/// Marks runs left `running` by a crash as failed (`interrupted`).
pub fn recover_interrupted(pool: &Pool) -> Result<usize, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    JobExecution::mark_interrupted(&mut conn, db::now()).map_err(|e| e.to_string())
}

/// The running loop; [`stop`](Self::stop) ends it after the job in hand.
pub struct SchedulerHandle {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl SchedulerHandle {
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

pub fn spawn(pool: Pool, tick: Duration) -> SchedulerHandle {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || loop {
            match pool.get() {
                Ok(mut conn) => {
                    self::tick(&mut conn);
                }
                Err(err) => log::warn!("scheduler: no database connection: {err}"),
            }
            match stopped.recv_timeout(tick) {
                Err(RecvTimeoutError::Timeout) => continue,
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        })
        .expect("the scheduler thread starts");
    SchedulerHandle { stop, thread }
}
