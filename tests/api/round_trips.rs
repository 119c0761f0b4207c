//! Every request counts the statements it sends to the
//! database, and an authenticated read makes at most two round trips: the
//! token's lookup and its own query. Counted on both backends (on SQLite a
//! statement is not a network round trip, but the count is the same).

use serde_json::json;

use crate::helpers::{sample_tracks, spawn_app};

#[actix_web::test]
async fn authenticated_reads_make_at_most_two_round_trips() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let client = app.as_user(&alice);
    let playlist = app.playlist(&alice, "Mix", sample_tracks("rt", 30)).await;
    let id = playlist["id"].as_str().unwrap();
    for _ in 0..3 {
        let shuffled = client
            .post(&format!("/api/playlists/{id}/shuffle"), json!({}))
            .await;
        assert_eq!(shuffled.status, 200, "{}", shuffled.text);
    }
    // A second page needs a cursor from a first one.
    let first = client.get("/api/activity?limit=2").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let since = client
        .get("/api/activity/since?since=last_login&limit=1")
        .await;
    let since_cursor = since.body["next_cursor"].as_str().unwrap().to_string();

    let reads = [
        "/api/me".to_string(),
        "/api/activity/recent".to_string(),
        "/api/activity/recent?limit=5&type=shuffle".to_string(),
        "/api/activity?limit=2".to_string(),
        format!("/api/activity?limit=2&cursor={cursor}"),
        "/api/activity?types=shuffle&actors=user&range=7d&q=mix".to_string(),
        "/api/activity/since?since=2020-01-01T00:00:00Z".to_string(),
        "/api/activity/since?since=2020-01-01T00:00:00Z&limit=1&cursor={since_cursor}"
            .replace("{since_cursor}", &since_cursor),
        "/api/activity/summary?days=30".to_string(),
    ];
    let reads = [
        &reads[..],
        &[
            "/api/activity?page=1&limit=2".to_string(),
            "/api/activity?page=2&limit=2&types=shuffle,login".to_string(),
            "/api/activity/since?since=last_login&limit=1".to_string(),
            format!("/api/activity/since?since=last_login&limit=1&cursor={since_cursor}"),
        ],
    ]
    .concat();
    for path in &reads {
        let res = client.get(path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        let trips = res.round_trips.expect("every response carries its count");
        assert!((1..=2).contains(&trips), "{path} made {trips} round trips");
    }

    // A page past the end has no row to carry the total: it is counted
    // apart, and still right.
    let first_page = client.get("/api/activity?page=1&limit=2").await;
    let past_the_end = client.get("/api/activity?page=50&limit=2").await;
    assert_eq!(past_the_end.body["items"], json!([]));
    assert!(first_page.body["total"].as_i64().unwrap() > 2);
    assert_eq!(past_the_end.body["total"], first_page.body["total"]);
    assert_eq!(past_the_end.round_trips, Some(3));

    // The count is per request, not per connection or per thread: a write
    // counts its own statements, and a 401 that never reached the
    // database counts none.
    let unauthenticated = app.get("/api/activity/recent", None).await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.round_trips, Some(0));
    let shuffled = client
        .post(&format!("/api/playlists/{id}/shuffle"), json!({}))
        .await;
    assert!(
        shuffled.round_trips.unwrap() > 2,
        "{:?}",
        shuffled.round_trips
    );
}

/// The activity reads look their token up on their own connection, in
/// the one trip to the blocking pool that runs their query, and a bad
/// token is still a 401 before a bad query: also when the query check
/// refuses the request before the handler runs, and after a logout or a
/// session ended from another one.
#[actix_web::test]
async fn activity_reads_take_one_trip_with_their_token() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let client = app.as_user(&alice);
    let reads = [
        "/api/activity/recent?limit=20",
        "/api/activity?limit=50",
        "/api/activity/since?since=2020-01-01T00:00:00Z",
        "/api/activity/summary?days=30",
    ];
    for path in reads {
        let res = client.get(path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        assert_eq!(res.blocking_trips, Some(1), "{path}");
        assert_eq!(res.round_trips, Some(2), "{path}");
    }
    // Two sessions of one user: the second ends the first, then logs out.
    let login = app.login(&alice.username, &alice.password).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let second = login.body["token"].as_str().unwrap().to_string();
    let sessions = app.get("/api/me/sessions", Some(&second)).await;
    assert_eq!(sessions.status, 200, "{}", sessions.text);
    let first_id = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == json!(false))
        .map(|s| s["id"].as_i64().unwrap())
        .expect("the first session is listed");
    let ended = app
        .delete(&format!("/api/me/sessions/{first_id}"), Some(&second))
        .await;
    assert!(ended.status.is_success(), "{}", ended.text);
    for path in reads {
        for query in ["", "&unknown=1", "&limit=x"] {
            let res = app.get(&format!("{path}{query}"), Some(&alice.token)).await;
            assert_eq!(res.status, 401, "{path}{query}: {}", res.text);
            assert!(res.text.contains("revoked"), "{path}{query}: {}", res.text);
        }
    }
    let logout = app.post("/api/auth/logout", Some(&second), json!({})).await;
    assert!(logout.status.is_success(), "{}", logout.text);
    for path in reads {
        for query in ["", "&unknown=1"] {
            let res = app.get(&format!("{path}{query}"), Some(&second)).await;
            assert_eq!(res.status, 401, "{path}{query}: {}", res.text);
        }
    }
}
