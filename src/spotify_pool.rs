//! The Spotify pool: where every Spotify operation of a request runs
//! (listing, import, sync, the callback's code exchange, adding a Spotify
//! source, a run-now that reads or writes Spotify, the write-back of a
//! rewrite), away from the blocking threads that serve database work.
//!
//! An import or a sync makes up to a couple of hundred sequential calls,
//! and Spotify may take 5-15 s to answer one; on actix's blocking threads
//! (the ones `db::run` uses) a few users importing from a slow Spotify
//! stalled every request, `/health` included. So:
//!
//! - Spotify work runs on the blocking threads of a tokio runtime of its
//!   own (`spawn_blocking` on a second runtime: a kept crate's bounded
//!   thread pool and queue, whose `JoinHandle` an actix handler awaits),
//!   at most `SPOTIFY_MAX_CONCURRENT_CALLS` threads; more work queues
//!   there, holding no thread and no connection. Its database steps take
//!   short checkouts of the shared pool, never one across a call.
//! - Calls in flight are counted where every call goes
//!   (`providers::spotify::http`), so the scheduler's runs, on the
//!   executor's own thread, are bounded by the same cap.
//! - A user runs at most 2 Spotify operations at once; a third answers
//!   429 `rate_limited` with `Retry-After`. The count is per instance (in
//!   process): with several instances a user may run 2 on each, which the
//!   per-instance and app-wide bounds keep harmless.
//!
//! On SIGTERM the pool stops taking work ([`SpotifyPool::stop`]): what is
//! queued answers 503 and a call in flight is abandoned, to be retried by
//! its client.

use std::sync::Mutex;

use crate::db::{self, Checkout, Pool};
use crate::error::{AppError, AppResult};
use crate::streams::{StreamGuard, StreamLimiter};

/// Spotify operations one user may run at once (per instance).
pub const PER_USER: usize = 2;
/// `Retry-After` of the 429 beyond them.
const RETRY_AFTER_SECS: u64 = 5;

pub struct SpotifyPool {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    per_user: StreamLimiter,
    /// Whether the pool stopped; tells the requests awaiting work on it,
    /// so they answer at once instead of waiting for calls in flight.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl SpotifyPool {
    /// A pool of at most `threads` threads (started as work arrives).
    pub fn new(threads: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(threads.max(1))
            .thread_name("spotify")
            .build()
            .expect("the Spotify pool's runtime builds");
        let handle = runtime.handle().clone();
        SpotifyPool {
            runtime: Mutex::new(Some(runtime)),
            handle,
            per_user: StreamLimiter::new(
                "Spotify operations",
                PER_USER,
                usize::MAX,
                RETRY_AFTER_SECS,
            ),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }

    /// A turn for one of `user_id`'s Spotify operations, or 429.
    pub fn admit(&self, user_id: i64) -> AppResult<StreamGuard> {
        self.per_user.try_acquire(user_id)
    }

    /// Runs `f`, one of `user_id`'s Spotify operations, on the pool; 429
    /// when the user already runs [`PER_USER`].
    pub async fn run_for<T, F>(&self, user_id: i64, pool: &Pool, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut Checkout) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let turn = self.admit(user_id)?;
        self.run(Checkout::new(pool.clone()), move |db| {
            let _turn = turn;
            f(db)
        })
        .await
    }

    /// Runs `f` with `checkout` on the pool, with no per-user turn (the
    /// caller took one, or there is no user yet, as at the callback).
    pub async fn run<T, F>(&self, checkout: Checkout, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut Checkout) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let stopping = || AppError::UpstreamUnavailable {
            message: "the server is shutting down; try again".into(),
            retry_after_secs: RETRY_AFTER_SECS,
        };
        if *self.stopping.borrow() {
            return Err(stopping());
        }
        let mut stopped = self.stopping.subscribe();
        tokio::select! {
            done = db::run_on(&self.handle, checkout.for_spotify(), f) => {
                done.map_err(|_| stopping())?
            }
            // The work goes on unawaited on its thread until its call
            // ends; the process does not wait for it.
            _ = stopped.wait_for(|stopped| *stopped) => Err(stopping()),
        }
    }

    /// Stops taking work: queued work is dropped and every request
    /// awaiting the pool answers 503 at once; the calls in flight are
    /// abandoned (their threads end with them; nobody waits for them).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
    }
}

impl Drop for SpotifyPool {
    fn drop(&mut self) {
        // A runtime dropped inside another blocks and panics; this never
        // waits.
        self.stop();
    }
}
