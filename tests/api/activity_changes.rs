//! What an update changed: `metadata.changes = {field: {from, to}}` on
//! `playlist_update`, `settings_change` and `schedule_update`, beside the
//! lists of changed fields, with long text cut and marked.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::helpers::{rows_of, sample_tracks, spawn_app};

#[actix_web::test]
async fn a_playlist_update_records_each_changed_field_from_and_to() {
    let app = spawn_app().await;
    let user = app.user("renamer").await;
    let playlist = app
        .playlist(&user, "Road Trip", sample_tracks("r", 2))
        .await;
    let path = format!("/api/playlists/{}", playlist["id"].as_str().unwrap());
    let api = app.as_user(&user);

    let res = api
        .patch(
            &path,
            json!({"name": "Summer Road Trip", "description": "Windows down", "is_public": true}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let activity = app.activity(&user).await;
    let update = &rows_of(&activity, "playlist_update")[0]["metadata"];
    assert_eq!(
        update["changed_fields"],
        json!(["name", "description", "is_public"])
    );
    assert_eq!(
        update["changes"],
        json!({
            "name": {"from": "Road Trip", "to": "Summer Road Trip"},
            "description": {"from": "", "to": "Windows down"},
            "is_public": {"from": false, "to": true},
        })
    );

    // Only what really changed: the same name again, a new description.
    let res = api
        .patch(
            &path,
            json!({"name": "Summer Road Trip", "description": "Windows up"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let activity = app.activity(&user).await;
    let update = &rows_of(&activity, "playlist_update")[0]["metadata"];
    assert_eq!(update["changed_fields"], json!(["description"]));
    assert_eq!(
        update["changes"],
        json!({"description": {"from": "Windows down", "to": "Windows up"}})
    );
}

#[actix_web::test]
async fn a_patch_that_changes_nothing_writes_no_row() {
    let app = spawn_app().await;
    let user = app.user("idle").await;
    let playlist = app.playlist(&user, "Same", sample_tracks("s", 1)).await;
    let path = format!("/api/playlists/{}", playlist["id"].as_str().unwrap());
    let api = app.as_user(&user);
    let before = app.activity(&user).await.len();

    let res = api
        .patch(&path, json!({"name": "Same", "is_public": false}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = api
        .patch("/api/settings", json!({"default_algorithm": "basic"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let schedule = app
        .shuffle_schedule(&user, playlist["id"].as_str().unwrap())
        .await;
    let res = api
        .patch(
            &format!("/api/schedules/{schedule}"),
            json!({"algorithm_name": "basic"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let activity = app.activity(&user).await;
    // Only the schedule's creation was added.
    assert_eq!(activity.len(), before + 1);
    assert!(rows_of(&activity, "playlist_update").is_empty());
    assert!(rows_of(&activity, "settings_change").is_empty());
    assert!(rows_of(&activity, "schedule_update").is_empty());
}

#[actix_web::test]
async fn long_text_is_cut_at_200_characters_and_marked() {
    let app = spawn_app().await;
    let user = app.user("verbose").await;
    let playlist = app.playlist(&user, "Long", sample_tracks("l", 1)).await;
    let path = format!("/api/playlists/{}", playlist["id"].as_str().unwrap());
    let long = "é".repeat(250);

    let res = app
        .as_user(&user)
        .patch(&path, json!({"description": long}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = app
        .as_user(&user)
        .patch(&path, json!({"name": "Short"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let activity = app.activity(&user).await;
    let updates = rows_of(&activity, "playlist_update");
    let cut = &updates[1]["metadata"]["changes"]["description"];
    assert_eq!(cut["from"], "");
    assert_eq!(cut["to"], "é".repeat(200));
    assert_eq!(cut["truncated"], true);
    // Entries that were not cut have exactly from and to.
    let whole = &updates[0]["metadata"]["changes"]["name"];
    assert_eq!(whole, &json!({"from": "Long", "to": "Short"}));
}

#[actix_web::test]
async fn a_settings_change_records_each_setting_from_and_to() {
    let app = spawn_app().await;
    let user = app.user("settler").await;
    let res = app
        .as_user(&user)
        .patch(
            "/api/settings",
            json!({
                "default_algorithm": "balanced",
                "auto_snapshot_enabled": false,
                "max_snapshots_per_playlist": 5,
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let activity = app.activity(&user).await;
    let change = &rows_of(&activity, "settings_change")[0]["metadata"];
    assert_eq!(
        change["changed_fields"],
        json!([
            "default_algorithm",
            "auto_snapshot_enabled",
            "max_snapshots_per_playlist"
        ])
    );
    assert_eq!(
        change["changes"],
        json!({
            "default_algorithm": {"from": "basic", "to": "balanced"},
            "auto_snapshot_enabled": {"from": true, "to": false},
            "max_snapshots_per_playlist": {"from": 10, "to": 5},
        })
    );

    // Parameters are an object on both sides.
    let res = app
        .as_user(&user)
        .patch(
            "/api/settings",
            json!({"default_algorithm": "percentage", "default_algorithm_params": {"shuffle_percentage": 30}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let activity = app.activity(&user).await;
    let changes = &rows_of(&activity, "settings_change")[0]["metadata"]["changes"];
    assert_eq!(
        changes["default_algorithm"],
        json!({"from": "balanced", "to": "percentage"})
    );
    assert_eq!(changes["default_algorithm_params"]["from"], json!({}));
    assert_eq!(
        changes["default_algorithm_params"]["to"]["shuffle_percentage"],
        30
    );
}

#[actix_web::test]
async fn a_schedule_update_records_each_field_with_lists_as_arrays() {
    let app = spawn_app().await;
    let user = app.user("planner").await;
    let target = app.playlist(&user, "T", sample_tracks("t", 3)).await;
    let first = app.playlist(&user, "S1", sample_tracks("a", 3)).await;
    let second = app.playlist(&user, "S2", sample_tracks("b", 3)).await;
    let (target_id, first_id, second_id) = (
        target["id"].as_str().unwrap(),
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let schedule = app
        .schedule(
            &user,
            json!({"job_type": "raid", "target_playlist_id": target_id,
                   "source_playlist_ids": [first_id]}),
        )
        .await;
    let res = app
        .as_user(&user)
        .patch(
            &format!("/api/schedules/{schedule}"),
            json!({
                "job_type": "raid_and_shuffle",
                "algorithm_name": "basic",
                "source_playlist_ids": [first_id, second_id],
                "schedule_value": "every_6h",
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    let activity = app.activity(&user).await;
    let update = &rows_of(&activity, "schedule_update")[0]["metadata"];
    assert_eq!(
        update["updated_fields"],
        json!([
            "job_type",
            "schedule_value",
            "source_playlist_ids",
            "algorithm_name"
        ])
    );
    let changes = &update["changes"];
    assert_eq!(
        changes["job_type"],
        json!({"from": "raid", "to": "raid_and_shuffle"})
    );
    assert_eq!(
        changes["source_playlist_ids"],
        json!({"from": [first_id], "to": [first_id, second_id]})
    );
    assert_eq!(
        changes["algorithm_name"],
        json!({"from": null, "to": "basic"})
    );
    assert_eq!(changes["schedule_value"]["to"], "every_6h");
    assert!(changes["schedule_value"]["from"].is_string());
    let mut keys: Vec<&str> = changes
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "algorithm_name",
            "job_type",
            "schedule_value",
            "source_playlist_ids"
        ]
    );
    // Nothing else in the entries.
    assert!(changes
        .as_object()
        .unwrap()
        .values()
        .all(|e| e.as_object().unwrap().len() == 2));
}
