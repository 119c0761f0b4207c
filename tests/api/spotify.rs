//! Spotify as a provider, against the fake Spotify of `fake_spotify.rs`
//! over real HTTP: connecting (PKCE, single-use state), tokens at rest,
//! listing and importing, shuffles written back in batches, a change on
//! Spotify answered 409, sync and undo, refresh on 401, a revoked refresh
//! token, 429 and 5xx, a write that fails part-way, disconnecting. Runs on
//! both backends like the rest of the suite.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use serde_json::{json, Value};

use shuffify::db::schema::provider_connections;

use crate::fake_spotify::{FakeSpotify, Injected, ACCOUNT};
use crate::helpers::{sample_tracks, spawn_app, spawn_app_on, spawn_app_with, uris, TestDb};

/// Connects `user` to the fake through the whole flow; answers the
/// callback's response.
macro_rules! connect {
    ($app:expr, $fake:expr, $user:expr) => {{
        let started = $app
            .as_user(&$user)
            .post_empty("/api/providers/spotify/authorize")
            .await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.text);
        let callback = $fake.consent(started.body["authorize_url"].as_str().unwrap());
        let done = $app.get(&callback, None).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        (callback, done)
    }};
}

/// Asks to import the fake's playlist `id`; answers the response.
macro_rules! try_import {
    ($app:expr, $user:expr, $id:expr) => {
        $app.as_user(&$user)
            .post(
                "/api/providers/spotify/import",
                json!({ "spotify_playlist_id": $id }),
            )
            .await
    };
}

/// Imports the fake's playlist `id`; answers the linked playlist.
macro_rules! import {
    ($app:expr, $user:expr, $id:expr) => {{
        let res = try_import!($app, $user, $id);
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body
    }};
}

/// A fake Spotify, the app configured for it, and a user `$name` whose
/// account is connected.
macro_rules! connected {
    ($name:expr) => {{
        let fake = FakeSpotify::start();
        let settings = fake.clone();
        let app = spawn_app_with(move |s| settings.configure(s)).await;
        let user = app.user($name).await;
        connect!(app, fake, user);
        (fake, app, user)
    }};
}

fn rows_of<'a>(activity: &'a [Value], kind: &str) -> Vec<&'a Value> {
    activity
        .iter()
        .filter(|r| r["activity_type"] == kind)
        .collect()
}

#[actix_web::test]
async fn without_spotify_configured_status_says_so_and_every_other_route_is_404() {
    let app = spawn_app().await;
    let user = app.user("nospot").await;
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(
        status.body,
        json!({"configured": false, "connected": false})
    );
    let playlist = app.playlist(&user, "Local", sample_tracks("l", 3)).await;
    assert_eq!(playlist["provider"], "local");
    assert!(playlist.get("spotify_playlist_id").is_none());
    let id = playlist["id"].as_str().unwrap();
    let as_user = app.as_user(&user);
    for res in [
        as_user.post_empty("/api/providers/spotify/authorize").await,
        as_user.delete("/api/providers/spotify").await,
        as_user.get("/api/providers/spotify/playlists").await,
        as_user
            .post(
                "/api/providers/spotify/import",
                json!({"spotify_playlist_id": "abc"}),
            )
            .await,
        as_user
            .post_empty(&format!("/api/playlists/{id}/sync"))
            .await,
        app.get("/api/providers/spotify/callback?code=c&state=s", None)
            .await,
    ] {
        let error = res.error(404, "not_found");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("not configured"),
            "{}",
            res.text
        );
    }
    let listed = as_user.get("/api/playlists").await;
    assert_eq!(listed.body["items"][0]["provider"], "local");
}

