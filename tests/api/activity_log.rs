//! ActivityLogService: writing rows and the simple reads, on a real database.

use chrono::{Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;
use strum::IntoEnumIterator;

use shuffify::db::schema::users;
use shuffify::db::{self, write_transaction, DbConnection};
use shuffify::enums::{ActivityType, ActorType};
use shuffify::metrics;
use shuffify::models::NewActivity;
use shuffify::services::ActivityLogService;

use crate::helpers::{create_user, insert_activity_at, TestDb};

#[test]
fn log_writes_a_basic_row() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "basic");
    let before = Utc::now().naive_utc();
    let row = ActivityLogService::log(
        &mut conn,
        NewActivity::new(user, ActivityType::SettingsChange, "Changed settings"),
    )
    .expect("row written");
    let after = Utc::now().naive_utc();
    assert_eq!(row.user_id, user);
    assert_eq!(row.activity_type, ActivityType::SettingsChange);
    assert_eq!(row.description, "Changed settings");
    assert_eq!(row.actor_type, ActorType::User);
    assert_eq!(row.actor_name, None);
    assert_eq!(row.playlist_id, None);
    assert_eq!(row.playlist_name, None);
    assert_eq!(row.metadata, None);
    // Set by the service, now, in UTC, at microsecond precision.
    assert!(row.created_at >= before - Duration::microseconds(1) && row.created_at <= after);
    assert_eq!(row.created_at.and_utc().timestamp_subsec_nanos() % 1000, 0);

    let read = ActivityLogService::get_recent(&mut conn, user, 20, None);
    assert_eq!(read, vec![row]);
}

#[test]
fn log_keeps_playlist_context_actor_and_metadata() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "context");
    let metadata = json!({"algorithm": "balanced", "params": {"section_count": 4}, "track_count": 12, "snapshot_id": null, "ok": true});
    ActivityLogService::log(
        &mut conn,
        NewActivity::new(user, ActivityType::ScheduleRun, "Ran schedule")
            .playlist("p123456789012345678901", "Road trip")
            .actor(ActorType::Scheduler, "Schedule #12")
            .metadata(metadata.clone()),
    )
    .unwrap();
    let row = &ActivityLogService::get_recent(&mut conn, user, 1, None)[0];
    assert_eq!(row.playlist_id.as_deref(), Some("p123456789012345678901"));
    assert_eq!(row.playlist_name.as_deref(), Some("Road trip"));
    assert_eq!(row.actor_type, ActorType::Scheduler);
    assert_eq!(row.actor_name.as_deref(), Some("Schedule #12"));
    assert_eq!(row.metadata.as_ref().unwrap().value(), metadata);
}

#[test]
fn log_truncates_descriptions_to_500_characters() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "trunc");
    let ascii = "x".repeat(600);
    let row = ActivityLogService::log(
        &mut conn,
        NewActivity::new(user, ActivityType::Shuffle, ascii),
    )
    .unwrap();
    assert_eq!(row.description, "x".repeat(500));

    let multi = "ü🎶字".repeat(200); // 600 characters, 1800+ bytes
    let row = ActivityLogService::log(
        &mut conn,
        NewActivity::new(user, ActivityType::Shuffle, multi.clone()),
    )
    .unwrap();
    assert_eq!(row.description.chars().count(), 500);
    assert!(multi.starts_with(&row.description));
    let stored = &ActivityLogService::get_recent(&mut conn, user, 1, None)[0];
    assert_eq!(stored.description, row.description);
}

#[test]
fn every_activity_type_inserts_and_reads_back() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "types");
    for t in ActivityType::iter() {
        let row = ActivityLogService::log(&mut conn, NewActivity::new(user, t, t.to_string()))
            .unwrap_or_else(|| panic!("{t} was not written"));
        assert_eq!(row.activity_type, t);
        let read = ActivityLogService::get_recent(&mut conn, user, 1, Some(t));
        assert_eq!(read.len(), 1, "{t}");
        assert_eq!(read[0].activity_type, t);
    }
    let all = ActivityLogService::get_recent(&mut conn, user, 100, None);
    assert_eq!(all.len(), ActivityType::iter().count());
}

