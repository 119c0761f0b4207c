//! The connected account's Liked Songs as a raid's source
//! (`source_type: "spotify_liked"`, id `liked`): read from `GET /me/tracks`
//! page by page, appended oldest liked first, and refused with a request
//! to connect again when the connection lacks `user-library-read`.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::connected;
use crate::fake_spotify::ACCOUNT;
use crate::helpers::{rows_of, uris};

/// `n` Spotify track URIs `spotify:track:<prefix><i>`.
fn spotify_uris(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("spotify:track:{prefix}{i}"))
        .collect()
}

fn tracks_of(uris: &[String]) -> Value {
    Value::Array(
        uris.iter()
            .map(|u| json!({"uri": u, "name": u, "artists": ["Someone"]}))
            .collect(),
    )
}

fn liked_source() -> Value {
    json!({"source_playlist_id": "liked", "source_type": "spotify_liked"})
}

#[actix_web::test]
async fn a_raid_from_liked_songs_appends_what_the_target_lacks_oldest_liked_first() {
    let (fake, app, user) = connected("liker").await;
    // 120 likes: three pages of `/me/tracks`, which lists the newest first.
    let liked = spotify_uris("liked", 120);
    fake.like(ACCOUNT, &liked);
    // The target already holds the 3rd oldest like.
    let held = vec!["spotify:track:own0".to_string(), liked[2].clone()];
    let target = app.playlist(&user, "Inbox", tracks_of(&held)).await;
    let id = target["id"].as_str().unwrap();
    let sources = format!("/api/playlists/{id}/upstream-sources");

    let added = app.as_user(&user).post(&sources, liked_source()).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.body["source_type"], "spotify_liked");
    assert_eq!(added.body["source_playlist_id"], "liked");
    assert_eq!(added.body["source_name"], "Liked Songs");
    let again = app.as_user(&user).post(&sources, liked_source()).await;
    assert_eq!(again.status, StatusCode::OK, "idempotent: {}", again.text);
    assert_eq!(
        fake.requests_matching("/v1/me/tracks"),
        0,
        "adding reads nothing"
    );

    let schedule = app
        .schedule(&user, json!({"job_type": "raid", "target_playlist_id": id}))
        .await;
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    assert_eq!(run.body["tracks_added"], 119);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    let mut expected = held.clone();
    expected.extend(liked.iter().filter(|u| **u != liked[2]).cloned());
    assert_eq!(uris(&read.body), expected, "oldest liked first, once each");
    assert_eq!(read.body["tracks"][2]["name"], "Song liked0");
    assert_eq!(fake.requests_matching("/v1/me/tracks"), 3);
    assert!(
        fake.lock()
            .requests
            .iter()
            .filter(|r| r.contains("/v1/me/tracks"))
            .all(|r| r.contains("limit=50")),
        "pages of 50"
    );
    let activity = app.activity(&user).await;
    assert_eq!(
        rows_of(&activity, "schedule_run")[0]["metadata"]["tracks_added"],
        119
    );
}

#[actix_web::test]
async fn liked_songs_take_the_id_liked_and_a_configured_spotify() {
    let (_fake, app, user) = connected("picky").await;
    let target = app.playlist(&user, "Inbox", tracks_of(&[])).await;
    let sources = format!(
        "/api/playlists/{}/upstream-sources",
        target["id"].as_str().unwrap()
    );
    app.as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "37i9dQZF1DXcBWIGoYBM5M", "source_type": "spotify_liked"}),
        )
        .await
        .error(400, "validation_failed");
    let stranger = app.user("stranger").await;
    let theirs = app.playlist(&stranger, "Theirs", tracks_of(&[])).await;
    app.as_user(&user)
        .post(
            &format!(
                "/api/playlists/{}/upstream-sources",
                theirs["id"].as_str().unwrap()
            ),
            liked_source(),
        )
        .await
        .error(404, "not_found");
    app.as_user(&stranger)
        .post(
            &format!(
                "/api/playlists/{}/upstream-sources",
                theirs["id"].as_str().unwrap()
            ),
            liked_source(),
        )
        .await
        .error(409, "conflict");
}

#[actix_web::test]
async fn a_connection_without_the_library_scope_is_asked_to_connect_again() {
    let (fake, app, user) = connected("older").await;
    fake.like(ACCOUNT, &spotify_uris("l", 3));
    let target = app.playlist(&user, "Inbox", tracks_of(&[])).await;
    let id = target["id"].as_str().unwrap();
    let sources = format!("/api/playlists/{id}/upstream-sources");
    let added = app.as_user(&user).post(&sources, liked_source()).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let schedule = app
        .schedule(&user, json!({"job_type": "raid", "target_playlist_id": id}))
        .await;

    // The grant as it was before the service asked for Liked Songs.
    let older = "playlist-read-private playlist-read-collaborative \
                 playlist-modify-private playlist-modify-public";
    fake.lock().granted_scope = Some(older.to_string());
    app.connect_spotify(&fake, &user).await;
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert!(!status.body["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "user-library-read"));

    // Adding answers 409 asking to connect again, and stores nothing.
    let other = app.playlist(&user, "Other", tracks_of(&[])).await;
    let refused = app
        .as_user(&user)
        .post(
            &format!(
                "/api/playlists/{}/upstream-sources",
                other["id"].as_str().unwrap()
            ),
            liked_source(),
        )
        .await;
    refused.error(409, "conflict");
    assert!(
        refused.text.contains("connect Spotify again"),
        "{}",
        refused.text
    );

    // A run of the source added before fails with the same request, and
    // asks Spotify nothing.
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "failed", "{}", run.text);
    assert!(
        run.body["error_message"]
            .as_str()
            .unwrap()
            .contains("connect Spotify again"),
        "{}",
        run.text
    );
    assert_eq!(fake.requests_matching("/v1/me/tracks"), 0);
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs[0]["metadata"]["status"], "failed");

    // Should Spotify refuse the read all the same, the run says the same.
    diesel::update(shuffify::db::schema::provider_connections::table)
        .set(
            shuffify::db::schema::provider_connections::scopes
                .eq("playlist-read-private user-library-read"),
        )
        .execute(&mut app.conn())
        .unwrap();
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "failed", "{}", run.text);
    assert!(run.body["error_message"]
        .as_str()
        .unwrap()
        .contains("connect Spotify again"));
}

/// The scopes `GET /api/providers/spotify` reports.
async fn scopes_of<S, B>(
    app: &crate::helpers::TestApp<S>,
    user: &crate::helpers::TestUser,
) -> Vec<String>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let status = app.as_user(user).get("/api/providers/spotify").await;
    status.body["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn a_refresh_without_scope_keeps_the_grant_and_one_with_scope_replaces_it() {
    let (fake, app, user) = connected("refresher").await;
    assert!(scopes_of(&app, &user)
        .await
        .iter()
        .any(|s| s == "user-library-read"));

    fake.lock().refresh_omits_scope = true;
    fake.expire_access_tokens();
    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert!(
        scopes_of(&app, &user)
            .await
            .iter()
            .any(|s| s == "user-library-read"),
        "an answer without scope leaves the stored grant as it was"
    );

    {
        let mut s = fake.lock();
        s.refresh_omits_scope = false;
        s.granted_scope = Some("playlist-read-private playlist-modify-private".into());
    }
    fake.expire_access_tokens();
    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(
        scopes_of(&app, &user).await,
        ["playlist-read-private", "playlist-modify-private"],
        "the grant Spotify answers with replaces the stored one"
    );
}
