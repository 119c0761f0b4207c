//! A connection belongs to the browser that asked for it: the
//! `shuffify_spotify` cookie `authorize` sets, a callback without it
//! refused before the state is spent, a consent URL sent to someone else
//! linking nothing, one user per Spotify account, logout dropping pending
//! authorizations, and every refusal sending the browser back to the
//! settings page with its reason's code.

use actix_web::http::{Method, StatusCode};
use diesel::prelude::*;
use serde_json::json;

use shuffify::db::schema::provider_connections;
use shuffify::enums::Provider;
use shuffify::models::provider_connection::NewProviderConnection;

use super::{sent_back_with, spotify_cookie};
use crate::fake_spotify::{FakeSpotify, Injected, ACCOUNT};
use crate::helpers::{rows_of, spawn_app_with};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn links(conn: &mut shuffify::db::DbConnection) -> i64 {
    provider_connections::table
        .count()
        .get_result(conn)
        .unwrap()
}

#[actix_web::test]
async fn a_callback_without_the_cookie_links_nothing_and_leaves_the_state_to_its_browser() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("binder").await;
    let (url, cookie) = app.start_spotify(&user).await;
    let callback = fake.consent(&url);

    let bare = app.spotify_callback(&callback, None, None).await;
    assert_eq!(sent_back_with(&bare), "cookie_mismatch");
    let wrong = app
        .spotify_callback(&callback, Some("shuffify_spotify=not-the-nonce"), None)
        .await;
    assert_eq!(sent_back_with(&wrong), "cookie_mismatch");
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], false, "{}", status.text);
    assert_eq!(links(&mut app.conn()), 0);

    // The state was not spent: the browser with the cookie completes it.
    let done = app.spotify_callback(&callback, Some(&cookie), None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.header("location"), Some("/"));
    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], true, "{}", status.text);
    assert_eq!(status.body["spotify_user_id"], ACCOUNT);
}

#[actix_web::test]
async fn a_consent_url_sent_to_someone_else_links_nothing() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let attacker = app.user("mallory").await;
    let victim = app.user("victim").await;
    // The attacker starts on their own account and sends the URL; the
    // victim's browser holds a cookie of its own (from its own
    // authorization), or none.
    let (forged_url, _attackers_cookie) = app.start_spotify(&attacker).await;
    let (_, victims_cookie) = app.start_spotify(&victim).await;
    let forged = fake.consent_as(&forged_url, "victims-spotify");

    for cookie in [Some(victims_cookie.as_str()), None] {
        for accept in [None, Some(HTML)] {
            let res = app.spotify_callback(&forged, cookie, accept).await;
            assert_eq!(sent_back_with(&res), "cookie_mismatch");
        }
    }

    for user in [&attacker, &victim] {
        let status = app.as_user(user).get("/api/providers/spotify").await;
        assert_eq!(status.body["connected"], false, "{}", status.text);
        let activity = app.activity(user).await;
        assert!(rows_of(&activity, "provider_connect").is_empty());
    }
    assert_eq!(links(&mut app.conn()), 0);
}

#[actix_web::test]
async fn a_spotify_account_links_to_one_user_only() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let first = app.user("first").await;
    let second = app.user("second").await;
    app.connect_spotify(&fake, &first).await;

    // The second user, in their own browser, consents with the same account.
    let (url, cookie) = app.start_spotify(&second).await;
    let callback = fake.consent(&url);
    let refused = app.spotify_callback(&callback, Some(&cookie), None).await;
    assert_eq!(sent_back_with(&refused), "account_linked_elsewhere");
    let (url, cookie) = app.start_spotify(&second).await;
    let callback = fake.consent(&url);
    let res = app
        .spotify_callback(&callback, Some(&cookie), Some(HTML))
        .await;
    assert_eq!(sent_back_with(&res), "account_linked_elsewhere");

    let status = app.as_user(&second).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], false, "{}", status.text);
    assert!(rows_of(&app.activity(&second).await, "provider_connect").is_empty());
    let status = app.as_user(&first).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], true, "{}", status.text);
    assert_eq!(status.body["spotify_user_id"], ACCOUNT);

    // The first user reconnecting the same account still works.
    app.connect_spotify(&fake, &first).await;
    let status = app.as_user(&first).get("/api/providers/spotify").await;
    assert_eq!(status.body["spotify_user_id"], ACCOUNT);
    assert_eq!(links(&mut app.conn()), 1);

    // The database holds the rule too.
    let now = shuffify::db::now();
    let duplicate = NewProviderConnection {
        user_id: second.id,
        provider: Provider::Spotify,
        account_id: ACCOUNT,
        display_name: None,
        scopes: "",
        access_token: "sealed",
        refresh_token: "sealed",
        access_expires_at: now,
        connected_at: now,
        updated_at: now,
    }
    .upsert(&mut app.conn());
    assert!(
        matches!(
            duplicate,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        ),
        "{duplicate:?}"
    );
}