#[actix_web::test]
async fn connecting_stores_sealed_tokens_and_logs_provider_connect() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("connector").await;
    let before = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(before.body["configured"], true);
    assert_eq!(before.body["connected"], false);
    assert_eq!(before.body["spotify_user_id"], Value::Null);

    let (_, done) = connect!(app, fake, user);
    assert_eq!(done.header("location"), Some("/"));

    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], true, "{}", status.text);
    assert_eq!(status.body["spotify_user_id"], ACCOUNT);
    assert_eq!(status.body["display_name"], "Fake Listener");
    assert_eq!(status.body["broken"], false);
    assert!(status.body["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("playlist-modify-private")));
    assert!(status.body["connected_at"].as_str().unwrap().ends_with('Z'));

    // The exchange sent the PKCE verifier and no secret in the body.
    let exchange = fake.lock().token_requests[0].clone();
    assert!(exchange.contains("grant_type=authorization_code"));
    assert!(exchange.contains("code_verifier="));
    assert!(!exchange.contains("fake-client-secret"));

    // At rest the tokens are sealed, not the text Spotify sent.
    let (access, refresh): (String, String) = provider_connections::table
        .select((
            provider_connections::access_token,
            provider_connections::refresh_token,
        ))
        .first(&mut app.conn())
        .unwrap();
    let plain = fake.lock().access.keys().next().unwrap().clone();
    assert!(
        !access.contains(&plain) && !access.contains("secret"),
        "{access}"
    );
    assert!(!refresh.contains("secret"), "{refresh}");

    let activity = app.activity(&user).await;
    let connected = rows_of(&activity, "provider_connect");
    assert_eq!(connected.len(), 1);
    assert_eq!(
        connected[0]["metadata"],
        json!({"provider": "spotify", "spotify_user_id": ACCOUNT})
    );
    let all = serde_json::to_string(&activity).unwrap();
    assert!(!all.contains("secret"), "a token reached the activity log");
}

#[actix_web::test]
async fn a_replayed_forged_expired_or_refused_state_is_a_400() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("stater").await;
    let (callback, _) = connect!(app, fake, user);

    // The same callback again: the state was used up.
    app.get(&callback, None)
        .await
        .error(400, "validation_failed");
    // A state nobody issued.
    app.get("/api/providers/spotify/callback?code=x&state=forged", None)
        .await
        .error(400, "validation_failed");

    // An expired one.
    let started = app
        .as_user(&user)
        .post_empty("/api/providers/spotify/authorize")
        .await;
    let late = fake.consent(started.body["authorize_url"].as_str().unwrap());
    diesel::update(shuffify::db::schema::oauth_states::table)
        .set(
            shuffify::db::schema::oauth_states::expires_at
                .eq(shuffify::db::now() - chrono::Duration::minutes(1)),
        )
        .execute(&mut app.conn())
        .unwrap();
    app.get(&late, None).await.error(400, "validation_failed");

    // The user declined: 400, and the state cannot be used afterwards.
    let started = app
        .as_user(&user)
        .post_empty("/api/providers/spotify/authorize")
        .await;
    let url = started.body["authorize_url"].as_str().unwrap();
    let declined_then_used = fake.consent(url);
    let state = declined_then_used.split("state=").nth(1).unwrap();
    app.get(
        &format!("/api/providers/spotify/callback?error=access_denied&state={state}"),
        None,
    )
    .await
    .error(400, "validation_failed");
    app.get(&declined_then_used, None)
        .await
        .error(400, "validation_failed");

    // Only the first connection logged a row.
    let activity = app.activity(&user).await;
    assert_eq!(rows_of(&activity, "provider_connect").len(), 1);
}

