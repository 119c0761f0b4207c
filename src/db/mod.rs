//! The database layer: one connection type for SQLite and PostgreSQL, chosen
//! at run time by the `DATABASE_URL` scheme; the r2d2 pool with its
//! per-connection settings; embedded migrations; and the helpers through which
//! the rest of the service touches a connection.
//!
//! Handlers never hold a connection on an async worker: they call [`run`],
//! which checks one out on actix's blocking pool. Writes that read first go
//! through [`write_transaction`], which begins SQLite transactions with
//! `BEGIN IMMEDIATE` (a deferred `BEGIN` that later writes fails with
//! SQLITE_BUSY under WAL, whatever the busy timeout).

pub mod backup;
pub mod checkpoint;
mod claims;
mod fixed_sql;
pub mod json;
mod location;
mod manager;
pub mod migrations;
pub mod partitions;
mod pool_errors;
mod round_trips;
pub mod schema;
mod sqlite_planner;
mod stored_time;
pub mod text_search;
mod write_queue;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

pub use claims::{claim_batch, claim_statement, Claim};
pub use fixed_sql::{fixed_sql, FixedSql};
pub use json::{Json, RawJson};
pub use location::{describe_database_url, require_existing, sqlite_file, without_password};
pub use manager::{ConnectionManager, DatabaseUrl};
pub use round_trips::{count as count_round_trips, BlockingTrips, RoundTrips};
pub use stored_time::StoredTime;

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Runs one diesel statement on the concrete connection inside `conn`, with
/// `$c` bound to it. For what `MultiBackend` cannot express: `RETURNING`
/// clauses and inserts with optional values are walked per backend.
/// Reached as `db::with_backend!`; used by `models/` only, where the SQL
/// that differs per backend lives.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}
pub use crate::__with_backend as with_backend;

