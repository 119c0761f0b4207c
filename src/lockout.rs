//! The per-username login lockout wherever it lives: after 10 failed logins
//! within 15 minutes further attempts are refused (429) before any password
//! check. An attempt is reserved before its password is checked, counts as
//! a failure until the login succeeds (which clears the name) or is
//! abandoned unjudged (which releases it); see `crate::login_throttle`.
//!
//! On SQLite the count lives in this process (`LoginThrottle`); on
//! PostgreSQL in the database (`models::login_failure`), so every instance
//! on it shares one count and N instances allow what one does.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Settings;
use crate::db::{self, DatabaseUrl, Pool};
use crate::error::{AppError, AppResult};
use crate::login_throttle::{self, LoginThrottle, FAILURE_WINDOW, MAX_FAILURES};
use crate::models::login_failure;

/// Reservations between sweeps of names whose attempts left the window.
const SWEEP_EVERY: u64 = 4096;

pub enum Lockout {
    InProcess(LoginThrottle),
    Shared { pool: Pool, reservations: AtomicU64 },
}

fn hex_key(username: &str) -> String {
    login_throttle::key(username)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn locked_out(retry_after_secs: u64) -> AppError {
    AppError::RateLimited {
        message: format!(
            "too many failed logins for this username: at most {MAX_FAILURES} in {} minutes",
            FAILURE_WINDOW.as_secs() / 60
        ),
        retry_after_secs,
    }
}

impl Lockout {
    /// In the database when `pool` is PostgreSQL's, else in memory.
    pub fn new(settings: &Settings, pool: &Pool) -> Self {
        match DatabaseUrl::parse(&settings.database_url) {
            Ok(DatabaseUrl::Postgres(_)) => Lockout::Shared {
                pool: pool.clone(),
                reservations: AtomicU64::new(0),
            },
            _ => Lockout::InProcess(LoginThrottle::default()),
        }
    }

    /// Reserves one attempt for `username`, or 429 while it is locked out.
    pub async fn reserve(&self, username: &str) -> AppResult<()> {
        match self {
            Lockout::InProcess(throttle) => throttle.reserve(username).map_err(locked_out),
            Lockout::Shared { pool, reservations } => {
                let sweep =
                    reservations.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
                let key = hex_key(username);
                let window = FAILURE_WINDOW.as_secs_f64();
                let wait = db::run(pool, move |conn| {
                    if sweep {
                        login_failure::sweep(conn, window)?;
                    }
                    Ok(login_failure::reserve(
                        conn,
                        &key,
                        MAX_FAILURES as i64,
                        window,
                    )?)
                })
                .await?;
                match wait {
                    None => Ok(()),
                    Some(secs) => Err(locked_out(secs)),
                }
            }
        }
    }

    /// Gives back the newest reservation of an attempt whose password was
    /// never judged (no hashing slot, a database error).
    pub async fn release(&self, username: &str) {
        match self {
            Lockout::InProcess(throttle) => throttle.release(username),
            Lockout::Shared { pool, .. } => {
                let key = hex_key(username);
                let released =
                    db::run(pool, move |conn| Ok(login_failure::release(conn, &key)?)).await;
                if let Err(err) = released {
                    log::warn!("could not release a login reservation: {err}");
                }
            }
        }
    }

    /// A successful login forgets the name's failures.
    pub async fn clear(&self, username: &str) {
        match self {
            Lockout::InProcess(throttle) => throttle.clear(username),
            Lockout::Shared { pool, .. } => {
                let key = hex_key(username);
                let cleared =
                    db::run(pool, move |conn| Ok(login_failure::clear(conn, &key)?)).await;
                if let Err(err) = cleared {
                    log::warn!("could not clear a username's failed logins: {err}");
                }
            }
        }
    }
}

/// Forgets `username`'s failed logins where this process can reach them:
/// in the database on PostgreSQL. On SQLite they live in the memory of the
/// `serve` process (and pass within the window); there is nothing to do.
/// For the command line, which sets passwords and deletes accounts outside
/// any `serve` process.
pub fn forget_in_database(conn: &mut db::DbConnection, username: &str) -> AppResult<()> {
    if conn.backend() == db::Backend::Postgres {
        login_failure::clear(conn, &hex_key(username))?;
    }
    Ok(())
}
