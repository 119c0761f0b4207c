//! A user sees and touches only their own rows: another user's playlist,
//! snapshot or workshop session answers 404 for every verb, exactly like a
//! missing one, and nothing B does shows up in A's activity.

use actix_web::http::Method;
use serde_json::json;

use crate::helpers::{sample_tracks, spawn_app};

#[actix_web::test]
async fn another_users_things_are_404_for_every_verb() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let p = app
        .playlist(&alice, "Private", sample_tracks("iso", 4))
        .await;
    let id = p["id"].as_str().unwrap();
    let alice_api = app.as_user(&alice);
    let sid = alice_api
        .post_empty(&format!("/api/playlists/{id}/snapshots"))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let wid = alice_api
        .post(
            &format!("/api/playlists/{id}/workshop/sessions"),
            json!({"session_name": "mine"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let alice_rows = app.activity(&alice).await.len();

    let bob_api = app.as_user(&bob);
    let commit = json!({"track_uris": ["iso:0"]});
    let requests: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/playlists/{id}"), None),
        (
            Method::PATCH,
            format!("/api/playlists/{id}"),
            Some(json!({"name": "stolen"})),
        ),
        (Method::DELETE, format!("/api/playlists/{id}"), None),
        (
            Method::POST,
            format!("/api/playlists/{id}/shuffle"),
            Some(json!({})),
        ),
        (Method::POST, format!("/api/playlists/{id}/undo"), None),
        (Method::GET, format!("/api/playlists/{id}/snapshots"), None),
        (Method::POST, format!("/api/playlists/{id}/snapshots"), None),
        (
            Method::POST,
            format!("/api/playlists/{id}/workshop/preview"),
            Some(json!({"algorithm": "basic"})),
        ),
        (
            Method::POST,
            format!("/api/playlists/{id}/workshop/commit"),
            Some(commit),
        ),
        (
            Method::GET,
            format!("/api/playlists/{id}/workshop/sessions"),
            None,
        ),
        (
            Method::POST,
            format!("/api/playlists/{id}/workshop/sessions"),
            Some(json!({"session_name": "x"})),
        ),
        (Method::GET, format!("/api/snapshots/{sid}"), None),
        (Method::DELETE, format!("/api/snapshots/{sid}"), None),
        (Method::POST, format!("/api/snapshots/{sid}/restore"), None),
        (Method::GET, format!("/api/workshop/sessions/{wid}"), None),
        (
            Method::PATCH,
            format!("/api/workshop/sessions/{wid}"),
            Some(json!({"session_name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/workshop/sessions/{wid}"),
            None,
        ),
    ];
    for (method, path, body) in requests {
        let theirs = bob_api.send(method.clone(), &path, body.clone(), &[]).await;
        let error = theirs.error(404, "not_found");
        // Exactly as a missing one.
        let missing_path = path
            .replace(id, "0000000000000000000000")
            .replace(&format!("/{sid}"), "/999999")
            .replace(&format!("/{wid}"), "/999999");
        let missing = bob_api.send(method, &missing_path, body, &[]).await;
        assert_eq!(
            missing.error(404, "not_found")["message"],
            error["message"],
            "{path}"
        );
    }
    // Nothing of Alice's changed, and Bob's attempts are not in her trail.
    assert_eq!(app.activity(&alice).await.len(), alice_rows);
    assert_eq!(
        alice_api.get(&format!("/api/playlists/{id}")).await.body["name"],
        "Private"
    );
    assert_eq!(
        alice_api
            .get(&format!("/api/snapshots/{sid}"))
            .await
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        alice_api
            .get(&format!("/api/workshop/sessions/{wid}"))
            .await
            .status
            .as_u16(),
        200
    );
    let bobs = app.activity(&bob).await;
    assert_eq!(bobs.len(), 1, "only Bob's own login: {bobs:?}");
}
