//! Activity logging never breaks the action it records: with every insert
//! into activity_log refused by the database, the actions still succeed and
//! their data is stored; only the failure counter notices.

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection;
use serde_json::json;

use shuffify::db::Backend;
use shuffify::metrics;

use crate::helpers::{sample_tracks, spawn_app, uris};

#[actix_web::test]
async fn actions_succeed_when_the_activity_log_refuses_writes() {
    let app = spawn_app().await;
    let user = app.user("resilient").await;
    let p = app.playlist(&user, "Sturdy", sample_tracks("rs", 12)).await;
    let id = p["id"].as_str().unwrap();
    let api = app.as_user(&user);

    let mut conn = app.conn();
    let sql = match conn.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_log \
             BEGIN SELECT RAISE(ABORT, 'activity_log is read-only'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_activity() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'activity_log is read-only'; END; $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_activity BEFORE INSERT ON activity_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_activity();"
        }
    };
    conn.batch_execute(sql).unwrap();
    drop(conn);
    let failures = metrics::global().activity_write_failures();

    let shuffled = api
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 11}))
        .await;
    assert_eq!(shuffled.status, StatusCode::OK, "{}", shuffled.text);
    assert_eq!(shuffled.body["changed"], true);
    let stored = api.get(&format!("/api/playlists/{id}")).await;
    assert_eq!(uris(&stored.body), uris(&shuffled.body["playlist"]));
    assert_eq!(stored.body["version"], 2);
    assert!(
        shuffled.body["snapshot_id"].is_i64(),
        "the snapshot in the same transaction survived"
    );

    let order: Vec<String> = uris(&p).into_iter().rev().collect();
    let committed = api
        .post(
            &format!("/api/playlists/{id}/workshop/commit"),
            json!({"track_uris": order}),
        )
        .await;
    assert_eq!(committed.status, StatusCode::OK, "{}", committed.text);
    assert_eq!(
        uris(&api.get(&format!("/api/playlists/{id}")).await.body),
        order
    );

    let settings = api
        .patch("/api/settings", json!({"max_snapshots_per_playlist": 3}))
        .await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.text);
    assert_eq!(
        api.get("/api/settings").await.body["max_snapshots_per_playlist"],
        3
    );

    assert!(metrics::global().activity_write_failures() >= failures + 3);
    // The trail holds only what was written before the trigger.
    let types: Vec<String> = app
        .activity(&user)
        .await
        .iter()
        .map(|r| r["activity_type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["playlist_create", "login"]);
}
