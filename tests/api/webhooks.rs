//! Webhooks against a real HTTP receiver on 127.0.0.1 started by each test
//! (`webhook_allow_private` and the loopback names as the allowed hosts):
//! signatures, order under parallel writes, retries with backoff, disabling,
//! the address rules, the listing, the test ping, the cap, isolation, and
//! two `serve` processes on one database delivering each event once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use shuffify::config::Settings;
use shuffify::webhooks::worker::Worker;

use crate::helpers::*;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub signature: String,
    pub body: String,
    pub at: Instant,
}

/// An HTTP receiver on 127.0.0.1: answers each request with the status
/// `answer(n)` gives for the n-th request (0-based), and keeps them all.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(answer: impl Fn(usize) -> u16 + Send + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/hook",
            listener.local_addr().unwrap().port()
        );
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let keep = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut event_id, mut signature, mut length) = (String::new(), String::new(), 0);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                    let value = value.trim().to_string();
                    match name.to_ascii_lowercase().as_str() {
                        "shuffify-event-id" => event_id = value,
                        "shuffify-signature" => signature = value,
                        "content-length" => length = value.parse().unwrap_or(0),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let n = {
                    let mut got = keep.lock().unwrap();
                    got.push(Received {
                        event_id,
                        signature,
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at: Instant::now(),
                    });
                    got.len() - 1
                };
                let status = answer(n);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

/// Settings for a test of deliveries: loopback allowed, short timings.
pub fn local(settings: &mut Settings) {
    settings.webhook_allow_private = true;
    settings.webhook_allowed_hosts = vec!["127.0.0.1".into(), "localhost".into()];
    settings.webhook_timeout = Duration::from_secs(2);
    settings.webhook_poll = Duration::from_millis(200);
}

/// Checks `Shuffify-Signature` as a receiver would.
pub fn verifies(secret: &str, header: &str, body: &str) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

fn worker<S>(app: &TestApp<S>) -> Worker {
    Worker::spawn(
        app.db.pool.clone(),
        &app.state.settings,
        app.state.shutdown.clone(),
    )
    .unwrap()
}

#[actix_web::test]
async fn each_new_row_arrives_signed_as_the_listing_shows_it() {
    let app = spawn_app_with(local).await;
    let _worker = worker(&app);
    let alice = app.user("alice").await;
    let receiver = Receiver::start(|_| 200);

    let created = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": receiver.url}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.body["types"], Value::Null);
    assert_eq!(created.body["enabled"], true);
    let read = app
        .as_user(&alice)
        .get(&format!("/api/webhooks/{id}"))
        .await;
    assert_eq!(read.status, 200);
    assert!(
        read.body.get("secret").is_none(),
        "the secret is shown once"
    );
    assert!(!app
        .as_user(&alice)
        .get("/api/webhooks")
        .await
        .text
        .contains(&secret));

    app.playlist(&alice, "Road Trip", json!([])).await;
    wait_until("the row arrives", || receiver.count() >= 1).await;
    let got = receiver.received();
    let item = app.activity(&alice).await[0].clone();
    assert_eq!(item["activity_type"], "playlist_create");
    assert_eq!(got.len(), 1, "its own webhook_create row is not delivered");
    assert_eq!(got[0].event_id, item["id"].to_string());
    assert_eq!(serde_json::from_str::<Value>(&got[0].body).unwrap(), item);
    assert!(verifies(&secret, &got[0].signature, &got[0].body));
    assert!(!verifies("whsec_wrong", &got[0].signature, &got[0].body));
}

#[actix_web::test]
async fn types_filter_what_is_delivered() {
    let app = spawn_app_with(local).await;
    let _worker = worker(&app);
    let alice = app.user("alice").await;
    let receiver = Receiver::start(|_| 200);
    let created = app
        .as_user(&alice)
        .post(
            "/api/webhooks",
            json!({"url": receiver.url, "types": ["playlist_update"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["types"], json!(["playlist_update"]));
    let playlist = app.playlist(&alice, "Before", json!([])).await;
    let id = playlist["id"].as_str().unwrap();
    let patched = app
        .as_user(&alice)
        .patch(&format!("/api/playlists/{id}"), json!({"name": "After"}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    wait_until("the update arrives", || receiver.count() >= 1).await;
    let got = receiver.received();
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["activity_type"], "playlist_update");
    assert_eq!(got.len(), 1, "the create was skipped");
}

#[actix_web::test]
async fn order_holds_under_200_rows_from_8_parallel_clients() {
    let app = spawn_app_on(TestDb::shared_file(), local).await;
    let _worker = worker(&app);
    let alice = app.user("alice").await;
    let receiver = Receiver::start(|_| 200);
    let created = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": receiver.url}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let clients = (0..8).map(|client| {
        let app = &app;
        let alice = &alice;
        async move {
            for n in 0..25 {
                let made = app
                    .as_user(alice)
                    .post("/api/playlists", json!({"name": format!("c{client}-{n}")}))
                    .await;
                assert_eq!(made.status, 201, "{}", made.text);
            }
        }
    });
    futures_util::future::join_all(clients).await;
    wait_until("200 rows arrive", || receiver.count() >= 200).await;
    // Nothing more comes: each row once.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<i64> = receiver
        .received()
        .iter()
        .map(|r| r.event_id.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 200);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {ids:?}");
    let mut listed: Vec<i64> = app
        .as_user(&alice)
        .get("/api/activity?limit=100&types=playlist_create")
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    listed.sort();
    assert_eq!(&ids[100..], &listed[..], "the newest 100 are the listing's");
}

#[actix_web::test]
async fn a_failing_receiver_gets_the_event_again_at_growing_intervals_until_its_2xx() {
    let base = Duration::from_millis(150);
    let app = spawn_app_with(|s| {
        local(s);
        s.webhook_backoff_base = base;
    })
    .await;
    let _worker = worker(&app);
    let alice = app.user("alice").await;
    let receiver = Receiver::start(|n| if n < 3 { 500 } else { 204 });
    let created = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": receiver.url}))
        .await;
    let hook = created.body["id"].as_i64().unwrap();
    app.playlist(&alice, "Once", json!([])).await;
    wait_until("the 4th attempt", || receiver.count() >= 4).await;
    let deliveries_path = format!("/api/webhooks/{hook}/deliveries");
    let mut page = Value::Null;
    for _ in 0..300 {
        page = app.as_user(&alice).get(&deliveries_path).await.body;
        if page["items"][0]["status"] == "succeeded" {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    // A later event goes out only after this one succeeded; then nothing
    // more of the first.
    app.playlist(&alice, "Twice", json!([])).await;
    wait_until("the next event", || receiver.count() >= 5).await;
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got[..4].iter().all(|r| r.event_id == got[0].event_id));
    assert_ne!(got[4].event_id, got[0].event_id);
    for n in 1..4 {
        let gap = got[n].at - got[n - 1].at;
        let backoff = base * 2u32.pow(n as u32 - 1);
        assert!(
            gap >= backoff,
            "attempt {} came {gap:?} after, before {backoff:?}",
            n + 1
        );
    }
    let item = &page["items"][0];
    assert_eq!(item["status"], "succeeded", "{page}");
    assert_eq!(item["attempts"], 4);
    assert_eq!(item["last_status"], 204);
    assert_eq!(item["last_error"], Value::Null);
    assert_eq!(item["next_attempt_at"], Value::Null);
    assert!(item["succeeded_at"].is_string());
    let webhook = app
        .as_user(&alice)
        .get(&format!("/api/webhooks/{hook}"))
        .await;
    assert_eq!(webhook.body["consecutive_failures"], 0);
}

#[actix_web::test]
async fn a_receiver_that_always_fails_gets_the_webhook_disabled_with_its_row() {
    let app = spawn_app_with(|s| {
        local(s);
        s.webhook_backoff_base = Duration::from_millis(10);
        s.webhook_disable_after = 4;
    })
    .await;
    let _worker = worker(&app);
    let alice = app.user("alice").await;
    let receiver = Receiver::start(|_| 503);
    let created = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": receiver.url}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let hook = created.body["id"].as_i64().unwrap();
    app.playlist(&alice, "Doomed", json!([])).await;
    let path = format!("/api/webhooks/{hook}");
    let mut webhook = Value::Null;
    for _ in 0..500 {
        webhook = app.as_user(&alice).get(&path).await.body;
        if webhook["enabled"] == false {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(webhook["enabled"], false, "{webhook}");
    assert_eq!(webhook["consecutive_failures"], 4);
    assert!(webhook["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("4 failed"));
    let activity = app.activity(&alice).await;
    let disabled = rows_of(&activity, "webhook_disabled");
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["actor_type"], "system");
    assert_eq!(disabled[0]["metadata"]["webhook_id"], hook);
    assert_eq!(receiver.count(), 4);
    let page = app
        .as_user(&alice)
        .get(&format!("{path}/deliveries"))
        .await
        .body;
    assert_eq!(page["items"][0]["status"], "failed");
    assert_eq!(page["items"][0]["last_error"], "answered HTTP 503");
    // Disabled means no more attempts, and its own row is not sent.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 4);
}

#[actix_web::test]
async fn private_addresses_and_other_hosts_are_refused() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "http://93.184.216.34/hook",
        "https://user:pw@93.184.216.34/hook",
        "ftp://93.184.216.34/",
        "not a url",
    ] {
        let refused = app
            .as_user(&alice)
            .post("/api/webhooks", json!({"url": url}))
            .await;
        let error = refused.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], "url", "{url}");
    }
    let app = spawn_app_with(|s| s.webhook_allowed_hosts = vec!["127.0.0.1".into()]).await;
    let bob = app.user("bob").await;
    let other = app
        .as_user(&bob)
        .post(
            "/api/webhooks",
            json!({"url": "https://hooks.example.invalid/x"}),
        )
        .await;
    other.error(400, "validation_failed");
    assert!(
        other.text.contains("not one of the hosts"),
        "{}",
        other.text
    );
    for body in [
        json!({"url": "https://127.0.0.1/", "types": []}),
        json!({"url": "https://127.0.0.1/", "types": ["shuffle", "shuffle"]}),
        json!({"url": "https://127.0.0.1/", "types": ["no_such_type"]}),
        json!({"url": format!("https://127.0.0.1/{}", "a".repeat(2100))}),
    ] {
        let refused = app.as_user(&bob).post("/api/webhooks", body).await;
        assert_eq!(refused.status, 400, "{}", refused.text);
    }
    assert!(app.as_user(&bob).get("/api/webhooks").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[actix_web::test]
async fn deliveries_page_newest_first_by_cursor() {
    let app = spawn_app_with(local).await;
    let _worker = worker(&app);
    let alice = app.user("alice").await;
    let receiver = Receiver::start(|_| 200);
    let created = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": receiver.url}))
        .await;
    let hook = created.body["id"].as_i64().unwrap();
    for n in 0..5 {
        app.playlist(&alice, &format!("P{n}"), json!([])).await;
    }
    wait_until("5 deliveries", || receiver.count() >= 5).await;
    let path = format!("/api/webhooks/{hook}/deliveries");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            None => format!("{path}?limit=2"),
            Some(c) => format!("{path}?limit=2&cursor={c}"),
        };
        let page = app.as_user(&alice).get(&url).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for item in page.body["items"].as_array().unwrap() {
            let mut keys: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "activity_id",
                    "attempts",
                    "id",
                    "last_attempt_at",
                    "last_error",
                    "last_status",
                    "next_attempt_at",
                    "status",
                    "succeeded_at"
                ]
            );
            seen.push(item["activity_id"].as_i64().unwrap());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut sent: Vec<i64> = receiver
        .received()
        .iter()
        .map(|r| r.event_id.parse().unwrap())
        .collect();
    sent.reverse();
    assert_eq!(seen, sent, "one item per event, newest first");
    for bad in ["limit=0", "limit=101", "cursor=abc", "cursor=-4"] {
        let refused = app.as_user(&alice).get(&format!("{path}?{bad}")).await;
        refused.error(400, "validation_failed");
    }
}

#[actix_web::test]
async fn the_test_ping_is_signed_answered_and_leaves_nothing_behind() {
    let app = spawn_app_with(local).await;
    let alice = app.user("alice").await;
    let receiver = Receiver::start(|n| if n == 0 { 200 } else { 500 });
    let created = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": receiver.url}))
        .await;
    let secret = created.body["secret"].as_str().unwrap().to_string();
    let hook = created.body["id"].as_i64().unwrap();
    let rows_before = app.activity(&alice).await.len();

    let ping = app
        .as_user(&alice)
        .post_empty(&format!("/api/webhooks/{hook}/test"))
        .await;
    assert_eq!(ping.status, 200, "{}", ping.text);
    assert_eq!(ping.body, json!({"ok": true, "status": 200, "error": null}));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].event_id.starts_with("test-"));
    assert!(verifies(&secret, &got[0].signature, &got[0].body));
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["id"], Value::Null);
    assert_eq!(body["activity_type"], "webhook_test");
    assert!(body["created_at"].is_string());

    let failed = app
        .as_user(&alice)
        .post_empty(&format!("/api/webhooks/{hook}/test"))
        .await;
    assert_eq!(
        failed.body,
        json!({"ok": false, "status": 500, "error": "answered HTTP 500"})
    );
    assert_eq!(receiver.count(), 2, "no retry");
    let page = app
        .as_user(&alice)
        .get(&format!("/api/webhooks/{hook}/deliveries"))
        .await;
    assert_eq!(page.body, json!({"items": [], "next_cursor": null}));
    assert_eq!(app.activity(&alice).await.len(), rows_before);
}

