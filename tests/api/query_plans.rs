//! The activity reads use an index on both backends, read from EXPLAIN.
//!
//! The SQL below is what diesel generates for each read in
//! `models/activity_log.rs` (the feeds, their keyset pages, `/since` and the
//! summary) and `services/activity_query.rs` (the filtered listing, whose
//! keyset page has the same shape), with literal values. On PostgreSQL `enable_seqscan` is off, since a tiny test
//! table would otherwise favour a scan; the assertion is that a plan using
//! the index exists and is chosen, not that it wins on this data.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use shuffify::db::schema::activity_log;
use shuffify::db::{self, Backend, DbConnection};
use shuffify::enums::{ActivityType, ActorType};

use crate::helpers::{create_user, insert_playlist, TestDb};

const RECENT: &str = "SELECT id FROM activity_log WHERE user_id = 1 \
    ORDER BY created_at DESC, id DESC LIMIT 20";
const RECENT_OF_TYPE: &str =
    "SELECT id FROM activity_log WHERE user_id = 1 AND activity_type = 'shuffle' \
    ORDER BY created_at DESC, id DESC LIMIT 20";
/// `{t}` is a time inside the seeded range.
const KEYSET_PAGE: &str = "SELECT id FROM activity_log WHERE user_id = 1 \
    AND created_at <= '{t}' AND (created_at < '{t}' OR (created_at = '{t}' AND id < 500)) \
    ORDER BY created_at DESC, id DESC LIMIT 21";
const SINCE: &str = "SELECT id FROM activity_log WHERE user_id = 1 \
    AND created_at >= '{t}' ORDER BY created_at DESC, id DESC";
const SUMMARY: &str = "SELECT activity_type, COUNT(*) FROM activity_log WHERE user_id = 1 \
    AND created_at >= '{t}' GROUP BY activity_type";

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

