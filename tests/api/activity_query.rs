//! ActivityLogService::query: every filter, keyset and offset paging.

use std::collections::HashSet;

use chrono::Duration;
use diesel::prelude::*;

use shuffify::db::schema::activity_log;
use shuffify::db::{self, DbConnection};
use shuffify::enums::{ActivityType, ActorType};
use shuffify::models::NewActivity;
use shuffify::services::{ActivityLogService, ActivityPage, ActivityQuery, ActivityRange, Paging};

use crate::helpers::{create_user, insert_activity_at, TestDb};

fn ids(page: &ActivityPage) -> Vec<i64> {
    page.items().iter().map(|r| r.id).collect()
}

fn query(conn: &mut DbConnection, user: i64, q: ActivityQuery) -> Vec<i64> {
    ids(&ActivityLogService::query(
        conn,
        user,
        &ActivityQuery { limit: 100, ..q },
    ))
}

/// A small, varied trail for one user, plus noise from another.
struct Fixture {
    db: TestDb,
    user: i64,
    shuffle_p1: i64,
    commit_p2: i64,
    login_old: i64,
    scheduler_run: i64,
    percent: i64,
}

fn fixture() -> Fixture {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "owner");
    let other = create_user(&mut conn, "other");
    let log =
        |conn: &mut DbConnection, a: NewActivity| ActivityLogService::log(conn, a).unwrap().id;
    let shuffle_p1 = log(
        &mut conn,
        NewActivity::new(user, ActivityType::Shuffle, "Shuffled Road Trip")
            .playlist("p1", "Road Trip")
            .actor(ActorType::User, "owner"),
    );
    let commit_p2 = log(
        &mut conn,
        NewActivity::new(user, ActivityType::WorkshopCommit, "Committed workshop")
            .playlist("p2", "Focus Mix"),
    );
    let scheduler_run = log(
        &mut conn,
        NewActivity::new(user, ActivityType::ScheduleRun, "Ran schedule")
            .playlist("p1", "Road Trip")
            .actor(ActorType::Scheduler, "Schedule #1"),
    );
    let percent = log(
        &mut conn,
        NewActivity::new(
            user,
            ActivityType::SettingsChange,
            "Set shuffle to 100%_done \"quoted\"",
        ),
    );
    let login_old = insert_activity_at(
        &mut conn,
        user,
        ActivityType::Login,
        db::now() - Duration::days(10),
    );
    log(
        &mut conn,
        NewActivity::new(other, ActivityType::Shuffle, "Shuffled Road Trip")
            .playlist("p1", "Road Trip"),
    );
    drop(conn);
    Fixture {
        db,
        user,
        shuffle_p1,
        commit_p2,
        login_old,
        scheduler_run,
        percent,
    }
}

#[test]
fn each_filter_alone() {
    let f = fixture();
    let mut conn = f.db.conn();
    let all = query(&mut conn, f.user, ActivityQuery::default());
    assert_eq!(
        all,
        vec![
            f.percent,
            f.scheduler_run,
            f.commit_p2,
            f.shuffle_p1,
            f.login_old
        ]
    );

    let by_type = ActivityQuery {
        types: vec![ActivityType::Shuffle, ActivityType::Login],
        ..Default::default()
    };
    assert_eq!(
        query(&mut conn, f.user, by_type),
        vec![f.shuffle_p1, f.login_old]
    );

    let by_actor = ActivityQuery {
        actors: vec![ActorType::Scheduler],
        ..Default::default()
    };
    assert_eq!(query(&mut conn, f.user, by_actor), vec![f.scheduler_run]);

    let by_playlist = ActivityQuery {
        playlist_id: Some("p1".into()),
        ..Default::default()
    };
    assert_eq!(
        query(&mut conn, f.user, by_playlist),
        vec![f.scheduler_run, f.shuffle_p1]
    );

    let recent = ActivityQuery::default().with_range(ActivityRange::Week, db::now());
    assert!(!query(&mut conn, f.user, recent.clone()).contains(&f.login_old));
    assert_eq!(query(&mut conn, f.user, recent).len(), 4);
    let all_range = ActivityQuery::default().with_range(ActivityRange::All, db::now());
    assert_eq!(query(&mut conn, f.user, all_range).len(), 5);

    let until = ActivityQuery {
        until: Some(db::now() - Duration::days(1)),
        ..Default::default()
    };
    assert_eq!(query(&mut conn, f.user, until), vec![f.login_old]);
    let since = ActivityQuery {
        since: Some(db::now() - Duration::days(1)),
        ..Default::default()
    };
    assert_eq!(query(&mut conn, f.user, since).len(), 4);
}

