//! Two `serve` processes on one database, spoken to over real HTTP: a row
//! written through instance A reaches a stream open on instance B (docs/api.md:
//! "rows written by any instance on the same database arrive"). On
//! PostgreSQL when `TEST_DATABASE_URL` is set, else on one SQLite file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::TestDb;

const GUARD: Duration = Duration::from_secs(60);

/// A `serve` process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// The process id, for a signal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `limit` for the process to exit; its status.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(database_url: &str) -> Server {
    serve_with(database_url, &[])
}

/// `serve` on `database_url` with these variables besides.
pub fn serve_with(database_url: &str, vars: &[(&str, &str)]) -> Server {
    let port = free_port();
    // `vars` come last, so they may also turn the scheduler on.
    let child = Command::new(env!("CARGO_BIN_EXE_shuffify"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("SCHEDULER_ENABLED", "false")
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let server = Server { child, port };
    let deadline = Instant::now() + GUARD;
    while request(port, "GET", "/health", None, None).is_err() {
        assert!(Instant::now() < deadline, "serve never answered /health");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// One HTTP/1.1 request; the status and the JSON body.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(GUARD))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response[9..12].parse().unwrap_or(0);
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Ok((status, json))
}

#[test]
fn a_row_written_through_one_serve_process_reaches_a_stream_on_another() {
    let db = TestDb::shared_file();
    let a = serve(&db.url);
    let b = serve(&db.url);

    let (status, _) = request(
        a.port,
        "POST",
        "/api/auth/register",
        None,
        Some(json!({"username": "twoplaces", "password": "correct horse"})),
    )
    .unwrap();
    assert_eq!(status, 201);
    let (_, login) = request(
        b.port,
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"username": "twoplaces", "password": "correct horse"})),
    )
    .unwrap();
    let token = login["token"].as_str().unwrap().to_string();

    // The stream, on B, through a ticket as a browser opens it.
    let (status, ticket) = request(
        b.port,
        "POST",
        "/api/activity/stream/tickets",
        Some(&token),
        None,
    )
    .unwrap();
    assert_eq!(status, 201);
    let mut stream = TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    write!(
        stream,
        "GET /api/activity/stream?ticket={} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n",
        ticket["ticket"].as_str().unwrap()
    )
    .unwrap();
    let mut lines = BufReader::new(stream).lines();
    let status_line = lines.next().unwrap().unwrap();
    assert!(status_line.contains(" 200 "), "{status_line}");
    // The head, then the opening comment: the stream is live.
    for line in lines.by_ref() {
        if line.unwrap().starts_with(": open") {
            break;
        }
    }

    // A write through A.
    let (status, _) = request(
        a.port,
        "POST",
        "/api/playlists",
        Some(&token),
        Some(json!({"name": "Written on A"})),
    )
    .unwrap();
    assert_eq!(status, 201);

    let data = lines
        .map(|l| l.expect("the stream stays open until the row arrives"))
        .find_map(|line| line.strip_prefix("data: ").map(str::to_string))
        .expect("an event");
    let item: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(item["activity_type"], "playlist_create");
    assert_eq!(item["playlist_name"], "Written on A");
}

#[test]
fn sigterm_ends_open_streams_and_serve_exits_0() {
    let db = TestDb::shared_file();
    let mut server = serve(&db.url);
    let (status, _) = request(
        server.port,
        "POST",
        "/api/auth/register",
        None,
        Some(json!({"username": "stopper", "password": "correct horse"})),
    )
    .unwrap();
    assert_eq!(status, 201);
    let (_, login) = request(
        server.port,
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"username": "stopper", "password": "correct horse"})),
    )
    .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    // Far longer than the end takes; far shorter than the connection's
    // own timeouts, which ended it before.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET /api/activity/stream HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n",
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !line.starts_with(": open") {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }

    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    // A failure bound, not a measurement: before, the server waited 30 s
    // for the stream, then cut it.
    let deadline = Instant::now() + Duration::from_secs(20);

    // The stream ends as a response ends (the last, empty chunk), and the
    // connection closes, rather than the server holding it until it gives
    // up and cuts it.
    let mut rest = Vec::new();
    reader
        .read_to_end(&mut rest)
        .expect("the stream ends when the server is told to stop");
    assert!(Instant::now() < deadline, "the stream outlived the bound");
    assert!(
        rest.ends_with(b"\r\n0\r\n\r\n"),
        "the stream was cut, not ended: {:?}",
        String::from_utf8_lossy(&rest)
    );
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "serve exited with {exit}");
}