/// Which backend a connection talks to, for the few places whose SQL differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl DbConnection {
    /// The PostgreSQL connection inside, for what exists on PostgreSQL only
    /// (`what` names it in the error on SQLite).
    pub fn postgres(&mut self, what: &str) -> diesel::QueryResult<&mut diesel::PgConnection> {
        match self {
            DbConnection::Postgres(pg) => Ok(pg),
            DbConnection::Sqlite(_) => Err(diesel::result::Error::QueryBuilderError(
                format!("{what} are kept in the database on PostgreSQL only").into(),
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Sqlite(_) => Backend::Sqlite,
            DbConnection::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Builds the pool for `url`. An in-memory SQLite database lives in its one
/// connection, so that pool holds exactly one and never recycles it.
pub fn build_pool(url: &str, size: u32) -> Result<Pool, String> {
    let url = DatabaseUrl::parse(url)?;
    let in_memory = url.is_private_memory();
    let builder = r2d2::Pool::builder()
        .connection_timeout(std::time::Duration::from_secs(10))
        .test_on_check_out(false)
        .error_handler(Box::new(pool_errors::Throttled::default()));
    let builder = if in_memory {
        builder.max_size(1).max_lifetime(None).idle_timeout(None)
    } else if url.is_shared_memory() {
        // The database exists while one connection is open: keep them all.
        builder
            .max_size(size)
            .min_idle(Some(size))
            .max_lifetime(None)
            .idle_timeout(None)
    } else {
        builder.max_size(size)
    };
    let manager = ConnectionManager::new(url);
    if !in_memory {
        // Switching a file to WAL takes an exclusive lock, and r2d2 opens
        // its first connections in parallel: do it once, alone, first.
        // (WAL is persistent, so later connections find it already set.)
        let mut first = r2d2::ManageConnection::connect(&manager)
            .map_err(|e| format!("cannot open the database: {e}"))?;
        if let DbConnection::Postgres(pg) = &mut first {
            pool_errors::check_max_connections(pg, size);
        }
    }
    builder
        .build(manager)
        .map_err(|e| format!("cannot open the database: {e}"))
}

/// Runs `f` with a pooled connection on the blocking thread pool, so no
/// diesel call ever runs on an async worker. The calling request's context
/// (`request_context`) goes with it, as it does with [`run_in`] and
/// [`run_on`], for the activity rows `f` writes.
pub async fn run<T, F>(pool: &Pool, f: F) -> crate::error::AppResult<T>
where
    F: FnOnce(&mut DbConnection) -> crate::error::AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let context = crate::request_context::current();
    let (result, statements) = actix_web::web::block(move || {
        let _context = crate::request_context::enter(context);
        let before = round_trips::on_this_thread();
        let result = pool
            .get()
            .map_err(Into::into)
            .and_then(|mut conn| f(&mut conn));
        (result, round_trips::on_this_thread() - before)
    })
    .await?;
    round_trips::add(statements);
    result
}

/// A pooled connection taken when needed and given back in between: for
/// work that calls a provider between its statements, which must hold no
/// connection across the call (docs/spotify.md). Runs on a blocking thread.
pub struct Checkout {
    pool: Pool,
    conn: Option<r2d2::PooledConnection<ConnectionManager>>,
    /// A turn among order rewrites (`AppState::run_rewrite`), given back
    /// with the first connection: a rewrite that waits on Spotify holds
    /// neither.
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Whether this checkout runs on the Spotify pool, the only threads
    /// where work may call Spotify.
    spotify: bool,
}

impl Checkout {
    pub fn new(pool: Pool) -> Self {
        Checkout {
            pool,
            conn: None,
            turn: None,
            spotify: false,
        }
    }

    /// A checkout that holds `turn` until its connection is first given
    /// back.
    pub fn with_turn(pool: Pool, turn: tokio::sync::OwnedSemaphorePermit) -> Self {
        Checkout {
            pool,
            conn: None,
            turn: Some(turn),
            spotify: false,
        }
    }

    /// The checkout, for work on the Spotify pool.
    pub fn for_spotify(mut self) -> Self {
        self.spotify = true;
        self
    }

    /// Whether this work runs on the Spotify pool (and so may call
    /// Spotify).
    pub fn on_spotify_pool(&self) -> bool {
        self.spotify
    }

    /// The connection, taken from the pool if none is held.
    pub fn conn(&mut self) -> crate::error::AppResult<&mut DbConnection> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.get()?);
        }
        Ok(self.conn.as_mut().expect("just taken"))
    }

    /// Gives the connection (and the turn, if any) back.
    pub fn release(&mut self) {
        self.conn = None;
        self.turn = None;
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Runs `f` with a [`Checkout`] on the blocking thread pool.
pub async fn run_checkout<T, F>(pool: &Pool, f: F) -> crate::error::AppResult<T>
where
    F: FnOnce(&mut Checkout) -> crate::error::AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    run_in(Checkout::new(pool.clone()), f).await
}

/// Runs `f` with `checkout` on the blocking thread pool.
pub async fn run_in<T, F>(mut checkout: Checkout, f: F) -> crate::error::AppResult<T>
where
    F: FnOnce(&mut Checkout) -> crate::error::AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let context = crate::request_context::current();
    let (result, statements) = actix_web::web::block(move || {
        let _context = crate::request_context::enter(context);
        let before = round_trips::on_this_thread();
        let result = f(&mut checkout);
        (result, round_trips::on_this_thread() - before)
    })
    .await?;
    round_trips::add(statements);
    result
}

/// Runs `f` with `checkout` on the blocking threads of `runtime` (a pool
/// of its own, such as the Spotify pool), its statements counted as
/// [`run_in`] counts them; `Err` when that runtime no longer takes work.
pub async fn run_on<T, F>(
    runtime: &tokio::runtime::Handle,
    mut checkout: Checkout,
    f: F,
) -> Result<crate::error::AppResult<T>, tokio::task::JoinError>
where
    F: FnOnce(&mut Checkout) -> crate::error::AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let context = crate::request_context::current();
    let (result, statements) = runtime
        .spawn_blocking(move || {
            let _context = crate::request_context::enter(context);
            let before = round_trips::on_this_thread();
            let result = f(&mut checkout);
            (result, round_trips::on_this_thread() - before)
        })
        .await?;
    round_trips::add(statements);
    Ok(result)
}

/// Runs `f` in a transaction that takes the write lock up front on SQLite
/// (`BEGIN IMMEDIATE`) and is a plain transaction on PostgreSQL. Nested
/// `conn.transaction(..)` calls inside `f` become savepoints.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let _turn = match conn {
        DbConnection::Postgres(_) => return conn.transaction(f),
        DbConnection::Sqlite(inner) => {
            let turn = write_queue::wait_turn();
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            turn
        }
    };
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The caller's error is the one worth reporting; a failed
            // rollback leaves the transaction manager marked broken, and
            // the pool discards the connection.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(err)
        }
    }
}

/// The current time as the service stores it: UTC, whole microseconds, so
/// that SQLite's text timestamps sort as time does and both backends hold
/// exactly the same value.
pub fn now() -> chrono::NaiveDateTime {
    truncate_to_micros(chrono::Utc::now().naive_utc())
}

pub fn truncate_to_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}
