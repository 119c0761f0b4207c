//! Limits across instances: two real `serve` processes on one PostgreSQL
//! database share the per-username lockout, so two instances allow what one
//! does. On SQLite (one instance per file) the limits stay in each process,
//! and the cross-instance cases are not run. Also: a bad `TRUSTED_PROXIES`
//! or `MAX_STREAMS_PER_ADDRESS` stops start-up naming the variable.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{postgres_url, spawn_app_on, TestDb};
use crate::stream_processes::{request, serve_with};

#[test]
fn ten_failed_logins_spread_over_two_instances_lock_the_name_on_both() {
    if postgres_url().is_none() {
        eprintln!("skipped: the lockout is shared across instances on PostgreSQL only");
        return;
    }
    let db = TestDb::shared_file();
    let a = serve_with(&db.url, &[]);
    let b = serve_with(&db.url, &[]);
    let credentials =
        |password: &str| Some(json!({"username": "sharedname", "password": password}));
    let (status, _) = request(
        a.port,
        "POST",
        "/api/auth/register",
        None,
        credentials("right-password"),
    )
    .unwrap();
    assert_eq!(status, 201);

    for i in 0..10 {
        let port = if i % 2 == 0 { a.port } else { b.port };
        let (status, body) = request(
            port,
            "POST",
            "/api/auth/login",
            None,
            credentials("wrong-password"),
        )
        .unwrap();
        assert_eq!(status, 401, "attempt {i}: {body}");
    }
    // The eleventh is refused on either instance, even with the right
    // password: five failures on each are ten on the name.
    for port in [a.port, b.port] {
        let (status, body) = request(
            port,
            "POST",
            "/api/auth/login",
            None,
            credentials("right-password"),
        )
        .unwrap();
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    }
}

#[test]
fn a_trusted_proxies_value_that_is_no_cidr_stops_start_up_naming_it() {
    assert_start_up_refused(
        "TRUSTED_PROXIES",
        "10.0.0.0/8, proxy.example",
        "proxy.example",
    );
}

#[test]
fn a_streams_per_address_cap_out_of_range_stops_start_up_naming_it() {
    assert_start_up_refused("MAX_STREAMS_PER_ADDRESS", "2001", "2000");
    assert_start_up_refused("MAX_STREAMS_PER_ADDRESS", "0", "between 1");
}

/// `serve` with `name=value` exits at once, unsuccessfully, saying `name`
/// and `expected` on stderr.
fn assert_start_up_refused(name: &str, value: &str, expected: &str) {
    let db = TestDb::shared_file();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shuffify"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("SCHEDULER_ENABLED", "false")
        .env(name, value)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve runs");
    // A server that started anyway is killed, and the test fails.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = status.expect("serve refused to start");
    assert!(!status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains(name) && stderr.contains(expected),
        "{stderr}"
    );
}

#[actix_web::test]
async fn two_instances_on_postgresql_draw_from_one_address_bucket() {
    if postgres_url().is_none() {
        eprintln!("skipped: address buckets are shared across instances on PostgreSQL only");
        return;
    }
    // Two instances of the app on one database (a bucket of 4 that does
    // not refill during the test), as two `serve` processes would be.
    let settings = |s: &mut shuffify::config::Settings| {
        s.login_per_second = 0;
        s.login_burst = 4;
    };
    let a = spawn_app_on(TestDb::shared_file(), settings).await;
    let b = spawn_app_on(TestDb::attach(&a.db.url), settings).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let app_login = if i % 2 == 0 {
            a.login(&format!("nobody{i}"), "wrong-password").await
        } else {
            b.login(&format!("nobody{i}"), "wrong-password").await
        };
        statuses.push(app_login.status.as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401]);
    a.login("nobody9", "wrong-password")
        .await
        .error(429, "rate_limited");
    b.login("nobody9", "wrong-password")
        .await
        .error(429, "rate_limited");
}

#[test]
fn refilled_buckets_and_names_out_of_the_window_are_swept_from_the_database() {
    use shuffify::models::{address_bucket, login_failure};
    if postgres_url().is_none() {
        eprintln!("skipped: the shared tables exist on PostgreSQL only");
        return;
    }
    let db = TestDb::new();
    let mut conn = db.conn();
    let quick = address_bucket::Refill {
        burst: 1.0,
        per_second: 1000.0,
    };
    let slow = address_bucket::Refill {
        burst: 1.0,
        per_second: 0.001,
    };
    assert!(address_bucket::take(&mut conn, "login:quick", quick).unwrap());
    assert!(address_bucket::take(&mut conn, "login:slow", slow).unwrap());
    assert!(!address_bucket::take(&mut conn, "login:slow", slow).unwrap());
    assert!(!address_bucket::has_token(&mut conn, "login:slow", slow).unwrap());
    assert!(login_failure::reserve(&mut conn, "short", 10, 0.01)
        .unwrap()
        .is_none());
    assert!(login_failure::reserve(&mut conn, "long", 1, 900.0)
        .unwrap()
        .is_none());
    assert!(login_failure::reserve(&mut conn, "long", 1, 900.0)
        .unwrap()
        .is_some_and(|wait| wait > 0 && wait <= 900));
    std::thread::sleep(Duration::from_millis(50));

    assert_eq!(
        address_bucket::sweep(&mut conn).unwrap(),
        1,
        "the refilled one"
    );
    assert!(!address_bucket::has_token(&mut conn, "login:slow", slow).unwrap());
    // A name stays while its newest attempt is in the window.
    assert_eq!(login_failure::sweep(&mut conn, 900.0).unwrap(), 0);
    assert!(
        login_failure::reserve(&mut conn, "long", 1, 900.0)
            .unwrap()
            .is_some(),
        "still locked"
    );
    assert_eq!(login_failure::sweep(&mut conn, 0.01).unwrap(), 2);
    assert!(login_failure::reserve(&mut conn, "long", 1, 900.0)
        .unwrap()
        .is_none());
}