#[actix_web::test]
async fn ten_webhooks_per_user_and_another_users_are_not_found() {
    let app = spawn_app_with(local).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        let created = app
            .as_user(&alice)
            .post(
                "/api/webhooks",
                json!({"url": format!("http://127.0.0.1:9/{n}")}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        ids.push(created.body["id"].as_i64().unwrap());
    }
    let eleventh = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": "http://127.0.0.1:9/x"}))
        .await;
    eleventh.error(409, "conflict");
    assert!(eleventh.text.contains("10 webhooks"));

    let id = ids[0];
    for response in [
        app.as_user(&bob).get(&format!("/api/webhooks/{id}")).await,
        app.as_user(&bob)
            .delete(&format!("/api/webhooks/{id}"))
            .await,
        app.as_user(&bob)
            .get(&format!("/api/webhooks/{id}/deliveries"))
            .await,
        app.as_user(&bob)
            .post_empty(&format!("/api/webhooks/{id}/test"))
            .await,
    ] {
        response.error(404, "not_found");
    }
    assert!(app.as_user(&bob).get("/api/webhooks").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());

    let deleted = app
        .as_user(&alice)
        .delete(&format!("/api/webhooks/{id}"))
        .await;
    assert_eq!(deleted.status, 204);
    app.as_user(&alice)
        .get(&format!("/api/webhooks/{id}"))
        .await
        .error(404, "not_found");
    let activity = app.activity(&alice).await;
    assert_eq!(rows_of(&activity, "webhook_create").len(), 10);
    let deletes = rows_of(&activity, "webhook_delete");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["metadata"]["host"], "127.0.0.1");
    let again = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": "http://127.0.0.1:9/x"}))
        .await;
    assert_eq!(again.status, 201);
}

