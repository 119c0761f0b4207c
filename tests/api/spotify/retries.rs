//! Retries that cannot duplicate: token requests retried on a 5xx (and an
//! `invalid_grant` to a retried refresh not taken for a revoked grant),
//! and a scheduled run that waits for a user's write to the same Spotify
//! playlist, as a user's rewrite does. The lost and unlanded appends are
//! in `write_back`.

use std::time::Duration;

use actix_web::http::StatusCode;
use serde_json::json;
use shuffify::metrics;

use super::connected;
use crate::fake_spotify::{FakeSpotify, Injected, ACCOUNT};
use crate::helpers::{spawn_app_with, uris, wait_within};

fn token_requests(fake: &FakeSpotify, grant: &str) -> usize {
    fake.lock()
        .token_requests
        .iter()
        .filter(|b| b.contains(&format!("grant_type={grant}")))
        .count()
}

#[actix_web::test]
async fn a_code_exchange_answered_5xx_is_sent_again() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("exchanger").await;
    // Answered 502 before the code is spent: the second exchange works.
    fake.inject(Some("POST"), "/api/token", 502, None, 1);
    app.connect_spotify(&fake, &user).await;
    assert_eq!(
        fake.requests_matching("POST /api/token"),
        2,
        "the exchange was sent again"
    );
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], true, "{}", status.text);
}

#[actix_web::test]
async fn a_retried_refresh_answering_invalid_grant_does_not_break_the_connection() {
    let (fake, app, user) = connected("retrier").await;
    fake.add_playlist("one", ACCOUNT, 1);
    fake.expire_access_tokens();
    // Spotify carries the refresh out but its answer is lost; the refresh
    // sent again is refused, as a rotated refresh token would be.
    fake.inject_with(Injected {
        method: Some("POST"),
        path: "/api/token".into(),
        status: 500,
        after: true,
        times: 1,
        ..Injected::default()
    });
    fake.inject_with(Injected {
        method: Some("POST"),
        path: "/api/token".into(),
        status: 400,
        body: Some(json!({"error": "invalid_grant"})),
        times: 1,
        ..Injected::default()
    });
    let before = fake.requests_matching("POST /api/token");
    let list = "/api/providers/spotify/playlists";
    app.as_user(&user)
        .get(list)
        .await
        .error(502, "upstream_error");
    assert_eq!(
        token_requests(&fake, "refresh_token"),
        1,
        "Spotify carried the first refresh out"
    );
    assert_eq!(
        fake.requests_matching("POST /api/token"),
        before + 2,
        "the refresh was sent again after its answer was lost"
    );
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["broken"], false, "{}", status.text);
    // The stored refresh token still works.
    let listed = app.as_user(&user).get(list).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
}

#[actix_web::test]
async fn a_scheduled_run_waits_for_a_users_write_in_progress_then_proceeds() {
    let (fake, app, user) = connected("patientrun").await;
    fake.add_playlist("shared", ACCOUNT, 30);
    let linked = app.import(&user, "shared").await;
    let id = linked["id"].as_str().unwrap().to_string();
    let schedule = app.shuffle_schedule(&user, &id).await;
    let client = app.as_user(&user);
    // The user's write is held at Spotify until the run is seen waiting.
    let gate = fake.hold(Some("PUT"), "/v1/playlists/shared/items");
    let waits = metrics::global().spotify_write_waits();
    let shuffle = format!("/api/playlists/{id}/shuffle");
    let run_path = format!("/api/schedules/{schedule}/run");
    let (shuffled, run) = futures_util::join!(
        client.post(&shuffle, json!({"algorithm": "basic", "seed": 21})),
        async {
            wait_within("the user's write, held", Duration::from_secs(10), || {
                gate.reached()
            })
            .await;
            let (run, ()) = futures_util::join!(client.post_empty(&run_path), async {
                wait_within("the run waiting its turn", Duration::from_secs(10), || {
                    metrics::global().spotify_write_waits() > waits
                })
                .await;
                gate.open();
            });
            run
        }
    );
    assert_eq!(shuffled.status, StatusCode::OK, "{}", shuffled.text);
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "success", "{}", run.text);
    let read = client.get(&format!("/api/playlists/{id}")).await;
    assert_eq!(
        read.body["version"].as_i64(),
        shuffled.body["playlist"]["version"].as_i64().map(|v| v + 1),
        "the run wrote after the user's shuffle"
    );
    assert_eq!(fake.items("shared"), uris(&read.body), "Spotify agrees");
}

#[actix_web::test]
async fn a_scheduled_run_that_waits_too_long_fails_saying_why() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| {
        fake.configure(s);
        s.spotify_claim_wait = Duration::from_millis(300);
    })
    .await;
    let user = app.user("impatient").await;
    app.connect_spotify(&fake, &user).await;
    fake.add_playlist("held", ACCOUNT, 30);
    let linked = app.import(&user, "held").await;
    let id = linked["id"].as_str().unwrap().to_string();
    let schedule = app.shuffle_schedule(&user, &id).await;
    let client = app.as_user(&user);
    let gate = fake.hold(Some("PUT"), "/v1/playlists/held/items");
    let shuffle = format!("/api/playlists/{id}/shuffle");
    let (shuffled, run) = futures_util::join!(
        client.post(&shuffle, json!({"algorithm": "basic", "seed": 22})),
        async {
            wait_within("the user's write, held", Duration::from_secs(10), || {
                gate.reached()
            })
            .await;
            let run = client
                .post_empty(&format!("/api/schedules/{schedule}/run"))
                .await;
            gate.open();
            run
        }
    );
    assert_eq!(shuffled.status, StatusCode::OK, "{}", shuffled.text);
    assert_eq!(run.body["status"], "failed", "{}", run.text);
    assert!(
        run.body["error_message"]
            .as_str()
            .unwrap_or_default()
            .contains("under way"),
        "{}",
        run.text
    );
}
