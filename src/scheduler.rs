//! The schedule loop inside `serve`: it claims due schedules in batches and
//! runs them on `SCHEDULER_WORKERS` threads of its own, so that each due
//! occurrence runs exactly once across every instance on the database.
//!
//! **Claims.** A claim is a lease on a schedule ([`Schedule::claim_due`]):
//! one statement marks up to [`DUE_BATCH`] due schedules that no live claim
//! holds with this instance's id and `claimed_until = now + lease`
//! (`SCHEDULER_LEASE_SECS`), `FOR UPDATE SKIP LOCKED` on PostgreSQL, inside
//! `BEGIN IMMEDIATE` on SQLite. The loop claims only as many as it has idle
//! workers, so every claim starts at once; a slow run holds up its worker,
//! never the loop. When a claim filled every idle worker, more may be due:
//! the loop claims again as soon as a worker is free, else at the next tick.
//!
//! **Runs.** A worker starting a claimed schedule inserts its `running`
//! execution and marks the claim started in one transaction
//! ([`JobExecutor::run_claimed`]); the run's last transaction records how
//! it ended, sets `next_run_at` (from the run's time, so runs missed during
//! downtime are coalesced into one) and ends the claim. A claim that runs
//! out before its run started makes the schedule due again for any
//! instance; the late holder then finds the claim gone and runs nothing. A
//! started run whose instance died is marked `interrupted` by recovery,
//! which also moves the schedule on: it is not run again before its next
//! time. So a due occurrence gets exactly one execution, whether it
//! succeeded, failed or was interrupted.
//!
//! **Recovery.** Every tick first marks runs whose lease expired (docs/api.md,
//! "Schedules") `interrupted`.
//!
//! **Shutdown.** Once stopped the loop claims nothing more; the workers
//! finish the runs in hand, and the claims not yet started are given back
//! so that another instance can take them at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Lease, Settings};
use crate::db::{self, write_transaction, Checkout, Pool};
use crate::models::schedule::Schedule;
use crate::providers::spotify::Spotify;
use crate::services::job_executor::JobExecutor;

/// Most schedules one claiming statement takes.
pub const DUE_BATCH: i64 = 100;

/// Workers when none are asked for (`SCHEDULER_WORKERS`).
pub const DEFAULT_WORKERS: usize = 4;

/// An id for this instance's claims, unique across processes and hosts
/// sharing a database.
pub fn instance_id() -> String {
    format!("{}-{:016x}", std::process::id(), rand::random::<u64>())
}

