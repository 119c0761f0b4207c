//! What the pool says when it cannot connect, and a warning when it may
//! take too many of PostgreSQL's connection slots.
//!
//! r2d2's default error handler logs every failed connection attempt, and
//! a pool that cannot fill retries each of its connections without end: a
//! large pool against a database that refuses it printed hundreds of
//! thousands of lines a minute. [`Throttled`] logs the first failure, then
//! at most one line every [`QUIET`], counting what it left out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::prelude::*;

/// The least time between two lines about failed connection attempts.
pub const QUIET: Duration = Duration::from_secs(10);

/// r2d2's error handler, rate-limited.
#[derive(Debug, Default)]
pub struct Throttled {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    /// Whether a failure now gets a line, and how many were left out since
    /// the last one.
    fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.last_logged {
            Some(last) if now.duration_since(last) < QUIET => {
                state.suppressed += 1;
                None
            }
            _ => {
                state.last_logged = Some(now);
                Some(std::mem::take(&mut state.suppressed))
            }
        }
    }
}

impl<E: std::fmt::Display> r2d2::HandleError<E> for Throttled {
    fn handle_error(&self, error: E) {
        match self.admit(Instant::now()) {
            Some(0) => log::error!("the database pool cannot open a connection: {error}"),
            Some(left_out) => log::error!(
                "the database pool cannot open a connection: {error} \
                 ({left_out} more failure(s) in the last {} s not logged)",
                QUIET.as_secs()
            ),
            None => {}
        }
    }
}

/// `DB_POOL_SIZE` against PostgreSQL's `max_connections`: a warning when
/// the pool would take more than half of the server's slots. Another
/// instance during a rolling deploy, migrations and an operator's `psql`
/// need slots too, and r2d2 opens the whole pool at start.
pub fn check_max_connections(conn: &mut diesel::PgConnection, pool_size: u32) {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        max_connections: String,
    }
    let max = diesel::sql_query("SHOW max_connections")
        .get_result::<Setting>(conn)
        .ok()
        .and_then(|s| s.max_connections.trim().parse::<u32>().ok());
    match max {
        Some(max) => {
            if let Some(warning) = pool_size_warning(pool_size, max) {
                log::warn!("{warning}");
            }
        }
        None => log::warn!("cannot read PostgreSQL's max_connections to check DB_POOL_SIZE"),
    }
}

/// The warning for `pool_size` against `max_connections`, if any.
pub fn pool_size_warning(pool_size: u32, max_connections: u32) -> Option<String> {
    if pool_size >= max_connections {
        Some(format!(
            "DB_POOL_SIZE={pool_size} is at least PostgreSQL's max_connections={max_connections}: \
             the pool cannot fill, and it leaves no connection to anyone else; \
             lower DB_POOL_SIZE or raise max_connections"
        ))
    } else if u64::from(pool_size) * 2 > u64::from(max_connections) {
        Some(format!(
            "DB_POOL_SIZE={pool_size} takes more than half of PostgreSQL's \
             max_connections={max_connections}: a second instance (a rolling deploy), \
             migrations or psql may find no free connection"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_once_then_once_per_quiet_period_with_a_count() {
        let handler = Throttled::default();
        let start = Instant::now();
        assert_eq!(handler.admit(start), Some(0));
        for i in 1..=1000 {
            assert_eq!(handler.admit(start + Duration::from_millis(i)), None);
        }
        assert_eq!(handler.admit(start + QUIET), Some(1000));
        assert_eq!(handler.admit(start + QUIET + Duration::from_secs(1)), None);
    }

    #[test]
    fn the_pool_size_warning_names_the_variable_above_half_of_max_connections() {
        assert_eq!(pool_size_warning(8, 100), None);
        assert_eq!(pool_size_warning(50, 100), None);
        let near = pool_size_warning(51, 100).unwrap();
        assert!(
            near.contains("DB_POOL_SIZE=51") && near.contains("100"),
            "{near}"
        );
        let over = pool_size_warning(256, 100).unwrap();
        assert!(over.contains("DB_POOL_SIZE=256") && over.contains("cannot fill"));
    }
}
