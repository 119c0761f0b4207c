//! `activity_log`'s monthly partitions on PostgreSQL (src/db/partitions.rs):
//! what the migration leaves, the upkeep, retention by dropping months,
//! and the reads' plans pruned to the newest partitions. SQLite has no
//! partitions: each test returns at once there.

use chrono::{Months, NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use shuffify::db::partitions::{self, month_start, partition_name, DEFAULT_PARTITION};
use shuffify::db::{self, DbConnection};
use shuffify::enums::ActivityType;
use shuffify::models::ActivityLog;
use shuffify::retention::{self, PruneScope};

use crate::helpers::{create_user, insert_activity_at, postgres_url, TestDb};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

fn months_from(at: NaiveDateTime, n: i32) -> NaiveDateTime {
    let start = month_start(at);
    if n >= 0 {
        start.checked_add_months(Months::new(n as u32)).unwrap()
    } else {
        start.checked_sub_months(Months::new((-n) as u32)).unwrap()
    }
}

fn names(conn: &mut DbConnection) -> Vec<String> {
    partitions::partitions(conn)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// The partition that holds row `id`.
fn home_of(conn: &mut DbConnection, id: i64) -> String {
    diesel::sql_query("SELECT tableoid::regclass::text AS name FROM activity_log WHERE id = $1")
        .bind::<BigInt, _>(id)
        .get_result::<Name>(conn)
        .unwrap()
        .name
}

fn total(conn: &mut DbConnection) -> i64 {
    shuffify::db::schema::activity_log::table
        .count()
        .get_result(conn)
        .unwrap()
}

#[test]
fn after_migrating_this_month_three_ahead_and_default_exist() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::new();
    let mut conn = db.conn();
    let present = names(&mut conn);
    for ahead in 0..=3 {
        let name = partition_name(months_from(db::now(), ahead));
        assert!(present.contains(&name), "{name} missing from {present:?}");
    }
    assert!(present.contains(&DEFAULT_PARTITION.to_string()));
    // Upkeep right after finds nothing to do.
    assert_eq!(
        partitions::upkeep(&mut conn, db::now()).unwrap(),
        partitions::Upkeep::default()
    );
}

#[test]
fn a_row_of_any_month_is_written_and_moves_into_its_month_when_upkeep_creates_it() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "timetraveller");
    let past = insert_activity_at(&mut conn, user, ActivityType::Login, day(2001, 5, 10));
    let future = insert_activity_at(&mut conn, user, ActivityType::Logout, day(2051, 2, 3));
    assert_eq!(home_of(&mut conn, past), DEFAULT_PARTITION);
    assert_eq!(home_of(&mut conn, future), DEFAULT_PARTITION);

    // Upkeep as it would run in January 2051: that month and three ahead.
    let done = partitions::upkeep(&mut conn, day(2051, 1, 15)).unwrap();
    assert_eq!(
        done.created,
        [
            "activity_log_p2051_01",
            "activity_log_p2051_02",
            "activity_log_p2051_03",
            "activity_log_p2051_04"
        ]
    );
    assert_eq!(done.moved, 1);
    assert_eq!(home_of(&mut conn, future), "activity_log_p2051_02");
    // And as it would have run in May 2001.
    let done = partitions::upkeep(&mut conn, day(2001, 5, 1)).unwrap();
    assert_eq!(done.moved, 1);
    assert_eq!(home_of(&mut conn, past), "activity_log_p2001_05");

    // Both rows read as before; a new row of that month goes straight there.
    let rows = ActivityLog::recent(&mut conn, user, 10, None).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![future, past]
    );
    let another = insert_activity_at(&mut conn, user, ActivityType::Login, day(2051, 2, 28));
    assert_eq!(home_of(&mut conn, another), "activity_log_p2051_02");
    assert!(another > future, "one sequence for every partition");
}

#[test]
fn two_upkeeps_at_once_both_succeed_and_create_each_month_once() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::new();
    let when = day(2040, 6, 15);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let pool = db.pool.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                barrier.wait();
                partitions::upkeep(&mut conn, when)
            })
        })
        .collect();
    let mut created: Vec<String> = runs
        .into_iter()
        .flat_map(|run| run.join().unwrap().expect("each upkeep succeeds").created)
        .collect();
    created.sort();
    assert_eq!(
        created,
        [
            "activity_log_p2040_06",
            "activity_log_p2040_07",
            "activity_log_p2040_08",
            "activity_log_p2040_09"
        ]
    );
}

