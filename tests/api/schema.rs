//! The schema itself: migrations, keys, cascades and indexes, read back from
//! the database's own catalog.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use shuffify::db::schema::activity_log;
use shuffify::db::{self, Backend, DbConnection};
use shuffify::enums::ActivityType;
use shuffify::models::{NewActivity, User};
use shuffify::services::ActivityLogService;

use crate::helpers::{create_user, postgres_url, TestDb};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn index_columns(conn: &mut DbConnection, index: &str) -> Vec<String> {
    let sql = match conn.backend() {
        Backend::Sqlite => format!("SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"),
        Backend::Postgres => format!(
            "SELECT a.attname AS name FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() \
             JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE c.relname = '{index}' ORDER BY k.ord"
        ),
    };
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

#[test]
fn the_activity_indexes_exist() {
    let db = TestDb::new();
    let mut conn = db.conn();
    assert_eq!(
        index_columns(&mut conn, "ix_activity_user_created"),
        ["user_id", "created_at"]
    );
    assert_eq!(index_columns(&mut conn, "ix_activity_user_id"), ["user_id"]);
    assert_eq!(
        index_columns(&mut conn, "ix_activity_type"),
        ["activity_type"]
    );
    assert_eq!(
        index_columns(&mut conn, "ix_activity_created_at"),
        ["created_at"]
    );
}

#[test]
fn activity_for_a_missing_user_is_refused() {
    let db = TestDb::new();
    let mut conn = db.conn();
    // The foreign key is enforced (on SQLite only with foreign_keys=ON).
    let row = ActivityLogService::log(
        &mut conn,
        NewActivity::new(424242, ActivityType::Login, "ghost"),
    );
    assert!(row.is_none());
    let n: i64 = activity_log::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn deleting_a_user_deletes_their_activity() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let gone = create_user(&mut conn, "leaver");
    let stays = create_user(&mut conn, "stayer");
    for user in [gone, stays, gone] {
        ActivityLogService::log(&mut conn, NewActivity::new(user, ActivityType::Login, "in"))
            .unwrap();
    }
    assert_eq!(User::delete(&mut conn, gone).unwrap(), 1);
    let left: Vec<i64> = activity_log::table
        .select(activity_log::user_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(left, vec![stays]);
}

fn applied_migrations(conn: &mut DbConnection) -> i64 {
    diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

#[test]
fn migrations_apply_to_an_empty_database_and_are_idempotent() {
    let db = TestDb::unmigrated();
    let mut conn = db.conn();
    let first = db::migrations::run_pending(&mut conn).unwrap();
    assert_eq!(first.len(), db::migrations::embedded_count(&conn));
    assert!(!first.is_empty());
    let second = db::migrations::run_pending(&mut conn).unwrap();
    assert!(second.is_empty());
    assert_eq!(applied_migrations(&mut conn), first.len() as i64);
    // Every table of the data model is there.
    for table in [
        "users",
        "auth_sessions",
        "user_settings",
        "tracks",
        "playlists",
        "playlist_orders",
        "workshop_sessions",
        "upstream_sources",
        "schedules",
        "job_executions",
        "playlist_snapshots",
        "activity_log",
    ] {
        conn.batch_execute(&format!("SELECT COUNT(*) FROM {table}"))
            .unwrap_or_else(|e| panic!("table {table}: {e}"));
    }
}

#[test]
fn the_suite_runs_on_the_backend_it_was_asked_for() {
    let db = TestDb::new();
    let conn = db.conn();
    let expected = if postgres_url().is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(conn.backend(), expected);
}

/// Applies the embedded migrations up to and including `version`.
pub(crate) fn migrate_through(conn: &mut DbConnection, version: &str) {
    use diesel_migrations::MigrationHarness;
    loop {
        let applied = match conn {
            DbConnection::Sqlite(c) => c
                .run_next_migration(db::migrations::SQLITE)
                .map(|v| v.to_string()),
            DbConnection::Postgres(c) => c
                .run_next_migration(db::migrations::POSTGRES)
                .map(|v| v.to_string()),
        }
        .unwrap();
        if applied == version {
            return;
        }
    }
}

#[derive(QueryableByName)]
struct Link {
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    account_id: String,
}

#[test]
fn one_user_per_spotify_account_drops_every_link_of_a_shared_account() {
    let db = TestDb::unmigrated();
    let mut conn = db.conn();
    migrate_through(&mut conn, "20261205000000");
    // Written in SQL as the schema stood then, not through today's models.
    conn.batch_execute(
        "INSERT INTO users (username, display_name, password_hash, created_at, updated_at) \
         VALUES ('older', 'o', 'x', '2026-12-01 00:00:00', '2026-12-01 00:00:00'), \
                ('newer', 'n', 'x', '2026-12-01 00:00:00', '2026-12-01 00:00:00'), \
                ('alone', 'a', 'x', '2026-12-01 00:00:00', '2026-12-01 00:00:00'); \
         INSERT INTO provider_connections (user_id, provider, account_id, scopes, \
             access_token, refresh_token, access_expires_at, connected_at, updated_at) \
         SELECT id, 'spotify', CASE username WHEN 'alone' THEN 'own' ELSE 'shared' END, '', \
             'sealed', 'sealed', '2026-12-01 00:00:00', '2026-12-01 00:00:00', \
             '2026-12-01 00:00:00' FROM users ORDER BY id;",
    )
    .unwrap();

    db::migrations::run_pending(&mut conn).unwrap();

    let links: Vec<(String, String)> = diesel::sql_query(
        "SELECT u.username, c.account_id FROM provider_connections c \
         JOIN users u ON u.id = c.user_id ORDER BY u.username",
    )
    .load::<Link>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|l| (l.username, l.account_id))
    .collect();
    assert_eq!(links, [("alone".to_string(), "own".to_string())]);
    assert_eq!(
        index_columns(&mut conn, "ux_provider_connections_account"),
        ["provider", "account_id"]
    );
}
