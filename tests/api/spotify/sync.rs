//! Syncing a linked playlist from Spotify: a change there is a 409 for
//! rewrites until a sync, which undo reverts; local playlists do not
//! sync; a playlist gone from Spotify; a sync racing a shuffle.

use std::time::Duration;

use actix_web::http::StatusCode;
use serde_json::json;

use super::connected;
use crate::fake_spotify::{FakeSpotify, ACCOUNT};
use crate::helpers::{rows_of, sample_tracks, spawn_app_on, uris, wait_within, TestDb};

#[actix_web::test]
async fn a_change_on_spotify_is_a_409_until_a_sync_which_undo_reverts() {
    let (fake, app, user) = connected("syncer").await;
    fake.add_playlist("live", ACCOUNT, 6);
    let linked = app.import(&user, "live").await;
    let id = linked["id"].as_str().unwrap();
    let original = uris(&linked);

    // A new snapshot with the same items is no conflict.
    fake.edit("live", |_| {});
    let ok = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 1}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let ours = uris(&ok.body["playlist"]);

    // Another app reorders and adds a track on Spotify.
    fake.edit("live", |items| {
        items.reverse();
        items.push("spotify:track:added1".into());
    });
    let theirs = fake.items("live");
    let snapshots = format!("/api/playlists/{id}/snapshots");
    let kept = app.as_user(&user).get(&snapshots).await.body["items"].clone();
    let refused = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 2}))
        .await;
    let error = refused.error(409, "conflict");
    assert!(
        error["message"].as_str().unwrap().contains("sync"),
        "{}",
        refused.text
    );
    assert_eq!(fake.items("live"), theirs, "nothing written to Spotify");
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), ours, "nor here");
    let after = app.as_user(&user).get(&snapshots).await.body["items"].clone();
    assert_eq!(
        after, kept,
        "no snapshot of an order that was never replaced"
    );

    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    assert_eq!(synced.body["changed"], true);
    assert_eq!(synced.body["added"], 1);
    assert_eq!(synced.body["removed"], 0);
    assert_eq!(synced.body["reordered"], true);
    assert_eq!(uris(&synced.body["playlist"]), theirs);
    assert_eq!(
        synced.header("etag"),
        Some(format!("\"{}\"", synced.body["playlist"]["version"]).as_str())
    );
    let again = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(again.body["changed"], false);
    assert_eq!(
        again.body["playlist"]["version"],
        synced.body["playlist"]["version"]
    );

    let activity = app.activity(&user).await;
    let rows = rows_of(&activity, "playlist_sync");
    assert_eq!(rows.len(), 1, "an unchanged sync logs nothing");
    assert_eq!(rows[0]["metadata"]["added"], 1);
    assert_eq!(rows[0]["metadata"]["reordered"], true);
    assert_eq!(rows[0]["metadata"]["provider"], "spotify");
    assert!(rows[0]["metadata"]["snapshot_id"].is_i64());
    assert!(rows[0]["metadata"]["spotify_snapshot_id"]
        .as_str()
        .is_some_and(|s| s.starts_with("snap-live-")));

    // Undo reverts the sync, here and on Spotify.
    let undone = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/undo"))
        .await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text);
    assert_eq!(uris(&undone.body), ours);
    assert_eq!(fake.items("live"), ours);
    assert_ne!(ours, original);

    // A stale If-Match on a sync is a 412.
    let stale = app
        .as_user(&user)
        .send(
            actix_web::http::Method::POST,
            &format!("/api/playlists/{id}/sync"),
            None,
            &[("If-Match", "\"1\"")],
        )
        .await;
    stale.error(412, "precondition_failed");
}

