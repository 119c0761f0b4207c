//! The Web API as Spotify serves it to an app in development mode: every
//! flow uses `/playlists/{id}/items` in pages of at most 50 and never a
//! path Spotify withdrew (`/playlists/{id}/tracks`, `/users/{id}/playlists`,
//! `/audio-features`); and the older shapes an extended-quota app still
//! receives keep working.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::{connected, connected_to};
use crate::fake_spotify::{FakeSpotify, ACCOUNT};
use crate::helpers::{sample_tracks, uris};

/// The request log's entries that name a path Spotify withdrew from
/// development-mode apps.
fn removed_paths(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| {
            let path = r.split('?').next().unwrap_or_default();
            path.contains("/tracks") || path.contains("/audio-features") || path.contains("/users/")
        })
        .cloned()
        .collect()
}

#[actix_web::test]
async fn listing_import_sync_shuffle_and_raid_never_call_a_removed_path() {
    let (fake, app, user) = connected("devmode").await;
    fake.add_playlist("mine", ACCOUNT, 120);
    fake.add_playlist("shared", "a-friend", 3);
    fake.lock()
        .playlists
        .get_mut("shared")
        .unwrap()
        .collaborative = true;

    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["track_count"], 120, "items.total");

    let linked = app.import(&user, "mine").await;
    let id = linked["id"].as_str().unwrap();
    assert_eq!(uris(&linked), fake.items("mine"), "three pages of 50 read");
    assert_eq!(
        linked["tracks"][0]["name"], "Song minet0",
        "read from `item`"
    );

    fake.edit("mine", |items| items.swap(0, 1));
    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    assert_eq!(synced.body["reordered"], true);

    let shuffled = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic", "seed": 3}),
        )
        .await;
    assert_eq!(shuffled.status, StatusCode::OK, "{}", shuffled.text);
    assert_eq!(fake.items("mine"), uris(&shuffled.body["playlist"]));

    let inbox = app.playlist(&user, "Inbox", sample_tracks("in", 1)).await;
    let inbox_id = inbox["id"].as_str().unwrap();
    let added = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{inbox_id}/upstream-sources"),
            json!({"source_playlist_id": "shared", "source_type": "spotify"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let schedule = app
        .schedule(
            &user,
            json!({"job_type": "raid", "target_playlist_id": inbox_id}),
        )
        .await;
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    assert_eq!(run.body["tracks_added"], 3);

    let requests = fake.lock().requests.clone();
    assert_eq!(removed_paths(&requests), Vec::<String>::new());
    let item_reads: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("GET /v1/playlists/") && r.contains("/items?"))
        .collect();
    assert!(!item_reads.is_empty());
    assert!(
        item_reads.iter().all(|r| r.contains("limit=50")),
        "pages of at most 50: {item_reads:#?}"
    );
}

#[actix_web::test]
async fn an_extended_quota_app_still_imports_and_writes_back_with_the_older_shapes() {
    let (fake, app, user) = connected_to(FakeSpotify::start_legacy(), "extended").await;
    fake.add_playlist("old", ACCOUNT, 130);

    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["track_count"], 130, "tracks.total");

    let linked = app.import(&user, "old").await;
    assert_eq!(uris(&linked), fake.items("old"), "read from `track`");
    assert_eq!(linked["tracks"][0]["name"], "Song oldt0");
    let id = linked["id"].as_str().unwrap();

    fake.edit("old", |items| items.reverse());
    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    assert_eq!(synced.body["changed"], true);

    let shuffled = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic", "seed": 5}),
        )
        .await;
    assert_eq!(shuffled.status, StatusCode::OK, "{}", shuffled.text);
    assert_eq!(
        fake.items("old"),
        uris(&shuffled.body["playlist"]),
        "written back: one replace and one append"
    );
    assert_eq!(fake.requests_matching("PUT /v1/playlists/old/items"), 1);
    assert_eq!(fake.requests_matching("POST /v1/playlists/old/items"), 1);
    assert_eq!(removed_paths(&fake.lock().requests), Vec::<String>::new());
}

/// What the fake answers a request made straight to it, as `(status,
/// body)`.
async fn ask(fake: &FakeSpotify, method: &str, path: &str, token: &str) -> (u16, Value) {
    let url = format!("{}{path}", fake.base);
    let (method, token) = (method.parse().unwrap(), token.to_string());
    actix_web::web::block(move || {
        let res = reqwest::blocking::Client::new()
            .request(method, url)
            .bearer_auth(token)
            .json(&json!({"uris": [], "items": []}))
            .send()
            .unwrap();
        (res.status().as_u16(), res.json().unwrap_or(Value::Null))
    })
    .await
    .unwrap()
}

/// The fake must answer as Spotify does, or a regression of the provider
/// would pass against it.
#[actix_web::test]
async fn the_fake_answers_withdrawn_paths_and_out_of_range_limits_as_spotify_does() {
    let fake = FakeSpotify::start();
    fake.add_playlist("mine", ACCOUNT, 3);
    fake.add_playlist("followed", "someone-else", 3);
    let token = "access-test-token";
    fake.lock()
        .access
        .insert(token.to_string(), ACCOUNT.to_string());

    for (method, path) in [
        ("GET", "/v1/playlists/mine/tracks"),
        ("PUT", "/v1/playlists/mine/tracks"),
        ("POST", "/v1/playlists/mine/tracks"),
        ("GET", "/v1/users/listener1/playlists"),
        ("GET", "/v1/audio-features?ids=a,b"),
        ("GET", "/v1/playlists/followed/items"),
    ] {
        let (status, body) = ask(&fake, method, path, token).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(body["error"]["status"], 403, "{method} {path}: {body}");
        assert!(body["error"]["message"].is_string());
    }
    for limit in ["0", "51", "100", "x"] {
        let path = format!("/v1/playlists/mine/items?limit={limit}");
        assert_eq!(ask(&fake, "GET", &path, token).await.0, 400, "{path}");
    }
    let (status, page) = ask(&fake, "GET", "/v1/playlists/mine/items?limit=50", token).await;
    assert_eq!(status, 200);
    assert!(page["items"][0]["item"]["uri"].is_string(), "{page}");
    assert!(page["items"][0].get("track").is_none(), "{page}");
    assert_eq!(page["items"][0]["is_local"], false);
    let (_, info) = ask(&fake, "GET", "/v1/playlists/followed", token).await;
    assert_eq!(info["items"]["total"], 3, "the playlist itself is served");
    assert!(info.get("tracks").is_none(), "{info}");
}
