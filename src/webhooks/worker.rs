//! The delivery worker: every `serve` process runs one, on a thread and a
//! runtime of its own (whatever `SCHEDULER_ENABLED` says), so slow
//! receivers never hold a thread that serves requests.
//!
//! **Claims.** The worker claims webhooks, not deliveries: one statement
//! marks up to [`MAX_IN_FLIGHT`] enabled webhooks that have work now (a
//! pending delivery due, or none pending and a newer row of their owner)
//! and no live claim, with this worker's id and `claimed_until = now +
//! lease` (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer
//! serialises it). Only the holder of a webhook's claim makes its
//! attempts, one at a time, so no attempt is made twice across instances
//! and a later event never goes out before an earlier one succeeded or
//! failed. The lease (the attempt timeout plus 30 s) is renewed before
//! each attempt; a worker that dies with claims in hand loses them when it
//! runs out.
//!
//! **Events.** With no delivery pending, the holder reads the newest of
//! its owner's rows after the webhook's cursor (`last_activity_id`), then
//! the first row up to it whose type the webhook takes, and starts its
//! delivery, moving the cursor in the same transaction (to the newest row
//! when none matches). One user's rows commit in id order (the per-user
//! lock of the activity insert), so the cursor never passes a row that has
//! yet to commit.
//!
//! **Transactions.** An attempt's outcome is recorded in the transaction
//! that also prepares the holder's next event, or gives the claim back
//! when nothing is due; so while a webhook has a backlog each event costs
//! one short transaction besides its POST, and a claim is kept until the
//! backlog is gone (giving it back after a few events, to be fair to
//! others, measured slower: every hand-over is another claim).
//!
//! **Attempts.** The body is the activity item, serialized by the same
//! impl as the listing's. A 2xx within the timeout is success; anything
//! else is retried `base·2^(n−1)` after the n-th failure (at most
//! `backoff_max` apart) until the delivery has been failing for
//! `retry_for`, then it is `failed` and the next event's begins. Failed
//! attempts in a row (a 2xx resets the count) reaching `disable_after`
//! disable the webhook and write `webhook_disabled`.
//!
//! **When it looks.** At once when a row is written in this process
//! (`super::wake`), shortly after again (the wake comes just before the
//! commit), when a retry comes due, and at least every `poll` (1 s) for
//! other instances' rows; never twice within [`CLAIM_GAP`], since every
//! row written wakes it and each claim is a write.
//!
//! **Shutdown.** Once the process's shutdown begins (or the handle is
//! dropped) it takes no more work; an attempt in flight is abandoned and
//! its claims released, to be retried later by whichever instance claims
//! the webhook next.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::address::AddressRules;
use super::sender::{Outcome, Sender};
use super::wake;
use crate::config::Settings;
use crate::db::schema::{activity_log, webhook_deliveries, webhooks};
use crate::db::{self, DbConnection, Pool};
use crate::enums::DeliveryStatus;
use crate::models::activity_log::{created_since, id_read_floor};
use crate::models::webhook::{AttemptRecord, Delivery, Webhook};
use crate::models::{ActivityLog, NewActivity};
use crate::services::activity_log::ActivityLogService;
use crate::shutdown::Shutdown;

/// Webhooks one worker delivers to at once.
pub const MAX_IN_FLIGHT: i64 = 32;
/// Events skipped or given up within one transaction before it ends.
const MAX_STEPS: usize = 16;
/// The shortest time between two claims: wake-ups come with every row
/// written, and each claim is a write.
const CLAIM_GAP: Duration = Duration::from_millis(20);
/// How long after a wake-up the worker looks (the row's transaction is
/// committing), and when it looks once more.
const WAKE_DELAY: Duration = Duration::from_millis(5);
const FOLLOW_UP: Duration = Duration::from_millis(100);

/// The timing of deliveries, from `Settings`.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub retry_for: Duration,
    pub timeout: Duration,
    pub disable_after: i32,
    pub poll: Duration,
}

impl Timings {
    pub fn from_settings(settings: &Settings) -> Self {
        Timings {
            backoff_base: settings.webhook_backoff_base,
            backoff_max: settings.webhook_backoff_max,
            retry_for: settings.webhook_retry_for,
            timeout: settings.webhook_timeout,
            disable_after: settings.webhook_disable_after.max(1),
            poll: settings.webhook_poll,
        }
    }

