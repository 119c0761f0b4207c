//! Test scaffolding: a fresh database per test, the real app over it, request
//! helpers and logged-in users.
//!
//! Backend: in-memory SQLite (a shared-cache URI, so the pool's connections
//! see one database) unless `TEST_DATABASE_URL` names a PostgreSQL server;
//! then each test gets a schema of its own there, dropped when it ends. When
//! `TEST_DATABASE_URL` is set but the server cannot be reached, tests fail
//! rather than quietly running on SQLite.

// Shared by every test file; not every file uses every helper.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header::HeaderMap, Method, StatusCode};
use actix_web::{test, web, Error};
use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::Value;

use shuffify::config::Settings;
use shuffify::db::schema::activity_log;
use shuffify::db::{self, DbConnection, Json, Pool, PooledConnection};
use shuffify::enums::{ActivityType, ActorType};
use shuffify::models::playlist::{Playlist, ProviderLink};
use shuffify::models::NewUser;
use shuffify::AppState;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A database of a test's own, and how to reach it.
pub struct TestDb {
    pub pool: Pool,
    pub url: String,
    /// `(server url, schema)` to drop at the end, on PostgreSQL.
    pg_schema: Option<(String, String)>,
    /// A temporary SQLite file to remove at the end.
    sqlite_file: Option<std::path::PathBuf>,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nonce: u32 = rand::random();
    format!("t_{}_{n}_{nonce:08x}", std::process::id())
}

impl TestDb {
    /// A migrated, empty database.
    pub fn new() -> TestDb {
        let db = Self::unmigrated();
        let mut conn = db.conn();
        db::migrations::run_pending(&mut conn).expect("migrations apply");
        drop(conn);
        db
    }

    /// An empty database with no tables at all.
    pub fn unmigrated() -> TestDb {
        let name = unique_name();
        match postgres_url() {
            Some(server) => {
                let mut admin = diesel::PgConnection::establish(&server)
                    .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but unreachable: {e}"));
                admin
                    .batch_execute(&format!("CREATE SCHEMA {name}"))
                    .expect("create test schema");
                let sep = if server.contains('?') { '&' } else { '?' };
                let url = format!("{server}{sep}options=-csearch_path%3D{name}");
                let pool = db::build_pool(&url, 4).expect("pool");
                TestDb {
                    pool,
                    url,
                    pg_schema: Some((server, name)),
                    sqlite_file: None,
                }
            }
            None => {
                let url = format!("file:{name}?mode=memory&cache=shared");
                let pool = db::build_pool(&url, 2).expect("pool");
                TestDb {
                    pool,
                    url,
                    pg_schema: None,
                    sqlite_file: None,
                }
            }
        }
    }

    /// A migrated database that several connections really share, for
    /// race tests: a temporary SQLite file (WAL), or a schema on PostgreSQL.
    pub fn shared_file() -> TestDb {
        if postgres_url().is_some() {
            return Self::new();
        }
        let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
        let url = format!("sqlite://{}", path.display());
        let pool = db::build_pool(&url, 4).expect("pool");
        let db = TestDb {
            pool,
            url,
            pg_schema: None,
            sqlite_file: Some(path),
        };
        db::migrations::run_pending(&mut db.conn()).expect("migrations apply");
        db
    }

    /// Another handle on a database some other `TestDb` owns (a second
    /// instance on it): its own pool, and no clean-up of its own.
    pub fn attach(url: &str) -> TestDb {
        TestDb {
            pool: db::build_pool(url, 4).expect("pool"),
            url: url.to_string(),
            pg_schema: None,
            sqlite_file: None,
        }
    }

    /// A separate pool on the same database.
    pub fn another_pool(&self, size: u32) -> Pool {
        db::build_pool(&self.url, size).expect("pool")
    }