#[actix_web::test]
async fn listing_follows_next_links_and_import_reads_every_page() {
    let (fake, app, user) = connected!("importer");
    fake.add_playlist("big", ACCOUNT, 250);
    fake.add_playlist("theirs", "someone-else", 3);
    for i in 0..70 {
        fake.add_playlist(&format!("p{i}"), ACCOUNT, 1);
    }

    let page = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists?limit=60")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["total"], 72);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 60, "two of Spotify's pages of 50");
    assert_eq!(items[0]["spotify_playlist_id"], "big");
    assert_eq!(items[0]["track_count"], 250);
    assert_eq!(items[0]["writable"], true);
    assert_eq!(items[1]["writable"], false);
    assert_eq!(items[1]["owner"], "someone-else");
    let last = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists?limit=100&offset=60")
        .await;
    assert_eq!(last.body["items"].as_array().unwrap().len(), 12);

    let linked = import!(app, user, "big");
    assert_eq!(linked["provider"], "spotify");
    assert_eq!(linked["spotify_playlist_id"], "big");
    assert_eq!(linked["name"], "Mix big");
    assert_eq!(
        uris(&linked),
        fake.items("big"),
        "250 items over three pages"
    );
    assert_eq!(linked["tracks"][0]["artists"], json!(["Artist of bigt0"]));
    assert_eq!(linked["tracks"][0]["album_name"], "Fake Album");
    assert!(
        linked["tracks"][0]["tempo"].is_number(),
        "tempo from audio features"
    );

    let again = try_import!(app, user, "big");
    let error = again.error(409, "conflict");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains(linked["id"].as_str().unwrap()));
    try_import!(app, user, "theirs").error(409, "conflict");
    try_import!(app, user, "nope").error(404, "not_found");
    try_import!(app, user, "a/b").error(400, "validation_failed");

    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.body["items"][0]["linked_playlist_id"], linked["id"]);
    assert_eq!(listed.body["items"][1]["linked_playlist_id"], Value::Null);

    let activity = app.activity(&user).await;
    let created = rows_of(&activity, "playlist_create");
    assert_eq!(created[0]["metadata"]["provider"], "spotify");
    assert_eq!(created[0]["metadata"]["spotify_playlist_id"], "big");
    assert_eq!(created[0]["metadata"]["track_count"], 250);
}

#[actix_web::test]
async fn without_audio_features_tempo_stays_unknown_and_the_import_succeeds() {
    let (fake, app, user) = connected!("notempo");
    fake.add_playlist("quiet", ACCOUNT, 5);
    fake.lock().audio_features_forbidden = true;
    let linked = import!(app, user, "quiet");
    assert!(linked["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["tempo"].is_null()));
}

#[actix_web::test]
async fn a_shuffle_writes_the_exact_order_back_in_batches_of_100() {
    let (fake, app, user) = connected!("shuffler");
    fake.add_playlist("mix", ACCOUNT, 250);
    let linked = import!(app, user, "mix");
    let id = linked["id"].as_str().unwrap();
    let item_reads = fake.requests_matching("GET /v1/playlists/mix/tracks");

    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic", "seed": 7}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
    let order = uris(&res.body["playlist"]);
    assert_ne!(order, uris(&linked));
    assert_eq!(
        fake.items("mix"),
        order,
        "Spotify holds the service's order"
    );
    assert_eq!(res.body["provider"], "spotify");
    let snapshot = format!("snap-mix-{}", fake.lock().playlists["mix"].snapshot);
    assert_eq!(res.body["spotify_snapshot_id"], snapshot);
    assert_eq!(fake.requests_matching("PUT /v1/playlists/mix/tracks"), 1);
    assert_eq!(fake.requests_matching("POST /v1/playlists/mix/tracks"), 2);
    assert_eq!(
        fake.requests_matching("GET /v1/playlists/mix/tracks"),
        item_reads,
        "Spotify still at the imported snapshot: its items need not be read again"
    );

    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), order);

    let activity = app.activity(&user).await;
    let shuffle = rows_of(&activity, "shuffle")[0];
    assert_eq!(shuffle["metadata"]["provider"], "spotify");
    assert_eq!(shuffle["metadata"]["spotify_snapshot_id"], snapshot);
    assert!(
        shuffle["metadata"]["snapshot_id"].is_i64(),
        "the local snapshot first"
    );

    // Undo writes the earlier order back to Spotify too.
    let undone = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/undo"))
        .await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text);
    assert_eq!(uris(&undone.body), uris(&linked));
    assert_eq!(fake.items("mix"), uris(&linked));
}

