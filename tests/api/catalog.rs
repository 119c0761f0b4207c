//! The catalog as each user sees it: what one user sends about a track
//! never changes what another user's playlists show, how they shuffle, or
//! what another user's search finds; an order names only tracks its
//! sender holds; provider facts replace the importing user's own.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use crate::fake_spotify::{FakeSpotify, ACCOUNT};
use crate::helpers::{spawn_app, spawn_app_with, uris};

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn what_one_user_sends_about_a_track_never_changes_anothers_playlists() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let hers = app
        .playlist(
            &alice,
            "A",
            json!([
                {"uri": "cat:1", "name": "Real Name", "artists": ["Real"]},
                {"uri": "cat:2", "name": "Steady", "artists": ["Other"], "tempo": 100.0},
            ]),
        )
        .await;
    let id = hers["id"].as_str().unwrap();
    // Mallory describes cat:1 otherwise, filling what Alice left empty.
    let hijack = json!([{"uri": "cat:1", "name": "Rewritten", "artists": ["Fake"],
        "album_name": "Filled", "tempo": 99.5}]);
    let theirs = app.playlist(&mallory, "M", hijack).await;
    assert_eq!(
        theirs["tracks"][0]["name"], "Rewritten",
        "each sees their own"
    );
    assert_eq!(theirs["tracks"][0]["tempo"], 99.5);

    let read = app
        .as_user(&alice)
        .get(&format!("/api/playlists/{id}"))
        .await;
    let track = &read.body["tracks"][0];
    assert_eq!(track["name"], "Real Name");
    assert_eq!(track["artists"], json!(["Real"]));
    assert_eq!(
        track["album_name"],
        Value::Null,
        "not filled by another user"
    );
    assert_eq!(track["tempo"], Value::Null, "not filled by another user");

    // Her tempo order puts cat:1 (no tempo) last, as her facts say.
    let shuffled = app
        .as_user(&alice)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "tempo_gradient", "params": {"direction": "ascending"}}),
        )
        .await;
    assert_eq!(shuffled.status, StatusCode::OK, "{}", shuffled.text);
    assert_eq!(uris(&shuffled.body["playlist"]), ["cat:2", "cat:1"]);

    // A public playlist shows its owner's facts to every reader.
    let public = app
        .as_user(&mallory)
        .patch(
            &format!("/api/playlists/{}", theirs["id"].as_str().unwrap()),
            json!({"is_public": true}),
        )
        .await;
    assert_eq!(public.status, StatusCode::OK, "{}", public.text);
    let seen = app
        .as_user(&alice)
        .get(&format!(
            "/api/playlists/{}",
            theirs["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(seen.body["tracks"][0]["name"], "Rewritten");
}

#[actix_web::test]
async fn search_finds_the_callers_tracks_as_the_caller_sees_them() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let eve = app.user("eve").await;
    app.playlist(
        &alice,
        "A",
        json!([{"uri": "cat:1", "name": "Real Name", "artists": ["Real"]}]),
    )
    .await;
    app.playlist(
        &mallory,
        "M",
        json!([{"uri": "cat:1", "name": "Rewritten", "artists": ["Fake"], "album_name": "Filled"},
               {"uri": "cat:9", "name": "Only Mallory", "artists": ["Fake"]}]),
    )
    .await;

    let found = app.as_user(&alice).get("/api/tracks?q=REAL").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(names(&found.body), ["Real Name"]);
    assert_eq!(found.body["limit"], 20);
    for q in ["filled", "rewritten", "only"] {
        let none = app.as_user(&alice).get(&format!("/api/tracks?q={q}")).await;
        assert!(names(&none.body).is_empty(), "{q}: {}", none.text);
    }
    let all = app.as_user(&mallory).get("/api/tracks").await;
    assert_eq!(names(&all.body), ["Only Mallory", "Rewritten"]);
    let strangers = app.as_user(&eve).get("/api/tracks").await;
    assert!(names(&strangers.body).is_empty(), "{}", strangers.text);
    app.as_user(&alice)
        .get("/api/tracks?limit=0")
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn a_commit_names_only_tracks_its_sender_holds() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let hers = app
        .playlist(
            &alice,
            "A",
            json!([{"uri": "cat:1", "name": "One", "artists": ["A"]},
                   {"uri": "cat:2", "name": "Two", "artists": ["A"]}]),
        )
        .await;
    let id = hers["id"].as_str().unwrap();
    app.playlist(
        &mallory,
        "M",
        json!([{"uri": "cat:9", "name": "Theirs", "artists": ["M"]}]),
    )
    .await;
    let commit = format!("/api/playlists/{id}/workshop/commit");
    let refused = app
        .as_user(&alice)
        .post(&commit, json!({"track_uris": ["cat:1", "cat:9"]}))
        .await;
    refused.error(400, "validation_failed");
    assert!(refused.text.contains("cat:9"), "{}", refused.text);
    assert!(!refused.text.contains("cat:1,"), "{}", refused.text);
    let read = app
        .as_user(&alice)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), ["cat:1", "cat:2"], "nothing written");

    // A track she holds only in a snapshot is hers to put back.
    let snapshot = app
        .as_user(&alice)
        .post_empty(&format!("/api/playlists/{id}/snapshots"))
        .await;
    assert_eq!(snapshot.status, StatusCode::CREATED, "{}", snapshot.text);
    let dropped = app
        .as_user(&alice)
        .post(&commit, json!({"track_uris": ["cat:1"]}))
        .await;
    assert_eq!(dropped.status, StatusCode::OK, "{}", dropped.text);
    let back = app
        .as_user(&alice)
        .post(&commit, json!({"track_uris": ["cat:2", "cat:1"]}))
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
    assert_eq!(back.body["playlist"]["tracks"][0]["name"], "Two");
}

#[actix_web::test]
async fn an_import_replaces_the_importers_own_facts_and_no_one_elses() {
    let fake = FakeSpotify::start();
    let settings = fake.clone();
    let app = spawn_app_with(move |s| settings.configure(s)).await;
    let importer = app.user("importer").await;
    let other = app.user("other").await;
    let uri = "spotify:track:mixt0";
    let mine = json!([{"uri": uri, "name": "My Label", "artists": ["Me"], "tempo": 120.0}]);
    let local = app.playlist(&importer, "Local", mine).await;
    let theirs_body = json!([{"uri": uri, "name": "Their Label", "artists": ["Them"]}]);
    let theirs = app.playlist(&other, "Theirs", theirs_body).await;

    app.connect_spotify(&fake, &importer).await;
    fake.add_playlist("mix", ACCOUNT, 1);
    app.import(&importer, "mix").await;

    let read = app
        .as_user(&importer)
        .get(&format!("/api/playlists/{}", local["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        read.body["tracks"][0]["name"], "Song mixt0",
        "Spotify's facts"
    );
    assert_eq!(
        read.body["tracks"][0]["tempo"], 120.0,
        "a tempo Spotify does not give stays as the first sender gave it"
    );
    let kept = app
        .as_user(&other)
        .get(&format!(
            "/api/playlists/{}",
            theirs["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(kept.body["tracks"][0]["name"], "Their Label");
}