    /// The wait after a delivery's `failed_attempts`-th failure:
    /// `base·2^(n−1)`, at most `backoff_max`.
    pub fn backoff(&self, failed_attempts: i32) -> Duration {
        let doublings = (failed_attempts - 1).clamp(0, 31) as u32;
        self.backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }

    fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

/// A running worker; dropping it (or calling [`Worker::stop`]) stops it
/// and waits for its thread.
pub struct Worker {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker of this process on a thread of its own.
    pub fn spawn(pool: Pool, settings: &Settings, shutdown: Shutdown) -> Result<Worker, String> {
        let timings = Timings::from_settings(settings);
        let sender = Sender::new(AddressRules::from_settings(settings), timings.timeout)?;
        let (stop, stopped) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            db_turns: Semaphore::new((pool.max_size() as usize / 4).max(1)),
            pool,
            instance: instance_id(),
            sender,
            timings,
        });
        let thread = std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        log::error!("webhooks: cannot start the delivery worker: {err}");
                        return;
                    }
                };
                runtime.block_on(run(ctx, stopped, shutdown));
                // A blocking task still running (a DNS lookup that hangs)
                // must not hold the process's shutdown: dropping the
                // runtime would wait for it without end.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| format!("cannot start the webhook worker: {e}"))?;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops taking work, abandons attempts in flight, and waits.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

fn instance_id() -> String {
    format!("{}-{:016x}", std::process::id(), rand::random::<u64>())
}

struct Ctx {
    pool: Pool,
    instance: String,
    sender: Sender,
    timings: Timings,
    /// Database steps at once: the worker leaves most of the pool to
    /// requests.
    db_turns: Semaphore,
}

