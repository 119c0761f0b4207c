//! Settings over HTTP.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn defaults_then_changes_that_log_only_what_changed() {
    let app = spawn_app().await;
    let user = app.user("tuner").await;
    let api = app.as_user(&user);
    let res = api.get("/api/settings").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["default_algorithm"], "basic");
    assert_eq!(res.body["default_algorithm_params"], json!({}));
    assert_eq!(res.body["auto_snapshot_enabled"], true);
    assert_eq!(res.body["max_snapshots_per_playlist"], 10);

    let res = api
        .patch("/api/settings", json!({"default_algorithm": "balanced", "default_algorithm_params": {"section_count": 3}, "auto_snapshot_enabled": true}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["default_algorithm"], "balanced");
    assert_eq!(
        res.body["default_algorithm_params"],
        json!({"section_count": 3})
    );
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "settings_change");
    assert_eq!(
        row["metadata"]["changed_fields"],
        json!(["default_algorithm", "default_algorithm_params"])
    );

    let before = app.activity(&user).await.len();
    let res = api
        .patch(
            "/api/settings",
            json!({"default_algorithm": "balanced", "max_snapshots_per_playlist": 10}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(app.activity(&user).await.len(), before);
}

#[actix_web::test]
async fn invalid_settings_are_refused() {
    let app = spawn_app().await;
    let user = app.user("careful").await;
    let api = app.as_user(&user);
    for (body, field) in [
        (json!({"default_algorithm": "nope"}), "default_algorithm"),
        (
            json!({"default_algorithm": "balanced", "default_algorithm_params": {"section_count": 1}}),
            "default_algorithm_params.section_count",
        ),
        (
            json!({"default_algorithm_params": {"unknown": 1}}),
            "default_algorithm_params.unknown",
        ),
        (
            json!({"max_snapshots_per_playlist": 0}),
            "max_snapshots_per_playlist",
        ),
        (
            json!({"max_snapshots_per_playlist": 51}),
            "max_snapshots_per_playlist",
        ),
        (
            json!({"auto_snapshot_enabled": null}),
            "auto_snapshot_enabled",
        ),
        (json!({"auto_snapshot_enabled": "yes"}), "body"),
        (json!({"theme": "dark"}), "theme"),
    ] {
        let res = api.patch("/api/settings", body).await;
        assert_eq!(
            res.error(400, "validation_failed")["details"][0]["field"],
            field,
            "{}",
            res.text
        );
    }
    assert_eq!(
        api.get("/api/settings").await.body["default_algorithm"],
        "basic"
    );
}