#[test]
fn two_serve_processes_deliver_each_event_exactly_once() {
    use crate::stream_processes::{request, serve_with};
    let db = TestDb::shared_file();
    let vars = [
        ("WEBHOOK_ALLOW_PRIVATE", "true"),
        ("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1,localhost"),
    ];
    let a = serve_with(&db.url, &vars);
    let b = serve_with(&db.url, &vars);
    let receiver = Receiver::start(|_| 200);
    let mut tokens = Vec::new();
    for (n, port) in [a.port, b.port].into_iter().enumerate() {
        let name = format!("twice{n}");
        let (status, _) = request(
            port,
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"username": name, "password": "correct horse"})),
        )
        .unwrap();
        assert_eq!(status, 201);
        let (_, login) = request(
            port,
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"username": name, "password": "correct horse"})),
        )
        .unwrap();
        let token = login["token"].as_str().unwrap().to_string();
        let (status, created) = request(
            port,
            "POST",
            "/api/webhooks",
            Some(&token),
            Some(json!({"url": receiver.url})),
        )
        .unwrap();
        assert_eq!(status, 201, "{created}");
        tokens.push(token);
    }
    // Writes through both instances, for both users.
    let mut written = 0;
    for round in 0..20 {
        for token in &tokens {
            for port in [a.port, b.port] {
                let (status, _) = request(
                    port,
                    "POST",
                    "/api/playlists",
                    Some(token),
                    Some(json!({"name": format!("r{round}")})),
                )
                .unwrap();
                assert_eq!(status, 201);
                written += 1;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.count() < written {
        assert!(
            Instant::now() < deadline,
            "only {} of {written}",
            receiver.count()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let mut ids: Vec<String> = receiver
        .received()
        .into_iter()
        .map(|r| r.event_id)
        .collect();
    assert_eq!(ids.len(), written, "each event once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), written);
}

/// Deleting a webhook, or its owner, while the worker is busy delivering
/// its backlog: the delete waits for the worker's transaction (both lock
/// the webhook before its deliveries) and answers as usual, never a 500
/// from a deadlock; nothing is delivered after the delete answered.
#[actix_web::test]
async fn deleting_a_webhook_or_its_owner_mid_delivery_answers_as_usual() {
    let app = spawn_app_on(TestDb::shared_file(), local).await;
    let _worker = worker(&app);
    let alice = app.user("alice").await;
    // Slow enough that a backlog builds while the deletes arrive.
    let receiver = Receiver::start(|_| {
        std::thread::sleep(Duration::from_millis(5));
        204
    });
    for round in 0..3 {
        let created = app
            .as_user(&alice)
            .post("/api/webhooks", json!({"url": receiver.url}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["id"].as_i64().unwrap();
        let before = receiver.count();
        for n in 0..30 {
            app.playlist(&alice, &format!("Round {round} #{n}"), json!([]))
                .await;
        }
        wait_until("deliveries start", || receiver.count() > before + 2).await;
        let deleted = app
            .as_user(&alice)
            .delete(&format!("/api/webhooks/{id}"))
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        // At most the attempt in flight when the delete answered lands.
        let after_delete = receiver.count();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(receiver.count() <= after_delete + 1);
    }

    let created = app
        .as_user(&alice)
        .post("/api/webhooks", json!({"url": receiver.url}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let before = receiver.count();
    for n in 0..30 {
        app.playlist(&alice, &format!("Last #{n}"), json!([])).await;
    }
    wait_until("deliveries start", || receiver.count() > before + 2).await;
    let gone = app
        .as_user(&alice)
        .send(
            actix_web::http::Method::DELETE,
            "/api/me",
            Some(json!({"password": alice.password})),
            &[],
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    let after_delete = receiver.count();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.count() <= after_delete + 1);
}