#[test]
fn retention_drops_whole_months_and_deletes_the_boundary_and_default_in_batches() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::new();
    let mut conn = db.conn();
    let now = db::now();
    // Partitions for five months back on.
    partitions::upkeep(&mut conn, months_from(now, -5)).unwrap();
    partitions::upkeep(&mut conn, months_from(now, -1)).unwrap();
    let user = create_user(&mut conn, "forgetful");
    let other = create_user(&mut conn, "bystander");
    let at = |months: i32, days: i64| months_from(now, months) + chrono::Duration::days(days);
    // Six rows older than the cutoff: three in months wholly before it, two
    // in its own month, one far in the past (DEFAULT).
    for (months, days) in [(-5, 1), (-5, 20), (-4, 3), (-3, 2), (-3, 9)] {
        insert_activity_at(&mut conn, user, ActivityType::Shuffle, at(months, days));
    }
    let ancient = insert_activity_at(&mut conn, other, ActivityType::Login, day(1999, 1, 1));
    assert_eq!(home_of(&mut conn, ancient), DEFAULT_PARTITION);
    // The cutoff is the 15th of three months ago: its month is the boundary.
    let cutoff = at(-3, 14);
    let mut kept: Vec<i64> = [(-3, 20), (-2, 1), (0, 0)]
        .into_iter()
        .map(|(m, d)| insert_activity_at(&mut conn, other, ActivityType::Login, at(m, d)))
        .collect();
    // Far in the future (DEFAULT): newer than the cutoff, kept.
    kept.push(insert_activity_at(
        &mut conn,
        other,
        ActivityType::Login,
        day(2077, 7, 7),
    ));
    assert_eq!(home_of(&mut conn, *kept.last().unwrap()), DEFAULT_PARTITION);

    let scope = PruneScope {
        cutoff,
        user_id: None,
    };
    assert_eq!(retention::count(&mut conn, &scope).unwrap(), 6);
    assert_eq!(retention::prune(&mut conn, &scope, 1).unwrap(), 6);

    let left = names(&mut conn);
    for gone in [-5, -4] {
        let name = partition_name(months_from(now, gone));
        assert!(!left.contains(&name), "{name} still there: {left:?}");
    }
    assert!(left.contains(&partition_name(months_from(now, -3))));
    assert!(left.contains(&DEFAULT_PARTITION.to_string()));
    let mut remaining: Vec<i64> = shuffify::db::schema::activity_log::table
        .select(shuffify::db::schema::activity_log::id)
        .load(&mut conn)
        .unwrap();
    remaining.sort();
    assert_eq!(remaining, kept);
    assert_eq!(retention::count(&mut conn, &scope).unwrap(), 0);
    assert_eq!(retention::prune(&mut conn, &scope, 1).unwrap(), 0);
}

#[test]
fn a_prune_of_one_user_deletes_only_their_rows_and_drops_nothing() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::new();
    let mut conn = db.conn();
    let now = db::now();
    partitions::upkeep(&mut conn, months_from(now, -4)).unwrap();
    let leaver = create_user(&mut conn, "leaver");
    let stayer = create_user(&mut conn, "stayer");
    let old = months_from(now, -4) + chrono::Duration::days(2);
    insert_activity_at(&mut conn, leaver, ActivityType::Login, old);
    let theirs = insert_activity_at(&mut conn, stayer, ActivityType::Login, old);
    let before = names(&mut conn);
    let scope = PruneScope {
        cutoff: months_from(now, -1),
        user_id: Some(leaver),
    };
    assert_eq!(retention::prune(&mut conn, &scope, 1).unwrap(), 1);
    assert_eq!(names(&mut conn), before);
    assert_eq!(total(&mut conn), 1);
    assert_eq!(
        home_of(&mut conn, theirs),
        partition_name(months_from(now, -4))
    );
}

