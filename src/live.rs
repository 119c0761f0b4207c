//! The live activity stream (`GET /api/activity/stream`, docs/api.md and
//! docs/architecture.md, "The live feed"): each open stream gets the caller's new rows as they are written,
//! by this instance, another one, the scheduler or the CLI.
//!
//! How rows reach streams: **one tail query per instance**, fanned out in
//! process. While any stream is open, a task of the [`ActivityHub`] asks the
//! database every `stream_tick` (250 ms) for each watched user's rows after
//! the last id it saw of that user, in one statement
//! (`(user_id = ? AND id > ?) OR ...`, 200 users a statement, on the
//! `(user_id, id)` index), and hands each row, serialised once, to every
//! stream of its user. Chosen over PostgreSQL's `LISTEN/NOTIFY` because it
//! is one mechanism for both backends, needs no connection held open for
//! listening, sees every writer (another instance, the CLI) without their
//! cooperation, and costs one statement per tick whatever the number of
//! streams (1,000 streams cost what their number of distinct users costs in
//! index probes: see the README's "Live activity stream"). A stream holds no
//! database connection: replays and ticks take short checkouts.
//!
//! Why `id > last seen` per user can neither skip nor repeat a row: a
//! user's ids become visible in ascending order on both backends (SQLite's
//! single writer commits in id order; on PostgreSQL the insert takes a
//! per-user advisory lock, `ActivityLog::lock_user_order`), so once the
//! tail has seen id N of a user, every row of theirs it has not seen has an
//! id above N. Streams open in this order: read where to start (the
//! client's `Last-Event-ID`, or the user's last id: only rows written after
//! the stream opened), subscribe, replay the rows after the start from the
//! database, then pass live rows with ids above the last one sent; a row
//! that arrives both ways is sent once.
//!
//! Bounds: at most `MAX_STREAMS_PER_USER` (5) and `MAX_STREAMS_PER_INSTANCE`
//! (2,000) open streams (429 beyond); each stream has a queue of
//! [`QUEUE_FRAMES`] frames, and the hub never waits on one. A stream whose
//! queue is full (a burst, a slow reader) is marked lagging and sent
//! nothing more; once it has emptied its queue it reads what it missed from
//! the database, as a resume would, and goes live again, so it loses
//! nothing and buffers no more than its queue. A stream that has taken
//! nothing for `STREAM_SEND_TIMEOUT_SECS` while frames wait is dropped (its
//! slot freed). A slow client thus delays neither writers nor other
//! streams. Every `stream_heartbeat` (15 s) the
//! hub checks all its streams' sessions in one statement, ends those whose
//! session was revoked or expired, and sends the rest a comment heartbeat.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use tokio::sync::mpsc;

use crate::db::{self, Pool};
use crate::error::AppResult;
use crate::models::{ActivityLog, AuthSession};
use crate::streams::{StreamGuard, StreamLimiter};

/// Frames a stream may have waiting before it counts as too slow.
pub const QUEUE_FRAMES: usize = 256;
/// Watched users per tail statement.
const USERS_PER_QUERY: usize = 200;
/// Rows per tail statement; a full page is followed at once by the next.
const ROWS_PER_QUERY: i64 = 1000;
/// Rows per replay page: what a replaying stream holds serialised at most.
pub const REPLAY_PAGE: i64 = 100;

/// One piece of a stream: an activity row (with its id) or a heartbeat.
#[derive(Debug, Clone)]
pub struct Frame {
    pub id: Option<i64>,
    /// The row's time, for the next read by id to start from.
    pub created_at: Option<chrono::NaiveDateTime>,
    pub bytes: Bytes,
}

impl Frame {
    /// `id: N`, `event: activity`, `data: <the listing's item>`.
    pub fn activity(row: &ActivityLog) -> Frame {
        let data = serde_json::to_string(row).unwrap_or_default();
        Frame {
            id: Some(row.id),
            created_at: Some(row.created_at),
            bytes: Bytes::from(format!("id: {}\nevent: activity\ndata: {data}\n\n", row.id)),
        }
    }

    /// A comment line, which `EventSource` ignores.
    pub fn comment(text: &str) -> Frame {
        Frame {
            id: None,
            created_at: None,
            bytes: Bytes::from(format!(": {text}\n\n")),
        }
    }
}

/// Timings of the hub (from `Settings`).
#[derive(Debug, Clone, Copy)]
pub struct HubTimings {
    pub tick: Duration,
    pub heartbeat: Duration,
    pub send_timeout: Duration,
}

/// The instance's tail and its open streams.
pub struct ActivityHub {
    pool: Pool,
    timings: HubTimings,
    limiter: StreamLimiter,
    state: Mutex<HubState>,
    /// Whether the tail task runs; it stops when the last stream closes.
    running: AtomicBool,
    /// When the hub began: progress stamps are milliseconds since.
    epoch: Instant,
}

#[derive(Default)]
struct HubState {
    next_key: u64,
    users: HashMap<i64, Watched>,
}

