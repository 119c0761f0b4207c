//! What every handler shares: the pool, the settings, the login throttle,
//! the caps on concurrent exports, and the share of the pool that order
//! rewrites may take.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::{self, Checkout, Pool};
use crate::error::AppError;
use crate::error::AppResult;
use crate::live::{ActivityHub, HubTimings};
use crate::lockout::Lockout;
use crate::password::PasswordHashing;
use crate::providers::spotify::Spotify;
use crate::rate_limit::AddressLimits;
use crate::services::spotify::pause::app_pause;
use crate::shutdown::Shutdown;
use crate::spotify_pool::SpotifyPool;
use crate::streams::StreamLimiter;

pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    /// Failed logins per username: in this process on SQLite, shared
    /// through the database on PostgreSQL.
    pub throttle: Lockout,
    /// Per-address buckets for login and registration; in the
    /// database on PostgreSQL, so instances share them.
    pub address_limits: AddressLimits,
    /// Bounded password hashing, away from the pool (docs/architecture.md, "Limits, addresses and guesses").
    pub passwords: PasswordHashing,
    /// Concurrent `GET /api/activity/export` responses (docs/api.md, "Limits").
    pub exports: StreamLimiter,
    /// The live activity stream: its tail and open streams, capped per
    /// user, per client address and per instance.
    pub hub: Arc<ActivityHub>,
    /// Order rewrites running at once: half the pool, so a burst of heavy
    /// shuffles (10,000 tracks read, written and snapshotted each) queues
    /// here, holding no thread or connection, and leaves the other half of
    /// the pool to everyone else.
    rewrites: Arc<tokio::sync::Semaphore>,
    /// Spotify, when configured (docs/spotify.md).
    pub spotify: Option<Arc<Spotify>>,
    /// Begun on SIGTERM: long-running work subscribes to it and stops
    /// (`crate::shutdown`).
    pub shutdown: Shutdown,
    /// Where Spotify work runs, away from the threads of database work.
    pub spotify_pool: SpotifyPool,
}

impl AppState {
    pub fn new(pool: Pool, settings: Settings) -> Self {
        let exports = StreamLimiter::new(
            "concurrent exports",
            settings.max_exports_per_user,
            settings.max_exports_per_instance,
            settings.stream_send_timeout_secs,
        );
        let hub = ActivityHub::new(
            pool.clone(),
            HubTimings {
                tick: settings.stream_tick,
                heartbeat: settings.stream_heartbeat,
                send_timeout: std::time::Duration::from_secs(settings.stream_send_timeout_secs),
            },
            StreamLimiter::with_address_cap(
                "open activity streams",
                settings.max_streams_per_user,
                settings.max_streams_per_address,
                settings.max_streams_per_instance,
                settings.stream_send_timeout_secs,
            ),
        );
        let rewrites = Arc::new(tokio::sync::Semaphore::new(
            (pool.max_size() as usize / 2).max(1),
        ));
        let address_limits = AddressLimits::new(&settings, &pool);
        let throttle = Lockout::new(&settings, &pool);
        let passwords = PasswordHashing::new(settings.hash_wait);
        let spotify = settings.spotify.clone().map(|config| {
            Arc::new(Spotify::new(
                config,
                settings.spotify_max_concurrent_calls,
                settings.spotify_claim_wait,
                app_pause(
                    &pool,
                    &settings.database_url,
                    settings.spotify_pause_refresh,
                ),
            ))
        });
        let spotify_pool = SpotifyPool::new(settings.spotify_max_concurrent_calls);
        AppState {
            pool,
            settings,
            throttle,
            address_limits,
            passwords,
            exports,
            hub,
            rewrites,
            spotify,
            shutdown: Shutdown::default(),
            spotify_pool,
        }
    }

    /// [`db::run`] for a request that rewrites a playlist's order (shuffle,
    /// commit, restore, undo): it first waits its turn among rewrites.
    ///
    /// `f` gets a [`Checkout`] rather than a connection, and Spotify when
    /// configured: a linked playlist's rewrite gives its connection, and
    /// its turn, back while it calls Spotify.
    ///
    /// `f` runs on the blocking threads of database work; when it finds
    /// the playlist linked to Spotify, it stops before changing anything
    /// ([`AppError::NeedsSpotifyPool`]) and runs again on the Spotify
    /// pool, as one of `user_id`'s Spotify operations (429 beyond them).
    pub async fn run_rewrite<T, F>(&self, user_id: i64, f: F) -> AppResult<T>
    where
        F: Fn(&mut Checkout, Option<&Spotify>) -> AppResult<T> + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let spotify = self.spotify.clone();
        let first = (f.clone(), spotify.clone());
        let checkout = Checkout::with_turn(self.pool.clone(), self.rewrite_turn().await?);
        match db::run_in(checkout, move |db| (first.0)(db, first.1.as_deref())).await {
            Err(AppError::NeedsSpotifyPool) => {}
            done => return done,
        }
        let operation = self.spotify_pool.admit(user_id)?;
        let checkout = Checkout::with_turn(self.pool.clone(), self.rewrite_turn().await?);
        self.spotify_pool
            .run(checkout, move |db| {
                let _operation = operation;
                f(db, spotify.as_deref())
            })
            .await
    }

    async fn rewrite_turn(&self) -> AppResult<tokio::sync::OwnedSemaphorePermit> {
        self.rewrites
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Internal("the rewrite turns closed".into()))
    }

    /// Runs `f`, one of `user_id`'s Spotify operations, on the Spotify
    /// pool (429 when the user already runs as many as allowed).
    pub async fn run_spotify<T, F>(&self, user_id: i64, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut Checkout, Arc<Spotify>) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let spotify = self.spotify()?;
        self.spotify_pool
            .run_for(user_id, &self.pool, move |db| f(db, spotify))
            .await
    }

    /// Spotify, or the 404 saying it is not configured.
    pub fn spotify(&self) -> AppResult<Arc<Spotify>> {
        self.spotify
            .clone()
            .ok_or_else(crate::services::spotify::not_configured)
    }
}
