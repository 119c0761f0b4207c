//! The binary at start-up: every bad setting stops it with exit status 1
//! and a message naming the variable (all of them at once), a malformed
//! `.env` line is named by its number, `BIND_ADDR` is checked before any
//! "listening" line, and with `LOG_FORMAT=json` every line `serve` writes
//! is a JSON object. Each process runs in a directory of its own, so no
//! `.env` of the checkout leaks in, with only the variables a test gives.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::stream_processes::request;

const GUARD: Duration = Duration::from_secs(60);

/// A fresh, empty directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "shuffify-config-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) * 1000 + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The binary with `args`, in `dir`, with an empty environment but for
/// `vars` (a SQLite file in `dir` unless `DATABASE_URL` is among them).
fn command(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shuffify"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("shuffify.db").display()),
        )
        .env("SCHEDULER_ENABLED", "false")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the binary to its exit (killed, and the test failed, after
/// [`GUARD`]).
fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut child = command(dir, args, vars).spawn().expect("the binary runs");
    wait(&mut child)
}

fn wait(child: &mut Child) -> Output {
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// `serve` with `vars` refuses to start: exit status 1, no "listening"
/// line; its stderr.
fn refused(vars: &[(&str, &str)]) -> String {
    let dir = TempDir::new();
    let out = run(dir.path(), &["serve"], vars);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stdout.contains("listening") && !stderr.contains("listening"),
        "{stdout}{stderr}"
    );
    stderr
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_session_ttl_beyond_ten_years_stops_start_up_naming_it() {
    let stderr = refused(&[("SESSION_TTL_HOURS", "99999999999")]);
    assert!(
        stderr.contains("SESSION_TTL_HOURS") && stderr.contains("87600"),
        "{stderr}"
    );
}

#[test]
fn a_huge_pool_stops_start_up_in_one_line_before_any_connection() {
    let stderr = refused(&[("DB_POOL_SIZE", "100000")]);
    assert!(
        stderr.contains("DB_POOL_SIZE") && stderr.contains("256"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_wildcard_or_a_trailing_slash_in_cors_origins_is_named() {
    let stderr = refused(&[("CORS_ALLOWED_ORIGINS", "*")]);
    assert!(
        stderr.contains("CORS_ALLOWED_ORIGINS") && stderr.contains("\"*\""),
        "{stderr}"
    );
    let stderr = refused(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com/")]);
    assert!(
        stderr.contains("CORS_ALLOWED_ORIGINS") && stderr.contains("trailing slash"),
        "{stderr}"
    );
}

#[test]
fn a_bind_addr_that_is_no_address_stops_start_up_before_listening() {
    let stderr = refused(&[("BIND_ADDR", "bogus")]);
    assert!(
        stderr.contains("BIND_ADDR") && stderr.contains("bogus"),
        "{stderr}"
    );
}

#[test]
fn a_bind_addr_in_use_stops_serve_naming_it_and_never_says_listening() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let stderr = refused(&[("BIND_ADDR", &addr)]);
    assert!(stderr.contains(&format!("BIND_ADDR={addr}")), "{stderr}");
}

#[test]
fn several_bad_values_are_all_reported_at_once() {
    let stderr = refused(&[
        ("SESSION_TTL_HOURS", "99999999999"),
        ("DB_POOL_SIZE", "100000"),
        ("CORS_ALLOWED_ORIGINS", "*"),
        ("BIND_ADDR", "bogus"),
        ("LOG_FORMAT", "xml"),
        ("WEBHOOK_TIMEOUT_SECS", "0"),
    ]);
    assert!(stderr.contains("6 problems"), "{stderr}");
    for name in [
        "SESSION_TTL_HOURS",
        "DB_POOL_SIZE",
        "CORS_ALLOWED_ORIGINS",
        "BIND_ADDR",
        "LOG_FORMAT",
        "WEBHOOK_TIMEOUT_SECS",
    ] {
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

#[test]
fn log_format_xml_is_refused() {
    let stderr = refused(&[("LOG_FORMAT", "xml")]);
    assert!(
        stderr.contains("LOG_FORMAT") && stderr.contains("text or json"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_dotenv_line_is_named_by_its_number_and_its_file() {
    let dir = TempDir::new();
    std::fs::write(
        dir.path().join(".env"),
        "SCHEDULER_TICK_SECS=5\n# a comment\nTHIS LINE HAS s3cret AND NO EQUALS\nDB_POOL_SIZE=4\n",
    )
    .unwrap();
    let out = run(dir.path(), &["serve"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(".env") && stderr.contains("line 3"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "the line's text is not echoed: {stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

#[test]
fn the_environment_wins_over_dotenv_and_dotenv_values_are_checked() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join(".env"), "DB_POOL_SIZE=100000\n").unwrap();
    // `migrate` reads the same settings as `serve`, then exits.
    let out = run(dir.path(), &["migrate"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("DB_POOL_SIZE"), "{stderr}");
    let out = run(dir.path(), &["migrate"], &[("DB_POOL_SIZE", "4")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn other_commands_print_plain_text_even_with_log_format_json() {
    let dir = TempDir::new();
    let out = run(dir.path(), &["migrate"], &[("LOG_FORMAT", "json")]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("applied "), "{stdout}");
    let out = run(
        dir.path(),
        &["migrate"],
        &[("LOG_FORMAT", "json"), ("DB_POOL_SIZE", "0")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("shuffify: "), "{stderr}");
}

/// Every line of `text` as a JSON log line: `time`, `level`, `target` and
/// `message` at least.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            let time = value["time"].as_str().unwrap_or_else(|| panic!("{line}"));
            assert!(
                time.ends_with('Z') && time.len() == "2026-01-01T00:00:00.000000Z".len(),
                "{line}"
            );
            for field in ["level", "target", "message"] {
                assert!(value[field].is_string(), "{field}: {line}");
            }
            value
        })
        .collect()
}

#[test]
fn with_log_format_json_every_line_serve_writes_is_a_json_object() {
    let dir = TempDir::new();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = command(
        dir.path(),
        &["serve", "--demo"],
        &[
            ("LOG_FORMAT", "json"),
            ("BIND_ADDR", &bind),
            ("RUST_LOG", "info"),
        ],
    )
    .spawn()
    .expect("serve runs");
    let deadline = Instant::now() + GUARD;
    while request(port, "GET", "/health/live", None, None).is_err() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = wait(&mut child);
            panic!(
                "serve never answered: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = request(
        port,
        "GET",
        "/health/ready?probe=query-secret&x=1",
        None,
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    let (status, _) = request(port, "GET", "/api/me?token=query-secret", None, None).unwrap();
    assert_eq!(status, 401);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = wait(&mut child);
    assert!(out.status.success(), "serve exits 0 on SIGTERM");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let printed = json_lines(&stdout);
    let logged = json_lines(&stderr);
    assert!(!stdout.contains("query-secret") && !stderr.contains("query-secret"));
    // `--demo`'s walkthrough, on stdout, a JSON line per line.
    assert!(
        printed
            .iter()
            .any(|line| line["message"].as_str().unwrap().contains("Demo user")),
        "{stdout}"
    );
    // The configuration, then "listening" once bound, then the shutdown.
    let position = |needle: &str| {
        logged
            .iter()
            .position(|line| line["message"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}: {stderr}"))
    };
    let summary = position("configuration: ");
    assert!(logged[summary]["message"]
        .as_str()
        .unwrap()
        .contains("log_format=json"));
    assert!(summary < position(&format!("listening on http://{bind}")));
    assert!(position("listening on") < position("shutting down"));
    // The access log's lines carry the request's fields, and no query.
    let access = |path: &str| {
        logged
            .iter()
            .find(|line| line["path"] == path)
            .unwrap_or_else(|| panic!("no access line for {path}: {stderr}"))
    };
    let ready = access("/health/ready");
    assert_eq!(ready["method"], "GET");
    assert_eq!(ready["status"], 200);
    assert_eq!(ready["client_ip"], "127.0.0.1");
    assert!(ready["duration_ms"].as_f64().unwrap() >= 0.0, "{ready}");
    assert_eq!(ready["request_id"].as_str().unwrap().len(), 32, "{ready}");
    assert_eq!(ready["message"], "GET /health/ready 200");
    assert_eq!(access("/api/me")["status"], 401);
}

#[test]
fn in_text_the_summary_comes_first_and_listening_only_once_bound() {
    let dir = TempDir::new();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = command(
        dir.path(),
        &["serve"],
        &[("BIND_ADDR", &bind), ("RUST_LOG", "info")],
    )
    .spawn()
    .expect("serve runs");
    let deadline = Instant::now() + GUARD;
    while request(port, "GET", "/health/live", None, None).is_err() {
        assert!(Instant::now() < deadline, "serve never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = request(port, "GET", "/health?probe=1", None, None).unwrap();
    assert_eq!(status, 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = wait(&mut child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stderr
        .lines()
        .position(|line| line.contains("configuration: database=sqlite"))
        .expect(&stderr);
    let listening = stderr
        .lines()
        .position(|line| line.contains(&format!("listening on http://{bind}")))
        .expect(&stderr);
    assert!(summary < listening, "{stderr}");
    // The text access line is as it was: the query kept (no credential).
    assert!(
        stderr.contains("\"GET /health?probe=1 HTTP/1.1\" 200 "),
        "{stderr}"
    );
    assert!(
        !stderr.lines().any(|line| line.starts_with('{')),
        "{stderr}"
    );
}
