//! The command line, run as an operator runs it: the built binary, with
//! `DATABASE_URL` pointing at a test's own database (a temporary SQLite
//! file, or a fresh schema on the PostgreSQL server of
//! `TEST_DATABASE_URL`), in a temporary working directory. What each test
//! asserts is what the operator sees: the exit status, stdout, stderr, and
//! what the database holds afterwards.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::DateTime;
use diesel::prelude::*;

use shuffify::db::schema::activity_log;
use shuffify::db::{self, describe_database_url, DbConnection};
use shuffify::enums::ActivityType;
use shuffify::models::User;
use shuffify::services::demo::DEMO_USER;

use crate::helpers::{
    create_user, insert_activity_at, insert_playlist, postgres_url, spawn_app_on, TestDb,
};
use crate::stream_processes::request;

/// What one run of the binary left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "{self:#?}");
        self
    }

    fn assert_refused(&self) -> &Self {
        assert_eq!(self.code, 1, "{self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
        self
    }
}

/// `shuffify ARGS` on `url`, in `cwd`, with `stdin` as its standard input
/// (empty when `None`).
fn shuffify_in(cwd: &Path, url: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shuffify"))
        .args(args)
        .current_dir(cwd)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env_remove("SPOTIFY_CLIENT_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shuffify runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            // A command that refuses before reading stdin (a missing
            // database, a bad flag) may have exited already: its closed
            // pipe is its answer, read from the exit code below.
            match input.write_all(text.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.unwrap(),
            }
        }
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn shuffify(db: &TestDb, args: &[&str]) -> Run {
    shuffify_with_stdin(db, args, None)
}

fn shuffify_with_stdin(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Run {
    let cwd = tempfile::tempdir().unwrap();
    let run = shuffify_in(cwd.path(), &db.url, args, stdin);
    // Every command that opened the database said which, on stderr.
    if run.code == 0 {
        let line = format!("database: {}", describe_database_url(&db.url));
        assert!(run.stderr.contains(&line), "{line:?} in {run:#?}");
    }
    run
}

fn activity_count(conn: &mut DbConnection, user_id: i64) -> i64 {
    activity_log::table
        .filter(activity_log::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .unwrap()
}

/// The cutoff a prune printed (`... older than <RFC 3339> (...)`).
fn printed_cutoff(line: &str) -> chrono::NaiveDateTime {
    let after = line.split(" older than ").nth(1).expect("a cutoff");
    let time = after.split(' ').next().unwrap();
    DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|e| panic!("{time:?}: {e}"))
        .naive_utc()
}

/// Two users with one row three days old and one an hour old each.
fn two_users_with_old_and_new_rows(db: &TestDb) -> (i64, i64) {
    let mut conn = db.conn();
    let alice = create_user(&mut conn, "alice");
    let bob = create_user(&mut conn, "bob");
    for user in [alice, bob] {
        let now = db::now();
        insert_activity_at(
            &mut conn,
            user,
            ActivityType::Login,
            now - chrono::Duration::days(3),
        );
        insert_activity_at(
            &mut conn,
            user,
            ActivityType::Login,
            now - chrono::Duration::hours(1),
        );
    }
    (alice, bob)
}

#[test]
fn a_prune_under_one_day_is_refused_without_yes_and_deletes_nothing() {
    let db = TestDb::shared_file();
    let (alice, bob) = two_users_with_old_and_new_rows(&db);

    for age in ["0d", "12h", "23h"] {
        let run = shuffify(&db, &["activity", "prune", "--older-than", age]);
        run.assert_refused();
        assert!(run.stderr.contains("--yes"), "{run:#?}");
        // It says what it would have deleted: all four rows under 0d.
        if age == "0d" {
            assert!(
                run.stderr.contains("4 activity rows older than"),
                "{run:#?}"
            );
        }
    }
    let mut conn = db.conn();
    assert_eq!(activity_count(&mut conn, alice), 2);
    assert_eq!(activity_count(&mut conn, bob), 2);

    let before = db::now();
    let run = shuffify(&db, &["activity", "prune", "--older-than", "2h", "--yes"]);
    run.assert_ok();
    let line = run.stdout.trim_end();
    assert!(
        line.starts_with("deleted 2 activity rows older than ") && line.ends_with(" (all users)"),
        "{line}"
    );
    let cutoff = printed_cutoff(line);
    let expected = before - chrono::Duration::hours(2);
    assert!(
        (cutoff - expected).num_seconds().abs() <= 60,
        "{cutoff} vs {expected}"
    );
    assert_eq!(activity_count(&mut conn, alice), 1);
    assert_eq!(activity_count(&mut conn, bob), 1);
}

#[test]
fn a_prune_of_a_day_or_more_runs_at_once_and_says_what_it_deleted() {
    let db = TestDb::shared_file();
    let (alice, bob) = two_users_with_old_and_new_rows(&db);
    let before = db::now();
    let run = shuffify(&db, &["activity", "prune", "--older-than", "1d"]);
    run.assert_ok();
    let line = run.stdout.trim_end();
    assert!(
        line.starts_with("deleted 2 activity rows older than ") && line.ends_with(" (all users)"),
        "{line}"
    );
    let expected = before - chrono::Duration::days(1);
    assert!((printed_cutoff(line) - expected).num_seconds().abs() <= 60);
    let mut conn = db.conn();
    assert_eq!(activity_count(&mut conn, alice), 1);
    assert_eq!(activity_count(&mut conn, bob), 1);
}

#[test]
fn a_dry_run_says_what_it_would_delete_and_deletes_nothing() {
    let db = TestDb::shared_file();
    let (alice, bob) = two_users_with_old_and_new_rows(&db);
    let run = shuffify(
        &db,
        &["activity", "prune", "--older-than", "1d", "--dry-run"],
    );
    run.assert_ok();
    assert!(
        run.stdout
            .starts_with("would delete 2 activity rows older than "),
        "{run:#?}"
    );
    // Under one day too: a dry run needs no --yes.
    let run = shuffify(
        &db,
        &["activity", "prune", "--older-than", "0d", "--dry-run"],
    );
    run.assert_ok();
    assert!(
        run.stdout.starts_with("would delete 4 activity rows"),
        "{run:#?}"
    );
    let mut conn = db.conn();
    assert_eq!(activity_count(&mut conn, alice), 2);
    assert_eq!(activity_count(&mut conn, bob), 2);
}

#[test]
fn a_prune_for_one_user_touches_only_that_user() {
    let db = TestDb::shared_file();
    let (alice, bob) = two_users_with_old_and_new_rows(&db);
    let run = shuffify(
        &db,
        &[
            "activity",
            "prune",
            "--older-than",
            "0d",
            "--user",
            "alice",
            "--yes",
        ],
    );
    run.assert_ok();
    let line = run.stdout.trim_end();
    assert!(
        line.starts_with("deleted 2 activity rows older than ") && line.ends_with(" (user alice)"),
        "{line}"
    );
    let mut conn = db.conn();
    assert_eq!(activity_count(&mut conn, alice), 0);
    assert_eq!(activity_count(&mut conn, bob), 2);

    let run = shuffify(
        &db,
        &[
            "activity",
            "prune",
            "--older-than",
            "1d",
            "--user",
            "nobody",
        ],
    );
    run.assert_refused();
    assert!(run.stderr.contains("\"nobody\""), "{run:#?}");
    assert_eq!(activity_count(&mut conn, bob), 2);
}

#[test]
fn commands_on_an_existing_database_refuse_a_missing_file_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let url = format!("sqlite://{}", missing.display());
    let backup_to = dir.path().join("copy.db");
    let commands: [&[&str]; 6] = [
        &["activity", "prune", "--older-than", "90d"],
        &["activity", "export", "--user", "alice"],
        &["user", "list"],
        &["user", "delete", "--username", "alice", "--yes"],
        &["user", "set-password", "--username", "alice"],
        &["backup", "--to", backup_to.to_str().unwrap()],
    ];
    for args in commands {
        let run = shuffify_in(dir.path(), &url, args, Some("a good password\n"));
        run.assert_refused();
        assert!(
            run.stderr.contains(&missing.display().to_string()),
            "{args:?}: {run:#?}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} created {left:?}");
    }

    // The default, a relative path, is named by its absolute path in the
    // directory the command ran in.
    let run = shuffify_in(dir.path(), "sqlite://shuffify.db", &["user", "list"], None);
    run.assert_refused();
    let expected = std::path::absolute(dir.path().join("shuffify.db")).unwrap();
    assert!(
        run.stderr.contains(&expected.display().to_string()),
        "{run:#?}"
    );
    assert!(!expected.exists());

    // `migrate` and `user create` do create it.
    let run = shuffify_in(
        dir.path(),
        "sqlite://shuffify.db",
        &["user", "create", "--username", "alice"],
        None,
    );
    run.assert_ok();
    assert!(expected.exists());
    assert!(
        run.stderr
            .contains(&format!("database: sqlite://{}", expected.display())),
        "{run:#?}"
    );
}

#[test]
fn user_create_names_each_refused_field_and_its_rule() {
    let db = TestDb::shared_file();
    let run = shuffify_with_stdin(
        &db,
        &["user", "create", "--username", "A", "--password-stdin"],
        Some("short\n"),
    );
    run.assert_refused();
    assert!(
        run.stderr
            .contains("shuffify: username: must be 3 to 32 characters"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("shuffify: password: must be 8 to 128 characters"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("invalid fields"), "{run:#?}");

    let run = shuffify_with_stdin(
        &db,
        &[
            "user",
            "create",
            "--username",
            "Not Valid",
            "--password-stdin",
        ],
        Some("long enough\n"),
    );
    run.assert_refused();
    assert!(
        run.stderr
            .contains("username: may contain only a-z, 0-9, '_', '.' and '-'"),
        "{run:#?}"
    );

    let run = shuffify_with_stdin(
        &db,
        &["user", "create", "--username", "erin", "--password-stdin"],
        Some("long enough\n"),
    );
    run.assert_ok();
    assert!(run.stdout.starts_with("created user erin (id "), "{run:#?}");
    let run = shuffify(&db, &["user", "create", "--username", "erin"]);
    run.assert_refused();
    assert!(run.stderr.contains("username is already taken"), "{run:#?}");

    // A refused request creates no database either.
    let dir = tempfile::tempdir().unwrap();
    let run = shuffify_in(
        dir.path(),
        "sqlite://new.db",
        &["user", "create", "--username", "x"],
        None,
    );
    run.assert_refused();
    assert!(!dir.path().join("new.db").exists());
}

#[actix_web::test]
async fn set_password_replaces_it_ends_every_session_and_logs_password_change() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let carol = app.user("carol").await;
    let second = app.login("carol", &carol.password).await;
    assert_eq!(second.status.as_u16(), 200);

    // The rule of registration, named.
    let run = shuffify_with_stdin(
        &app.db,
        &["user", "set-password", "--username", "carol"],
        Some("short\n"),
    );
    run.assert_refused();
    assert!(
        run.stderr.contains("password: must be 8 to 128 characters"),
        "{run:#?}"
    );

    // The first line, without its line break, is the password.
    let run = shuffify_with_stdin(
        &app.db,
        &["user", "set-password", "--username", "carol"],
        Some("a brand new password\r\nignored second line\n"),
    );
    run.assert_ok();
    assert!(
        run.stdout.contains("set the password of carol") && run.stdout.contains("ended 2 sessions"),
        "{run:#?}"
    );

    assert_eq!(
        app.get("/api/me", Some(&carol.token)).await.status.as_u16(),
        401,
        "the old session ended"
    );
    assert_eq!(
        app.login("carol", &carol.password).await.status.as_u16(),
        401
    );
    let login = app.login("carol", "a brand new password").await;
    assert_eq!(login.status.as_u16(), 200, "{}", login.text);

    let token = login.body["token"].as_str().unwrap();
    let activity = app.get("/api/activity?limit=100", Some(token)).await;
    let row = activity.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["activity_type"] == "password_change")
        .unwrap_or_else(|| panic!("no password_change row: {}", activity.text))
        .clone();
    assert_eq!(row["actor_type"], "system", "{row}");
    assert_eq!(row["metadata"]["sessions_ended"], 2, "{row}");
    assert!(row["context"].is_null(), "{row}");

    let run = shuffify_with_stdin(
        &app.db,
        &["user", "set-password", "--username", "nobody"],
        Some("a brand new password\n"),
    );
    run.assert_refused();
    assert!(run.stderr.contains("\"nobody\""), "{run:#?}");
}

#[actix_web::test]
async fn on_postgresql_set_password_also_lifts_the_login_lockout() {
    if postgres_url().is_none() {
        eprintln!("skipped: on SQLite the lockout lives in the serve process's memory");
        return;
    }
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let frank = app.user("frank").await;
    for _ in 0..10 {
        app.login("frank", "a wrong password").await;
    }
    let locked = app.login("frank", &frank.password).await;
    assert_eq!(locked.status.as_u16(), 429, "{}", locked.text);
    shuffify_with_stdin(
        &app.db,
        &["user", "set-password", "--username", "frank"],
        Some("a brand new password\n"),
    )
    .assert_ok();
    let login = app.login("frank", "a brand new password").await;
    assert_eq!(login.status.as_u16(), 200, "{}", login.text);
}

#[test]
fn user_list_shows_every_account_by_id_with_its_playlists() {
    let db = TestDb::shared_file();
    let (alice, bob) = {
        let mut conn = db.conn();
        let alice = create_user(&mut conn, "alice");
        let bob = create_user(&mut conn, "bob");
        insert_playlist(&mut conn, bob, "p1".repeat(11), "One");
        insert_playlist(&mut conn, bob, "p2".repeat(11), "Two");
        (alice, bob)
    };
    let run = shuffify(&db, &["user", "list"]);
    run.assert_ok();
    let lines: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["id", "username", "created_at", "last_login_at", "playlists"]
    );
    assert_eq!(lines.len(), 3, "{run:#?}");
    assert_eq!(lines[1][..2], [alice.to_string().as_str(), "alice"]);
    assert_eq!(lines[1][3..], ["never", "0"]);
    assert_eq!(lines[2][..2], [bob.to_string().as_str(), "bob"]);
    assert_eq!(lines[2][4], "2");
    assert!(
        DateTime::parse_from_rfc3339(lines[2][2]).is_ok(),
        "{run:#?}"
    );
}