    pub fn conn(&self) -> PooledConnection {
        self.pool.get().expect("a pooled connection")
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_schema.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((server, schema)) = &self.pg_schema {
            if let Ok(mut admin) = diesel::PgConnection::establish(server) {
                let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// Inserts a user directly (no password hashing), returning its id.
pub fn create_user(conn: &mut DbConnection, username: &str) -> i64 {
    let now = db::now();
    NewUser {
        username,
        display_name: username,
        email: None,
        password_hash: "not-a-hash",
        is_active: true,
        login_count: 0,
        created_at: now,
        updated_at: now,
    }
    .insert(conn)
    .expect("insert user")
    .id
}

/// Inserts an empty local playlist of `owner`'s through the model,
/// bypassing the service (no tracks, no activity row, no cap checked).
pub fn insert_playlist(conn: &mut DbConnection, owner: i64, id: String, name: &str) -> Playlist {
    let now = db::now();
    let playlist = Playlist {
        id,
        owner_id: owner,
        name: name.to_string(),
        description: String::new(),
        is_public: false,
        version: 1,
        created_at: now,
        updated_at: now,
        pinned_positions: Json(serde_json::json!([])),
        rotation: Default::default(),
        link: ProviderLink::local(),
    };
    playlist.insert(conn).expect("insert playlist");
    playlist
}

/// Inserts an activity row with a chosen time, bypassing the service.
pub fn insert_activity_at(
    conn: &mut DbConnection,
    user_id: i64,
    activity_type: ActivityType,
    created_at: NaiveDateTime,
) -> i64 {
    shuffify::db::with_backend!(conn, |c| diesel::insert_into(activity_log::table)
        .values((
            activity_log::user_id.eq(user_id),
            activity_log::activity_type.eq(activity_type),
            activity_log::description.eq(format!("{activity_type} at {created_at}")),
            activity_log::actor_type.eq(ActorType::User),
            activity_log::metadata.eq(None::<Json>),
            activity_log::created_at.eq(created_at),
        ))
        .returning(activity_log::id)
        .get_result(c))
    .expect("insert activity")
}

/// A response as a client sees it.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
    /// Statements the request sent to the database (docs/performance.md).
    pub round_trips: Option<u32>,
    /// Trips the request made to the blocking pool.
    pub blocking_trips: Option<u32>,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error body (docs/api.md, "API conventions") and returns its `error` object.
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        let error = &self.body["error"];
        assert_eq!(error["code"], code, "body: {}", self.text);
        assert!(error["message"].is_string(), "body: {}", self.text);
        assert!(error["details"].is_array(), "body: {}", self.text);
        assert!(
            error["request_id"].as_str().is_some_and(|s| !s.is_empty()),
            "body: {}",
            self.text
        );
        error
    }
}

/// A registered, logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub token: String,
}

pub struct TestApp<S> {
    pub db: TestDb,
    pub state: web::Data<AppState>,
    service: S,
}

pub fn test_settings(db: &TestDb) -> Settings {
    Settings {
        database_url: db.url.clone(),
        scheduler_enabled: false,
        scheduler_tick_secs: 1,
        ..Settings::default()
    }
}

/// The real application over a fresh database.
pub async fn spawn_app(
) -> TestApp<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error>> {
    spawn_app_with(|_| {}).await
}

/// The real application, with settings adjusted by `adjust`.
pub async fn spawn_app_with(
    adjust: impl FnOnce(&mut Settings),
) -> TestApp<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error>> {
    spawn_app_on(TestDb::new(), adjust).await
}

/// The real application over a database several connections really share
/// (a temp-file SQLite database, or a PostgreSQL schema): for tests with
/// parallel clients, which an in-memory SQLite database would serialize
/// (or fail with "table is locked") instead of racing.
pub async fn spawn_shared_app(
) -> TestApp<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error>> {
    spawn_app_on(TestDb::shared_file(), |_| {}).await
}

/// The real application over `db`, with settings adjusted by `adjust`.
pub async fn spawn_app_on(
    db: TestDb,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error>> {
    let mut settings = test_settings(&db);
    adjust(&mut settings);
    let state = web::Data::new(AppState::new(db.pool.clone(), settings));
    let service = test::init_service(shuffify::app(state.clone())).await;
    TestApp { db, state, service }
}

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    /// Sends a request; `body` is sent as JSON text when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut req = test::TestRequest::default()
            .method(method)
            .uri(path)
            .peer_addr("127.0.0.1:40000".parse().unwrap());
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        if let Some(body) = body {
            req = req
                .insert_header(("Content-Type", "application/json"))
                .set_payload(body.to_string());
        }
        self.call(req.to_request()).await
    }

    /// Sends a prepared request and hands back the response unread, for
    /// tests that read a streamed body chunk by chunk, or never.
    pub async fn call_raw(&self, req: Request) -> ServiceResponse<B> {
        test::call_service(&self.service, req).await
    }

