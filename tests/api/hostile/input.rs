//! Hostile input at the edge: NUL characters in bodies, queries and paths
//! (PostgreSQL cannot store them and answered 500), values longer than
//! their columns, oversized request heads, invented methods, and a 405
//! that says what is allowed. Each asserts the status, the error body and
//! that nothing was stored.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use diesel::prelude::*;
use serde_json::{json, Value};

use shuffify::db::schema::{activity_log, playlists, schedules, tracks, workshop_sessions};
use shuffify::db::DbConnection;

use crate::helpers::{sample_tracks, spawn_app, uris};

/// Rows of the tables hostile input could reach.
fn stored(conn: &mut DbConnection) -> [i64; 5] {
    [
        playlists::table.count().get_result(conn).unwrap(),
        tracks::table.count().get_result(conn).unwrap(),
        workshop_sessions::table.count().get_result(conn).unwrap(),
        schedules::table.count().get_result(conn).unwrap(),
        activity_log::table.count().get_result(conn).unwrap(),
    ]
}

#[actix_web::test]
async fn nul_characters_in_bodies_are_400_on_both_backends() {
    let app = spawn_app().await;
    let user = app.user("nuller").await;
    let playlist = app.playlist(&user, "Clean", sample_tracks("cl", 3)).await;
    let id = playlist["id"].as_str().unwrap();
    let before = stored(&mut app.conn());
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/api/playlists".into(),
            json!({"name": "bad\u{0}name", "tracks": []}),
            "name",
        ),
        (
            Method::POST,
            "/api/playlists".into(),
            json!({"name": "ok", "tracks": [{"uri": "x:\u{0}", "name": "n"}]}),
            "tracks[0].uri",
        ),
        (
            Method::PATCH,
            format!("/api/playlists/{id}"),
            json!({"description": "a\u{0}b"}),
            "description",
        ),
        (
            Method::POST,
            format!("/api/playlists/{id}/workshop/sessions"),
            json!({"session_name": "s\u{0}", "track_uris": uris(&playlist)}),
            "session_name",
        ),
        (
            Method::POST,
            "/api/schedules".into(),
            json!({"job_type": "shuffle", "target_playlist_id": id,
                   "algorithm_name": "basic", "schedule_type": "cron",
                   "schedule_value": "0 0 * * *\u{0}"}),
            "schedule_value",
        ),
        (
            Method::PATCH,
            "/api/settings".into(),
            json!({"default_algorithm": "basic\u{0}"}),
            "default_algorithm",
        ),
        (
            Method::POST,
            format!("/api/playlists/{id}/snapshots"),
            json!({"trigger_description": "\u{0}"}),
            "trigger_description",
        ),
    ];
    for (method, path, body, field) in cases {
        let res = app
            .as_user(&user)
            .send(method, &path, Some(body), &[])
            .await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{path}: {error}");
    }
    assert_eq!(stored(&mut app.conn()), before, "nothing stored");
}

#[actix_web::test]
async fn nul_characters_in_queries_and_paths_are_400() {
    let app = spawn_app().await;
    let user = app.user("querier").await;
    for (path, field) in [
        ("/api/activity?q=%00", "query"),
        ("/api/tracks?q=a%00b", "query"),
        ("/api/activity?playlist_id=x%00", "query"),
        ("/api/playlists/ab%00cd", "path"),
        ("/api/playlists/ab%00cd/shuffle", "path"),
    ] {
        let res = app.as_user(&user).get(path).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{path}");
    }
}