#[actix_web::test]
async fn a_change_on_spotify_is_a_409_until_a_sync_which_undo_reverts() {
    let (fake, app, user) = connected!("syncer");
    fake.add_playlist("live", ACCOUNT, 6);
    let linked = import!(app, user, "live");
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
    let (fake, app, user) = connected!("mixed");
    let local = app.playlist(&user, "Here", sample_tracks("h", 3)).await;
    app.as_user(&user)
        .post_empty(&format!(
            "/api/playlists/{}/sync",
            local["id"].as_str().unwrap()
        ))
        .await
        .error(409, "conflict");
    fake.add_playlist("two", ACCOUNT, 2);
    let linked = import!(app, user, "two");
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
async fn a_spotify_item_the_api_cannot_write_back_makes_rewrites_409() {
    let (fake, app, user) = connected!("localfile");
    fake.add_playlist_items(
        "withlocal",
        ACCOUNT,
        vec![
            "spotify:track:a1".into(),
            "spotify:local:Band:Album:Demo:120".into(),
            "spotify:track:a2".into(),
            "spotify:track:a3".into(),
            "spotify:track:a4".into(),
            "spotify:track:a5".into(),
        ],
    );
    let linked = import!(app, user, "withlocal");
    assert_eq!(
        uris(&linked),
        [
            "spotify:track:a1",
            "spotify:track:a2",
            "spotify:track:a3",
            "spotify:track:a4",
            "spotify:track:a5"
        ],
        "a linked playlist holds only what can be written back"
    );
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{}/shuffle", linked["id"].as_str().unwrap()),
            json!({"algorithm": "basic", "seed": 3}),
        )
        .await;
    let error = res.error(409, "conflict");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("spotify:local:"),
        "{}",
        res.text
    );
    assert_eq!(
        fake.items("withlocal").len(),
        6,
        "nothing dropped on Spotify"
    );
}

#[actix_web::test]
async fn an_expired_access_token_is_refreshed_once_and_a_revoked_refresh_token_breaks_the_connection(
) {
    let (fake, app, user) = connected!("refresher");
    fake.add_playlist("one", ACCOUNT, 1);

    fake.expire_access_tokens();
    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let refreshes = |fake: &FakeSpotify| {
        fake.lock()
            .token_requests
            .iter()
            .filter(|b| b.contains("grant_type=refresh_token"))
            .count()
    };
    assert_eq!(refreshes(&fake), 1);
    assert_eq!(
        fake.requests_matching("GET /v1/me/playlists"),
        2,
        "the 401, then the retry"
    );
    // The new token was stored: the next call needs no refresh.
    app.as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(refreshes(&fake), 1);

    fake.expire_access_tokens();
    fake.revoke_refresh_tokens();
    let broken = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    let error = broken.error(409, "conflict");
    assert!(
        error["message"].as_str().unwrap().contains("broken"),
        "{}",
        broken.text
    );
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["broken"], true);
    assert!(status.body["broken_reason"]
        .as_str()
        .unwrap()
        .contains("connect again"));

    // Connecting again mends it.
    connect!(app, fake, user);
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["broken"], false);
    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
}