#[test]
fn text_search_is_case_insensitive_and_literal() {
    let f = fixture();
    let mut conn = f.db.conn();
    let q = |text: &str| ActivityQuery {
        q: Some(text.into()),
        ..Default::default()
    };
    // Description or playlist name, any case.
    assert_eq!(
        query(&mut conn, f.user, q("road trip")),
        vec![f.scheduler_run, f.shuffle_p1]
    );
    assert_eq!(query(&mut conn, f.user, q("FOCUS")), vec![f.commit_p2]);
    // % and _ are literal characters, not wildcards.
    assert_eq!(query(&mut conn, f.user, q("100%_")), vec![f.percent]);
    assert!(query(&mut conn, f.user, q("1%0")).is_empty());
    assert!(query(&mut conn, f.user, q("Ran_schedule")).is_empty());
    assert_eq!(query(&mut conn, f.user, q("\"quoted\"")), vec![f.percent]);
    assert_eq!(query(&mut conn, f.user, q("'")).len(), 0);
}

#[test]
fn filters_combine_with_and() {
    let f = fixture();
    let mut conn = f.db.conn();
    let combined = ActivityQuery {
        types: vec![ActivityType::Shuffle, ActivityType::ScheduleRun],
        actors: vec![ActorType::User],
        playlist_id: Some("p1".into()),
        q: Some("road".into()),
        since: Some(db::now() - Duration::days(1)),
        ..Default::default()
    };
    assert_eq!(query(&mut conn, f.user, combined), vec![f.shuffle_p1]);
    let none = ActivityQuery {
        types: vec![ActivityType::WorkshopCommit],
        playlist_id: Some("p1".into()),
        ..Default::default()
    };
    assert!(query(&mut conn, f.user, none).is_empty());
}

fn walk(
    conn: &mut DbConnection,
    user: i64,
    limit: i64,
    mut between: impl FnMut(&mut DbConnection),
) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = ActivityLogService::query(
            conn,
            user,
            &ActivityQuery {
                limit,
                paging: Paging::Cursor(cursor),
                ..Default::default()
            },
        );
        let ActivityPage::Keyset { items, next_cursor } = page else {
            panic!("keyset page expected")
        };
        assert!(items.len() as i64 <= limit);
        seen.extend(items.iter().map(|r| r.id));
        match next_cursor {
            None => return seen,
            Some(text) => {
                cursor = Some(
                    shuffify::services::ActivityCursor::decode(&text, user)
                        .expect("our own cursor decodes"),
                );
                between(conn);
            }
        }
    }
}

#[test]
fn keyset_pages_walk_every_row_exactly_once() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "walker");
    let base = db::now() - Duration::hours(2);
    // Groups of rows sharing a timestamp, so ties cross page boundaries.
    let mut expected = Vec::new();
    for i in 0..57 {
        let t = base + Duration::seconds(i / 3);
        expected.push(insert_activity_at(
            &mut conn,
            user,
            ActivityType::Shuffle,
            t,
        ));
    }
    let seen = walk(&mut conn, user, 10, |_| {});
    assert_eq!(seen.len(), 57);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 57);
    let mut newest_first = expected.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // An exact multiple of the page size ends with next_cursor null.
    assert_eq!(walk(&mut conn, user, 19, |_| {}).len(), 57);
}

#[test]
fn keyset_walk_is_stable_while_rows_are_added() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let user = create_user(&mut conn, "busy");
    let base = db::now() - Duration::hours(1);
    let original: Vec<i64> = (0..30)
        .map(|i| {
            insert_activity_at(
                &mut conn,
                user,
                ActivityType::Login,
                base + Duration::seconds(i),
            )
        })
        .collect();
    let seen = walk(&mut conn, user, 7, |conn| {
        ActivityLogService::log(
            conn,
            NewActivity::new(user, ActivityType::Logout, "new while paging"),
        );
    });
    // Every original row exactly once; rows newer than the walk's start are
    // not pulled in behind the cursor.
    assert_eq!(seen.len(), 30);
    let mut expected = original;
    expected.reverse();
    assert_eq!(seen, expected);
    let total: i64 = activity_log::table
        .filter(activity_log::user_id.eq(user))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!(total > 30);
}

#[test]
fn offset_paging_reports_the_total() {
    let f = fixture();
    let mut conn = f.db.conn();
    let q = |page| ActivityQuery {
        limit: 2,
        paging: Paging::Page(page),
        ..Default::default()
    };
    let first = ActivityLogService::query(&mut conn, f.user, &q(1));
    let ActivityPage::Offset {
        total, page, limit, ..
    } = &first
    else {
        panic!("offset page")
    };
    assert_eq!((*total, *page, *limit), (5, 1, 2));
    assert_eq!(ids(&first), vec![f.percent, f.scheduler_run]);
    assert_eq!(
        ids(&ActivityLogService::query(&mut conn, f.user, &q(3))),
        vec![f.login_old]
    );
    assert!(ids(&ActivityLogService::query(&mut conn, f.user, &q(4))).is_empty());
    let filtered = ActivityLogService::query(
        &mut conn,
        f.user,
        &ActivityQuery {
            playlist_id: Some("p1".into()),
            paging: Paging::Page(1),
            ..Default::default()
        },
    );
    assert!(matches!(filtered, ActivityPage::Offset { total: 2, .. }));
}