impl HubState {
    /// Keeps the streams `keep` says to keep (a stream left out is dropped,
    /// its slot freed), and forgets users left with none.
    fn retain_streams(&mut self, mut keep: impl FnMut(&Subscriber) -> bool) {
        for watched in self.users.values_mut() {
            watched.streams.retain(|_, stream| keep(stream));
        }
        self.users.retain(|_, w| !w.streams.is_empty());
    }
}

/// A user with open streams: the last id the tail saw of theirs.
struct Watched {
    cursor: i64,
    streams: HashMap<u64, Subscriber>,
}

struct Subscriber {
    session_id: i64,
    queue: mpsc::Sender<Frame>,
    /// Set when its queue was full: frames are skipped until the stream
    /// has caught up from the database.
    lagging: Arc<AtomicBool>,
    /// When the stream last took a frame (ms since the hub's epoch).
    progress: Arc<AtomicU64>,
    /// Its slot under the caps: freed when the hub drops it.
    _slot: StreamGuard,
}

/// An open stream's side: its queue, and its place in the hub (left when
/// dropped).
pub struct Subscription {
    hub: Arc<ActivityHub>,
    user_id: i64,
    key: u64,
    queue: mpsc::Receiver<Frame>,
    progress: Arc<AtomicU64>,
    lagging: Arc<AtomicBool>,
}

/// What an open stream does next.
pub enum Next {
    Frame(Frame),
    /// Frames were skipped: read the rows after the last one sent from
    /// the database, then go on.
    CatchUp,
}

impl Subscription {
    /// Marks the stream as making progress (it is sending its replay).
    pub fn touch(&self) {
        self.progress.store(self.hub.now_ms(), Ordering::Relaxed);
    }

    /// The next frame, a catch-up after frames were skipped, or `None`
    /// once the hub dropped this stream. A catch-up is announced only when
    /// the queue is empty, and the hub sends again from that moment on, so
    /// the rows the catch-up reads and the frames queued after it overlap
    /// rather than leave a gap.
    pub async fn next(&mut self) -> Option<Next> {
        let next = match self.queue.try_recv() {
            Ok(frame) => Some(Next::Frame(frame)),
            Err(mpsc::error::TryRecvError::Disconnected) => None,
            Err(mpsc::error::TryRecvError::Empty) if self.lagging.swap(false, Ordering::AcqRel) => {
                Some(Next::CatchUp)
            }
            Err(mpsc::error::TryRecvError::Empty) => self.queue.recv().await.map(Next::Frame),
        };
        self.touch();
        next
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.leave(self.user_id, self.key);
    }
}

