//! The r2d2 connection manager. It builds connections by URL scheme itself
//! (the derived `MultiConnection::establish` tries each backend in turn and
//! hides the real error), and applies the per-connection settings:
//! SQLite `busy_timeout` first, then WAL, `synchronous=NORMAL`,
//! `foreign_keys=ON` and the WAL checkpoint backstop (`db::checkpoint`);
//! PostgreSQL `TimeZone=UTC`.

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::prelude::*;

use super::DbConnection;

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A path or `file:` URI handed to SQLite as is.
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`, a bare
    /// `file:` URI, and `postgres://` / `postgresql://` URLs.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if !cfg!(feature = "postgres-tls") && requires_tls(url) {
                return Err("DATABASE_URL asks for TLS (sslmode=require, verify-ca or \
                     verify-full), which this build cannot speak: build with \
                     `cargo build --release --features postgres-tls`"
                    .into());
            }
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        if url.starts_with("file:") {
            return Ok(DatabaseUrl::Sqlite(url.to_string()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("DATABASE_URL names no SQLite file".into());
            }
            return Ok(DatabaseUrl::Sqlite(path.to_string()));
        }
        // Only a short, plain scheme is echoed: a value with no scheme at
        // all (`host=db password=...`) may be a secret from end to end.
        let scheme = url.split(':').next().unwrap_or_default();
        let plain = url.contains(':')
            && scheme.len() <= 16
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+');
        Err(if plain {
            format!("DATABASE_URL scheme {scheme:?} is not supported: use sqlite:// or postgres://")
        } else {
            "DATABASE_URL has no scheme this service supports: use sqlite://PATH or postgres://..."
                .to_string()
        })
    }

    /// `:memory:`: a database private to its one connection.
    pub fn is_private_memory(&self) -> bool {
        matches!(self, DatabaseUrl::Sqlite(p) if p == ":memory:")
    }

    /// A shared-cache in-memory URI: gone when its last connection closes.
    pub fn is_shared_memory(&self) -> bool {
        matches!(self, DatabaseUrl::Sqlite(p) if p.starts_with("file:") && p.contains("mode=memory"))
    }

    /// The file SQLite opens (and would create), as given (relative paths
    /// are read from the current directory); `None` for PostgreSQL and
    /// in-memory databases. A `file:` URI's path is taken without its
    /// query, authority and percent-escapes.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        let DatabaseUrl::Sqlite(spec) = self else {
            return None;
        };
        if self.is_private_memory() || self.is_shared_memory() {
            return None;
        }
        let path = match spec.strip_prefix("file:") {
            None => spec.clone(),
            Some(uri) => {
                let path = &uri[..uri.find(['?', '#']).unwrap_or(uri.len())];
                // `file://host/path`: the path starts at the authority's end.
                let path = match path.strip_prefix("//") {
                    Some(rest) => &rest[rest.find('/')?..],
                    None => path,
                };
                percent_encoding::percent_decode_str(path)
                    .decode_utf8()
                    .ok()?
                    .into_owned()
            }
        };
        (!path.is_empty() && path != ":memory:").then(|| path.into())
    }
}

/// Whether a PostgreSQL URL insists on TLS. The default build's libpq has
/// none (bundled without OpenSSL, so a fresh machine needs only a C
/// compiler), and would fail at connect time with a vaguer message.
fn requires_tls(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query.split('&').any(|pair| {
        matches!(
            pair.split_once('='),
            Some(("sslmode", "require" | "verify-ca" | "verify-full"))
        )
    })
}

#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        ConnectionManager { url }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("{0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                super::sqlite_planner::enable_for_new_connections();
                let mut conn = diesel::SqliteConnection::establish(path)?;
                // busy_timeout must come first: switching to WAL itself
                // needs the lock another connection may hold.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;",
                )?;
                conn.batch_execute(&format!(
                    "PRAGMA wal_autocheckpoint = {};",
                    super::checkpoint::BACKSTOP_PAGES
                ))?;
                if self.url.is_shared_memory() {
                    // A shared-cache database locks per table, and a reader's
                    // table lock makes a concurrent writer fail at once with
                    // SQLITE_LOCKED ("database table is locked"), which no
                    // busy timeout waits for. Read-uncommitted readers take
                    // no table locks; writers of this process already queue
                    // (see `write_queue`). Files (WAL) are unaffected.
                    conn.batch_execute("PRAGMA read_uncommitted = 1;")?;
                }
                conn.set_instrumentation(super::round_trips::Counter);
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = diesel::PgConnection::establish(url)?;
                // ISO dates: partition upkeep reads its range bounds as text.
                conn.batch_execute("SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, MDY';")?;
                conn.set_instrumentation(super::round_trips::Counter);
                Ok(DbConnection::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ManagerError> {
        conn.batch_execute("SELECT 1").map_err(Into::into)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking()
            || <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn sslmode_require_names_the_tls_feature_in_a_build_without_it() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let url = format!("postgres://u@h/db?application_name=x&sslmode={mode}");
            let parsed = DatabaseUrl::parse(&url);
            if cfg!(feature = "postgres-tls") {
                assert!(parsed.is_ok(), "{parsed:?}");
            } else {
                assert!(parsed.unwrap_err().contains("--features postgres-tls"));
            }
        }
        for url in [
            "postgres://u@h/db",
            "postgres://u@h/db?sslmode=prefer",
            "postgres://u@h/db?sslmode=disable",
        ] {
            assert!(DatabaseUrl::parse(url).is_ok(), "{url}");
        }
    }

    use super::DatabaseUrl;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://shuffify.db").unwrap(),
            DatabaseUrl::Sqlite("shuffify.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/s.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/s.db".into())
        );
        assert!(DatabaseUrl::parse("sqlite::memory:")
            .unwrap()
            .is_private_memory());
        assert!(DatabaseUrl::parse("file:x?mode=memory&cache=shared")
            .unwrap()
            .is_shared_memory());
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("mysql://x")
            .unwrap_err()
            .contains("mysql"));
    }

    /// Two connections of one shared-cache in-memory database (the form
    /// the test suite uses): a write while the other connection is inside a
    /// read transaction on the same table succeeds. Without read-uncommitted
    /// reads the reader's table lock made the writer fail at once with
    /// "database table is locked" (SQLITE_LOCKED, which no busy timeout
    /// waits for): a webhook created while the delivery worker was reading
    /// answered 500.
    #[test]
    fn a_shared_memory_reader_does_not_lock_out_a_writer() {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        use r2d2::ManageConnection;

        let url =
            DatabaseUrl::parse("file:manager_reader_writer?mode=memory&cache=shared").unwrap();
        let manager = super::ConnectionManager::new(url);
        let mut reader = manager.connect().unwrap();
        let mut writer = manager.connect().unwrap();
        writer
            .batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        reader.batch_execute("BEGIN").unwrap();
        #[derive(QueryableByName)]
        struct X {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            x: i64,
        }
        let seen: Vec<X> = diesel::sql_query("SELECT x FROM t")
            .load(&mut reader)
            .unwrap();
        assert_eq!(seen[0].x, 1);
        writer
            .batch_execute("INSERT INTO t VALUES (2)")
            .expect("a write beside an open read transaction");
        reader.batch_execute("COMMIT").unwrap();
    }
}
