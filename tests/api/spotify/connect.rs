//! Connecting an account (PKCE, single-use state, at most five pending
//! authorizations), its tokens sealed at rest and refreshed on a 401, a
//! revoked refresh token breaking the connection, disconnecting, the
//! status route without Spotify configured, start-up without a valid key,
//! and the access log leaving out the callback's query.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use serde_json::{json, Value};

use shuffify::db::schema::provider_connections;

use super::{connected, sent_back_with};
use crate::fake_spotify::{FakeSpotify, Injected, ACCOUNT};
use crate::helpers::{rows_of, sample_tracks, spawn_app, spawn_app_with};

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

    let (_, done) = app.connect_spotify(&fake, &user).await;
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
async fn a_replayed_forged_expired_or_refused_state_is_sent_back_with_its_code() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("stater").await;
    let (callback, _) = app.connect_spotify(&fake, &user).await;

    // The same callback again: the state was used up.
    assert_eq!(
        sent_back_with(&app.get(&callback, None).await),
        "state_invalid"
    );
    // A state nobody issued.
    let forged = app
        .get("/api/providers/spotify/callback?code=x&state=forged", None)
        .await;
    assert_eq!(sent_back_with(&forged), "state_invalid");

    // An expired one, even from the browser that started it.
    let (url, cookie) = app.start_spotify(&user).await;
    let late = fake.consent(&url);
    diesel::update(shuffify::db::schema::oauth_states::table)
        .set(
            shuffify::db::schema::oauth_states::expires_at
                .eq(shuffify::db::now() - chrono::Duration::minutes(1)),
        )
        .execute(&mut app.conn())
        .unwrap();
    let expired = app.spotify_callback(&late, Some(&cookie), None).await;
    assert_eq!(sent_back_with(&expired), "expired");

    // The user declined, and the state cannot be used afterwards.
    let (url, cookie) = app.start_spotify(&user).await;
    let declined_then_used = fake.consent(&url);
    let state = declined_then_used.split("state=").nth(1).unwrap();
    let declined = app
        .spotify_callback(
            &format!("/api/providers/spotify/callback?error=access_denied&state={state}"),
            Some(&cookie),
            None,
        )
        .await;
    assert_eq!(sent_back_with(&declined), "access_denied");
    let used = app
        .spotify_callback(&declined_then_used, Some(&cookie), None)
        .await;
    assert_eq!(sent_back_with(&used), "state_invalid");

    // Only the first connection logged a row.
    let activity = app.activity(&user).await;
    assert_eq!(rows_of(&activity, "provider_connect").len(), 1);
}

#[actix_web::test]
async fn an_expired_access_token_is_refreshed_once_and_a_revoked_refresh_token_breaks_the_connection(
) {
    let (fake, app, user) = connected("refresher").await;
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
    app.connect_spotify(&fake, &user).await;
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["broken"], false);
    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
}

#[actix_web::test]
async fn disconnecting_deletes_the_tokens_and_linked_playlists_wait_for_the_account() {
    let (fake, app, user) = connected("leaver").await;
    fake.add_playlist("kept", ACCOUNT, 3);
    let linked = app.import(&user, "kept").await;
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

    app.connect_spotify(&fake, &user).await;
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

#[test]
fn a_client_id_without_a_valid_key_stops_start_up_naming_the_variable() {
    // `migrate` reads the same settings as `serve` and exits.
    let migrate = |key: Option<&str>| {
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
        command.output().expect("the binary runs")
    };
    for key in [None, Some("dG9vIHNob3J0")] {
        let out = migrate(key);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("TOKEN_ENCRYPTION_KEY"), "{stderr}");
    }
    // With a good key it starts (and migrates).
    let out = migrate(Some("KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[actix_web::test]
async fn only_a_refused_refresh_token_breaks_the_connection() {
    let (fake, app, user) = connected("misconfig").await;
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
    let mut started = Vec::new();
    for _ in 0..8 {
        started.push(app.start_spotify(&user).await);
    }
    let pending: i64 = shuffify::db::schema::oauth_states::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(pending, 5);
    // The oldest no longer works, even with its cookie; the newest does.
    let oldest = fake.consent(&started[0].0);
    let res = app
        .spotify_callback(&oldest, Some(&started[0].1), None)
        .await;
    assert_eq!(sent_back_with(&res), "state_invalid");
    let newest = fake.consent(&started[7].0);
    let done = app
        .spotify_callback(&newest, Some(&started[7].1), None)
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
}