impl ActivityHub {
    pub fn new(pool: Pool, timings: HubTimings, limiter: StreamLimiter) -> Arc<Self> {
        Arc::new(ActivityHub {
            pool,
            timings,
            limiter,
            state: Mutex::new(HubState::default()),
            running: AtomicBool::new(false),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open streams, all users together.
    pub fn open_streams(&self) -> usize {
        self.limiter.active_total()
    }

    /// Registers a stream of `user_id`; when the user is not watched yet,
    /// the tail starts after `last_id` (the user's last row as the stream
    /// opened; older rows are the stream's own replay). `address` is the
    /// client's limit key, counted toward the cap per address. 429 when a
    /// cap is full. Starts the tail if it is not running.
    pub fn subscribe(
        self: &Arc<Self>,
        user_id: i64,
        session_id: i64,
        last_id: i64,
        address: Option<String>,
    ) -> AppResult<Subscription> {
        let slot = self.limiter.try_acquire_from(user_id, address)?;
        let (queue, receiver) = mpsc::channel(QUEUE_FRAMES);
        let progress = Arc::new(AtomicU64::new(self.now_ms()));
        let lagging = Arc::new(AtomicBool::new(false));
        let key = {
            let mut state = self.state();
            state.next_key += 1;
            let key = state.next_key;
            let watched = state.users.entry(user_id).or_insert(Watched {
                cursor: last_id,
                streams: HashMap::new(),
            });
            watched.streams.insert(
                key,
                Subscriber {
                    session_id,
                    queue,
                    lagging: lagging.clone(),
                    progress: progress.clone(),
                    _slot: slot,
                },
            );
            key
        };
        if !self.running.swap(true, Ordering::AcqRel) {
            let hub = Arc::clone(self);
            actix_web::rt::spawn(async move { hub.run().await });
        }
        Ok(Subscription {
            hub: Arc::clone(self),
            user_id,
            key,
            queue: receiver,
            progress,
            lagging,
        })
    }

    /// Ends every open stream of `user_id` here at once (the account was
    /// deleted): their queues close, so each body ends after what it was
    /// sending. Other instances end theirs at their next session check,
    /// since the user's sessions are gone.
    pub fn end_user(&self, user_id: i64) {
        self.state().users.remove(&user_id);
    }

    fn leave(&self, user_id: i64, key: u64) {
        let mut state = self.state();
        if let Some(watched) = state.users.get_mut(&user_id) {
            watched.streams.remove(&key);
            if watched.streams.is_empty() {
                state.users.remove(&user_id);
            }
        }
    }

    /// The tail: until no stream is open, look for new rows every tick,
    /// and check sessions and send heartbeats every heartbeat period.
    async fn run(self: Arc<Self>) {
        let mut last_heartbeat = Instant::now();
        loop {
            tokio::time::sleep(self.timings.tick).await;
            let cursors: Vec<(i64, i64)> = {
                let state = self.state();
                if state.users.is_empty() {
                    // Decided under the lock a subscriber takes, so a
                    // stream that opens now either sees `running` false
                    // and starts a new tail, or was counted here.
                    self.running.store(false, Ordering::Release);
                    return;
                }
                state.users.iter().map(|(u, w)| (*u, w.cursor)).collect()
            };
            let pool = self.pool.clone();
            match db::run(&pool, move |conn| Ok(tail(conn, cursors)?)).await {
                Ok(rows) => self.deliver(&rows),
                Err(err) => log::warn!("live stream: tail query failed: {err}"),
            }
            if last_heartbeat.elapsed() >= self.timings.heartbeat {
                last_heartbeat = Instant::now();
                self.check_sessions().await;
                self.broadcast(Frame::comment("heartbeat"));
            }
            self.drop_stalled();
        }
    }

    /// Hands each row to its user's streams, oldest first.
    fn deliver(&self, rows: &[ActivityLog]) {
        if rows.is_empty() {
            return;
        }
        // Serialised before the lock, which subscribers and leavers share.
        let frames: Vec<(i64, i64, Frame)> = rows
            .iter()
            .map(|row| (row.user_id, row.id, Frame::activity(row)))
            .collect();
        let now = self.now_ms();
        let mut state = self.state();
        for (user_id, id, frame) in &frames {
            let Some(watched) = state.users.get_mut(user_id) else {
                continue;
            };
            if *id <= watched.cursor {
                continue;
            }
            watched.cursor = *id;
            watched.streams.retain(|_, stream| stream.offer(frame, now));
        }
        state.users.retain(|_, w| !w.streams.is_empty());
    }

    fn broadcast(&self, frame: Frame) {
        let now = self.now_ms();
        self.state()
            .retain_streams(|stream| stream.offer(&frame, now));
    }

    /// Drops streams whose client has taken nothing for the send timeout
    /// while frames wait for it.
    fn drop_stalled(&self) {
        let now = self.now_ms();
        let timeout = self.timings.send_timeout.as_millis() as u64;
        self.state().retain_streams(|stream| {
            let waiting = stream.queue.capacity() < stream.queue.max_capacity();
            let idle = now.saturating_sub(stream.progress.load(Ordering::Relaxed));
            let stalled = waiting && idle > timeout;
            !(stalled || stream.queue.is_closed())
        });
    }

    /// Ends the streams whose session was revoked or expired.
    async fn check_sessions(&self) {
        let sessions: Vec<i64> = {
            let state = self.state();
            let mut ids: Vec<i64> = state
                .users
                .values()
                .flat_map(|w| w.streams.values().map(|s| s.session_id))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let checked: std::collections::HashSet<i64> = sessions.iter().copied().collect();
        let result = db::run(&self.pool, move |conn| {
            let now = db::now();
            let mut live = Vec::new();
            for chunk in sessions.chunks(1000) {
                live.extend(AuthSession::live_among(conn, chunk, now)?);
            }
            Ok(live)
        })
        .await;
        let live: std::collections::HashSet<i64> = match result {
            Ok(live) => live.into_iter().collect(),
            Err(err) => {
                log::warn!("live stream: session check failed: {err}");
                return;
            }
        };
        // A stream that opened during the check keeps its place.
        self.state().retain_streams(|stream| {
            !checked.contains(&stream.session_id) || live.contains(&stream.session_id)
        });
    }
}

impl Subscriber {
    /// Queues a frame unless the stream lags; `false` when the stream is
    /// gone. A stream's send timeout counts from when it last took a frame
    /// or, if it had nothing to take, from when this one arrived (`now`).
    fn offer(&self, frame: &Frame, now: u64) -> bool {
        if self.lagging.load(Ordering::Acquire) {
            return !self.queue.is_closed();
        }
        if self.queue.capacity() == self.queue.max_capacity() {
            self.progress.store(now, Ordering::Relaxed);
        }
        match self.queue.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagging.store(true, Ordering::Release);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Every watched user's new rows, oldest first: [`USERS_PER_QUERY`] users a
/// statement, at most [`ROWS_PER_QUERY`] rows each, so a tick's work is
/// bounded; what a big batch leaves over comes on the next tick (the hub's
/// cursors stay where this one stopped).
fn tail(
    conn: &mut db::DbConnection,
    cursors: Vec<(i64, i64)>,
) -> diesel::QueryResult<Vec<ActivityLog>> {
    // New rows were written just now: an hour back bounds them, and lets
    // PostgreSQL read only the newest partitions.
    let since = crate::models::activity_log::id_read_floor(Some(db::now()));
    let mut rows = Vec::new();
    for chunk in cursors.chunks(USERS_PER_QUERY) {
        rows.extend(ActivityLog::after_each(conn, chunk, since, ROWS_PER_QUERY)?);
    }
    rows.sort_by_key(|row| row.id);
    Ok(rows)
}
