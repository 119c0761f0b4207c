//! The workshop over HTTP: preview, commit, sessions.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::helpers::{sample_tracks, spawn_app, uris};

#[actix_web::test]
async fn preview_stores_and_logs_nothing() {
    let app = spawn_app().await;
    let user = app.user("previewer").await;
    let p = app.playlist(&user, "Pre", sample_tracks("pv", 10)).await;
    let id = p["id"].as_str().unwrap();
    let before = app.activity(&user).await.len();
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/workshop/preview"),
            json!({"algorithm": "stratified", "seed": 4}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let mut order: Vec<String> = serde_json::from_value(res.body["track_uris"].clone()).unwrap();
    order.sort();
    let mut original = uris(&p);
    original.sort();
    assert_eq!(order, original);
    let after = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(after.body["version"], 1);
    assert_eq!(uris(&after.body), uris(&p));
    assert_eq!(app.activity(&user).await.len(), before);
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/workshop/preview"),
            json!({"algorithm": "basic", "track_uris": ["nope:1"]}),
        )
        .await;
    res.error(400, "validation_failed");
}

#[actix_web::test]
async fn commit_writes_the_order_and_counts_changes() {
    let app = spawn_app().await;
    let user = app.user("committer").await;
    let p = app.playlist(&user, "Edit", sample_tracks("cm", 5)).await;
    app.playlist(&user, "Other", sample_tracks("extra", 2))
        .await;
    let id = p["id"].as_str().unwrap();
    let new_order = ["cm:4", "cm:2", "extra:0", "cm:2", "extra:1"];
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/workshop/commit"),
            json!({"track_uris": new_order}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
    assert_eq!(uris(&res.body["playlist"]), new_order);
    assert_eq!(res.body["playlist"]["version"], 2);
    let snapshot_id = res.body["snapshot_id"].as_i64().unwrap();
    let snapshot = app
        .as_user(&user)
        .get(&format!("/api/snapshots/{snapshot_id}"))
        .await;
    assert_eq!(snapshot.body["snapshot_type"], "auto_pre_commit");
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "workshop_commit");
    assert_eq!(
        row["metadata"],
        json!({"track_count": 5, "added": 3, "removed": 3, "snapshot_id": snapshot_id})
    );
}

#[actix_web::test]
async fn commit_refuses_unknown_uris_naming_them() {
    let app = spawn_app().await;
    let user = app.user("strict").await;
    let p = app.playlist(&user, "S", sample_tracks("st", 3)).await;
    let id = p["id"].as_str().unwrap();
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/workshop/commit"),
            json!({"track_uris": ["st:0", "ghost:1", "ghost:2"]}),
        )
        .await;
    let error = res.error(400, "validation_failed");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("ghost:1") && message.contains("ghost:2"),
        "{message}"
    );
    assert_eq!(error["details"][0]["field"], "track_uris");
    assert_eq!(
        uris(
            &app.as_user(&user)
                .get(&format!("/api/playlists/{id}"))
                .await
                .body
        ),
        uris(&p)
    );
    app.as_user(&user)
        .post(&format!("/api/playlists/{id}/workshop/commit"), json!({}))
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn sessions_save_list_update_and_delete() {
    let app = spawn_app().await;
    let user = app.user("drafter").await;
    let p = app.playlist(&user, "Draft", sample_tracks("dr", 4)).await;
    let id = p["id"].as_str().unwrap();
    let api = app.as_user(&user);
    let base = format!("/api/playlists/{id}/workshop/sessions");

    let res = api
        .post(
            &base,
            json!({"session_name": "Idea", "track_uris": ["dr:1", "dr:0"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let sid = res.body["id"].as_i64().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/workshop/sessions/{sid}").as_str())
    );
    assert_eq!(res.body["track_uris"], json!(["dr:1", "dr:0"]));
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "workshop_session_save");
    assert_eq!(
        row["metadata"],
        json!({"session_id": sid, "session_name": "Idea", "track_count": 2})
    );

    let list = api.get(&base).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    // Only the name changes; the URIs stay.
    let path = format!("/api/workshop/sessions/{sid}");
    let res = api
        .patch(&path, json!({"session_name": "Better idea"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["session_name"], "Better idea");
    assert_eq!(res.body["track_uris"], json!(["dr:1", "dr:0"]));
    let res = api.patch(&path, json!({"track_uris": ["dr:3"]})).await;
    assert_eq!(res.body["session_name"], "Better idea");
    assert_eq!(res.body["track_uris"], json!(["dr:3"]));
    let before = app.activity(&user).await.len();
    api.patch(&path, json!({"track_uris": ["dr:3"]})).await;
    assert_eq!(app.activity(&user).await.len(), before, "no change, no row");
    api.patch(&path, json!({"session_name": null}))
        .await
        .error(400, "validation_failed");
    api.patch(&path, json!({"session_name": ""}))
        .await
        .error(400, "validation_failed");
    assert_eq!(api.get(&path).await.body["session_name"], "Better idea");

    let res = api.delete(&path).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "workshop_session_delete");
    assert_eq!(row["metadata"]["session_id"], sid);
    api.get(&path).await.error(404, "not_found");
}

#[actix_web::test]
async fn at_most_ten_sessions_per_playlist() {
    let app = spawn_app().await;
    let user = app.user("busy").await;
    let p = app.playlist(&user, "B", sample_tracks("bs", 1)).await;
    let base = format!(
        "/api/playlists/{}/workshop/sessions",
        p["id"].as_str().unwrap()
    );
    for i in 0..10 {
        let res = app
            .as_user(&user)
            .post(&base, json!({"session_name": format!("s{i}")}))
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    app.as_user(&user)
        .post(&base, json!({"session_name": "eleventh"}))
        .await
        .error(409, "conflict");
}