#[actix_web::test]
async fn user_delete_needs_yes_and_then_deletes_the_account_as_the_api_does() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let dave = app.user("dave").await;
    let erin = app.user("erin").await;
    app.playlist(&dave, "Mine", crate::helpers::sample_tracks("t", 3))
        .await;

    let run = shuffify(&app.db, &["user", "delete", "--username", "dave"]);
    run.assert_refused();
    assert!(run.stderr.contains("--yes"), "{run:#?}");
    assert!(run.stderr.contains("1 playlist"), "{run:#?}");
    assert!(User::find_by_username(&mut app.conn(), "dave")
        .unwrap()
        .is_some());

    let run = shuffify(&app.db, &["user", "delete", "--username", "dave", "--yes"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("deleted user dave"), "{run:#?}");
    assert!(User::find_by_username(&mut app.conn(), "dave")
        .unwrap()
        .is_none());
    assert_eq!(activity_count(&mut app.conn(), dave.id), 0);
    assert_eq!(
        app.get("/api/me", Some(&dave.token)).await.status.as_u16(),
        401
    );
    // Nobody else's account is touched.
    assert_eq!(
        app.get("/api/me", Some(&erin.token)).await.status.as_u16(),
        200
    );

    let run = shuffify(&app.db, &["user", "delete", "--username", "dave", "--yes"]);
    run.assert_refused();
    assert!(run.stderr.contains("\"dave\""), "{run:#?}");
}