/// Marks runs whose lease expired `interrupted` (see
/// [`JobExecutor::recover`]), then claims one batch of due schedules and
/// runs them, one after another on this thread; returns how many ran.
/// Once `stopping` is set, it claims nothing, and gives back the claims it
/// has not started.
pub fn tick(db: &mut Checkout, executor: &JobExecutor, stopping: &AtomicBool) -> usize {
    recover(db, executor);
    if stopping.load(Ordering::SeqCst) {
        return 0;
    }
    let instance = instance_id();
    let claimed = claim(db, executor.lease(), &instance, DUE_BATCH);
    let mut ran = 0;
    for (i, id) in claimed.iter().enumerate() {
        if stopping.load(Ordering::SeqCst) {
            log::info!("scheduler: shutting down; the remaining due schedules wait");
            release(db, &claimed[i..], &instance);
            break;
        }
        ran += usize::from(run(db, executor, *id, &instance));
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

fn recover(db: &mut Checkout, executor: &JobExecutor) {
    let recovered = db.conn().and_then(|conn| executor.recover(conn));
    if let Err(err) = recovered {
        log::warn!("scheduler: cannot recover interrupted runs: {err}");
    }
    db.release();
}

/// Claims up to `limit` due schedules for `instance`; none when the
/// database cannot be reached (the next tick tries again).
fn claim(db: &mut Checkout, lease: Lease, instance: &str, limit: i64) -> Vec<i64> {
    let claimed = db.conn().and_then(|conn| {
        write_transaction(conn, |conn| {
            let now = db::now();
            let until = now + chrono::Duration::from_std(lease.expires_after).unwrap_or_default();
            Schedule::claim_due(conn, instance, now, until, limit)
        })
        .map_err(Into::into)
    });
    db.release();
    claimed.unwrap_or_else(|err| {
        log::warn!("scheduler: cannot claim due schedules: {err}");
        Vec::new()
    })
}

/// Gives back `instance`'s unstarted claims on `ids`; if that fails they
/// run out with their lease.
fn release(db: &mut Checkout, ids: &[i64], instance: &str) {
    if ids.is_empty() {
        return;
    }
    let released = db.conn().and_then(|conn| {
        write_transaction(conn, |conn| Schedule::release_claims(conn, ids, instance))
            .map_err(Into::into)
    });
    db.release();
    match released {
        Ok(n) => log::info!("scheduler: gave back {n} claim(s) not started"),
        Err(err) => log::warn!("scheduler: cannot give back claims: {err}"),
    }
}

/// Runs one claimed schedule; whether it ran.
fn run(db: &mut Checkout, executor: &JobExecutor, id: i64, instance: &str) -> bool {
    let ran = executor.run_claimed(db, id, instance);
    db.release();
    match ran {
        Ok(Some(execution)) => {
            log::info!(
                "scheduler: schedule #{id} run #{} {}",
                execution.id,
                execution.status
            );
            true
        }
        Ok(None) => false,
        Err(err) => {
            log::warn!("scheduler: schedule #{id} did not run: {err}");
            false
        }
    }
}

/// How the loop runs: how often it looks, the lease, and how many runs it
/// has in hand at most.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub tick: Duration,
    pub lease: Lease,
    pub workers: usize,
}

impl Options {
    pub fn from_settings(settings: &Settings) -> Self {
        Options {
            tick: Duration::from_secs(settings.scheduler_tick_secs),
            lease: settings.lease,
            workers: settings.scheduler_workers,
        }
    }
}

/// What the claiming thread and the workers share.
struct Shared {
    state: Mutex<Queue>,
    changed: Condvar,
}

struct Queue {
    /// Claimed schedules no worker has taken yet.
    claimed: VecDeque<i64>,
    /// Workers waiting for a schedule.
    idle: usize,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `deadline`, or with `for_worker` until a worker is free
    /// for a new claim; the free workers then, `None` once stopping.
    fn wait(&self, deadline: Instant, for_worker: bool) -> Option<usize> {
        let mut queue = self.lock();
        loop {
            if queue.stopping {
                return None;
            }
            let free = queue.idle.saturating_sub(queue.claimed.len());
            let now = Instant::now();
            if now >= deadline || (for_worker && free > 0) {
                return Some(free);
            }
            queue = self
                .changed
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

/// Tells the loop to claim nothing more and the workers to start no new
/// run; cloneable, so shutdown handling can hold one while `main` keeps the
/// [`SchedulerHandle`].
#[derive(Clone)]
pub struct StopSignal {
    shared: Arc<Shared>,
}

impl StopSignal {
    pub fn send(&self) {
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
    }
}

/// The running loop. Send its [`StopSignal`] when shutdown begins (before
/// the HTTP drain); [`stop`](Self::stop) then waits for the runs in hand
/// and gives back the claims not started.
pub struct SchedulerHandle {
    signal: StopSignal,
    threads: Vec<JoinHandle<()>>,
    pool: Pool,
    instance: String,
}

impl SchedulerHandle {
    pub fn stop_signal(&self) -> StopSignal {
        self.signal.clone()
    }

    /// This instance's id, as its claims carry it.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn stop(self) {
        self.signal.send();
        for thread in self.threads {
            let _ = thread.join();
        }
        let left: Vec<i64> = self.signal.shared.lock().claimed.drain(..).collect();
        release(&mut Checkout::new(self.pool), &left, &self.instance);
    }
}

/// The loop with [`DEFAULT_WORKERS`] workers.
pub fn spawn(
    pool: Pool,
    tick: Duration,
    lease: Lease,
    spotify: Option<Arc<Spotify>>,
) -> SchedulerHandle {
    let options = Options {
        tick,
        lease,
        workers: DEFAULT_WORKERS,
    };
    spawn_with(pool, options, spotify)
}

/// Starts the claiming thread and `options.workers` workers.
pub fn spawn_with(pool: Pool, options: Options, spotify: Option<Arc<Spotify>>) -> SchedulerHandle {
    let workers = options.workers.max(1);
    if workers as u32 >= pool.max_size() {
        log::warn!(
            "scheduler: {workers} workers and a pool of {} connections: runs will wait for \
             connections and so will requests (raise DB_POOL_SIZE)",
            pool.max_size()
        );
    }
    let shared = Arc::new(Shared {
        state: Mutex::new(Queue {
            claimed: VecDeque::new(),
            idle: 0,
            stopping: false,
        }),
        changed: Condvar::new(),
    });
    let instance = instance_id();
    let executor = JobExecutor::new(pool.clone(), options.lease).with_spotify(spotify);
    let mut threads = Vec::with_capacity(workers + 1);
    for n in 0..workers {
        let (shared, executor) = (shared.clone(), executor.clone());
        let (pool, instance) = (pool.clone(), instance.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("scheduler-{n}"))
                .spawn(move || work(&shared, &executor, pool, &instance))
                .expect("a scheduler worker starts"),
        );
    }
    let (claimer, id) = (shared.clone(), instance.clone());
    let claim_pool = pool.clone();
    threads.push(
        std::thread::Builder::new()
            .name("scheduler".into())
            .spawn(move || claim_loop(&claimer, &executor, claim_pool, &id, options.tick))
            .expect("the scheduler thread starts"),
    );
    SchedulerHandle {
        signal: StopSignal { shared },
        threads,
        pool,
        instance,
    }
}

/// Every `tick`: recovery, then claims for the idle workers, again and
/// again while every claim fills them (a backlog), until stopped.
fn claim_loop(shared: &Shared, executor: &JobExecutor, pool: Pool, instance: &str, tick: Duration) {
    let mut db = Checkout::new(pool);
    let mut next_tick = Instant::now();
    let mut backlog = false;
    loop {
        if Instant::now() >= next_tick {
            recover(&mut db, executor);
            next_tick = Instant::now() + tick;
            backlog = true;
        }
        let Some(free) = shared.wait(next_tick, backlog) else {
            return;
        };
        if !backlog || free == 0 {
            continue;
        }
        let asked = DUE_BATCH.min(free as i64);
        let claimed = claim(&mut db, executor.lease(), instance, asked);
        backlog = claimed.len() as i64 == asked;
        if !claimed.is_empty() {
            shared.lock().claimed.extend(claimed);
            shared.changed.notify_all();
        }
    }
}

/// Takes claimed schedules one at a time and runs them, until stopped.
fn work(shared: &Shared, executor: &JobExecutor, pool: Pool, instance: &str) {
    let mut db = Checkout::new(pool);
    loop {
        let id = {
            let mut queue = shared.lock();
            queue.idle += 1;
            shared.changed.notify_all();
            loop {
                if queue.stopping {
                    return;
                }
                if let Some(id) = queue.claimed.pop_front() {
                    queue.idle -= 1;
                    break id;
                }
                queue = shared
                    .changed
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        };
        run(&mut db, executor, id, instance);
    }
}
