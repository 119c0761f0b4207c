//! Upstream sources over HTTP: adding one is idempotent and checked
//! (the caller's own playlist, another user's public one, never a private
//! one, the target itself or one that does not exist), listing and
//! deleting, and the activity rows of each.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::helpers::{sample_tracks, spawn_app};

#[actix_web::test]
async fn upstream_sources_are_idempotent_and_checked() {
    let app = spawn_app().await;
    let user = app.user("raider").await;
    let other = app.user("neighbour").await;
    let target = app.playlist(&user, "Target", sample_tracks("tg", 2)).await;
    let own = app.playlist(&user, "Own", sample_tracks("ow", 2)).await;
    let private = app
        .playlist(&other, "Private", sample_tracks("pr", 2))
        .await;
    let public = app.playlist(&other, "Public", sample_tracks("pu", 2)).await;
    app.as_user(&other)
        .patch(
            &format!("/api/playlists/{}", public["id"].as_str().unwrap()),
            json!({"is_public": true}),
        )
        .await;
    let api = app.as_user(&user);
    let base = format!(
        "/api/playlists/{}/upstream-sources",
        target["id"].as_str().unwrap()
    );

    let res = api
        .post(&base, json!({"source_playlist_id": own["id"]}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["source_type"], "own");
    let sid = res.body["id"].as_i64().unwrap();
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "upstream_source_add");
    assert_eq!(
        row["metadata"],
        json!({"source_id": sid, "source_playlist_id": own["id"], "source_type": "own"})
    );

    let rows_before = app.activity(&user).await.len();
    let again = api
        .post(&base, json!({"source_playlist_id": own["id"]}))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], sid);
    assert_eq!(
        app.activity(&user).await.len(),
        rows_before,
        "an existing source is not logged again"
    );

    let res = api
        .post(&base, json!({"source_playlist_id": public["id"]}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(res.body["source_type"], "external");
    let res = api
        .post(&base, json!({"source_playlist_id": private["id"]}))
        .await;
    assert_eq!(
        res.error(400, "validation_failed")["details"][0]["field"],
        "source_playlist_id"
    );
    api.post(&base, json!({"source_playlist_id": target["id"]}))
        .await
        .error(400, "validation_failed");
    api.post(&base, json!({"source_playlist_id": "nope"}))
        .await
        .error(400, "validation_failed");

    let list = api.get(&base).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let res = api.delete(&format!("/api/upstream-sources/{sid}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.activity(&user).await[0]["activity_type"],
        "upstream_source_delete"
    );
    assert_eq!(
        api.get(&base).await.body["items"].as_array().unwrap().len(),
        1
    );
}