#[actix_web::test]
async fn a_short_429_is_waited_out_a_long_one_is_a_503_and_5xx_is_retried_twice() {
    let (fake, app, user) = connected!("patient");
    fake.add_playlist("one", ACCOUNT, 1);
    let list = "/api/providers/spotify/playlists";

    fake.inject(Some("GET"), "/v1/me/playlists", 429, Some(1), 1);
    let waited = app.as_user(&user).get(list).await;
    assert_eq!(waited.status, StatusCode::OK, "{}", waited.text);
    assert_eq!(fake.requests_matching("GET /v1/me/playlists"), 2);

    fake.inject(Some("GET"), "/v1/me/playlists", 429, Some(30), 1);
    let busy = app.as_user(&user).get(list).await;
    busy.error(503, "upstream_unavailable");
    assert_eq!(busy.header("retry-after"), Some("30"));

    let sent = fake.requests_matching("GET /v1/me/playlists");
    fake.inject(Some("GET"), "/v1/me/playlists", 500, None, 2);
    let retried = app.as_user(&user).get(list).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(
        fake.requests_matching("GET /v1/me/playlists"),
        sent + 3,
        "two retries"
    );

    fake.inject(Some("GET"), "/v1/me/playlists", 502, None, 3);
    app.as_user(&user)
        .get(list)
        .await
        .error(502, "upstream_error");
    assert_eq!(
        fake.requests_matching("GET /v1/me/playlists"),
        sent + 6,
        "and no more"
    );
}

#[actix_web::test]
async fn a_write_that_fails_part_way_leaves_the_order_and_marks_the_playlist_out_of_sync() {
    let (fake, app, user) = connected!("partway");
    fake.add_playlist("long", ACCOUNT, 150);
    let linked = import!(app, user, "long");
    let id = linked["id"].as_str().unwrap();
    let shuffle = format!("/api/playlists/{id}/shuffle");

    // The first batch replaces; the append fails (and is not sent again:
    // it might have been carried out).
    fake.inject(Some("POST"), "/v1/playlists/long/tracks", 500, None, 1);
    app.as_user(&user)
        .post(&shuffle, json!({"seed": 5}))
        .await
        .error(502, "upstream_error");
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(
        uris(&read.body),
        uris(&linked),
        "the local order is unchanged"
    );
    assert_eq!(read.body["version"], linked["version"]);
    assert_eq!(
        fake.items("long").len(),
        100,
        "Spotify got the first batch only"
    );

    let refused = app.as_user(&user).post(&shuffle, json!({"seed": 6})).await;
    let error = refused.error(409, "conflict");
    assert!(
        error["message"].as_str().unwrap().contains("sync first"),
        "{}",
        refused.text
    );

    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    assert_eq!(synced.body["removed"], 50);
    let again = app.as_user(&user).post(&shuffle, json!({"seed": 6})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(fake.items("long"), uris(&again.body["playlist"]));
}

#[actix_web::test]
async fn disconnecting_deletes_the_tokens_and_linked_playlists_wait_for_the_account() {
    let (fake, app, user) = connected!("leaver");
    fake.add_playlist("kept", ACCOUNT, 3);
    let linked = import!(app, user, "kept");
    let id = linked["id"].as_str().unwrap();

    let gone = app.as_user(&user).delete("/api/providers/spotify").await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    let count: i64 = provider_connections::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 0, "the tokens are deleted");
    app.as_user(&user)
        .delete("/api/providers/spotify")
        .await
        .error(404, "not_found");
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], false);

    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(read.body["provider"], "spotify", "still linked");
    app.as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 1}))
        .await
        .error(409, "conflict");
    app.as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await
        .error(409, "conflict");

    connect!(app, fake, user);
    let res = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 1}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let activity = app.activity(&user).await;
    let disconnected = rows_of(&activity, "provider_disconnect");
    assert_eq!(disconnected.len(), 1);
    assert_eq!(disconnected[0]["metadata"]["spotify_user_id"], ACCOUNT);
    assert_eq!(rows_of(&activity, "provider_connect").len(), 2);
}