#[test]
fn the_migration_carries_every_row_into_its_month() {
    if postgres_url().is_none() {
        return;
    }
    let db = TestDb::unmigrated();
    let mut conn = db.conn();
    crate::schema::migrate_through(&mut conn, "20261207010000");
    // Written in SQL as the table stood then.
    conn.batch_execute(
        "INSERT INTO users (username, display_name, password_hash, created_at, updated_at) \
         VALUES ('carried', 'c', 'x', '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
         INSERT INTO activity_log (user_id, activity_type, description, playlist_id, \
             playlist_name, actor_type, actor_name, metadata, created_at, request_id, \
             ip_address, user_agent, session_id) \
         SELECT u.id, 'shuffle', 'row ' || g, 'pl' || g, 'List', 'user', 'carried', \
             '{\"n\":' || g || '}', TIMESTAMP '2026-08-30 23:59:59.999999' + g * INTERVAL '7 days', \
             'req' || g, '203.0.113.' || g, 'agent', g \
         FROM users u, generate_series(1, 20) g; \
         INSERT INTO activity_log (user_id, activity_type, description, actor_type, created_at) \
         SELECT id, 'login', 'long ago', 'user', TIMESTAMP '1987-03-04 05:06:07' FROM users;",
    )
    .unwrap();
    let snapshot = |conn: &mut DbConnection| -> Vec<String> {
        diesel::sql_query(
            "SELECT concat_ws('|', id, user_id, activity_type, description, playlist_id, \
                 playlist_name, actor_type, actor_name, metadata, created_at, request_id, \
                 ip_address, user_agent, session_id) AS name FROM activity_log ORDER BY id",
        )
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
    };
    let before = snapshot(&mut conn);

    db::migrations::run_pending(&mut conn).unwrap();

    assert_eq!(snapshot(&mut conn), before);
    let present = names(&mut conn);
    for month in ["1987_03", "2026_09", "2026_12", "2027_01"] {
        let name = format!("activity_log_p{month}");
        assert!(present.contains(&name), "{name} missing from {present:?}");
    }
    assert_eq!(home_of(&mut conn, 1), "activity_log_p2026_09");
    assert_eq!(home_of(&mut conn, 21), "activity_log_p1987_03");
    // The sequence goes on past the carried rows.
    let user: i64 = shuffify::db::schema::users::table
        .select(shuffify::db::schema::users::id)
        .first(&mut conn)
        .unwrap();
    let next = insert_activity_at(&mut conn, user, ActivityType::Login, db::now());
    assert_eq!(next, 22);
    assert_eq!(total(&mut conn), 22);
}

/// Rows of one user over five months (from four months back), and the
/// partitions for them; vacuumed and analyzed.
fn seeded_over_months() -> (TestDb, i64, NaiveDateTime) {
    let db = TestDb::new();
    let mut conn = db.conn();
    let now = db::now();
    partitions::upkeep(&mut conn, months_from(now, -4)).unwrap();
    partitions::upkeep(&mut conn, months_from(now, -1)).unwrap();
    let user = create_user(&mut conn, "planner");
    // Enough other users that one user's rows are few among a month's.
    for other in 0..40 {
        create_user(&mut conn, &format!("other{other}"));
    }
    conn.batch_execute(&format!(
        "INSERT INTO activity_log (user_id, activity_type, description, actor_type, created_at) \
         SELECT u.id, 'shuffle', 'seeded', 'user', \
             TIMESTAMP '{}' + g * INTERVAL '150 minutes' + u.id * INTERVAL '73 seconds' \
         FROM users u, generate_series(0, 1500) g ORDER BY 5, 1",
        months_from(now, -4).format("%Y-%m-%d %H:%M:%S")
    ))
    .unwrap();
    // As autovacuum leaves a table: statistics, and a visibility map that
    // lets index-only scans skip the heap.
    conn.batch_execute("VACUUM ANALYZE activity_log").unwrap();
    (db, user, now)
}

