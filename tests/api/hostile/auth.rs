//! Login and registration under attack: junk usernames never reach the
//! throttle, the hash or the database; parallel guesses cannot outrun the
//! lockout; one address cannot spray names; a flood of logins cannot take
//! every hashing slot or database connection from other users.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::json;

use shuffify::db::schema::{activity_log, auth_sessions, users};
use shuffify::db::{ConnectionManager, DatabaseUrl};

use crate::helpers::{
    spawn_app, spawn_app_on, spawn_app_with, spawn_shared_app, wait_until, TestDb, TestResponse,
};

fn rows(conn: &mut shuffify::db::DbConnection) -> (i64, i64, i64) {
    let users: i64 = users::table.count().get_result(conn).unwrap();
    let sessions: i64 = auth_sessions::table.count().get_result(conn).unwrap();
    let activity: i64 = activity_log::table.count().get_result(conn).unwrap();
    (users, sessions, activity)
}

fn assert_rate_limited(res: &TestResponse) {
    res.error(429, "rate_limited");
    let retry: u64 = res
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
}

#[actix_web::test]
async fn usernames_that_cannot_exist_are_refused_before_anything_else() {
    let app = spawn_app().await;
    let user = app.user("victim").await;
    let before = rows(&mut app.conn());
    let huge = "a".repeat(2 * 1024 * 1024 - 100);
    let junk = [
        "Victim",
        "vi",
        "victim\u{0}",
        "",
        "victim victim",
        huge.as_str(),
    ];

    // Eleven tries per junk name: were they counted, "Victim" would lock.
    for name in junk {
        for _ in 0..11 {
            let res = app.login(name, "wrong-password").await;
            let error = res.error(400, "validation_failed");
            assert_eq!(error["details"][0]["field"], "username", "{error}");
        }
    }
    let oversized_password = app.login("victim", &"p".repeat(129)).await;
    oversized_password.error(400, "validation_failed");

    assert_eq!(rows(&mut app.conn()), before, "nothing stored");
    let ok = app.login("victim", &user.password).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[actix_web::test]
async fn registration_of_impossible_usernames_stores_nothing() {
    let app = spawn_app().await;
    let huge = "b".repeat(2 * 1024 * 1024 - 100);
    for name in ["nul\u{0}name", huge.as_str(), "UPPER", "x"] {
        let res = app.register(name, "a-fine-password").await;
        res.error(400, "validation_failed");
    }
    assert_eq!(rows(&mut app.conn()), (0, 0, 0));
}

#[actix_web::test]
async fn forty_parallel_wrong_passwords_run_at_most_ten_password_checks() {
    let app = spawn_shared_app().await;
    let user = app.user("guessed").await;

    let guesses: Vec<String> = (0..40).map(|i| format!("guess-{i}-wrong")).collect();
    let results = join_all(guesses.iter().map(|guess| app.login("guessed", guess))).await;

    let failed_rows = app
        .activity(&user)
        .await
        .iter()
        .filter(|row| row["activity_type"] == "login_failed")
        .count();
    assert!(failed_rows <= 10, "{failed_rows} password checks ran");
    let unauthorized = results.iter().filter(|r| r.status == 401).count();
    assert_eq!(
        unauthorized, failed_rows,
        "every check that ran left its row"
    );
    for refused in results.iter().filter(|r| r.status != 401) {
        assert_rate_limited(refused);
    }
    assert!(results.iter().filter(|r| r.status == 429).count() >= 30);
}

#[actix_web::test]
async fn one_address_cannot_spray_logins_but_others_still_get_in() {
    // A bucket of 5 that does not refill during the test: the split below
    // is exact however long each login takes.
    let app = spawn_app_with(|s| {
        s.login_per_second = 0;
        s.login_burst = 5;
    })
    .await;
    let user = app.user("sprayed").await; // one login from 127.0.0.1

    let mut statuses = Vec::new();
    for i in 0..8 {
        // Well-formed unknown names: each draws a token, none locks a name.
        let res = app.login(&format!("nobody{i}"), "not-the-password").await;
        statuses.push(res.status.as_u16());
        if res.status == 429 {
            assert_rate_limited(&res);
            assert!(res.body["error"]["message"].as_str().unwrap().contains("5"));
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
    // Requests refused as invalid did not draw: still 429, not 400-then-429 …
    let junk = app.login("NOT VALID", "x").await;
    junk.error(400, "validation_failed");

    // … and another address is not affected.
    let other = TestRequest::default()
        .method(Method::POST)
        .uri("/api/auth/login")
        .peer_addr("10.1.2.3:5000".parse().unwrap())
        .insert_header(("Content-Type", "application/json"))
        .set_payload(json!({"username": "sprayed", "password": user.password}).to_string())
        .to_request();
    let res = app.call(other).await;
    assert_eq!(res.status, 200, "{}", res.text);
}

#[actix_web::test]
async fn registrations_from_one_address_are_limited() {
    // A bucket of 3 that does not refill during the test.
    let app = spawn_app_with(|s| {
        s.register_per_second = 0;
        s.register_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(
            app.register(&format!("new{i}"), "a-fine-password")
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
    let users: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(users, 3);
}

#[actix_web::test]
async fn a_login_that_waits_too_long_for_a_hashing_slot_answers_429() {
    let app = spawn_app_with(|s| s.hash_wait = Duration::from_millis(200)).await;
    let user = app.user("patient").await;
    let held = app.state.passwords.hold_every_slot().await;

    let res = app.login("patient", &user.password).await;

    assert_rate_limited(&res);
    drop(held);
    // The refused attempt was not counted against the name.
    let ok = app.login("patient", &user.password).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

/// Counts the connections a pool is given back.
#[derive(Debug)]
struct CountCheckins(Arc<AtomicUsize>);

impl r2d2::HandleEvent for CountCheckins {
    fn handle_checkin(&self, _: r2d2::event::CheckinEvent) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[actix_web::test]
async fn password_checks_hold_no_database_connection() {
    // A pool of one connection, on either backend: were the hash checked
    // while a connection is held, a login flood would hold it and
    // `GET /api/me` would wait behind every hash. (Here the login would
    // give up on its hashing slot first, after `hash_wait`, and answer 429.)
    let mut db = TestDb::new();
    let checkins = Arc::new(AtomicUsize::new(0));
    let one = r2d2::Pool::builder()
        .max_size(1)
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(30))
        .event_handler(Box::new(CountCheckins(checkins.clone())))
        .build(ConnectionManager::new(DatabaseUrl::parse(&db.url).unwrap()))
        .unwrap();
    // The test database's own pool stays open beside it (an in-memory
    // SQLite database lives while a connection to it is open).
    let _keep = std::mem::replace(&mut db.pool, one);
    let app = spawn_app_on(db, |_| {}).await;
    let user = app.user("reader").await;
    let held = app.state.passwords.hold_every_slot().await;
    let looked_up = checkins.load(Ordering::SeqCst) + 1;
    let login = app.login("reader", &user.password);
    let me = async {
        // Once the login has looked its user up and given the connection
        // back, it waits for a hashing slot: the pool must stay free. (The
        // login runs first in `join!`, so it has moved on by now.)
        wait_until("the login looked its user up", || {
            checkins.load(Ordering::SeqCst) >= looked_up
        })
        .await;
        let res = app.as_user(&user).get("/api/me").await;
        drop(held);
        res
    };
    let (login, me) = futures_util::join!(login, me);
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(login.status, 200, "{}", login.text);
}