fn plan(conn: &mut DbConnection, sql: &str) -> String {
    match conn.backend() {
        Backend::Sqlite => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqlitePlanRow>(conn)
            .unwrap()
            .into_iter()
            .map(|r| r.detail)
            .collect::<Vec<_>>()
            .join("\n"),
        Backend::Postgres => {
            conn.batch_execute("SET enable_seqscan = off").unwrap();
            diesel::sql_query(format!("EXPLAIN {sql}"))
                .load::<PgPlanRow>(conn)
                .unwrap()
                .into_iter()
                .map(|r| r.line)
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// 20 users, the first with 2,000 rows and the rest with 100 each (so
/// `user_id = 1` is selective and its rows too many to sort cheaply, as in
/// real life), and the SQL of `template` with a time among user 1's rows.
fn seeded(template: &str) -> (TestDb, String) {
    let db = TestDb::new();
    let mut conn = db.conn();
    let start = db::now() - chrono::Duration::days(30);
    for u in 0..20 {
        let user = create_user(&mut conn, &format!("planner{u}"));
        let count = if u == 0 { 2000 } else { 100 };
        let rows: Vec<_> = (0..count)
            .map(|i| {
                (
                    activity_log::user_id.eq(user),
                    activity_log::activity_type.eq(ActivityType::Shuffle),
                    activity_log::description.eq("seeded"),
                    activity_log::actor_type.eq(ActorType::User),
                    activity_log::created_at.eq(start + chrono::Duration::minutes(i)),
                )
            })
            .collect();
        for chunk in rows.chunks(200) {
            shuffify::db::with_backend!(&mut *conn, |c| diesel::insert_into(activity_log::table)
                .values(chunk)
                .execute(c))
            .unwrap();
        }
    }
    if conn.backend() == Backend::Postgres {
        conn.batch_execute("ANALYZE activity_log").unwrap();
    }
    drop(conn);
    let middle = start + chrono::Duration::minutes(1000);
    let sql = template.replace("{t}", &middle.format("%Y-%m-%d %H:%M:%S%.f").to_string());
    (db, sql)
}

/// The plan reads `ix_activity_user_created` (or its PostgreSQL sibling with
/// `id`, in each monthly partition), never scans the table, and, for the LIMITed feeds, takes its order
/// from the index instead of sorting.
fn assert_uses_user_created_index(conn: &mut DbConnection, sql: &str, sorted_by_index: bool) {
    let plan = plan(conn, sql);
    // On PostgreSQL the table is partitioned by month: the plan names each
    // partition's copy of the index, `<partition>_user_id_created_at..._idx`.
    assert!(
        plan.contains("ix_activity_user_created") || plan.contains("_user_id_created_at"),
        "no user/created_at index in:\n{plan}\nfor {sql}"
    );
    match conn.backend() {
        Backend::Sqlite => {
            assert!(
                !plan.contains("SCAN activity_log\n") && !plan.ends_with("SCAN activity_log"),
                "{plan}"
            );
            if sorted_by_index {
                assert!(
                    !plan.contains("TEMP B-TREE FOR ORDER BY"),
                    "sorted outside the index:\n{plan}"
                );
            }
        }
        Backend::Postgres => {
            assert!(!plan.contains("Seq Scan"), "{plan}");
            if sorted_by_index {
                assert!(
                    !crate::partitions::has_sort_node(&plan),
                    "sorted outside the index:\n{plan}"
                );
            }
        }
    }
}

#[test]
fn recent_feed_uses_the_index() {
    let (db, _) = seeded("");
    let mut conn = db.conn();
    assert_uses_user_created_index(&mut conn, RECENT, true);
    assert_uses_user_created_index(&mut conn, RECENT_OF_TYPE, true);
}

#[test]
fn keyset_page_uses_the_index() {
    let (db, sql) = seeded(KEYSET_PAGE);
    assert_uses_user_created_index(&mut db.conn(), &sql, true);
}

#[test]
fn since_uses_the_index() {
    let (db, sql) = seeded(SINCE);
    // No LIMIT: every row in the range is read anyway, so a bitmap scan of
    // the index followed by a sort is a fair plan.
    assert_uses_user_created_index(&mut db.conn(), &sql, false);
}

#[test]
fn summary_uses_the_index() {
    let (db, sql) = seeded(SUMMARY);
    assert_uses_user_created_index(&mut db.conn(), &sql, false);
}

/// Snapshot reads filter on `playlist_id` alone (list, manual count, undo,
/// prune); the schema's first snapshot index starts with `user_id`, so they
/// need `ix_snapshots_playlist_created`.
#[test]
fn snapshot_reads_use_the_playlist_index() {
    use shuffify::enums::SnapshotType;
    use shuffify::models::snapshot::Snapshot;

    let db = TestDb::new();
    let mut conn = db.conn();
    let mut playlists = Vec::new();
    for u in 0..5 {
        let owner = create_user(&mut conn, &format!("snapper{u}"));
        for p in 0..4 {
            let playlist = insert_playlist(&mut conn, owner, format!("plan{u}x{p}"), "Planned");
            for _ in 0..10 {
                Snapshot::take(&mut conn, &playlist, &[], SnapshotType::Manual, None, 10).unwrap();
            }
            playlists.push(playlist.id);
        }
    }
    if conn.backend() == Backend::Postgres {
        conn.batch_execute("ANALYZE playlist_snapshots").unwrap();
    }
    for sql in [
        "SELECT id FROM playlist_snapshots WHERE playlist_id = 'plan2x1' \
         ORDER BY created_at DESC, id DESC LIMIT 20",
        "SELECT COUNT(*) FROM playlist_snapshots WHERE playlist_id = 'plan2x1' \
         AND snapshot_type = 'manual'",
    ] {
        let plan = plan(&mut conn, sql);
        assert!(
            plan.contains("ix_snapshots_playlist_created"),
            "no playlist index in:\n{plan}\nfor {sql}"
        );
    }
}

/// The statements as the service sends them, with bound parameters: on
/// SQLite the planner stability guarantee is on (`db/sqlite_planner.rs`),
/// so the plan cannot lean on the values, and must still use the index.
#[test]
fn bound_activity_reads_use_the_user_index() {
    use diesel::sql_types::BigInt;
    let (db, _) = seeded("");
    let mut conn = db.conn();
    if conn.backend() != Backend::Sqlite {
        return;
    }
    let since = (db::now() - chrono::Duration::days(30))
        .format("%Y-%m-%d %H:%M:%S%.f")
        .to_string();
    for (sql, index) in [
        (
            "SELECT substr(created_at, 1, 10), activity_type, COUNT(*) FROM activity_log \
             WHERE user_id = ? AND substr(created_at, 1, 10) >= ? \
             GROUP BY substr(created_at, 1, 10), activity_type",
            "COVERING INDEX ix_activity_user_day_type",
        ),
        (
            "SELECT id FROM activity_log WHERE user_id = ? AND created_at >= ? \
             ORDER BY created_at DESC, id DESC LIMIT 21",
            "ix_activity_user_created",
        ),
    ] {
        let plan = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .bind::<BigInt, _>(1)
            .bind::<Text, _>(&since)
            .load::<SqlitePlanRow>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| r.detail)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(plan.contains(index), "no {index} in:\n{plan}\nfor {sql}");
        // The summary's groups come out of the index in order.
        assert!(
            !plan.contains("TEMP B-TREE"),
            "sorted outside the index:\n{plan}"
        );
    }
}

/// The live tail as sent, bounded in time too since partitioning (an hour
/// before now, written `+created_at` on SQLite: `activity_log::created_since`):
/// on SQLite it still walks `ix_activity_user_id` (whose entries end in the
/// rowid, the id) from each watched user's cursor, in id order, not the
/// user's last hour by time. PostgreSQL's plan is read in `partitions.rs`.
#[test]
fn bound_tail_uses_the_user_index_on_sqlite() {
    use diesel::sql_types::{BigInt, Timestamp};
    let (db, _) = seeded("");
    let mut conn = db.conn();
    if conn.backend() != Backend::Sqlite {
        return;
    }
    let sql = "SELECT id FROM activity_log WHERE ((user_id = ? AND id > ?) \
               OR (user_id = ? AND id > ?)) AND +created_at >= ? ORDER BY id ASC LIMIT ?";
    let plan = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .bind::<BigInt, _>(1)
        .bind::<BigInt, _>(1900)
        .bind::<BigInt, _>(2)
        .bind::<BigInt, _>(2050)
        .bind::<Timestamp, _>(db::now() - chrono::Duration::hours(1))
        .bind::<BigInt, _>(1000)
        .load::<SqlitePlanRow>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.detail)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        plan.contains("INDEX ix_activity_user_id (user_id=? AND rowid>?)"),
        "{plan}"
    );
    assert!(!plan.contains("created_at"), "{plan}");
}