fn break_activity_inserts(conn: &mut DbConnection) {
    let sql = match conn.backend() {
        db::Backend::Sqlite => {
            "CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_log \
             BEGIN SELECT RAISE(ABORT, 'activity_log is read-only'); END;"
        }
        db::Backend::Postgres => {
            "CREATE FUNCTION refuse_activity() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'activity_log is read-only'; END; $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_activity();"
        }
    };
    conn.batch_execute(sql).unwrap();
}

#[test]
fn log_returns_none_when_the_table_is_gone_and_counts_the_failure() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "gone");
    conn.batch_execute("ALTER TABLE activity_log RENAME TO activity_log_moved")
        .unwrap();
    let failures = metrics::global().activity_write_failures();
    let result =
        ActivityLogService::log(&mut conn, NewActivity::new(user, ActivityType::Login, "x"));
    assert!(result.is_none());
    assert!(metrics::global().activity_write_failures() > failures);
    // Reads answer empty rather than failing.
    assert!(ActivityLogService::get_recent(&mut conn, user, 20, None).is_empty());
    assert!(ActivityLogService::get_activity_summary(&mut conn, user, 30).is_empty());
}

#[test]
fn log_returns_none_on_a_broken_connection() {
    let db = TestDb::new();
    let user = create_user(&mut db.conn(), "broken");
    let mut conn: DbConnection = match db.is_postgres() {
        true => {
            let mut c = DbConnection::Postgres(diesel::PgConnection::establish(&db.url).unwrap());
            // The server ends this very session: every later statement fails.
            let _ = c.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())");
            c
        }
        false => {
            // A read-only handle on the same database cannot write.
            let mut c = diesel::SqliteConnection::establish(&db.url).unwrap();
            c.batch_execute("PRAGMA query_only = ON").unwrap();
            DbConnection::Sqlite(c)
        }
    };
    let failures = metrics::global().activity_write_failures();
    let result =
        ActivityLogService::log(&mut conn, NewActivity::new(user, ActivityType::Login, "x"));
    assert!(result.is_none());
    assert!(metrics::global().activity_write_failures() > failures);
    assert!(ActivityLogService::get_recent(&mut db.conn(), user, 20, None).is_empty());
}

#[test]
fn a_failed_log_inside_a_transaction_does_not_undo_the_action() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "savepoint");
    break_activity_inserts(&mut conn);
    let result: Result<(), diesel::result::Error> = write_transaction(&mut conn, |conn| {
        diesel::update(users::table.find(user))
            .set(users::display_name.eq("Renamed"))
            .execute(conn)?;
        let logged = ActivityLogService::log(
            conn,
            NewActivity::new(user, ActivityType::SettingsChange, "x"),
        );
        assert!(logged.is_none());
        // On PostgreSQL this statement fails unless the log ran in a savepoint.
        diesel::update(users::table.find(user))
            .set(users::email.eq(Some("after@log.example")))
            .execute(conn)?;
        Ok(())
    });
    result.expect("the action commits");
    let (name, email): (String, Option<String>) = users::table
        .find(user)
        .select((users::display_name, users::email))
        .first(&mut conn)
        .unwrap();
    assert_eq!(name, "Renamed");
    assert_eq!(email.as_deref(), Some("after@log.example"));
}

#[test]
fn a_logged_row_commits_and_rolls_back_with_its_action() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "atomic");
    let _ = write_transaction(&mut conn, |conn| {
        ActivityLogService::log(
            conn,
            NewActivity::new(user, ActivityType::Shuffle, "rolled back"),
        );
        Err::<(), _>(diesel::result::Error::RollbackTransaction)
    });
    assert!(ActivityLogService::get_recent(&mut conn, user, 20, None).is_empty());
    write_transaction(&mut conn, |conn| {
        ActivityLogService::log(conn, NewActivity::new(user, ActivityType::Shuffle, "kept"));
        Ok::<(), diesel::result::Error>(())
    })
    .unwrap();
    assert_eq!(
        ActivityLogService::get_recent(&mut conn, user, 20, None)[0].description,
        "kept"
    );
}