    /// Sends a prepared request.
    pub async fn call(&self, req: Request) -> TestResponse {
        let res = test::call_service(&self.service, req).await;
        let status = res.status();
        let headers = res.headers().clone();
        let round_trips = res
            .response()
            .extensions()
            .get::<shuffify::db::RoundTrips>()
            .map(|n| n.0);
        let blocking_trips = res
            .response()
            .extensions()
            .get::<shuffify::db::BlockingTrips>()
            .map(|n| n.0);
        let bytes = test::read_body(res).await;
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
            round_trips,
            blocking_trips,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::GET, path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.send(Method::POST, path, token, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.send(Method::PATCH, path, token, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::DELETE, path, token, None, &[]).await
    }

    /// POST with no body at all.
    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::POST, path, token, None, &[]).await
    }

    /// Creates a playlist of `tracks` (see [`sample_tracks`]); returns its JSON.
    pub async fn playlist(&self, user: &TestUser, name: &str, tracks: Value) -> Value {
        let res = self
            .as_user(user)
            .post(
                "/api/playlists",
                serde_json::json!({"name": name, "tracks": tracks}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body
    }

    /// Creates a schedule for `user` from `body`; answers its id.
    pub async fn schedule(&self, user: &TestUser, body: Value) -> i64 {
        let res = self.as_user(user).post("/api/schedules", body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body["id"].as_i64().unwrap()
    }

    /// A schedule shuffling `target` with `basic`; answers its id.
    pub async fn shuffle_schedule(&self, user: &TestUser, target: &str) -> i64 {
        let body = serde_json::json!({
            "job_type": "shuffle", "target_playlist_id": target, "algorithm_name": "basic",
        });
        self.schedule(user, body).await
    }

    /// The caller's activity rows, newest first, as the API shows them.
    pub async fn activity(&self, user: &TestUser) -> Vec<Value> {
        let res = self.as_user(user).get("/api/activity?limit=100").await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        res.body["items"].as_array().unwrap().clone()
    }

    pub async fn register(&self, username: &str, password: &str) -> TestResponse {
        self.post(
            "/api/auth/register",
            None,
            serde_json::json!({ "username": username, "password": password }),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> TestResponse {
        self.post(
            "/api/auth/login",
            None,
            serde_json::json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Registers and logs in a user.
    pub async fn user(&self, username: &str) -> TestUser {
        let password = format!("{username}-secret-pw");
        let reg = self.register(username, &password).await;
        assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
        let login = self.login(username, &password).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        TestUser {
            id: reg.body["id"].as_i64().unwrap(),
            username: username.to_string(),
            password,
            token: login.body["token"].as_str().unwrap().to_string(),
        }
    }

    pub fn conn(&self) -> PooledConnection {
        self.db.conn()
    }

    /// A client that sends `user`'s token with every request:
    /// `app.as_user(&alice).get("/api/me")`.
    pub fn as_user<'a>(&'a self, user: &'a TestUser) -> UserClient<'a, S> {
        UserClient {
            app: self,
            token: &user.token,
        }
    }
}

/// Requests as one user (see [`TestApp::as_user`]). A pair of references,
/// so it is `Copy` and its futures own it (they can be joined in parallel).
pub struct UserClient<'a, S> {
    app: &'a TestApp<S>,
    token: &'a str,
}

impl<S> Clone for UserClient<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for UserClient<'_, S> {}

impl<'a, S, B> UserClient<'a, S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    pub async fn send(
        self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        self.app
            .send(method, path, Some(self.token), body, headers)
            .await
    }

    pub async fn get(self, path: &str) -> TestResponse {
        self.app.get(path, Some(self.token)).await
    }

    pub async fn post(self, path: &str, body: Value) -> TestResponse {
        self.app.post(path, Some(self.token), body).await
    }

    pub async fn patch(self, path: &str, body: Value) -> TestResponse {
        self.app.patch(path, Some(self.token), body).await
    }

    pub async fn delete(self, path: &str) -> TestResponse {
        self.app.delete(path, Some(self.token)).await
    }

    /// POST with no body at all.
    pub async fn post_empty(self, path: &str) -> TestResponse {
        self.app.post_empty(path, Some(self.token)).await
    }
}

/// `n` catalog tracks with URIs `prefix:0..n`, a few artists and albums, and
/// tempos on all but every fifth.
pub fn sample_tracks(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                serde_json::json!({
                    "uri": format!("{prefix}:{i}"),
                    "name": format!("Song {i}"),
                    "artists": [format!("Artist {}", i % 4)],
                    "album_name": format!("Album {}", i % 3),
                    "duration_ms": 180_000 + i,
                    "tempo": if i % 5 == 4 { Value::Null } else { serde_json::json!(80 + (i * 7) % 90) },
                })
            })
            .collect(),
    )
}

/// The URIs of a playlist response, in order.
pub fn uris(playlist: &Value) -> Vec<String> {
    playlist["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["uri"].as_str().unwrap().to_string())
        .collect()
}

/// The rows of `activity` (see [`TestApp::activity`]) of one type, in
/// the same order.
pub fn rows_of<'a>(activity: &'a [Value], kind: &str) -> Vec<&'a Value> {
    activity
        .iter()
        .filter(|r| r["activity_type"] == kind)
        .collect()
}

/// Waits until `done()` holds, checking every 20 ms; fails the test after
/// a minute. Time is only the failure guard, never the assertion.
pub async fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_within(what, std::time::Duration::from_secs(60), done).await
}

/// [`wait_until`], failing the test after `limit` instead.
pub async fn wait_within(what: &str, limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
