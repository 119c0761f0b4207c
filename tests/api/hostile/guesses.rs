//! Guessing the secrets that open something without a bearer token: a
//! stream ticket and a Spotify callback's `state`. The wrong shape is
//! refused without a single statement; a well-formed value that matches
//! nothing takes a token from the address's login bucket, and once that
//! bucket is empty the next guesses are refused (429 for a ticket, the
//! callback's `rate_limited` redirect for a state) before any lookup, so
//! even a real ticket or state presented then is not spent. One that
//! matches costs nothing.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use diesel::prelude::*;

use shuffify::db::schema::{oauth_states, stream_tickets};
use shuffify::services::auth::new_token;

use crate::fake_spotify::FakeSpotify;
use crate::helpers::{spawn_app_on, spawn_app_with, TestDb, TestResponse};
use crate::spotify::sent_back_with;

/// The guesser's address, apart from the 127.0.0.1 of the test users'
/// own logins.
const GUESSER: &str = "192.0.2.10:5000";

fn get_from(peer: &str, uri: &str) -> actix_http::Request {
    TestRequest::get()
        .uri(uri)
        .peer_addr(peer.parse().unwrap())
        .to_request()
}

fn no_statements(res: &TestResponse) {
    assert_eq!(res.round_trips, Some(0), "{}", res.text);
}

fn counts(conn: &mut shuffify::db::DbConnection) -> (i64, i64) {
    let tickets = stream_tickets::table.count().get_result(conn).unwrap();
    let states = oauth_states::table.count().get_result(conn).unwrap();
    (tickets, states)
}

#[actix_web::test]
async fn tickets_and_states_of_the_wrong_shape_are_refused_without_a_statement() {
    let fake = FakeSpotify::start();
    let configured = fake.clone();
    let app = spawn_app_with(move |s| {
        configured.configure(s);
        s.login_per_second = 0;
        s.login_burst = 1;
    })
    .await;
    let user = app.user("shapes").await;
    let ticket = app
        .as_user(&user)
        .post_empty("/api/activity/stream/tickets")
        .await;
    assert_eq!(ticket.status, StatusCode::CREATED);
    let before = counts(&mut app.conn());

    let long = "a".repeat(44);
    let dotted = format!("{}.", &new_token()[..42]);
    let spaces = "%20".repeat(43);
    for bad in ["short", &long, &dotted, &spaces, "a+b/c="] {
        let res = app
            .call(get_from(
                GUESSER,
                &format!("/api/activity/stream?ticket={bad}"),
            ))
            .await;
        res.error(401, "unauthorized");
        no_statements(&res);
    }
    let long = "s".repeat(23);
    for bad in ["forged", long.as_str(), "abcdefghij+klmnopqrstu", "%2e%2e"] {
        let uri = format!("/api/providers/spotify/callback?code=c&state={bad}");
        let res = app.call(get_from(GUESSER, &uri)).await;
        assert_eq!(sent_back_with(&res), "state_invalid");
        no_statements(&res);
        // Spotify's refusal with such a state does not look it up either.
        let uri = format!("/api/providers/spotify/callback?error=access_denied&state={bad}");
        let res = app.call(get_from(GUESSER, &uri)).await;
        assert_eq!(sent_back_with(&res), "state_invalid");
        no_statements(&res);
    }

    assert_eq!(counts(&mut app.conn()), before, "nothing stored or spent");
    // None of them drew from the guesser's bucket of one.
    let unknown = format!("/api/activity/stream?ticket={}", new_token());
    let res = app.call(get_from(GUESSER, &unknown)).await;
    res.error(401, "unauthorized");
}

#[actix_web::test]
async fn unknown_tickets_drain_the_login_bucket_then_answer_429_before_any_lookup() {
    let app = spawn_app_on(TestDb::shared_file(), |s| {
        s.login_per_second = 0;
        s.login_burst = 3;
    })
    .await;
    let user = app.user("watcher").await;
    let ticket = || async {
        let res = app
            .as_user(&user)
            .post_empty("/api/activity/stream/tickets")
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body["ticket"].as_str().unwrap().to_string()
    };

    // Real tickets cost nothing, however many.
    for _ in 0..4 {
        let uri = format!("/api/activity/stream?ticket={}", ticket().await);
        let opened = app.call_raw(get_from(GUESSER, &uri)).await;
        assert_eq!(opened.status(), StatusCode::OK);
    }
    // Three guesses take the bucket's three tokens …
    for _ in 0..3 {
        let uri = format!("/api/activity/stream?ticket={}", new_token());
        app.call(get_from(GUESSER, &uri))
            .await
            .error(401, "unauthorized");
    }
    // … and then every ticket from there is refused before its lookup: a
    // real one is not spent.
    let uri = format!("/api/activity/stream?ticket={}", new_token());
    let refused = app.call(get_from(GUESSER, &uri)).await;
    refused.error(429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
    let real = ticket().await;
    let uri = format!("/api/activity/stream?ticket={real}");
    let refused = app.call_raw(get_from(GUESSER, &uri)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let unused: i64 = stream_tickets::table
        .filter(stream_tickets::used_at.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(unused, 1, "the refused real ticket was not spent");
    // The guesser's logins share the empty bucket; other addresses do not.
    let login = TestRequest::post()
        .uri("/api/auth/login")
        .peer_addr(GUESSER.parse().unwrap())
        .insert_header(("Content-Type", "application/json"))
        .set_payload(
            serde_json::json!({"username": user.username, "password": user.password}).to_string(),
        )
        .to_request();
    app.call(login).await.error(429, "rate_limited");
    let opened = app.call_raw(get_from("127.0.0.1:40000", &uri)).await;
    assert_eq!(opened.status(), StatusCode::OK);
}

#[actix_web::test]
async fn unknown_states_drain_the_login_bucket_then_are_refused_before_any_lookup() {
    let fake = FakeSpotify::start();
    let configured = fake.clone();
    let app = spawn_app_with(move |s| {
        configured.configure(s);
        s.login_per_second = 0;
        s.login_burst = 2;
    })
    .await;
    let user = app.user("linker").await;
    let guessed = || new_token()[..22].to_string();

    for _ in 0..2 {
        let uri = format!("/api/providers/spotify/callback?code=c&state={}", guessed());
        let res = app.call(get_from(GUESSER, &uri)).await;
        assert_eq!(sent_back_with(&res), "state_invalid");
    }
    let uri = format!("/api/providers/spotify/callback?code=c&state={}", guessed());
    let res = app.call(get_from(GUESSER, &uri)).await;
    assert_eq!(sent_back_with(&res), "rate_limited");

    // A real state presented from the guesser's address now is refused
    // before its lookup, and still works from elsewhere.
    let (url, cookie) = app.start_spotify(&user).await;
    let callback = fake.consent(&url);
    let from = |peer: &str| {
        TestRequest::get()
            .uri(&callback)
            .peer_addr(peer.parse().unwrap())
            .insert_header(("Cookie", cookie.as_str()))
            .to_request()
    };
    assert_eq!(
        sent_back_with(&app.call(from(GUESSER)).await),
        "rate_limited"
    );
    let done = app.call(from("127.0.0.1:40000")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
}
