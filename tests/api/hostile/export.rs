//! Hostile exports (issue 8, items 4 and 5): clients that never read,
//! too many exports at once, and a database that fails mid-export.
//!
//! Every case runs on a database several connections share (a temp-file
//! SQLite database, or PostgreSQL), holds real responses open at once, and
//! reads bodies chunk by chunk as a client would. Timeouts are shortened
//! through `Settings`; time is only ever a failure guard.

use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use chrono::Duration as Age;
use diesel::connection::{Connection, SimpleConnection};

use shuffify::db;
use shuffify::enums::ActivityType;
use shuffify::services::{ActivityExport, ActivityQuery};

use crate::helpers::{insert_activity_at, spawn_app_on, wait_until, TestDb, TestUser};

/// More rows than the export channel and one batch in hand can hold, so a
/// producer whose client does not read must block on its send.
const ROWS: usize = 3_000;

/// How long any wait below may take before the test fails.
const GUARD: Duration = Duration::from_secs(60);

fn seed(conn: &mut db::DbConnection, user_id: i64, n: usize) {
    let start = db::now() - Age::hours(1);
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for i in 0..n {
            insert_activity_at(
                conn,
                user_id,
                ActivityType::Shuffle,
                start - Age::seconds(i as i64),
            );
        }
        Ok(())
    })
    .expect("seed rows");
}

fn export_request(user: &TestUser) -> actix_http::Request {
    TestRequest::get()
        .uri("/api/activity/export?format=ndjson")
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .to_request()
}

/// The next chunk of a body, as a client's read would see it.
async fn next_chunk<B: MessageBody>(body: &mut Pin<Box<B>>) -> Option<Result<Bytes, String>> {
    let next = std::future::poll_fn(|cx| body.as_mut().poll_next(cx));
    actix_web::rt::time::timeout(GUARD, next)
        .await
        .expect("a chunk (or the end) within the guard")
        .map(|r| r.map_err(|e| e.into().to_string()))
}

/// Reads a body to its end: the rows delivered, and whether it ended
/// cleanly (`Ok`) or broke off (`Err`, which aborts a chunked response).
async fn drain<B: MessageBody>(body: &mut Pin<Box<B>>) -> (usize, Result<(), String>) {
    let mut rows = 0;
    while let Some(chunk) = next_chunk(body).await {
        match chunk {
            Ok(bytes) => rows += bytes.iter().filter(|b| **b == b'\n').count(),
            Err(e) => return (rows, Err(e)),
        }
    }
    (rows, Ok(()))
}

/// Waits (yielding to the runtime, so producers run) until `done` holds.

#[actix_web::test]
async fn a_stalled_export_is_dropped_and_frees_its_slot_and_connections() {
    let app = spawn_app_on(TestDb::shared_file(), |s| s.stream_send_timeout_secs = 1).await;
    let user = app.user("staller").await;
    seed(&mut app.conn(), user.id, ROWS);
    let total = ROWS + 1; // and the login

    // Two exports whose client never reads.
    let first = app.call_raw(export_request(&user)).await;
    let second = app.call_raw(export_request(&user)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    app.as_user(&user)
        .get("/api/activity/export")
        .await
        .error(429, "rate_limited");

    // Within the (shortened) send timeout both producers give up...
    wait_until("stalled exports released", || {
        app.state.exports.active(user.id) == 0
    })
    .await;
    // ...holding no connection, and no slot: a third export is accepted.
    let pool = app.db.pool.state();
    assert_eq!(pool.idle_connections, pool.connections, "{pool:?}");
    let third = app.as_user(&user).get("/api/activity/export").await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.text);
    assert_eq!(third.text.lines().count(), total);

    // A dropped client that reads at last sees a broken transfer, never a
    // clean end with rows missing.
    for stalled in [first, second] {
        let mut body = Box::pin(stalled.into_body());
        let (rows, end) = drain(&mut body).await;
        assert!(end.is_err(), "a dropped export ended cleanly");
        assert!(rows < total, "{rows} rows");
    }
}

#[actix_web::test]
async fn exports_are_capped_per_user_and_per_instance() {
    let app = spawn_app_on(TestDb::shared_file(), |s| {
        s.stream_send_timeout_secs = 120;
        s.max_exports_per_instance = 3;
    })
    .await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let mut conn = app.conn();
    for user in [&alice, &bob, &carol] {
        seed(&mut conn, user.id, ROWS);
    }
    drop(conn);

    // Alice's two exports stay open (their clients do not read).
    let held = futures_util::future::join_all([
        app.call_raw(export_request(&alice)),
        app.call_raw(export_request(&alice)),
    ])
    .await;
    assert!(held.iter().all(|r| r.status() == StatusCode::OK));
    let refused = app.as_user(&alice).get("/api/activity/export").await;
    let error = refused.error(429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("2 concurrent exports per user"),
        "{message}"
    );

    // Another user is not held up by Alice's cap.
    let bobs = app.call_raw(export_request(&bob)).await;
    assert_eq!(bobs.status(), StatusCode::OK);

    // The instance holds 3: Carol's first export is refused by that cap.
    let refused = app.as_user(&carol).get("/api/activity/export").await;
    let error = refused.error(429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("3 concurrent exports per instance"),
        "{message}"
    );

    // Clients that go away free their slots.
    drop(held);
    wait_until("alice's slots released", || {
        app.state.exports.active(alice.id) == 0
    })
    .await;
    let carols = app.as_user(&carol).get("/api/activity/export").await;
    assert_eq!(carols.status, StatusCode::OK);
    assert_eq!(carols.text.lines().count(), ROWS + 1);
    drop(bobs);
    wait_until("every slot released", || {
        app.state.exports.active_total() == 0
    })
    .await;
}

fn break_the_table(app_conn: &mut db::DbConnection) {
    app_conn
        .batch_execute("ALTER TABLE activity_log RENAME TO activity_log_gone")
        .expect("rename the table");
}

fn mend_the_table(app_conn: &mut db::DbConnection) {
    app_conn
        .batch_execute("ALTER TABLE activity_log_gone RENAME TO activity_log")
        .expect("rename the table back");
}

#[actix_web::test]
async fn a_database_failure_mid_export_breaks_the_transfer() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("truncated").await;
    seed(&mut app.conn(), user.id, ROWS);
    let total = ROWS + 1;

    let res = app.call_raw(export_request(&user)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = Box::pin(res.into_body());
    let first = next_chunk(&mut body)
        .await
        .expect("a first chunk")
        .expect("the first chunk is data");
    assert!(!first.is_empty());
    // The export has more batches to read; the database fails under it.
    break_the_table(&mut app.conn());
    let (rest, end) = drain(&mut body).await;
    let delivered = first.iter().filter(|b| **b == b'\n').count() + rest;
    assert!(
        end.is_err(),
        "the transfer ended cleanly after {delivered} rows"
    );
    assert!(delivered < total, "{delivered} rows");
    mend_the_table(&mut app.conn());
    wait_until("the failed export's slot released", || {
        app.state.exports.active(user.id) == 0
    })
    .await;

    // The CLI's export: the same failure is an error, not a short success.
    let mut batches = 0;
    let pool = app.db.pool.clone();
    let result = ActivityExport::for_each_batch(
        &app.db.pool,
        user.id,
        &ActivityQuery::default(),
        500,
        |_rows| {
            batches += 1;
            if batches == 1 {
                break_the_table(&mut pool.get().expect("a connection"));
            }
            true
        },
    );
    mend_the_table(&mut app.conn());
    assert_eq!(batches, 1);
    assert!(result.is_err(), "the CLI export reported success");
}