/// The scheduler's claim reads `ix_schedules_due` in its order and stops
/// after the few it takes, on both backends, even when every schedule is
/// due at the same moment (a user's schedules often are): no sort of the
/// due rows, no scan of the table. On PostgreSQL both plans of the
/// prepared statement are read: the custom one (its first runs) and the
/// generic one (later runs, which cannot see that the limit is small),
/// and the claimed rows are then found by primary key. Before, the claim
/// read the whole table and sorted every due row (an index on
/// `(is_enabled, next_run_at)` cannot give `next_run_at, id` order within
/// one time), and the generic plan joined the claimed ids to a second
/// scan: 46 runs a second at 100,000 due schedules.
#[test]
fn the_schedule_claim_reads_its_index_in_order_and_finds_rows_by_key() {
    use diesel::sql_types::{BigInt, Timestamp};
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "claimer");
    let due = db::now() - chrono::Duration::minutes(1);
    let rows: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                "({user}, 'shuffle', 'p{i}', 'x', 'interval', '60', '{t}', '{t}', '{t}')",
                t = due.format("%Y-%m-%d %H:%M:%S%.6f")
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        conn.batch_execute(&format!(
            "INSERT INTO schedules (user_id, job_type, target_playlist_id, \
             target_playlist_name, schedule_type, schedule_value, next_run_at, created_at, \
             updated_at) VALUES {}",
            chunk.join(", ")
        ))
        .unwrap();
    }
    conn.batch_execute("ANALYZE").unwrap();
    let claim = &shuffify::models::schedule::Schedule::DUE_CLAIM;
    let statement = db::claim_statement(claim, conn.backend());
    let plans: Vec<String> = match conn.backend() {
        Backend::Sqlite => vec![diesel::sql_query(format!("EXPLAIN QUERY PLAN {statement}"))
            .bind::<Timestamp, _>(db::now())
            .bind::<Text, _>("i")
            .bind::<Timestamp, _>(db::now())
            .bind::<BigInt, _>(4)
            .load::<SqlitePlanRow>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| r.detail)
            .collect::<Vec<_>>()
            .join("\n")],
        Backend::Postgres => ["force_custom_plan", "force_generic_plan"]
            .iter()
            .map(|mode| {
                conn.batch_execute(&format!(
                    "SET plan_cache_mode = {mode}; \
                     PREPARE claim(timestamp, text, timestamp, bigint) AS {statement};"
                ))
                .unwrap();
                let plan = diesel::sql_query(
                    "EXPLAIN EXECUTE claim(now()::timestamp, 'i', \
                     now()::timestamp + interval '1 minute', 4)",
                )
                .load::<PgPlanRow>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|r| r.line)
                .collect::<Vec<_>>()
                .join("\n");
                conn.batch_execute("DEALLOCATE claim; RESET plan_cache_mode")
                    .unwrap();
                plan
            })
            .collect(),
    };
    for plan in plans {
        assert!(
            plan.contains("ix_schedules_due"),
            "not by the due index:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "a scan of the table:\n{plan}");
        assert!(!plan.contains("Sort"), "the due rows sorted:\n{plan}");
        assert!(
            !plan.contains("TEMP B-TREE"),
            "the due rows sorted:\n{plan}"
        );
        if conn.backend() == Backend::Postgres {
            assert!(plan.contains("schedules_pkey"), "not by key:\n{plan}");
        }
    }
}