/// EXPLAIN of `sql` with its parameters bound, as the service sends them:
/// `$1` the user, `$2` and `$3` times (from, to), `$4` an id.
fn bound_plan(
    conn: &mut DbConnection,
    sql: &str,
    user: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
    id: i64,
) -> String {
    conn.batch_execute("SET enable_seqscan = off").unwrap();
    diesel::sql_query(format!("EXPLAIN {sql}"))
        .bind::<BigInt, _>(user)
        .bind::<Timestamp, _>(from)
        .bind::<Timestamp, _>(to)
        .bind::<BigInt, _>(id)
        .load::<PlanLine>(conn)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A sort of rows in the plan (a Merge Append of index scans, which
/// merges rows already in order, is not one).
pub(crate) fn has_sort_node(plan: &str) -> bool {
    plan.lines().any(|line| {
        let node = line.trim_start().trim_start_matches("->").trim_start();
        node.starts_with("Sort  ") || node.starts_with("Incremental Sort")
    })
}

#[test]
fn the_feeds_use_their_indexes_and_read_only_the_partitions_they_need() {
    if postgres_url().is_none() {
        return;
    }
    let (db, user, now) = seeded_over_months();
    let mut conn = db.conn();
    let month = |n: i32| partition_name(months_from(now, n));
    let last_month = months_from(now, -1) + chrono::Duration::days(3);
    let two_months_ago = months_from(now, -2) + chrono::Duration::days(10);
    let epoch = day(1970, 1, 1);
    // A cursor some 20,000 rows (a week of everyone's rows) back.
    let max_id: i64 = shuffify::db::schema::activity_log::table
        .select(diesel::dsl::max(shuffify::db::schema::activity_log::id))
        .first::<Option<i64>>(&mut conn)
        .unwrap()
        .unwrap();
    let cursor = max_id - 20_000;
    // (statement, from, to, partitions read, partitions pruned, index, no sort)
    // Index names on a partition: `<partition>_<columns>_idx`.
    let cases = [
        // A keyset page of the listing (no `since`: the epoch), two months
        // back: the newer months are pruned.
        (
            "SELECT id FROM activity_log WHERE user_id = $1 AND created_at >= $2 \
             AND created_at <= $3 AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT 21",
            epoch,
            two_months_ago,
            vec![month(-2)],
            vec![month(-1), month(0), month(1)],
            "_user_id_created_at_id_idx",
            true,
        ),
        // /since from last month: the older months are pruned.
        (
            "SELECT id FROM activity_log WHERE user_id = $1 AND created_at >= $2 \
             ORDER BY created_at DESC, id DESC LIMIT 21",
            last_month,
            now,
            vec![month(-1), month(0)],
            vec![month(-4), month(-3), month(-2)],
            "_user_id_created_at_id_idx",
            true,
        ),
        // The summary's per-day, per-type counts, from the index alone.
        (
            "SELECT created_at::date, activity_type, COUNT(*) FROM activity_log \
             WHERE user_id = $1 AND created_at >= $2 GROUP BY created_at::date, activity_type",
            last_month,
            now,
            vec![month(-1), month(0)],
            vec![month(-4), month(-3), month(-2)],
            "_user_id_created_at_activity_type_idx",
            false,
        ),
        // The stream's tail and replay: after an id, from an hour before
        // the last row seen.
        (
            "SELECT id FROM activity_log WHERE ((user_id = $1 AND id > $4) \
                 OR (user_id = $1 + 1 AND id > $4)) AND created_at >= $2 \
             ORDER BY id ASC LIMIT 1000",
            last_month,
            now,
            vec![month(-1), month(0)],
            vec![month(-4), month(-3), month(-2)],
            // (user_id, id), or (user_id) alone where a week of the user's
            // rows is read anyway.
            "_user_id_",
            false,
        ),
    ];
    for (sql, from, to, read, pruned, index, sorted) in cases {
        let plan = bound_plan(&mut conn, sql, user, from, to, cursor);
        for name in read {
            assert!(plan.contains(&name), "{name} not read:\n{plan}\nfor {sql}");
        }
        for name in pruned {
            assert!(
                !plan.contains(&name),
                "{name} not pruned:\n{plan}\nfor {sql}"
            );
        }
        assert!(plan.contains(index), "no {index} in:\n{plan}\nfor {sql}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
        if sorted {
            assert!(!has_sort_node(&plan), "sorted outside the index:\n{plan}");
        }
    }
}

/// After five runs PostgreSQL may plan a prepared statement once for any
/// values (a generic plan, as diesel's cached statements get): the old
/// partitions are then pruned as the statement starts, and the plan says so.
#[test]
fn a_generic_plan_still_prunes_the_old_partitions() {
    if postgres_url().is_none() {
        return;
    }
    let (db, user, now) = seeded_over_months();
    let mut conn = db.conn();
    let since = months_from(now, -1) + chrono::Duration::days(3);
    conn.batch_execute(
        "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan; \
         PREPARE tail(bigint, bigint, timestamp) AS SELECT id FROM activity_log \
         WHERE user_id = $1 AND id > $2 AND created_at >= $3 ORDER BY id LIMIT 1000",
    )
    .unwrap();
    let plan = diesel::sql_query(format!(
        "EXPLAIN EXECUTE tail({user}, 0, '{}')",
        since.format("%Y-%m-%d %H:%M:%S")
    ))
    .load::<PlanLine>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|l| l.line)
    .collect::<Vec<_>>()
    .join("\n");
    assert!(plan.contains("Subplans Removed"), "{plan}");
    assert!(plan.contains("_user_id_id_idx"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    for old in [-4, -3, -2] {
        let name = partition_name(months_from(now, old));
        assert!(!plan.contains(&name), "{name} not pruned:\n{plan}");
    }
}