#[actix_web::test]
async fn parallel_shuffles_of_a_linked_playlist_each_write_and_spotify_ends_as_stored() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::shared_file(), |s| fake.configure(s)).await;
    let user = app.user("racer").await;
    connect!(app, fake, user);
    fake.add_playlist("race", ACCOUNT, 120);
    let linked = import!(app, user, "race");
    let path = format!("/api/playlists/{}/shuffle", linked["id"].as_str().unwrap());
    let client = app.as_user(&user);
    let answers = futures_util::future::join_all(
        (0..4).map(|seed| client.post(&path, json!({"algorithm": "basic", "seed": seed + 10}))),
    )
    .await;
    for res in &answers {
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let read = client
        .get(&format!(
            "/api/playlists/{}",
            linked["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        fake.items("race"),
        uris(&read.body),
        "Spotify and the service agree"
    );
    let versions: std::collections::BTreeSet<i64> = answers
        .iter()
        .map(|r| r.body["playlist"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.len(), 4, "each shuffle wrote in turn");
}

/// Creates a schedule for `user`; answers its id.
macro_rules! schedule {
    ($app:expr, $user:expr, $body:expr) => {{
        let res = $app.as_user(&$user).post("/api/schedules", $body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body["id"].as_i64().unwrap()
    }};
}

#[actix_web::test]
async fn a_scheduled_shuffle_of_a_linked_playlist_writes_back_with_one_row() {
    let (fake, app, user) = connected!("scheduler");
    fake.add_playlist("sched", ACCOUNT, 30);
    let linked = import!(app, user, "sched");
    let id = linked["id"].as_str().unwrap();
    let schedule = schedule!(
        app,
        user,
        json!({"job_type": "shuffle", "target_playlist_id": id, "algorithm_name": "basic"})
    );
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "success", "{}", run.text);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_ne!(uris(&read.body), uris(&linked));
    assert_eq!(fake.items("sched"), uris(&read.body));
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metadata"]["status"], "success");
    assert_eq!(
        runs[0]["metadata"]["snapshot_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn a_scheduled_raid_from_a_spotify_source_fills_a_local_playlist() {
    let (fake, app, user) = connected!("raider");
    fake.add_playlist("public1", "a-curator", 4);
    let local = app.playlist(&user, "Inbox", sample_tracks("in", 2)).await;
    let id = local["id"].as_str().unwrap();
    let sources = format!("/api/playlists/{id}/upstream-sources");

    app.as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "missing", "source_type": "spotify"}),
        )
        .await
        .error(400, "validation_failed");
    let added = app
        .as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "public1", "source_type": "spotify"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.body["source_type"], "spotify");
    assert_eq!(added.body["source_name"], "Mix public1");
    let again = app
        .as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "public1", "source_type": "spotify"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "idempotent: {}", again.text);

    let schedule = schedule!(
        app,
        user,
        json!({"job_type": "raid", "target_playlist_id": id})
    );
    diesel::update(shuffify::db::schema::schedules::table.find(schedule))
        .set(
            shuffify::db::schema::schedules::next_run_at
                .eq(Some(shuffify::db::now() - chrono::Duration::minutes(1))),
        )
        .execute(&mut app.conn())
        .unwrap();
    let executor = shuffify::services::job_executor::JobExecutor::new(
        app.db.pool.clone(),
        shuffify::config::Lease::default(),
    )
    .with_spotify(app.state.spotify.clone());
    let pool = app.db.pool.clone();
    let ran = actix_web::web::block(move || {
        shuffify::scheduler::tick(
            &mut shuffify::db::Checkout::new(pool),
            &executor,
            &std::sync::atomic::AtomicBool::new(false),
        )
    })
    .await
    .unwrap();
    assert_eq!(ran, 1);

    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    let mut expected = uris(&local);
    expected.extend(fake.items("public1"));
    assert_eq!(
        uris(&read.body),
        expected,
        "the source's tracks appended in order"
    );
    assert_eq!(read.body["tracks"][2]["name"], "Song public1t0");
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["actor_type"], "scheduler");
    assert_eq!(runs[0]["metadata"]["tracks_added"], 4);
}

