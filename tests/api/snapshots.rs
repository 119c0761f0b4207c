//! Snapshots over HTTP: manual ones, restore, delete, limits and pruning.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::helpers::{sample_tracks, spawn_app, uris};

#[actix_web::test]
async fn manual_snapshot_restore_and_delete() {
    let app = spawn_app().await;
    let user = app.user("keeper").await;
    let p = app.playlist(&user, "Keep", sample_tracks("kp", 6)).await;
    let id = p["id"].as_str().unwrap();
    let api = app.as_user(&user);

    // An empty body is fine.
    let res = api
        .post_empty(&format!("/api/playlists/{id}/snapshots"))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let sid = res.body["id"].as_i64().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/snapshots/{sid}").as_str())
    );
    assert_eq!(res.body["snapshot_type"], "manual");
    assert_eq!(res.body["track_count"], 6);
    assert_eq!(res.body["track_uris"], json!(uris(&p)));
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "snapshot_create");
    assert_eq!(
        row["metadata"],
        json!({"snapshot_id": sid, "track_count": 6})
    );

    let described = api
        .post(
            &format!("/api/playlists/{id}/snapshots"),
            json!({"trigger_description": "before the party"}),
        )
        .await;
    assert_eq!(described.body["trigger_description"], "before the party");

    // Change the order, then restore the manual snapshot.
    let reversed: Vec<String> = uris(&p).into_iter().rev().collect();
    api.post(
        &format!("/api/playlists/{id}/workshop/commit"),
        json!({"track_uris": reversed}),
    )
    .await;
    let res = api
        .post_empty(&format!("/api/snapshots/{sid}/restore"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(uris(&res.body), uris(&p));
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "snapshot_restore");
    assert_eq!(row["metadata"]["snapshot_id"], sid);
    assert!(row["metadata"]["pre_restore_snapshot_id"].is_i64());

    let list = api
        .get(&format!("/api/playlists/{id}/snapshots?limit=2"))
        .await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["snapshot_type"], "auto_pre_restore");
    assert!(items[0].get("track_uris").is_none());
    api.get(&format!("/api/playlists/{id}/snapshots?limit=101"))
        .await
        .error(400, "validation_failed");

    let res = api.delete(&format!("/api/snapshots/{sid}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "snapshot_delete");
    assert_eq!(
        row["metadata"],
        json!({"snapshot_id": sid, "track_count": 6})
    );
    api.get(&format!("/api/snapshots/{sid}"))
        .await
        .error(404, "not_found");
    api.get("/api/snapshots/not-a-number")
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn automatic_snapshots_are_pruned_beyond_the_limit_and_manual_ones_kept() {
    let app = spawn_app().await;
    let user = app.user("pruner").await;
    let api = app.as_user(&user);
    api.patch("/api/settings", json!({"max_snapshots_per_playlist": 2}))
        .await;
    let p = app.playlist(&user, "Busy", sample_tracks("bz", 15)).await;
    let id = p["id"].as_str().unwrap();
    let manual = api
        .post_empty(&format!("/api/playlists/{id}/snapshots"))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let mut auto_ids = Vec::new();
    for seed in 0..4 {
        let res = api
            .post(
                &format!("/api/playlists/{id}/shuffle"),
                json!({"seed": seed}),
            )
            .await;
        auto_ids.push(res.body["snapshot_id"].as_i64().unwrap());
    }
    let list = api.get(&format!("/api/playlists/{id}/snapshots")).await;
    let ids: Vec<i64> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![auto_ids[3], auto_ids[2], manual]);
}

#[actix_web::test]
async fn at_most_fifty_manual_snapshots() {
    let app = spawn_app().await;
    let user = app.user("hoarder").await;
    let p = app.playlist(&user, "H", sample_tracks("ho", 2)).await;
    let path = format!("/api/playlists/{}/snapshots", p["id"].as_str().unwrap());
    for _ in 0..50 {
        assert_eq!(
            app.as_user(&user).post_empty(&path).await.status,
            StatusCode::CREATED
        );
    }
    app.as_user(&user)
        .post_empty(&path)
        .await
        .error(409, "conflict");
}

#[actix_web::test]
async fn restore_and_undo_honour_if_match() {
    let app = spawn_app().await;
    let user = app.user("careful").await;
    let p = app.playlist(&user, "C", sample_tracks("cf", 8)).await;
    let id = p["id"].as_str().unwrap();
    let api = app.as_user(&user);
    let sid = api
        .post_empty(&format!("/api/playlists/{id}/snapshots"))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    api.post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 1}))
        .await;
    let stale = [("If-Match", "\"1\"")];
    let res = api
        .send(
            actix_web::http::Method::POST,
            &format!("/api/snapshots/{sid}/restore"),
            None,
            &stale,
        )
        .await;
    res.error(412, "precondition_failed");
    let res = api
        .send(
            actix_web::http::Method::POST,
            &format!("/api/playlists/{id}/undo"),
            None,
            &stale,
        )
        .await;
    res.error(412, "precondition_failed");
    assert_eq!(
        api.get(&format!("/api/playlists/{id}")).await.body["version"],
        2
    );
    let fresh = [("If-Match", "\"2\"")];
    let res = api
        .send(
            actix_web::http::Method::POST,
            &format!("/api/snapshots/{sid}/restore"),
            None,
            &fresh,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.header("etag"), Some("\"3\""));
}
