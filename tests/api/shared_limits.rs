//! Limits across instances: two real `serve` processes on one PostgreSQL
//! database share the per-username lockout, so two instances allow what one
//! does. On SQLite (one instance per file) the limits stay in each process,
//! and the cross-instance case is not run. Also: a bad `TRUSTED_PROXIES`
//! stops start-up naming the variable.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::helpers::{postgres_url, TestDb};
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
    let db = TestDb::shared_file();
    let output = Command::new(env!("CARGO_BIN_EXE_shuffify"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("SCHEDULER_ENABLED", "false")
        .env("TRUSTED_PROXIES", "10.0.0.0/8, proxy.example")
        .stdin(Stdio::null())
        .output()
        .expect("serve runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TRUSTED_PROXIES") && stderr.contains("proxy.example"),
        "{stderr}"
    );
}