#[actix_web::test]
async fn a_raid_and_shuffle_of_a_linked_playlist_writes_the_final_order_back() {
    let (fake, app, user) = connected!("both");
    fake.add_playlist("target", ACCOUNT, 5);
    fake.add_playlist("feed", "a-curator", 3);
    let linked = import!(app, user, "target");
    let id = linked["id"].as_str().unwrap();
    // A local source too: its tracks are not Spotify's and stay out.
    let local = app
        .playlist(&user, "Local feed", sample_tracks("lf", 2))
        .await;
    for (source, kind) in [("feed", "spotify"), (local["id"].as_str().unwrap(), "own")] {
        let res = app
            .as_user(&user)
            .post(
                &format!("/api/playlists/{id}/upstream-sources"),
                json!({"source_playlist_id": source, "source_type": kind}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let schedule = schedule!(
        app,
        user,
        json!({"job_type": "raid_and_shuffle", "target_playlist_id": id,
            "algorithm_name": "basic"})
    );
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    assert_eq!(run.body["tracks_added"], 3);
    assert_eq!(run.body["tracks_total"], 8);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    let order = uris(&read.body);
    assert_eq!(fake.items("target"), order);
    let mut sorted = order.clone();
    sorted.sort();
    let mut expected = uris(&linked);
    expected.extend(fake.items("feed"));
    expected.sort();
    assert_eq!(sorted, expected);
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(
        runs[0]["metadata"]["snapshot_ids"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "before the raid and before the shuffle"
    );
}

#[actix_web::test]
async fn a_spotify_failure_fails_the_run_with_its_message_and_one_row() {
    let (fake, app, user) = connected!("unlucky");
    fake.add_playlist("moving", ACCOUNT, 8);
    let linked = import!(app, user, "moving");
    let id = linked["id"].as_str().unwrap();
    let schedule = schedule!(
        app,
        user,
        json!({"job_type": "shuffle", "target_playlist_id": id, "algorithm_name": "basic"})
    );
    fake.edit("moving", |items| items.reverse());
    let theirs = fake.items("moving");
    let snapshots = format!("/api/playlists/{id}/snapshots");
    let kept = app.as_user(&user).get(&snapshots).await.body["items"].clone();
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "failed");
    assert!(
        run.body["error_message"]
            .as_str()
            .unwrap()
            .contains("changed on Spotify"),
        "{}",
        run.text
    );
    assert_eq!(fake.items("moving"), theirs);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), uris(&linked));
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metadata"]["status"], "failed");
    assert!(runs[0]["metadata"]["error"]
        .as_str()
        .unwrap()
        .contains("sync first"));
    assert_eq!(runs[0]["metadata"]["snapshot_ids"], json!([]));
    let after = app.as_user(&user).get(&snapshots).await.body["items"].clone();
    assert_eq!(after, kept, "no snapshot of an order never replaced");

    // Nothing stays claimed: after a sync the next run goes through.
    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(fake.items("moving"), uris(&read.body));
}

#[test]
fn the_access_log_leaves_out_the_callbacks_code_and_state() {
    let callback = actix_web::test::TestRequest::with_uri(
        "/api/providers/spotify/callback?code=secret-code&state=secret-state",
    )
    .to_srv_request();
    assert_eq!(
        shuffify::access_log_request_line(&callback),
        "GET /api/providers/spotify/callback HTTP/1.1"
    );
}

#[actix_web::test]
async fn a_playlist_gone_from_spotify_answers_409_on_sync_and_shuffle() {
    let (fake, app, user) = connected!("orphan");
    fake.add_playlist("doomed", ACCOUNT, 4);
    let linked = import!(app, user, "doomed");
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

#[test]
fn a_client_id_without_a_valid_key_stops_start_up_naming_the_variable() {
    // `migrate` reads the same settings as `serve` and exits.
    for key in [None, Some("dG9vIHNob3J0")] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shuffify"));
        command
            .arg("migrate")
            .env("DATABASE_URL", "sqlite::memory:")
            .env("SPOTIFY_CLIENT_ID", "some-client")
            .env(
                "SPOTIFY_REDIRECT_URI",
                "http://127.0.0.1:8080/api/providers/spotify/callback",
            )
            .env_remove("TOKEN_ENCRYPTION_KEY");
        if let Some(key) = key {
            command.env("TOKEN_ENCRYPTION_KEY", key);
        }
        let out = command.output().expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("TOKEN_ENCRYPTION_KEY"), "{stderr}");
    }
    // With a good key it starts (and migrates).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shuffify"))
        .arg("migrate")
        .env("DATABASE_URL", "sqlite::memory:")
        .env("SPOTIFY_CLIENT_ID", "some-client")
        .env(
            "SPOTIFY_REDIRECT_URI",
            "http://127.0.0.1:8080/api/providers/spotify/callback",
        )
        .env(
            "TOKEN_ENCRYPTION_KEY",
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
        )
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[actix_web::test]
async fn an_append_whose_answer_is_lost_is_not_sent_twice() {
    let (fake, app, user) = connected!("lostanswer");
    fake.add_playlist("dup", ACCOUNT, 150);
    let linked = import!(app, user, "dup");
    let id = linked["id"].as_str().unwrap();
    // Spotify appends the second batch, but its answer never arrives.
    fake.inject_with(Injected {
        method: Some("POST"),
        path: "/v1/playlists/dup/tracks".into(),
        status: 500,
        after: true,
        times: 1,
        ..Injected::default()
    });
    let res = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 4}))
        .await;
    res.error(502, "upstream_error");
    assert_eq!(fake.items("dup").len(), 150, "no batch twice on Spotify");
    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    assert_eq!(uris(&synced.body["playlist"]), fake.items("dup"));
}