#[actix_web::test]
async fn logging_out_drops_that_sessions_pending_authorizations() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("leaving").await;
    let mut other_session = user.clone();
    let login = app.login(&user.username, &user.password).await;
    other_session.token = login.body["token"].as_str().unwrap().to_string();

    let (dropped_url, dropped_cookie) = app.start_spotify(&user).await;
    let (kept_url, kept_cookie) = app.start_spotify(&other_session).await;
    let out = app
        .as_user(&user)
        .send(Method::POST, "/api/auth/logout", None, &[])
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);

    let dropped = fake.consent(&dropped_url);
    let res = app
        .spotify_callback(&dropped, Some(&dropped_cookie), Some(HTML))
        .await;
    assert_eq!(sent_back_with(&res), "state_invalid");
    let status = app
        .as_user(&other_session)
        .get("/api/providers/spotify")
        .await;
    assert_eq!(status.body["connected"], false, "{}", status.text);

    // The session still signed in keeps its own.
    let kept = fake.consent(&kept_url);
    let done = app.spotify_callback(&kept, Some(&kept_cookie), None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
}

#[actix_web::test]
async fn every_refusal_sends_the_browser_back_to_the_settings_page_with_its_code() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("browsing").await;

    // Declined on Spotify's page; Spotify's own words stay out of the URL.
    let (url, cookie) = app.start_spotify(&user).await;
    let callback = fake.consent(&url);
    let state = callback.split("state=").nth(1).unwrap();
    let declined = format!(
        "/api/providers/spotify/callback?error=access_denied%20by%20%3Cme%3E&state={state}"
    );
    let res = app.spotify_callback(&declined, Some(&cookie), None).await;
    assert_eq!(sent_back_with(&res), "access_denied");
    // A state nobody issued, one of the wrong shape, none at all, and no
    // code: whatever the `Accept`, a redirect, never JSON.
    for path in [
        "/api/providers/spotify/callback?code=x&state=forged",
        "/api/providers/spotify/callback?code=x&state=%2e%2e",
        "/api/providers/spotify/callback",
        &format!("/api/providers/spotify/callback?state={state}"),
    ] {
        for accept in [Some(HTML), None, Some("application/json")] {
            let res = app.spotify_callback(path, Some(&cookie), accept).await;
            assert_eq!(sent_back_with(&res), "state_invalid", "{path}");
        }
    }

    // Only a query outside its own schema (no redirect from Spotify
    // carries one) is the JSON 400.
    let long = format!(
        "/api/providers/spotify/callback?code=x&state={}",
        "s".repeat(2049)
    );
    for path in [
        long.as_str(),
        "/api/providers/spotify/callback?error=access%00denied",
    ] {
        let res = app.spotify_callback(path, Some(&cookie), Some(HTML)).await;
        assert_eq!(
            res.error(400, "validation_failed")["details"][0]["field"],
            "query"
        );
    }

    // Spotify refuses the code, whatever the `Accept`.
    for accept in [Some(HTML), None, Some("application/json")] {
        fake.inject_with(Injected {
            method: Some("POST"),
            path: "/api/token".into(),
            status: 400,
            body: Some(json!({"error": "invalid_grant"})),
            times: 1,
            ..Injected::default()
        });
        let (url, cookie) = app.start_spotify(&user).await;
        let callback = fake.consent(&url);
        let res = app.spotify_callback(&callback, Some(&cookie), accept).await;
        assert_eq!(sent_back_with(&res), "exchange_failed");
    }

    // Spotify fails during the exchange.
    let (url, cookie) = app.start_spotify(&user).await;
    let callback = fake.consent(&url);
    fake.inject(Some("GET"), "/v1/me", 500, None, 10);
    let res = app.spotify_callback(&callback, Some(&cookie), None).await;
    fake.lock().injected.clear();
    assert_eq!(sent_back_with(&res), "exchange_failed");

    let status = app.as_user(&user).get("/api/providers/spotify").await;
    assert_eq!(status.body["connected"], false, "{}", status.text);
    assert!(rows_of(&app.activity(&user).await, "provider_connect").is_empty());

    // Success sends the browser to the app.
    let (url, cookie) = app.start_spotify(&user).await;
    let callback = fake.consent(&url);
    let done = app
        .spotify_callback(&callback, Some(&cookie), Some(HTML))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    assert_eq!(done.header("location"), Some("/"));
}