impl Ctx {
    /// Runs `f` on a pooled connection, off the async thread.
    async fn db<T, F>(self: &Arc<Self>, f: F) -> Result<T, String>
    where
        F: FnOnce(&mut DbConnection, &Ctx) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let _turn = self.db_turns.acquire().await.map_err(|e| e.to_string())?;
        let ctx = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = ctx.pool.get().map_err(|e| e.to_string())?;
            f(&mut conn, &ctx).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

async fn run(ctx: Arc<Ctx>, stopped: watch::Receiver<bool>, shutdown: Shutdown) {
    // One stop signal for the loop and its tasks: the handle's, or the
    // process's shutdown.
    let (stop_all, stop) = watch::channel(false);
    let mut from_handle = stopped.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = from_handle.wait_for(|s| *s) => {}
            _ = shutdown.begun() => {}
        }
        stop_all.send_replace(true);
    });
    let mut watching = stop.clone();
    let mut wake = wake::subscribe();
    let mut tasks: JoinSet<()> = JoinSet::new();
    // Which webhook each task delivers (a task that panicked says only its
    // task id).
    let mut task_of: HashMap<tokio::task::Id, i64> = HashMap::new();
    // The webhooks whose task runs in this process: a claim taken again
    // while its task still runs (the task just gave it back and is ending,
    // or its lease ran out during a long database stall) must not start a
    // second sender of the same delivery; the webhook is marked and its
    // task started again once the running one has ended.
    let mut live: HashSet<i64> = HashSet::new();
    let mut again: HashSet<i64> = HashSet::new();
    let start = |tasks: &mut JoinSet<()>, task_of: &mut HashMap<tokio::task::Id, i64>, id: i64| {
        let handle = tasks.spawn(deliver(ctx.clone(), id, stop.clone()));
        task_of.insert(handle.id(), id);
    };
    let mut follow_up: Option<Instant> = None;
    let mut claimed_at: Option<Instant> = None;
    while !*stop.borrow() {
        let free = MAX_IN_FLIGHT - tasks.len() as i64;
        let mut next_due = None;
        if let Some(gap) = claimed_at.and_then(|at| CLAIM_GAP.checked_sub(at.elapsed())) {
            tokio::time::sleep(gap).await;
        }
        if free > 0 {
            claimed_at = Some(Instant::now());
            match ctx.db(move |conn, ctx| claim(conn, ctx, free)).await {
                Ok((ids, due)) => {
                    for id in ids {
                        if live.insert(id) {
                            start(&mut tasks, &mut task_of, id);
                        } else {
                            again.insert(id);
                        }
                    }
                    next_due = due;
                }
                Err(err) => log::warn!("webhooks: claiming work failed: {err}"),
            }
        }
        let now = Instant::now();
        let mut wait = ctx.timings.poll;
        if let Some(due) = next_due {
            let until = (due - db::now()).to_std().unwrap_or(Duration::ZERO);
            wait = wait.min(until);
        }
        if let Some(at) = follow_up.take() {
            wait = wait.min(at.saturating_duration_since(now));
        }
        tokio::select! {
            _ = watching.changed() => {}
            changed = wake.changed() => {
                if changed.is_ok() {
                    tokio::time::sleep(WAKE_DELAY).await;
                    follow_up = Some(Instant::now() + FOLLOW_UP);
                }
            }
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let task = match done {
                    Ok((task, ())) => task,
                    Err(err) => err.id(),
                };
                if let Some(id) = task_of.remove(&task) {
                    if again.remove(&id) {
                        start(&mut tasks, &mut task_of, id);
                    } else {
                        live.remove(&id);
                    }
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let released = ctx
        .db(|conn, ctx| {
            diesel::update(webhooks::table.filter(webhooks::claimed_by.eq(&ctx.instance)))
                .set((
                    webhooks::claimed_by.eq(None::<String>),
                    webhooks::claimed_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)
        })
        .await;
    if let Err(err) = released {
        log::warn!("webhooks: releasing claims at shutdown failed: {err}");
    }
}

/// Claims up to `limit` webhooks with work; also says when the next retry
/// comes due, so the loop wakes for it.
fn claim(
    conn: &mut DbConnection,
    ctx: &Ctx,
    limit: i64,
) -> QueryResult<(Vec<i64>, Option<NaiveDateTime>)> {
    let now = db::now();
    let until = now + ctx.timings.lease();
    let ids = db::write_transaction(conn, |conn| {
        Webhook::claim(conn, &ctx.instance, now, until, limit)
    })?;
    let next_due = webhook_deliveries::table
        .inner_join(webhooks::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .filter(webhook_deliveries::next_attempt_at.gt(now))
        .filter(webhooks::enabled.eq(true))
        .select(diesel::dsl::min(webhook_deliveries::next_attempt_at))
        .first::<Option<NaiveDateTime>>(conn)?;
    Ok((ids, next_due))
}

struct Attempt {
    hook: Webhook,
    delivery: Delivery,
    body: String,
}

enum Step {
    /// Send this.
    Attempt(Box<Attempt>),
    /// Look again at once (many rows skipped or given up in one go).
    Next,
    /// Nothing to do now; the claim was given back in the same transaction.
    Idle,
    /// The claim is gone (webhook deleted, disabled or taken over).
    Gone,
}

/// Delivers a claimed webhook's events one after another until it has
/// none due. An attempt's outcome is recorded in the transaction that
/// also prepares the next event (or gives the claim back), so an event
/// costs one short transaction besides its POST.
async fn deliver(ctx: Arc<Ctx>, id: i64, mut stop: watch::Receiver<bool>) {
    let mut step = ctx.db(move |conn, ctx| prepare(conn, ctx, id)).await;
    loop {
        let attempt = match step {
            Ok(Step::Attempt(attempt)) => attempt,
            Ok(Step::Next) => {
                if *stop.borrow() {
                    return;
                }
                step = ctx.db(move |conn, ctx| prepare(conn, ctx, id)).await;
                continue;
            }
            Ok(Step::Idle | Step::Gone) => return,
            Err(err) => {
                log::warn!("webhooks: webhook {id}'s next delivery failed: {err}");
                break;
            }
        };
        if *stop.borrow() {
            return;
        }
        let started = db::now();
        let event_id = attempt.delivery.activity_id.to_string();
        let post = ctx.sender.post(
            &attempt.hook.url,
            &attempt.hook.secret,
            &event_id,
            attempt.body.clone(),
        );
        let outcome = tokio::select! {
            outcome = post => outcome,
            // Abandoned: the claim is released on the way out and the
            // attempt made again later, counted once.
            _ = stop.wait_for(|s| *s) => return,
        };
        // Not recorded (an error): the claim is given back below and the
        // attempt made again, so delivery stays at least once.
        step = ctx
            .db(move |conn, ctx| record(conn, ctx, &attempt, started, &outcome))
            .await;
    }
    let released = ctx
        .db(move |conn, ctx| Webhook::set_claim(conn, id, &ctx.instance, None))
        .await;
    if let Err(err) = released {
        log::warn!("webhooks: releasing webhook {id} failed: {err}");
    }
}

/// The claimed webhook's next step, in one transaction.
fn prepare(conn: &mut DbConnection, ctx: &Ctx, id: i64) -> QueryResult<Step> {
    db::write_transaction(conn, |conn| match Webhook::held(conn, id, &ctx.instance)? {
        Some(hook) => next_step(conn, ctx, hook),
        None => Ok(Step::Gone),
    })
}

/// Inside the caller's transaction, with the claim held: the pending
/// delivery when one is due, else the delivery of the owner's next row
/// the webhook takes (moving its cursor); with nothing due, the claim is
/// given back.
fn next_step(conn: &mut DbConnection, ctx: &Ctx, mut hook: Webhook) -> QueryResult<Step> {
    let id = hook.id;
    let now = db::now();
    let mut steps = 0;
    loop {
        if steps == MAX_STEPS {
            // Many rows skipped or given up: look again in a new
            // transaction rather than hold this one.
            return Ok(Step::Next);
        }
        steps += 1;
        let delivery = match Delivery::head(conn, id)? {
            Some(delivery) => delivery,
            None => match next_event(conn, &hook)? {
                Event::None => break,
                Event::Skipped((newest, at)) => {
                    Webhook::set_cursor(conn, id, newest, Some(at))?;
                    hook.last_activity_id = newest;
                    hook.last_activity_at = Some(at);
                    continue;
                }
                Event::Found(row) => {
                    hook.last_activity_id = row.id;
                    hook.last_activity_at = Some(row.created_at);
                    let delivery = Delivery::start(conn, id, row.id, row.created_at, now)?;
                    return attempt(conn, ctx, hook, delivery, &row, now);
                }
            },
        };
        if delivery.next_attempt_at.is_some_and(|at| at > now) {
            break;
        }
        // With its time known, the row is looked for in its partition only.
        let row = match delivery.activity_created_at {
            Some(at) => activity_log::table
                .find(delivery.activity_id)
                .filter(activity_log::created_at.eq(at))
                .select(ActivityLog::as_select())
                .first(conn)
                .optional()?,
            None => activity_log::table
                .find(delivery.activity_id)
                .select(ActivityLog::as_select())
                .first(conn)
                .optional()?,
        };
        let Some(row) = row else {
            // Pruned (retention) before it could be sent.
            Delivery::record(
                conn,
                delivery.id,
                &AttemptRecord {
                    status: DeliveryStatus::Failed,
                    attempts: delivery.attempts,
                    last_attempt_at: delivery.last_attempt_at,
                    last_status: delivery.last_status,
                    last_error: Some("the activity row no longer exists".into()),
                    next_attempt_at: None,
                    succeeded_at: None,
                },
            )?;
            continue;
        };
        return attempt(conn, ctx, hook, delivery, &row, now);
    }
    Webhook::set_claim(conn, id, &ctx.instance, None)?;
    Ok(Step::Idle)
}

/// Renews the claim for the attempt about to be made on `delivery`.
fn attempt(
    conn: &mut DbConnection,
    ctx: &Ctx,
    hook: Webhook,
    delivery: Delivery,
    row: &ActivityLog,
    now: NaiveDateTime,
) -> QueryResult<Step> {
    let body = serde_json::to_string(row)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let renewed = Webhook::renew(
        conn,
        hook.id,
        &ctx.instance,
        hook.last_activity_id,
        hook.last_activity_at,
        now + ctx.timings.lease(),
    )?;
    if !renewed {
        return Ok(Step::Gone);
    }
    Ok(Step::Attempt(Box::new(Attempt {
        hook,
        delivery,
        body,
    })))
}

/// What follows a webhook's cursor among its owner's rows.
enum Event {
    /// No newer row.
    None,
    /// Newer rows, none of a type it takes: the newest of them (id, time).
    Skipped((i64, NaiveDateTime)),
    /// The first newer row of a type it takes.
    Found(Box<ActivityLog>),
}

/// The owner's first row after the cursor that the webhook takes. The
/// newest row is read first and bounds the search: one user's rows
/// commit in id order, so no row at or below it can still appear, and
/// moving the cursor there skips nothing. Both reads are bounded in time
/// from the cursor row's (`activity_log::id_read_floor`), so PostgreSQL
/// reads only the newest partitions.
fn next_event(conn: &mut DbConnection, hook: &Webhook) -> QueryResult<Event> {
    let since = id_read_floor(hook.last_activity_at);
    let backend = conn.backend();
    let after = || {
        activity_log::table
            .into_boxed()
            .filter(activity_log::user_id.eq(hook.user_id))
            .filter(activity_log::id.gt(hook.last_activity_id))
            .filter(created_since(backend, since))
    };
    let newest: Option<(i64, NaiveDateTime)> = after()
        .order(activity_log::id.desc())
        .select((activity_log::id, activity_log::created_at))
        .first(conn)
        .optional()?;
    let Some(newest) = newest else {
        return Ok(Event::None);
    };
    let first = after()
        .filter(activity_log::id.le(newest.0))
        .order(activity_log::id.asc())
        .select(ActivityLog::as_select());
    let found = match hook.type_list() {
        None => first.first(conn).optional()?,
        Some(types) if types.is_empty() => None,
        Some(types) => first
            .filter(activity_log::activity_type.eq_any(types))
            .first(conn)
            .optional()?,
    };
    Ok(match found {
        Some(row) => Event::Found(Box::new(row)),
        None => Event::Skipped(newest),
    })
}

/// Records what an attempt got (the delivery's new state, the webhook's
/// count of failures in a row, disabling at the threshold) and, in the
/// same transaction, prepares the next step.
fn record(
    conn: &mut DbConnection,
    ctx: &Ctx,
    attempt: &Attempt,
    started: NaiveDateTime,
    outcome: &Outcome,
) -> QueryResult<Step> {
    db::write_transaction(conn, |conn| {
        let Some(hook) = Webhook::held(conn, attempt.hook.id, &ctx.instance)? else {
            return Ok(Step::Gone);
        };
        let delivery = &attempt.delivery;
        let now = db::now();
        let attempts = delivery.attempts + 1;
        let ok = outcome.ok();
        let mut record = AttemptRecord {
            status: DeliveryStatus::Pending,
            attempts,
            last_attempt_at: Some(started),
            last_status: outcome.status.map(i32::from),
            last_error: outcome.error.clone(),
            next_attempt_at: None,
            succeeded_at: None,
        };
        let failing_for = (now - delivery.created_at).to_std().unwrap_or_default();
        if ok {
            record.status = DeliveryStatus::Succeeded;
            record.succeeded_at = Some(now);
        } else if failing_for >= ctx.timings.retry_for {
            record.status = DeliveryStatus::Failed;
        } else {
            record.next_attempt_at = Some(now + ctx.timings.backoff(attempts));
        }
        // Only the claim's holder changes the count: a success with none
        // counted has nothing to reset.
        let failures = if ok && hook.consecutive_failures == 0 {
            0
        } else {
            Webhook::count_attempt(conn, hook.id, ok)?
        };
        if !ok && failures >= ctx.timings.disable_after {
            record.status = DeliveryStatus::Failed;
            record.next_attempt_at = None;
            Webhook::disable(
                conn,
                hook.id,
                &format!("{failures} failed delivery attempts in a row"),
            )?;
            ActivityLogService::log(
                conn,
                NewActivity::webhook_disabled(&hook, failures, outcome.error.as_deref()),
            );
            Delivery::record(conn, delivery.id, &record)?;
            return Ok(Step::Gone);
        }
        Delivery::record(conn, delivery.id, &record)?;
        next_step(conn, ctx, hook)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let timings = Timings::from_settings(&Settings::default());
        let secs: Vec<u64> = (1..=14).map(|n| timings.backoff(n).as_secs()).collect();
        assert_eq!(
            secs,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
        );
        assert_eq!(timings.backoff(10_000).as_secs(), 3600);
    }
}
