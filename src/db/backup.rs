//! `shuffify backup`: a consistent copy of a live SQLite database, written
//! by SQLite itself with `VACUUM INTO`. It reads in one transaction, so the
//! copy is the database as of one instant while `serve` carries on
//! writing (WAL readers do not block writers), and it never copies a
//! half-written page as a file copy of a live database can. PostgreSQL has
//! its own tool; [`pg_dump_hint`] says how to call it.

use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::DbConnection;

/// Copies the SQLite database of `conn` to a new file at `target` and
/// answers its size in bytes. Refuses a `target` that exists (even
/// empty): a backup never overwrites anything.
pub fn sqlite_copy(conn: &mut DbConnection, target: &Path) -> Result<u64, String> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Err("backup copies SQLite databases only".into());
    };
    if target.symlink_metadata().is_ok() {
        return Err(format!(
            "{} already exists: backup never overwrites a file; name a new one",
            target.display()
        ));
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(format!("the directory {} does not exist", parent.display()));
        }
    }
    let name = target
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", target.display()))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(name)
        .execute(sqlite)
        .map_err(|e| format!("the backup to {} failed: {e}", target.display()))?;
    std::fs::metadata(target)
        .map(|m| m.len())
        .map_err(|e| format!("cannot read the backup {}: {e}", target.display()))
}

/// What to run instead on PostgreSQL: a `pg_dump` command line for `url`,
/// without its password.
pub fn pg_dump_hint(url: &str) -> String {
    let url = super::without_password(url).replace('\'', "'\\''");
    format!(
        "backup copies SQLite databases only; on PostgreSQL use pg_dump, for example:\n  \
         pg_dump --format=custom --file=shuffify.dump '{url}'\n\
         (with the password in PGPASSWORD or ~/.pgpass; restore with pg_restore)"
    )
}

#[cfg(test)]
mod tests {
    use super::pg_dump_hint;

    #[test]
    fn the_pg_dump_example_names_the_database_but_not_the_password() {
        let hint = pg_dump_hint("postgres://shuffify:s3cret@db:5432/shuffify");
        assert!(hint.contains("pg_dump"), "{hint}");
        assert!(
            hint.contains("'postgres://shuffify@db:5432/shuffify'"),
            "{hint}"
        );
        assert!(!hint.contains("s3cret"), "{hint}");
    }
}