#[actix_web::test]
async fn a_sync_that_read_spotify_before_a_shuffle_wrote_does_not_undo_it() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::shared_file(), |s| fake.configure(s)).await;
    let user = app.user("racesync").await;
    connect!(app, fake, user);
    fake.add_playlist("both", ACCOUNT, 20);
    let linked = import!(app, user, "both");
    let id = linked["id"].as_str().unwrap();
    // The sync's read of the items is answered as of now, but arrives late.
    fake.inject_with(Injected {
        method: Some("GET"),
        path: "/v1/playlists/both/tracks".into(),
        status: 0,
        delay_ms: 1500,
        times: 1,
        ..Injected::default()
    });
    let client = app.as_user(&user);
    let sync_path = format!("/api/playlists/{id}/sync");
    let shuffle_path = format!("/api/playlists/{id}/shuffle");
    let (synced, shuffled) = futures_util::join!(client.post_empty(&sync_path), async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        client
            .post(&shuffle_path, json!({"algorithm": "basic", "seed": 8}))
            .await
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
}

#[actix_web::test]
async fn only_a_refused_refresh_token_breaks_the_connection() {
    let (fake, app, user) = connected!("misconfig");
    fake.expire_access_tokens();
    fake.inject_with(Injected {
        method: Some("POST"),
        path: "/api/token".into(),
        status: 400,
        body: Some(json!({"error": "invalid_client"})),
        times: 1,
        ..Injected::default()
    });
    let list = "/api/providers/spotify/playlists";
    app.as_user(&user)
        .get(list)
        .await
        .error(502, "upstream_error");
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["broken"], false, "{}", status.text);
    let listed = app.as_user(&user).get(list).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
}

#[actix_web::test]
async fn starting_many_authorizations_keeps_only_the_newest_five() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("clicker").await;
    let mut urls = Vec::new();
    for _ in 0..8 {
        let res = app
            .as_user(&user)
            .post_empty("/api/providers/spotify/authorize")
            .await;
        urls.push(res.body["authorize_url"].as_str().unwrap().to_string());
    }
    let pending: i64 = shuffify::db::schema::oauth_states::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(pending, 5);
    // The oldest no longer works; the newest does.
    let oldest = fake.consent(&urls[0]);
    app.get(&oldest, None).await.error(400, "validation_failed");
    let newest = fake.consent(&urls[7]);
    assert_eq!(app.get(&newest, None).await.status, StatusCode::SEE_OTHER);
}
