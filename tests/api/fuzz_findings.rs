//! What Schemathesis found against the OpenAPI document, each fixed in the
//! service and pinned here: a value the document calls valid is accepted,
//! and a request that is wrong whatever the version answers its 400.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{sample_tracks, spawn_app, uris};

#[actix_web::test]
async fn a_bad_request_answers_400_even_with_a_stale_if_match() {
    let app = spawn_app().await;
    let user = app.user("preconditions").await;
    let p = app.playlist(&user, "Stale", sample_tracks("pc", 5)).await;
    let path = format!("/api/playlists/{}", p["id"].as_str().unwrap());
    let api = app.as_user(&user);
    let stale = [("If-Match", "\"9\"")];
    let res = api
        .send(
            Method::POST,
            &format!("{path}/shuffle"),
            Some(json!({"algorithm": "basic", "params": {"direction": "ascending"}})),
            &stale,
        )
        .await;
    assert_eq!(
        res.error(400, "validation_failed")["details"][0]["field"],
        "params.direction"
    );
    let res = api
        .send(
            Method::POST,
            &format!("{path}/workshop/commit"),
            Some(json!({"track_uris": ["pc:0", "nowhere:1"]})),
            &stale,
        )
        .await;
    res.error(400, "validation_failed");
    // A good request with the stale version is still refused.
    api.send(
        Method::POST,
        &format!("{path}/shuffle"),
        Some(json!({})),
        &stale,
    )
    .await
    .error(412, "precondition_failed");
    assert_eq!(api.get(&path).await.body["version"], 1);
}

