//! The live activity stream over HTTP (docs/api.md, "The live feed"; docs/architecture.md, "The live feed"; docs/api.md, "Limits"):
//! delivery of new rows, resume with `Last-Event-ID` with no gap and no
//! duplicate, tickets, caps, slow consumers, sessions that end, and rows
//! written through another instance. Every case runs on a database that
//! several connections really share; time is only a failure guard.

use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{json, Value};

use shuffify::enums::ActivityType;

use crate::helpers::{insert_activity_at, spawn_app_on, wait_until, TestDb, TestUser};

/// How long any wait below may take before the test fails.
const GUARD: Duration = Duration::from_secs(30);

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// A streamed body read as a client reads it: events as they come,
/// comments skipped.
pub struct EventReader<B> {
    body: Pin<Box<B>>,
    buffer: String,
}

impl<B: MessageBody> EventReader<B> {
    pub fn new(body: B) -> Self {
        EventReader {
            body: Box::pin(body),
            buffer: String::new(),
        }
    }

    /// The next block (up to a blank line), or `None` at the end.
    async fn block(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                return Some(block);
            }
            let body = &mut self.body;
            let next = std::future::poll_fn(|cx| body.as_mut().poll_next(cx));
            match actix_web::rt::time::timeout(GUARD, next)
                .await
                .expect("a frame (or the end) within the guard")
            {
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The next event, skipping comments and `retry:`; `None` at the end.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            let block = self.block().await?;
            let mut event = Event {
                id: -1,
                event: String::new(),
                data: Value::Null,
            };
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    event.id = v.parse().expect("an integer id");
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event.event = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    event.data = serde_json::from_str(v).expect("JSON data");
                }
            }
            if !event.event.is_empty() {
                return Some(event);
            }
        }
    }
}

fn stream_request(user: &TestUser, headers: &[(&str, &str)]) -> actix_http::Request {
    let mut req = TestRequest::get()
        .uri("/api/activity/stream")
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .peer_addr("127.0.0.1:40000".parse().unwrap());
    for header in headers {
        req = req.insert_header(*header);
    }
    req.to_request()
}

/// `n` rows of `user_id` written straight into the table, as the CLI or
/// another instance would, a microsecond apart.
fn seed_rows(conn: &mut shuffify::db::DbConnection, user_id: i64, kind: ActivityType, n: usize) {
    let start = shuffify::db::now();
    for i in 0..n {
        insert_activity_at(
            conn,
            user_id,
            kind,
            start + chrono::Duration::microseconds(i as i64),
        );
    }
}

fn uri_request(uri: &str) -> actix_http::Request {
    TestRequest::get()
        .uri(uri)
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .to_request()
}

#[actix_web::test]
async fn a_new_row_reaches_an_open_stream_as_its_item() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("listener").await;
    let res = app.call_raw(stream_request(&user, &[])).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-cache");
    let mut events = EventReader::new(res.into_body());

    // The login that made the token happened before: it is not sent.
    app.as_user(&user)
        .post("/api/playlists", json!({"name": "Live"}))
        .await;
    let event = events.next().await.expect("an event");
    assert_eq!(event.event, "activity");
    assert_eq!(event.data["activity_type"], "playlist_create");
    let listed = app.as_user(&user).get("/api/activity/recent?limit=1").await;
    assert_eq!(event.data, listed.body["items"][0], "the listing's item");
    assert_eq!(event.id, listed.body["items"][0]["id"].as_i64().unwrap());
}

#[actix_web::test]
async fn last_event_id_resumes_after_that_row_with_no_gap_and_no_duplicate() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("resumer").await;
    let api = app.as_user(&user);
    for name in ["a", "b", "c"] {
        api.post("/api/playlists", json!({"name": name})).await;
    }
    let trail = api.get("/api/activity/recent?limit=4").await.body["items"].clone();
    let ids: Vec<i64> = trail
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|i| i["id"].as_i64().unwrap())
        .collect(); // login, a, b, c: oldest first
    let after = ids[1].to_string();
    let res = app
        .call_raw(stream_request(&user, &[("Last-Event-ID", after.as_str())]))
        .await;
    let mut events = EventReader::new(res.into_body());
    assert_eq!(events.next().await.unwrap().id, ids[2]);
    assert_eq!(events.next().await.unwrap().id, ids[3]);
    api.post("/api/playlists", json!({"name": "d"})).await;
    let live = events.next().await.unwrap();
    assert!(live.id > ids[3]);
    assert_eq!(live.data["playlist_name"], "d");

    // The same through a ticket and `last_event_id`, as the web app resumes.
    let ticket = api.post("/api/activity/stream/tickets", json!({})).await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.text);
    let uri = format!(
        "/api/activity/stream?ticket={}&last_event_id={}",
        ticket.body["ticket"].as_str().unwrap(),
        ids[2]
    );
    let mut resumed = EventReader::new(app.call_raw(uri_request(&uri)).await.into_body());
    assert_eq!(resumed.next().await.unwrap().id, ids[3]);
    assert_eq!(resumed.next().await.unwrap().id, live.id);
}

