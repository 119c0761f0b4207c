//! `shuffify backup --to FILE`.

use std::path::Path;

use shuffify::config::Settings;
use shuffify::db::{self, DatabaseUrl};

use super::{announce, print};

/// Copies the SQLite database to a new file, consistent even while `serve`
/// writes, and prints its path and size. The database is opened as it is:
/// no migration runs, so the copy is what was there. On PostgreSQL, says
/// how to run `pg_dump` instead.
pub fn backup(settings: &Settings, target: &Path) -> Result<(), String> {
    let url = &settings.database_url;
    if let DatabaseUrl::Postgres(_) = DatabaseUrl::parse(url)? {
        return Err(db::backup::pg_dump_hint(url));
    }
    db::require_existing(url)?;
    // Named by its absolute path in every message, as the database is.
    let target = std::path::absolute(target).unwrap_or_else(|_| target.to_path_buf());
    let pool = db::build_pool(url, 1)?;
    announce(settings);
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let size = db::backup::sqlite_copy(&mut conn, &target)?;
    print(&format!(
        "backed up to {} ({size} bytes)\n",
        target.display()
    ))
}