#[actix_web::test]
async fn integers_written_with_a_fraction_of_zero_are_integers() {
    let app = spawn_app().await;
    let user = app.user("wholes").await;
    let api = app.as_user(&user);
    let res = api
        .post(
            "/api/playlists",
            json!({"name": "Floats", "tracks": [
                {"uri": "wh:1", "name": "One", "duration_ms": 233.0},
                {"uri": "wh:2", "name": "Two", "duration_ms": 1e3},
                {"uri": "wh:3", "name": "Three"}]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["tracks"][0]["duration_ms"], 233);
    assert_eq!(res.body["tracks"][1]["duration_ms"], 1000);
    let path = format!("/api/playlists/{}", res.body["id"].as_str().unwrap());
    let res = api
        .post(
            "/api/playlists",
            json!({"name": "Half", "tracks": [{"uri": "wh:4", "name": "Four", "duration_ms": 1.5}]}),
        )
        .await;
    res.error(400, "validation_failed");

    let res = api
        .patch("/api/settings", json!({"max_snapshots_per_playlist": 7.0}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["max_snapshots_per_playlist"], 7);

    let with_float = api
        .post(
            &format!("{path}/workshop/preview"),
            json!({"algorithm": "basic", "params": {"keep_first": 1.0}, "seed": 42.0}),
        )
        .await;
    assert_eq!(with_float.status, StatusCode::OK, "{}", with_float.text);
    let with_int = api
        .post(
            &format!("{path}/workshop/preview"),
            json!({"algorithm": "basic", "params": {"keep_first": 1}, "seed": 42}),
        )
        .await;
    assert_eq!(with_float.body, with_int.body);
}

#[actix_web::test]
async fn a_seed_string_is_decimal_digits_only() {
    let app = spawn_app().await;
    let user = app.user("seeds").await;
    let p = app.playlist(&user, "Seeded", sample_tracks("sd", 8)).await;
    let preview = format!(
        "/api/playlists/{}/workshop/preview",
        p["id"].as_str().unwrap()
    );
    let api = app.as_user(&user);
    let digits = api
        .post(
            &preview,
            json!({"algorithm": "basic", "seed": "18446744073709551615"}),
        )
        .await;
    let number = api
        .post(
            &preview,
            json!({"algorithm": "basic", "seed": 18446744073709551615u64}),
        )
        .await;
    assert_eq!(digits.status, StatusCode::OK, "{}", digits.text);
    assert_eq!(digits.body, number.body);
    for bad in [" 5", "+5", "5 ", "", "18446744073709551616", "0x10"] {
        let res = api
            .post(&preview, json!({"algorithm": "basic", "seed": bad}))
            .await;
        assert_eq!(
            res.error(400, "validation_failed")["details"][0]["field"],
            "seed",
            "{bad:?}"
        );
    }
}

/// serde reads a struct from a JSON array too (its fields in order), so
/// `[]` was an empty PATCH (200) and `["alice", "pw"]` a login.
#[actix_web::test]
async fn a_body_must_be_a_json_object() {
    let app = spawn_app().await;
    let user = app.user("arrays").await;
    let api = app.as_user(&user);
    let p = app.playlist(&user, "Arrays", sample_tracks("ar", 3)).await;
    let path = format!("/api/playlists/{}", p["id"].as_str().unwrap());
    for (method, target, body) in [
        (Method::PATCH, "/api/settings".to_string(), json!([])),
        (Method::PATCH, path.clone(), json!([])),
        (Method::POST, format!("{path}/shuffle"), json!([])),
        (Method::POST, format!("{path}/snapshots"), json!(["a note"])),
        (
            Method::POST,
            "/api/auth/login".to_string(),
            json!(["arrays", "password"]),
        ),
        (Method::POST, "/api/playlists".to_string(), json!("a name")),
    ] {
        let res = api.send(method.clone(), &target, Some(body), &[]).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], "body", "{method} {target}");
    }
    assert_eq!(api.get(&path).await.body["version"], 1);
}

/// A trimmed field's maximum counts the text as sent, as the document's
/// `maxLength` does: 4 spaces and 255 characters was a 201.
#[actix_web::test]
async fn a_trimmed_field_is_limited_as_sent() {
    let app = spawn_app().await;
    let user = app.user("padded").await;
    let api = app.as_user(&user);
    let padded = |n: usize| format!("    {}", "x".repeat(n));
    let res = api
        .post(
            "/api/playlists",
            json!({"name": "Padded", "tracks": [{"uri": padded(255), "name": "t"}]}),
        )
        .await;
    assert_eq!(
        res.error(400, "validation_failed")["details"][0]["field"],
        "tracks[0].uri"
    );
    let res = api
        .post("/api/playlists", json!({"name": padded(200)}))
        .await;
    assert_eq!(
        res.error(400, "validation_failed")["details"][0]["field"],
        "name"
    );
    let p = app.playlist(&user, "Fits", sample_tracks("pd", 2)).await;
    let sessions = format!(
        "/api/playlists/{}/workshop/sessions",
        p["id"].as_str().unwrap()
    );
    let res = api
        .post(&sessions, json!({"session_name": padded(100)}))
        .await;
    assert_eq!(
        res.error(400, "validation_failed")["details"][0]["field"],
        "session_name"
    );
    // Within the limit as sent, the stored value is trimmed.
    let res = api
        .post("/api/playlists", json!({"name": "  Trimmed  "}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["name"], "Trimmed");
}

/// A query value is read as sent: only an empty one counts as absent
/// (`allowEmptyValue` in the document). `offset=%0C` was read as absent
/// and `limit=%205` as 5.
#[actix_web::test]
async fn query_values_are_read_as_sent() {
    let app = spawn_app().await;
    let user = app.user("querying").await;
    let api = app.as_user(&user);
    for (path, field) in [
        ("/api/playlists?offset=%0C", "offset"),
        ("/api/playlists?limit=%205", "limit"),
        ("/api/activity?types=shuffle,,login", "types"),
        ("/api/activity?types=shuffle,%20login", "types"),
        ("/api/activity/summary?days=7%20", "days"),
    ] {
        let res = api.get(path).await;
        assert_eq!(
            res.error(400, "validation_failed")["details"][0]["field"],
            field,
            "{path}"
        );
    }
    for path in [
        "/api/playlists?offset=&limit=",
        "/api/activity?types=&q=",
        "/api/activity?types=shuffle,login",
    ] {
        assert_eq!(api.get(path).await.status, StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn an_optional_body_may_be_json_null() {
    let app = spawn_app().await;
    let user = app.user("nullbody").await;
    let p = app.playlist(&user, "Nulls", sample_tracks("nb", 20)).await;
    let path = format!("/api/playlists/{}", p["id"].as_str().unwrap());
    let api = app.as_user(&user);
    let res = api.post(&format!("{path}/shuffle"), Value::Null).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
    assert_ne!(uris(&res.body["playlist"]), uris(&p));
    let res = api.post(&format!("{path}/snapshots"), Value::Null).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["snapshot_type"], "manual");
}