#[actix_web::test]
async fn many_rows_written_at_once_arrive_in_order_each_once() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("burst").await;
    let res = app.call_raw(stream_request(&user, &[])).await;
    let mut events = EventReader::new(res.into_body());
    // Written straight into the table, as the CLI or another instance would.
    let n = 1_500;
    seed_rows(&mut app.conn(), user.id, ActivityType::Shuffle, n);
    let mut last = 0;
    for _ in 0..n {
        let event = events.next().await.expect("every row");
        assert!(
            event.id > last,
            "ascending, each once: {} after {last}",
            event.id
        );
        last = event.id;
    }
}

#[actix_web::test]
async fn tickets_open_one_stream_once_and_nothing_opens_without_credentials() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("ticketed").await;
    let api = app.as_user(&user);
    let res = api.post_empty("/api/activity/stream/tickets").await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.header("location"), Some("/api/activity/stream"));
    let ticket = res.body["ticket"].as_str().unwrap().to_string();
    assert_eq!(ticket.len(), 43);
    assert_ne!(ticket, user.token);

    let uri = format!("/api/activity/stream?ticket={ticket}");
    let first = app.call_raw(uri_request(&uri)).await;
    assert_eq!(first.status(), StatusCode::OK);
    app.call(uri_request(&uri)).await.error(401, "unauthorized");
    let none = app.call(uri_request("/api/activity/stream")).await;
    none.error(401, "unauthorized");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    app.call(uri_request("/api/activity/stream?ticket=not-a-ticket"))
        .await
        .error(401, "unauthorized");

    // An expired ticket.
    let stale = api.post_empty("/api/activity/stream/tickets").await.body["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    {
        use diesel::prelude::*;
        use shuffify::db::schema::stream_tickets::dsl::*;
        diesel::update(stream_tickets)
            .set(expires_at.eq(shuffify::db::now() - chrono::Duration::seconds(1)))
            .execute(&mut app.conn())
            .unwrap();
    }
    app.call(uri_request(&format!("/api/activity/stream?ticket={stale}")))
        .await
        .error(401, "unauthorized");

    // A bad Last-Event-ID is a 400 and leaves the ticket unspent.
    let fresh = api.post_empty("/api/activity/stream/tickets").await.body["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = format!("/api/activity/stream?ticket={fresh}&last_event_id=x");
    app.call(uri_request(&bad))
        .await
        .error(400, "validation_failed");
    let good = format!("/api/activity/stream?ticket={fresh}&last_event_id=0");
    assert_eq!(
        app.call_raw(uri_request(&good)).await.status(),
        StatusCode::OK
    );
    app.call(stream_request(&user, &[("Last-Event-ID", "-1")]))
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn a_stream_ends_when_its_session_is_revoked() {
    let app = spawn_app_on(TestDb::shared_file(), |s| {
        s.stream_heartbeat = Duration::from_millis(200);
    })
    .await;
    let user = app.user("leaver").await;
    let res = app.call_raw(stream_request(&user, &[])).await;
    let mut events = EventReader::new(res.into_body());
    let res = app.as_user(&user).post_empty("/api/auth/logout").await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    // The logout's own row may arrive before the end; nothing else does.
    while let Some(event) = events.next().await {
        assert_eq!(event.data["activity_type"], "logout", "{event:?}");
    }
    wait_until("the slot is freed", || app.state.hub.open_streams() == 0).await;
}

#[actix_web::test]
async fn open_streams_end_at_once_when_shutdown_begins() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("draining").await;
    let res = app.call_raw(stream_request(&user, &[])).await;
    // One stream per connection: closed when the stream ends.
    assert!(!res.response().head().keep_alive());
    let mut events = EventReader::new(res.into_body());
    let res = app
        .as_user(&user)
        .post("/api/playlists", json!({"name": "Before"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let event = events.next().await.expect("the row written before");
    assert_eq!(event.data["playlist_name"], "Before");

    app.state.shutdown.begin();

    // The end, not a heartbeat 15 s later: the body is over.
    assert!(events.next().await.is_none());
    wait_until("the slot is freed", || app.state.hub.open_streams() == 0).await;
}

#[actix_web::test]
async fn open_streams_are_capped_per_user() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("hoarder").await;
    let mut open = Vec::new();
    for _ in 0..5 {
        let res = app.call_raw(stream_request(&user, &[])).await;
        assert_eq!(res.status(), StatusCode::OK);
        open.push(res);
    }
    let refused = app.call(stream_request(&user, &[])).await;
    let error = refused.error(429, "rate_limited");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at most 5 open activity streams"),
        "{error}"
    );
    assert!(refused.header("retry-after").is_some());
    // Another user is not affected.
    let other = app.user("neighbour").await;
    assert_eq!(
        app.call_raw(stream_request(&other, &[])).await.status(),
        StatusCode::OK
    );
    drop(open.pop());
    wait_until("a slot frees", || app.state.hub.open_streams() <= 5).await;
    assert_eq!(
        app.call_raw(stream_request(&user, &[])).await.status(),
        StatusCode::OK
    );
}

/// A stream of `user`'s from the client at `peer`.
fn stream_from(user: &TestUser, peer: &str) -> actix_http::Request {
    TestRequest::get()
        .uri("/api/activity/stream")
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .peer_addr(peer.parse().unwrap())
        .to_request()
}

#[actix_web::test]
async fn open_streams_are_capped_per_client_address_whoever_holds_them() {
    let app = spawn_app_on(TestDb::shared_file(), |s| s.max_streams_per_address = 3).await;
    let users = [
        app.user("crowd1").await,
        app.user("crowd2").await,
        app.user("crowd3").await,
    ];
    let mut open = Vec::new();
    for user in &users {
        let res = app.call_raw(stream_from(user, "192.0.2.20:1000")).await;
        assert_eq!(res.status(), StatusCode::OK);
        open.push(res);
    }
    // A fourth from that address, whoever asks, is refused (its status
    // first: a stream that opened would never end) …
    let fourth = app
        .call_raw(stream_from(&users[0], "192.0.2.20:2000"))
        .await;
    assert_eq!(fourth.status(), StatusCode::TOO_MANY_REQUESTS);
    let refused = app.call(stream_from(&users[0], "192.0.2.20:2000")).await;
    let error = refused.error(429, "rate_limited");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 open activity streams per client address"),
        "{error}"
    );
    assert!(refused.header("retry-after").is_some());
    // … while the same users still open streams from elsewhere.
    let elsewhere = app
        .call_raw(stream_from(&users[0], "192.0.2.21:1000"))
        .await;
    assert_eq!(elsewhere.status(), StatusCode::OK);
    drop(open.pop());
    wait_until("a slot frees", || app.state.hub.open_streams() <= 3).await;
    let again = app
        .call_raw(stream_from(&users[1], "192.0.2.20:3000"))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_burst_larger_than_a_queue_is_caught_up_and_a_stalled_consumer_is_dropped() {
    let app = spawn_app_on(TestDb::shared_file(), |s| s.stream_send_timeout_secs = 1).await;
    let user = app.user("crowd").await;
    let slow = app.call_raw(stream_request(&user, &[])).await;
    let fast = app.call_raw(stream_request(&user, &[])).await;
    let mut fast = EventReader::new(fast.into_body());
    let n = shuffify::live::QUEUE_FRAMES + 200;
    seed_rows(&mut app.conn(), user.id, ActivityType::Login, n);
    // The reading stream fell behind the burst (its queue holds fewer), and
    // caught up from the database: every row, in order, once.
    let mut last = 0;
    for _ in 0..n {
        let event = fast
            .next()
            .await
            .expect("the reading stream gets every row");
        assert!(event.id > last, "{} after {last}", event.id);
        last = event.id;
    }
    // A client keeps reading what its connection gets (here, frames it
    // has already seen, which the stream skips); the one that reads
    // nothing is dropped after the send timeout.
    actix_web::rt::spawn(async move { while fast.next().await.is_some() {} });
    wait_until("the slow stream is dropped", || {
        app.state.hub.open_streams() == 1
    })
    .await;
    // When its client reads again it gets what it has not seen, in order,
    // and then the end: a resume with `Last-Event-ID` goes on from there.
    let mut slow = EventReader::new(slow.into_body());
    let mut last = 0;
    while let Some(event) = slow.next().await {
        assert!(event.id > last, "{} after {last}", event.id);
        last = event.id;
    }
}

#[actix_web::test]
async fn a_row_written_through_another_instance_arrives() {
    let db = TestDb::shared_file();
    let url = db.url.clone();
    let reader = spawn_app_on(db, |_| {}).await;
    // A second instance: its own pool and state on the same database.
    let writer = spawn_app_on(TestDb::attach(&url), |_| {}).await;
    let user = reader.user("roamer").await;
    let res = reader.call_raw(stream_request(&user, &[])).await;
    let mut events = EventReader::new(res.into_body());
    let res = writer
        .as_user(&user)
        .post("/api/playlists", json!({"name": "Elsewhere"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let event = events.next().await.unwrap();
    assert_eq!(event.data["playlist_name"], "Elsewhere");
}

#[test]
fn the_access_log_leaves_out_the_stream_query_string() {
    let stream = TestRequest::with_uri("/api/activity/stream?ticket=secret-ticket&last_event_id=4")
        .to_srv_request();
    let line = shuffify::access_log_request_line(&stream);
    assert_eq!(line, "GET /api/activity/stream HTTP/1.1");
    // However the path is spelt: the router decodes it before matching.
    for spelt in [
        "/api/activity/%73tream",
        "/api/activity/%73%74%72%65%61%6D",
        "/api/%61ctivity/stream/",
        "/api/providers/spotify/c%61llback",
    ] {
        let req =
            TestRequest::with_uri(&format!("{spelt}?ticket=secret-ticket&code=c")).to_srv_request();
        let line = shuffify::access_log_request_line(&req);
        assert_eq!(line, format!("GET {spelt} HTTP/1.1"));
    }
    let other = TestRequest::with_uri("/api/activity?q=road").to_srv_request();
    assert_eq!(
        shuffify::access_log_request_line(&other),
        "GET /api/activity?q=road HTTP/1.1"
    );
}

#[actix_web::test]
async fn parallel_writers_of_one_user_reach_the_stream_each_once_in_order() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("busy").await;
    let res = app.call_raw(stream_request(&user, &[])).await;
    let mut events = EventReader::new(res.into_body());
    let api = app.as_user(&user);
    let writers = (0..8).map(|w| async move {
        for i in 0..10 {
            let res = api
                .post("/api/playlists", json!({"name": format!("w{w}-{i}")}))
                .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        }
    });
    futures_util::future::join_all(writers).await;
    let mut seen = Vec::new();
    while seen.len() < 80 {
        let event = events.next().await.expect("every row");
        assert!(
            seen.last().is_none_or(|last| event.id > *last),
            "ascending, each once: {} after {seen:?}",
            event.id
        );
        seen.push(event.id);
    }
    let listed: Vec<i64> = api
        .get("/api/activity?types=playlist_create&limit=100")
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, listed);
}

/// On PostgreSQL an id is drawn before its transaction commits, so without
/// a lock a later id of a user could become visible before an earlier one
/// and a stream's `id > N` would skip it. The insert takes a per-user
/// advisory lock held to commit: a second writer of the same user waits
/// for the first (seen in `pg_locks`), so ids become visible in order.
/// (SQLite's single writer serialises them anyway.)
#[test]
fn a_users_activity_ids_become_visible_in_ascending_order() {
    use diesel::prelude::*;
    use shuffify::models::NewActivity;
    use shuffify::services::ActivityLogService;

    let db = TestDb::shared_file();
    if !db.is_postgres() {
        return;
    }
    let user_id = crate::helpers::create_user(&mut db.conn(), "ordered");
    let (logged_tx, logged_rx) = std::sync::mpsc::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let first_pool = db.another_pool(1);
    let first = std::thread::spawn(move || {
        let mut conn = first_pool.get().unwrap();
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let row = ActivityLogService::log(
                conn,
                NewActivity::new(user_id, ActivityType::Login, "first"),
            )
            .unwrap();
            logged_tx.send(row.id).unwrap();
            commit_rx.recv().unwrap();
            Ok(row.id)
        })
        .unwrap()
    });
    let first_id = logged_rx.recv().unwrap();
    let second_pool = db.another_pool(1);
    let (pid_tx, pid_rx) = std::sync::mpsc::channel();
    let second = std::thread::spawn(move || {
        let mut conn = second_pool.get().unwrap();
        let pid = diesel::sql_query("SELECT CAST(pg_backend_pid() AS BIGINT) AS n")
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n;
        pid_tx.send(pid).unwrap();
        ActivityLogService::log(
            &mut conn,
            NewActivity::new(user_id, ActivityType::Login, "second"),
        )
        .unwrap()
        .id
    });
    let second_pid = pid_rx.recv().unwrap();
    // The second writer waits on the first's advisory lock: this user's
    // key (`ActivityLog::lock_user_order`: the pair 1936224614 and the user
    // id, which pg_locks shows as classid and objid), requested by the
    // second writer's own backend. Tests running beside this one, each in
    // a schema of its own with users numbered from 1, wait on the same
    // keys from other backends.
    let deadline = std::time::Instant::now() + GUARD;
    loop {
        let waiting: i64 = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_locks \
             WHERE locktype = 'advisory' AND NOT granted AND pid = $1 \
             AND classid = CAST(1936224614 AS oid) AND objid = CAST($2 AS oid) \
             AND objsubid = 2",
        )
        .bind::<diesel::sql_types::Integer, _>(second_pid as i32)
        .bind::<diesel::sql_types::BigInt, _>(user_id & 0x7fff_ffff)
        .get_result::<Count>(&mut db.conn())
        .unwrap()
        .n;
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second writer never waited"
        );
        assert!(!second.is_finished(), "the second writer committed first");
        std::thread::sleep(Duration::from_millis(10));
    }
    commit_tx.send(()).unwrap();
    assert_eq!(first.join().unwrap(), first_id);
    let second_id = second.join().unwrap();
    assert!(second_id > first_id);
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[actix_web::test]
async fn an_idle_stream_gets_a_comment_heartbeat() {
    let app = spawn_app_on(TestDb::shared_file(), |s| {
        s.stream_heartbeat = Duration::from_millis(100);
    })
    .await;
    let user = app.user("quiet").await;
    let res = app.call_raw(stream_request(&user, &[])).await;
    let mut events = EventReader::new(res.into_body());
    assert_eq!(events.block().await.as_deref(), Some("retry: 3000\n: open"));
    assert_eq!(events.block().await.as_deref(), Some(": heartbeat"));
}

