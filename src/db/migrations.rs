//! Embedded migrations, one set per backend (same folder names in both).

use diesel::migration::MigrationSource;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConnection;

pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration; returns the versions applied.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(versions),
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES).map(versions),
    };
    applied.map_err(|e| format!("migration failed: {e}"))
}

/// Whether an embedded migration has not been applied yet.
pub fn has_pending(conn: &mut DbConnection) -> Result<bool, String> {
    let pending = match conn {
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE),
        DbConnection::Postgres(c) => c.has_pending_migration(POSTGRES),
    };
    pending.map_err(|e| format!("cannot read the applied migrations: {e}"))
}

fn versions(list: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    list.into_iter().map(|v| v.to_string()).collect()
}

/// The number of migrations embedded for a backend (used by tests).
pub fn embedded_count(conn: &DbConnection) -> usize {
    let count = match conn {
        DbConnection::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE).map(|m| m.len())
        }
        DbConnection::Postgres(_) => {
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES).map(|m| m.len())
        }
    };
    count.unwrap_or(0)
}