#[actix_web::test]
async fn the_cookie_is_scoped_to_the_callback_and_cleared_on_success() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| fake.configure(s)).await;
    let user = app.user("crumbs").await;
    let started = app
        .as_user(&user)
        .post_empty("/api/providers/spotify/authorize")
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    let first = spotify_cookie(&started).expect("a cookie");
    assert_eq!(first.value().len(), 43, "a random nonce");
    assert_eq!(first.http_only(), Some(true));
    assert_eq!(first.same_site(), Some(actix_web::cookie::SameSite::Lax));
    assert_eq!(first.path(), Some("/api/providers/spotify/callback"));
    assert_eq!(
        first.max_age(),
        Some(actix_web::cookie::time::Duration::seconds(600))
    );
    assert_eq!(first.secure(), None, "the redirect URI is http");

    // A second authorization in the same browser replaces the cookie
    // (same name and path); the first state no longer matches it.
    let again = app
        .as_user(&user)
        .post_empty("/api/providers/spotify/authorize")
        .await;
    let second = spotify_cookie(&again).expect("a cookie");
    assert_eq!((second.name(), second.path()), (first.name(), first.path()));
    assert_ne!(second.value(), first.value());
    let browser = format!("shuffify_spotify={}", second.value());
    let stale = fake.consent(started.body["authorize_url"].as_str().unwrap());
    let res = app.spotify_callback(&stale, Some(&browser), None).await;
    assert_eq!(sent_back_with(&res), "cookie_mismatch");

    let callback = fake.consent(again.body["authorize_url"].as_str().unwrap());
    let done = app.spotify_callback(&callback, Some(&browser), None).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let cleared = spotify_cookie(&done).expect("the cookie is cleared");
    assert_eq!(cleared.value(), "");
    assert_eq!(
        cleared.max_age(),
        Some(actix_web::cookie::time::Duration::ZERO)
    );
    assert_eq!(cleared.path(), first.path());
}

#[actix_web::test]
async fn the_cookie_is_secure_when_the_redirect_uri_is_https() {
    let fake = FakeSpotify::start();
    let app = spawn_app_with(|s| {
        fake.configure(s);
        if let Some(spotify) = s.spotify.as_mut() {
            spotify.redirect_uri = "https://shuffify.example/spotify/back".into();
        }
    })
    .await;
    let user = app.user("secured").await;
    let started = app
        .as_user(&user)
        .post_empty("/api/providers/spotify/authorize")
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    let cookie = spotify_cookie(&started).expect("a cookie");
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.path(), Some("/spotify/back"));
    let raw = started.header("set-cookie").unwrap();
    assert!(raw.contains("; Secure"), "{raw}");
    assert!(raw.contains("; HttpOnly"), "{raw}");
}
