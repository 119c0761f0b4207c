//! The bounds on Spotify work: at most two Spotify operations per user
//! (429 beyond, while others are served), at most the configured number
//! of calls in flight, and the app-wide pause after Spotify answers 429,
//! shared by two instances on PostgreSQL. Interleavings are fixed by the
//! fake's gates, not by timing.

use std::time::Duration;

use actix_web::http::StatusCode;

use crate::fake_spotify::{FakeSpotify, ACCOUNT};
use crate::helpers::{spawn_app_on, wait_within, TestDb};

const LIST: &str = "/api/providers/spotify/playlists";

#[actix_web::test]
async fn a_third_spotify_operation_of_one_user_answers_429_while_another_user_is_served() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::shared_file(), |s| fake.configure(s)).await;
    let busy = app.user("busy").await;
    let other = app.user("other").await;
    app.connect_spotify_as(&fake, &busy, ACCOUNT).await;
    app.connect_spotify_as(&fake, &other, "listener2").await;
    fake.add_playlist("mine", ACCOUNT, 3);
    // The user's first two listings are held at Spotify.
    let first = fake.hold(Some("GET"), "/v1/me/playlists");
    let second = fake.hold(Some("GET"), "/v1/me/playlists");
    let client = app.as_user(&busy);
    let (a, b, (third, served)) = futures_util::join!(client.get(LIST), client.get(LIST), async {
        wait_within(
            "two listings held at Spotify",
            Duration::from_secs(10),
            || first.reached() && second.reached(),
        )
        .await;
        let third = app.as_user(&busy).get(LIST).await;
        let served = app.as_user(&other).get(LIST).await;
        first.open();
        second.open();
        (third, served)
    });
    let error = third.error(429, "rate_limited");
    assert!(
        error["message"].as_str().unwrap().contains("at most 2"),
        "{}",
        third.text
    );
    assert!(third.header("retry-after").is_some(), "Retry-After is sent");
    assert_eq!(served.status, StatusCode::OK, "{}", served.text);
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    // Both done: the user may start again.
    let again = app.as_user(&busy).get(LIST).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
}

#[actix_web::test]
async fn a_429_for_one_users_call_makes_every_call_of_the_app_wait() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::new(), |s| fake.configure(s)).await;
    let first = app.user("first").await;
    let second = app.user("second").await;
    app.connect_spotify_as(&fake, &first, ACCOUNT).await;
    app.connect_spotify_as(&fake, &second, "listener2").await;

    fake.inject(Some("GET"), "/v1/me/playlists", 429, Some(30), 1);
    let limited = app.as_user(&first).get(LIST).await;
    limited.error(503, "upstream_unavailable");
    assert_eq!(limited.header("retry-after"), Some("30"));

    let asked = fake.lock().requests.len();
    let other = app.as_user(&second).get(LIST).await;
    other.error(503, "upstream_unavailable");
    let after: u64 = other.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&after), "the rest of the wait: {after}");
    assert_eq!(
        fake.lock().requests.len(),
        asked,
        "another user's call is not sent while Spotify asks the app to wait"
    );
}

#[actix_web::test]
async fn two_instances_on_postgresql_share_the_pause_after_a_429() {
    let db = TestDb::shared_file();
    if !db.is_postgres() {
        // One SQLite database serves one instance, which keeps the pause
        // in process (the test above).
        return;
    }
    let fake = FakeSpotify::start();
    let url = db.url.clone();
    let one = spawn_app_on(db, |s| fake.configure(s)).await;
    let two = spawn_app_on(TestDb::attach(&url), |s| {
        fake.configure(s);
        s.spotify_pause_refresh = Duration::ZERO;
    })
    .await;
    let first = one.user("first").await;
    let second = two.user("second").await;
    one.connect_spotify_as(&fake, &first, ACCOUNT).await;
    two.connect_spotify_as(&fake, &second, "listener2").await;

    fake.inject(Some("GET"), "/v1/me/playlists", 429, Some(40), 1);
    one.as_user(&first)
        .get(LIST)
        .await
        .error(503, "upstream_unavailable");

    let asked = fake.lock().requests.len();
    let elsewhere = two.as_user(&second).get(LIST).await;
    elsewhere.error(503, "upstream_unavailable");
    let after: u64 = elsewhere.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=40).contains(&after), "the rest of the wait: {after}");
    assert_eq!(fake.lock().requests.len(), asked, "nothing sent");
}

#[actix_web::test]
async fn calls_in_flight_never_exceed_the_configured_cap() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::shared_file(), |s| {
        fake.configure(s);
        s.spotify_max_concurrent_calls = 2;
    })
    .await;
    let mut users = Vec::new();
    for (i, name) in ["cap1", "cap2", "cap3"].iter().enumerate() {
        let user = app.user(name).await;
        app.connect_spotify_as(&fake, &user, &format!("capper{i}"))
            .await;
        users.push(user);
    }
    fake.lock().max_in_flight = 0;
    let first = fake.hold(Some("GET"), "/v1/me/playlists");
    let second = fake.hold(Some("GET"), "/v1/me/playlists");
    let listings = futures_util::future::join_all(users.iter().map(|u| app.as_user(u).get(LIST)));
    let (answers, ()) = futures_util::join!(listings, async {
        wait_within(
            "two listings held at Spotify",
            Duration::from_secs(10),
            || first.reached() && second.reached(),
        )
        .await;
        // Give the third listing every chance to reach Spotify: with the
        // cap it cannot while two calls are held.
        let deadline = std::time::Instant::now() + Duration::from_millis(1500);
        while std::time::Instant::now() < deadline
            && fake.requests_matching("GET /v1/me/playlists") < 3
        {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        first.open();
        second.open();
    });
    for res in &answers {
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    assert_eq!(fake.requests_matching("GET /v1/me/playlists"), 3);
    assert_eq!(
        fake.lock().max_in_flight,
        2,
        "at most SPOTIFY_MAX_CONCURRENT_CALLS calls in flight"
    );
}

#[test]
fn a_bad_spotify_max_concurrent_calls_stops_start_up_naming_the_variable() {
    // `migrate` reads the same settings as `serve` and exits.
    let migrate = |value: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_shuffify"))
            .arg("migrate")
            .env("DATABASE_URL", "sqlite::memory:")
            .env("SPOTIFY_MAX_CONCURRENT_CALLS", value)
            .output()
            .expect("the binary runs")
    };
    for bad in ["0", "257", "many", "-1"] {
        let out = migrate(bad);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: {stderr}");
        assert!(
            stderr.contains("SPOTIFY_MAX_CONCURRENT_CALLS"),
            "{bad}: {stderr}"
        );
    }
    let out = migrate("256");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[actix_web::test]
async fn a_stopped_pool_answers_503_at_once_and_takes_no_more_work() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::shared_file(), |s| fake.configure(s)).await;
    let user = app.user("stopping").await;
    app.connect_spotify(&fake, &user).await;
    // A listing is in flight, held at Spotify, when shutdown begins.
    let held = fake.hold(Some("GET"), "/v1/me/playlists");
    let (abandoned, ()) = futures_util::join!(app.as_user(&user).get(LIST), async {
        wait_within(
            "the listing held at Spotify",
            Duration::from_secs(10),
            || held.reached(),
        )
        .await;
        app.state.spotify_pool.stop();
    });
    abandoned.error(503, "upstream_unavailable");
    held.open();
    let later = app.as_user(&user).get(LIST).await;
    later.error(503, "upstream_unavailable");
    assert!(later.header("retry-after").is_some());
}