#[actix_web::test]
async fn a_resume_from_the_start_replays_every_row_in_pages_then_goes_live() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("historian").await;
    let n = 2 * shuffify::live::REPLAY_PAGE as usize + 7;
    seed_rows(&mut app.conn(), user.id, ActivityType::Shuffle, n);
    let res = app
        .call_raw(stream_request(&user, &[("Last-Event-ID", "0")]))
        .await;
    let mut events = EventReader::new(res.into_body());
    let mut last = 0;
    for _ in 0..n + 1 {
        // the login, then the rows
        let event = events.next().await.expect("every row");
        assert!(event.id > last);
        last = event.id;
    }
    app.as_user(&user)
        .post("/api/playlists", json!({"name": "After the replay"}))
        .await;
    assert_eq!(
        events.next().await.unwrap().data["playlist_name"],
        "After the replay"
    );
}

#[actix_web::test]
async fn a_ticket_does_not_outlive_its_session() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("departing").await;
    let api = app.as_user(&user);
    let ticket = api.post_empty("/api/activity/stream/tickets").await.body["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.post_empty("/api/auth/logout").await.status,
        StatusCode::NO_CONTENT
    );
    app.call(uri_request(&format!(
        "/api/activity/stream?ticket={ticket}&last_event_id=0"
    )))
    .await
    .error(401, "unauthorized");
}

#[actix_web::test]
async fn a_last_event_id_beyond_the_trail_still_gets_new_rows() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("futurist").await;
    let res = app
        .call_raw(stream_request(&user, &[("Last-Event-ID", "999999999")]))
        .await;
    let mut events = EventReader::new(res.into_body());
    app.as_user(&user)
        .post("/api/playlists", json!({"name": "Still arrives"}))
        .await;
    assert_eq!(
        events.next().await.unwrap().data["playlist_name"],
        "Still arrives"
    );
}