#[actix_web::test]
async fn values_longer_than_their_columns_are_400() {
    let app = spawn_app().await;
    let user = app.user("longer").await;
    let playlist = app.playlist(&user, "Target", sample_tracks("lg", 3)).await;
    let before = stored(&mut app.conn());

    let long_cron = format!("0 0 * * {}", vec!["1"; 60].join(","));
    assert!(long_cron.len() > 100);
    let schedule = app
        .as_user(&user)
        .post(
            "/api/schedules",
            json!({"job_type": "shuffle", "target_playlist_id": playlist["id"],
                   "algorithm_name": "basic", "schedule_type": "cron",
                   "schedule_value": long_cron}),
        )
        .await;
    let error = schedule.error(400, "validation_failed");
    assert!(error["details"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["field"] == "schedule_value" && d["message"].as_str().unwrap().contains("100")));

    let uri = format!("spotify:track:{}", "x".repeat(300));
    for (body, field) in [
        (json!({"name": "n".repeat(201), "tracks": []}), "name"),
        (
            json!({"name": "ok", "tracks": [{"uri": uri, "name": "n"}]}),
            "tracks[0].uri",
        ),
    ] {
        let created = app.as_user(&user).post("/api/playlists", body).await;
        let error = created.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{error}");
    }
    assert_eq!(stored(&mut app.conn()), before, "nothing stored");
}

#[actix_web::test]
async fn oversized_request_heads_answer_431_with_the_error_body() {
    let app = spawn_app().await;
    let big = "v".repeat(40 * 1024);
    let res = app
        .send(Method::GET, "/health", None, None, &[("x-big", &big)])
        .await;
    let error = res.error(431, "headers_too_large");
    assert!(error["message"].as_str().unwrap().contains("64"));

    let names: Vec<String> = (0..70).map(|i| format!("x-h{i}")).collect();
    let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let res = app.send(Method::GET, "/health", None, None, &headers).await;
    res.error(431, "headers_too_large");

    // 64 small fields are fine.
    let headers: Vec<(&str, &str)> = names[..60].iter().map(|n| (n.as_str(), "1")).collect();
    let res = app.send(Method::GET, "/health", None, None, &headers).await;
    assert_eq!(res.status, 200, "{}", res.text);
}

#[actix_web::test]
async fn a_405_says_which_methods_the_resource_takes() {
    let app = spawn_app().await;
    let user = app.user("allowed").await;
    let res = app
        .as_user(&user)
        .send(Method::PUT, "/api/playlists", None, &[])
        .await;
    res.error(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("GET, POST"));
    let res = app
        .as_user(&user)
        .send(Method::POST, "/api/playlists/abc", None, &[])
        .await;
    res.error(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("GET, PATCH, DELETE"));
}

#[actix_web::test]
async fn invented_methods_share_one_metrics_series() {
    let app = spawn_app().await;
    for i in 0..120 {
        let method = Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
        let req = TestRequest::default()
            .method(method)
            .uri("/api/algorithms")
            .to_request();
        let res = app.call(req).await;
        assert_eq!(res.status, 405);
    }
    let metrics = app.get("/metrics", None).await.text;
    assert!(
        !metrics.contains("FOO"),
        "an invented method became a label"
    );
    let other: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("shuffify_http_requests_total") && l.contains("OTHER"))
        .collect();
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(metrics.contains(
        "shuffify_http_request_duration_seconds_count{route=\"/api/algorithms\",status=\"405\"}"
    ));
}

#[actix_web::test]
async fn the_location_of_a_new_upstream_source_answers_get() {
    let app = spawn_app().await;
    let user = app.user("located").await;
    let other = app.user("stranger").await;
    let target = app.playlist(&user, "Target", sample_tracks("lt", 2)).await;
    let source = app.playlist(&user, "Source", sample_tracks("ls", 2)).await;
    let created = app
        .as_user(&user)
        .post(
            &format!(
                "/api/playlists/{}/upstream-sources",
                target["id"].as_str().unwrap()
            ),
            json!({"source_playlist_id": source["id"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let location = created.header("location").unwrap().to_string();

    let got = app.as_user(&user).get(&location).await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body, created.body);
    app.as_user(&other)
        .get(&location)
        .await
        .error(404, "not_found");
}