#[test]
fn backup_writes_a_copy_that_opens_with_the_same_users_and_never_overwrites() {
    let db = TestDb::shared_file();
    if db.is_postgres() {
        eprintln!("skipped: backup copies SQLite files (the PostgreSQL refusal is tested below)");
        return;
    }
    {
        let mut conn = db.conn();
        create_user(&mut conn, "alice");
        create_user(&mut conn, "bob");
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup.db");
    let run = shuffify(&db, &["backup", "--to", target.to_str().unwrap()]);
    run.assert_ok();
    let size = std::fs::metadata(&target).unwrap().len();
    assert_eq!(
        run.stdout.trim_end(),
        format!("backed up to {} ({size} bytes)", target.display())
    );

    let copy = TestDb::attach(&format!("sqlite://{}", target.display()));
    let names: Vec<String> = User::list_all(&mut copy.conn())
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    drop(copy);

    let before = std::fs::read(&target).unwrap();
    let run = shuffify(&db, &["backup", "--to", target.to_str().unwrap()]);
    run.assert_refused();
    assert!(
        run.stderr.contains(&target.display().to_string()) && run.stderr.contains("exists"),
        "{run:#?}"
    );
    assert_eq!(std::fs::read(&target).unwrap(), before);
}

#[test]
fn backup_on_postgresql_says_to_use_pg_dump_without_the_password() {
    // Refused before connecting, so no server is needed for this URL.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup.db");
    let run = shuffify_in(
        dir.path(),
        "postgres://shuffify:s3cret@127.0.0.1:1/shuffify",
        &["backup", "--to", target.to_str().unwrap()],
        None,
    );
    run.assert_refused();
    assert!(run.stderr.contains("pg_dump"), "{run:#?}");
    assert!(
        run.stderr
            .contains("postgres://shuffify@127.0.0.1:1/shuffify"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("s3cret"), "{run:#?}");
    assert!(!target.exists());

    if postgres_url().is_some() {
        let db = TestDb::shared_file();
        let run = shuffify(&db, &["backup", "--to", target.to_str().unwrap()]);
        run.assert_refused();
        assert!(run.stderr.contains("pg_dump"), "{run:#?}");
    }
}

#[test]
fn top_level_demo_serves_with_the_demo_account() {
    let db = TestDb::shared_file();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shuffify"))
        .arg("--demo")
        .current_dir(cwd.path())
        .env("DATABASE_URL", &db.url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("SCHEDULER_ENABLED", "false")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("shuffify --demo starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(port, "GET", "/health", None, None).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("shuffify --demo never answered /health");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let demo = User::find_by_username(&mut db.conn(), DEMO_USER).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(demo.is_some(), "the demo user exists");
    assert!(stdout.contains("Demo user created"), "{stdout}");
}

#[test]
fn serve_help_lists_every_variable_the_service_reads() {
    let dir = tempfile::tempdir().unwrap();
    let run = shuffify_in(dir.path(), "sqlite::memory:", &["serve", "--help"], None);
    run.assert_ok();
    for name in ["DATABASE_URL", "SESSION_TTL_HOURS", "RUST_LOG"] {
        assert!(run.stdout.contains(name), "{name}: {}", run.stdout);
    }
    // Every variable `config.rs` reads: each `"NAME"` literal there.
    let config = include_str!("../../src/config.rs");
    let names: Vec<&str> = config
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.len() > 3
                && s.contains('_')
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    assert!(names.len() >= 28, "{names:?}");
    for name in names {
        assert!(
            run.stdout.lines().any(|l| l.trim_start().starts_with(name)),
            "`serve --help` does not list {name}"
        );
    }
    let short = shuffify_in(dir.path(), "sqlite::memory:", &["serve", "-h"], None);
    short.assert_ok();
    assert!(short.stdout.contains("serve --help"), "{short:#?}");
}

#[test]
fn a_usage_error_exits_2_and_a_refusal_1() {
    let dir = tempfile::tempdir().unwrap();
    let url = "sqlite::memory:";
    for args in [
        &["activity", "prune"][..],
        &["activity", "prune", "--older-than", "soon"],
        &["--demo", "migrate"],
        &["user", "delete"],
    ] {
        let run = shuffify_in(dir.path(), url, args, None);
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
    }
    let run = shuffify_in(
        dir.path(),
        url,
        &["user", "delete", "--username", "x"],
        None,
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("database: sqlite::memory:"), "{run:#?}");
}
