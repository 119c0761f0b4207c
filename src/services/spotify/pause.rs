//! The app-wide pause after a 429, shared through the database on
//! PostgreSQL, where several instances call Spotify as one app. A SQLite
//! database serves one instance, which keeps the pause in process alone.

use chrono::NaiveDateTime;

use crate::db::{DatabaseUrl, Pool};
use crate::enums::Provider;
use crate::models::provider_pause::ProviderPause;
use crate::providers::spotify::http::{Pause, PauseStore};

/// `provider_pauses`' Spotify row, through short checkouts of the pool.
struct DatabasePause {
    pool: Pool,
}

impl PauseStore for DatabasePause {
    fn load(&self) -> Result<Option<NaiveDateTime>, String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        ProviderPause::find(&mut conn, Provider::Spotify).map_err(|e| e.to_string())
    }

    fn save(&self, until: NaiveDateTime) -> Result<(), String> {
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        ProviderPause::extend(&mut conn, Provider::Spotify, until).map_err(|e| e.to_string())
    }
}

/// The pause for an app on `pool` (of `database_url`): shared through the
/// database on PostgreSQL (the stored value trusted for `refresh` before
/// it is read again), in process on SQLite.
pub fn app_pause(pool: &Pool, database_url: &str, refresh: std::time::Duration) -> Pause {
    let store: Option<Box<dyn PauseStore>> = match DatabaseUrl::parse(database_url) {
        Ok(DatabaseUrl::Postgres(_)) => Some(Box::new(DatabasePause { pool: pool.clone() })),
        _ => None,
    };
    Pause::new(store, refresh)
}