#[actix_web::test]
async fn local_playlists_do_not_sync_and_linked_ones_take_only_spotify_uris() {
    let (fake, app, user) = connected("mixed").await;
    let local = app.playlist(&user, "Here", sample_tracks("h", 3)).await;
    app.as_user(&user)
        .post_empty(&format!(
            "/api/playlists/{}/sync",
            local["id"].as_str().unwrap()
        ))
        .await
        .error(409, "conflict");
    fake.add_playlist("two", ACCOUNT, 2);
    let linked = app.import(&user, "two").await;
    let id = linked["id"].as_str().unwrap();
    let mut order = uris(&linked);
    order.push("h:0".into());
    app.as_user(&user)
        .post(
            &format!("/api/playlists/{id}/workshop/commit"),
            json!({"track_uris": order}),
        )
        .await
        .error(400, "validation_failed");
    // A commit of Spotify URIs goes through, and to Spotify.
    let reversed: Vec<String> = uris(&linked).into_iter().rev().collect();
    let committed = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/workshop/commit"),
            json!({"track_uris": reversed}),
        )
        .await;
    assert_eq!(committed.status, StatusCode::OK, "{}", committed.text);
    assert_eq!(fake.items("two"), reversed);
}

#[actix_web::test]
async fn a_playlist_gone_from_spotify_answers_409_on_sync_and_shuffle() {
    let (fake, app, user) = connected("orphan").await;
    fake.add_playlist("doomed", ACCOUNT, 4);
    let linked = app.import(&user, "doomed").await;
    let id = linked["id"].as_str().unwrap();
    fake.lock().playlists.remove("doomed");
    for res in [
        app.as_user(&user)
            .post_empty(&format!("/api/playlists/{id}/sync"))
            .await,
        app.as_user(&user)
            .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 9}))
            .await,
    ] {
        let error = res.error(409, "conflict");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("no longer exists"),
            "{}",
            res.text
        );
    }
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), uris(&linked));
}

#[actix_web::test]
async fn a_sync_that_read_spotify_before_a_shuffle_wrote_does_not_undo_it() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::shared_file(), |s| fake.configure(s)).await;
    let user = app.user("racesync").await;
    app.connect_spotify(&fake, &user).await;
    fake.add_playlist("both", ACCOUNT, 20);
    let linked = app.import(&user, "both").await;
    let id = linked["id"].as_str().unwrap();
    let from = fake.lock().requests.len();
    // The sync's read of the items is answered as of now, and held until
    // the shuffle has written here and on Spotify.
    let gate = fake.hold(Some("GET"), "/v1/playlists/both/items");
    let client = app.as_user(&user);
    let sync_path = format!("/api/playlists/{id}/sync");
    let shuffle_path = format!("/api/playlists/{id}/shuffle");
    let (synced, shuffled) = futures_util::join!(client.post_empty(&sync_path), async {
        wait_within(
            "the sync's read of the items, held by the fake",
            Duration::from_secs(10),
            || gate.reached(),
        )
        .await;
        let shuffled = client
            .post(&shuffle_path, json!({"algorithm": "basic", "seed": 8}))
            .await;
        gate.open();
        shuffled
    });
    assert_eq!(shuffled.status, StatusCode::OK, "{}", shuffled.text);
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    let read = client.get(&format!("/api/playlists/{id}")).await;
    assert_eq!(
        uris(&read.body),
        uris(&shuffled.body["playlist"]),
        "the shuffle stands"
    );
    assert_eq!(fake.items("both"), uris(&read.body), "and Spotify agrees");
    assert_eq!(
        synced.body["changed"], false,
        "the sync read Spotify again and found the shuffle's order: {}",
        synced.text
    );

    // The race happened as it is meant to: the sync's read, the shuffle's
    // write, and only then the sync reading the items again.
    let log = fake.lock().requests[from..].to_vec();
    let items = "GET /v1/playlists/both/items";
    let held = fake.request_position(items, from);
    let wrote = fake.request_position("PUT /v1/playlists/both/items", from);
    assert!(
        held.is_some() && wrote.is_some() && held < wrote,
        "the items were read before the shuffle wrote: {log:#?}"
    );
    let again = held.and_then(|held| fake.request_position(items, held + 1));
    assert!(
        again > wrote,
        "the sync read the items again after the write: {log:#?}"
    );
}
