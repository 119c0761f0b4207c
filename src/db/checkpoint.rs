//! WAL checkpoints off the write path, for `serve` on a SQLite file.
//!
//! SQLite checkpoints on the connection whose commit takes the WAL past
//! `wal_autocheckpoint` pages: that commit copies the WAL into the database
//! and fsyncs both before it returns, while it still holds this process's
//! writer turn ([`super::write_queue`]), so every queued writer waits on the
//! disk. Under 64 concurrent shuffles the request path spent its time there
//! rather than on the CPU (issue 10; figures in README "Performance").
//!
//! Here a thread with a connection of its own runs a `PASSIVE` checkpoint
//! (it never waits for, nor blocks, readers or writers) every
//! [`INTERVAL`]; pool connections keep SQLite's own checkpoint only as a
//! backstop, at [`BACKSTOP_PAGES`], for when this thread falls behind or
//! does not run (the CLI commands, the tests).

use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::{ConnectionManager, DatabaseUrl};

/// How often the thread checkpoints.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// `wal_autocheckpoint` of pool connections: 10,000 pages, 40 MiB of WAL.
pub const BACKSTOP_PAGES: u32 = 10_000;

/// Starts the checkpoint thread when `url` names a SQLite file; `None` for
/// PostgreSQL and in-memory databases, which have no WAL to keep short.
pub fn spawn(url: &str) -> Option<std::thread::JoinHandle<()>> {
    let url = DatabaseUrl::parse(url).ok()?;
    if !matches!(url, DatabaseUrl::Sqlite(_)) || url.is_private_memory() || url.is_shared_memory() {
        return None;
    }
    let manager = ConnectionManager::new(url);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut conn = None;
            loop {
                std::thread::sleep(INTERVAL);
                if conn.is_none() {
                    conn = r2d2::ManageConnection::connect(&manager)
                        .map_err(|err| log::warn!("checkpoint: cannot connect: {err}"))
                        .ok();
                }
                if let Some(c) = conn.as_mut() {
                    if let Err(err) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        log::warn!("checkpoint failed: {err}");
                        conn = None;
                    }
                }
            }
        })
        .map_err(|err| log::warn!("cannot start the checkpoint thread: {err}"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;

    /// Pool connections no longer checkpoint a small WAL themselves; the
    /// thread does: the database file grows to take in the WAL's pages.
    #[test]
    fn the_thread_moves_the_wal_into_the_database_file() {
        let dir = std::env::temp_dir().join(format!("shuffify-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.db");
        let url = format!("sqlite://{}", path.display());
        let pool = crate::db::build_pool(&url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "CREATE TABLE filler (x TEXT);
             WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 999)
             INSERT INTO filler SELECT hex(randomblob(500)) FROM g;",
        )
        .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let wal = std::fs::metadata(dir.join("c.db-wal")).unwrap().len();
        assert!(wal > 1_000_000, "the rows wait in the WAL ({wal} bytes)");
        assert!(spawn(&url).is_some());
        // Time only guards against a hang; the assertion is the file.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::fs::metadata(&path).unwrap().len() <= before + 1_000_000 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint ran");
            std::thread::sleep(INTERVAL);
        }
        assert!(spawn("sqlite::memory:").is_none());
        assert!(spawn("postgres://u@h/db").is_none());
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