#[test]
fn recent_is_newest_first_limited_filtered_and_per_user() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let alice = create_user(&mut conn, "alice");
    let bob = create_user(&mut conn, "bob");
    assert!(ActivityLogService::get_recent(&mut conn, alice, 20, None).is_empty());

    let t0 = db::now() - Duration::minutes(10);
    let older = insert_activity_at(&mut conn, alice, ActivityType::Login, t0);
    // Three rows in the very same microsecond: id breaks the tie.
    let t1 = t0 + Duration::minutes(1);
    let same: Vec<i64> = (0..3)
        .map(|_| insert_activity_at(&mut conn, alice, ActivityType::Shuffle, t1))
        .collect();
    insert_activity_at(
        &mut conn,
        bob,
        ActivityType::Shuffle,
        t1 + Duration::minutes(1),
    );

    let ids: Vec<i64> = ActivityLogService::get_recent(&mut conn, alice, 20, None)
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![same[2], same[1], same[0], older]);
    let limited = ActivityLogService::get_recent(&mut conn, alice, 2, None);
    assert_eq!(
        limited.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![same[2], same[1]]
    );
    let logins = ActivityLogService::get_recent(&mut conn, alice, 20, Some(ActivityType::Login));
    assert_eq!(logins.iter().map(|r| r.id).collect::<Vec<_>>(), vec![older]);
    let bobs = ActivityLogService::get_recent(&mut conn, bob, 20, None);
    assert_eq!(bobs.len(), 1);
    assert!(bobs.iter().all(|r| r.user_id == bob));
}

#[test]
fn since_includes_the_cutoff_and_excludes_earlier_rows() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "since");
    let cutoff = db::now() - Duration::hours(1);
    let before = insert_activity_at(
        &mut conn,
        user,
        ActivityType::Login,
        cutoff - Duration::microseconds(1),
    );
    let at = insert_activity_at(&mut conn, user, ActivityType::Login, cutoff);
    let after = insert_activity_at(
        &mut conn,
        user,
        ActivityType::Logout,
        cutoff + Duration::minutes(5),
    );
    let ids: Vec<i64> = ActivityLogService::get_activity_since(&mut conn, user, cutoff)
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![after, at]);
    assert!(!ids.contains(&before));
    let future = db::now() + Duration::hours(1);
    assert!(ActivityLogService::get_activity_since(&mut conn, user, future).is_empty());
}

#[test]
fn summary_counts_each_type_within_the_window() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "summary");
    let other = create_user(&mut conn, "other");
    assert!(ActivityLogService::get_activity_summary(&mut conn, user, 30).is_empty());

    let now = db::now();
    for _ in 0..3 {
        insert_activity_at(
            &mut conn,
            user,
            ActivityType::Shuffle,
            now - Duration::minutes(1),
        );
    }
    insert_activity_at(
        &mut conn,
        user,
        ActivityType::Login,
        now - Duration::days(2),
    );
    insert_activity_at(
        &mut conn,
        user,
        ActivityType::Login,
        now - Duration::days(40),
    );
    insert_activity_at(&mut conn, other, ActivityType::Logout, now);

    let summary = ActivityLogService::get_activity_summary(&mut conn, user, 30);
    assert_eq!(summary.len(), 2);
    assert_eq!(summary[&ActivityType::Shuffle], 3);
    assert_eq!(summary[&ActivityType::Login], 1);
    assert!(!summary.contains_key(&ActivityType::Logout));
    // A one-day window is today only.
    let today = ActivityLogService::get_activity_summary(&mut conn, user, 1);
    assert_eq!(today.get(&ActivityType::Login), None);

    let per_day = ActivityLogService::get_activity_per_day(&mut conn, user, 7);
    assert_eq!(per_day.len(), 7);
    assert_eq!(per_day.last().unwrap().date, Utc::now().date_naive());
    assert!(per_day.windows(2).all(|w| w[0].date < w[1].date));
    let total: i64 = per_day.iter().map(|d| d.count).sum();
    assert_eq!(total, 4);
    let two_days_ago = (now - Duration::days(2)).date();
    assert_eq!(
        per_day
            .iter()
            .find(|d| d.date == two_days_ago)
            .unwrap()
            .count,
        1
    );
}
