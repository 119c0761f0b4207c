//! Playlists and the catalog over HTTP: create, read, list, update, delete,
//! versions and If-Match, validation.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{sample_tracks, spawn_app, uris};

#[actix_web::test]
async fn create_stores_tracks_in_order_and_logs_it() {
    let app = spawn_app().await;
    let user = app.user("maker").await;
    let mut tracks = sample_tracks("mk", 5);
    tracks
        .as_array_mut()
        .unwrap()
        .push(json!({"uri": "mk:0", "name": "dup"})); // duplicates allowed
    let res = app
        .as_user(&user)
        .post(
            "/api/playlists",
            json!({"name": "  Road Trip ", "description": "for the car", "tracks": tracks}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let id = res.body["id"].as_str().unwrap();
    assert_eq!(id.len(), 22);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        res.header("location"),
        Some(format!("/api/playlists/{id}").as_str())
    );
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(res.body["name"], "Road Trip");
    assert_eq!(res.body["version"], 1);
    assert_eq!(res.body["is_public"], false);
    assert_eq!(res.body["owner_id"], user.id);
    assert_eq!(
        uris(&res.body),
        ["mk:0", "mk:1", "mk:2", "mk:3", "mk:4", "mk:0"]
    );
    let first = &res.body["tracks"][0];
    assert_eq!(first["position"], 0);
    assert_eq!(first["artists"], json!(["Artist 0"]));
    assert_eq!(first["album_name"], "Album 0");
    assert_eq!(first["tempo"], 80.0);
    // The first entry of a URI defines the catalog entry.
    assert_eq!(res.body["tracks"][5]["name"], "Song 0");

    let got = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.header("etag"), Some("\"1\""));
    assert_eq!(uris(&got.body), uris(&res.body));

    let rows = app.activity(&user).await;
    assert_eq!(rows[0]["activity_type"], "playlist_create");
    assert_eq!(rows[0]["playlist_id"], id);
    assert_eq!(rows[0]["playlist_name"], "Road Trip");
    assert_eq!(rows[0]["actor_type"], "user");
    assert_eq!(rows[0]["metadata"]["track_count"], 6);
}

#[actix_web::test]
async fn list_shows_own_playlists_with_counts() {
    let app = spawn_app().await;
    let user = app.user("lister").await;
    let other = app.user("other").await;
    app.playlist(&user, "One", sample_tracks("l1", 3)).await;
    app.playlist(&user, "Two", sample_tracks("l2", 0)).await;
    app.playlist(&other, "Theirs", sample_tracks("l3", 1)).await;
    let res = app.as_user(&user).get("/api/playlists").await;
    assert_eq!(res.body["total"], 2);
    assert_eq!(res.body["limit"], 50);
    assert_eq!(res.body["offset"], 0);
    let items = res.body["items"].as_array().unwrap();
    let counts: Vec<(String, i64)> = items
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["track_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(counts.contains(&("One".into(), 3)) && counts.contains(&("Two".into(), 0)));
    for field in ["id", "description", "is_public", "version", "updated_at"] {
        assert!(items[0].get(field).is_some(), "{field}");
    }
    let page = app
        .as_user(&user)
        .get("/api/playlists?limit=1&offset=1")
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["total"], 2);
    app.as_user(&user)
        .get("/api/playlists?limit=101")
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn patch_changes_only_what_changed_and_bumps_the_version() {
    let app = spawn_app().await;
    let user = app.user("editor").await;
    let p = app.playlist(&user, "Old", sample_tracks("ed", 2)).await;
    let path = format!("/api/playlists/{}", p["id"].as_str().unwrap());

    let res = app
        .as_user(&user)
        .patch(&path, json!({"name": "New", "description": "desc"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["name"], "New");
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.header("etag"), Some("\"2\""));
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "playlist_update");
    assert_eq!(row["metadata"]["track_count"], 2);
    assert_eq!(
        row["metadata"]["changed_fields"],
        json!(["name", "description"])
    );

    // Making it public is a change, but not a new version.
    let res = app
        .as_user(&user)
        .patch(&path, json!({"is_public": true}))
        .await;
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.body["is_public"], true);

    // A PATCH that changes nothing answers 200 and logs nothing.
    let before = app.activity(&user).await.len();
    let res = app
        .as_user(&user)
        .patch(&path, json!({"name": "New"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["version"], 2);
    assert_eq!(app.activity(&user).await.len(), before);

    // null is a 400 on fields that are not nullable; nothing changes.
    app.as_user(&user)
        .patch(&path, json!({"name": null}))
        .await
        .error(400, "validation_failed");
    app.as_user(&user)
        .patch(&path, json!({"name": ""}))
        .await
        .error(400, "validation_failed");
    app.as_user(&user)
        .patch(&path, json!({"name": "x".repeat(201)}))
        .await
        .error(400, "validation_failed");
    app.as_user(&user)
        .patch(&path, json!({"owner_id": 5}))
        .await
        .error(400, "validation_failed");
    assert_eq!(app.as_user(&user).get(&path).await.body["name"], "New");
}

#[actix_web::test]
async fn if_match_guards_every_change() {
    let app = spawn_app().await;
    let user = app.user("guard").await;
    let p = app.playlist(&user, "Guarded", sample_tracks("gd", 6)).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/playlists/{id}");
    let api = app.as_user(&user);
    let stale = [("If-Match", "\"7\"")];
    let res = api
        .send(Method::PATCH, &path, Some(json!({"name": "x"})), &stale)
        .await;
    res.error(412, "precondition_failed");
    let res = api
        .send(
            Method::POST,
            &format!("{path}/shuffle"),
            Some(json!({"seed": 1})),
            &stale,
        )
        .await;
    res.error(412, "precondition_failed");
    let commit = json!({"track_uris": ["gd:1", "gd:0"]});
    let res = api
        .send(
            Method::POST,
            &format!("{path}/workshop/commit"),
            Some(commit.clone()),
            &stale,
        )
        .await;
    res.error(412, "precondition_failed");
    let got = api.get(&path).await;
    assert_eq!(got.body["version"], 1);
    assert_eq!(uris(&got.body), uris(&p));
    // The current version passes.
    let res = api
        .send(
            Method::POST,
            &format!("{path}/workshop/commit"),
            Some(commit),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["playlist"]["version"], 2);
}

#[actix_web::test]
async fn if_match_compares_strongly_takes_lists_and_star_and_guards_delete() {
    let app = spawn_app().await;
    let user = app.user("strong").await;
    let p = app.playlist(&user, "Tagged", sample_tracks("st", 4)).await;
    let path = format!("/api/playlists/{}", p["id"].as_str().unwrap());
    let api = app.as_user(&user);
    let read = api.get(&path).await;
    assert_eq!(read.header("ETag"), Some("\"1\""));
    let patch = |name: &str| Some(json!({ "name": name }));

    // A weak tag never matches, even of the current version; nor does an
    // unquoted or malformed value.
    for refused in ["W/\"1\"", "1", "\"1", "\"1\" junk", "*, \"1\""] {
        api.send(Method::PATCH, &path, patch("no"), &[("If-Match", refused)])
            .await
            .error(412, "precondition_failed");
    }
    assert_eq!(api.get(&path).await.body["version"], 1, "nothing changed");

    // A list matches when any member does (weak members aside).
    let res = api
        .send(
            Method::PATCH,
            &path,
            patch("Listed"),
            &[("If-Match", "W/\"1\", \"7\", \"1\"")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["version"], 2);
    // `*` matches whatever version the playlist is at.
    let res = api
        .send(Method::PATCH, &path, patch("Starred"), &[("If-Match", "*")])
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["version"], 3);

    // DELETE honours it too: a stale version keeps the playlist …
    api.send(Method::DELETE, &path, None, &[("If-Match", "\"2\"")])
        .await
        .error(412, "precondition_failed");
    assert_eq!(api.get(&path).await.status, StatusCode::OK);
    // … and the current one deletes it; `*` on a missing one is a 404.
    let res = api
        .send(Method::DELETE, &path, None, &[("If-Match", "\"3\"")])
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    api.send(Method::DELETE, &path, None, &[("If-Match", "*")])
        .await
        .error(404, "not_found");
}

#[actix_web::test]
async fn delete_answers_204_and_logs() {
    let app = spawn_app().await;
    let user = app.user("deleter").await;
    let p = app.playlist(&user, "Doomed", sample_tracks("dl", 3)).await;
    let path = format!("/api/playlists/{}", p["id"].as_str().unwrap());
    let res = app.as_user(&user).delete(&path).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    app.as_user(&user).get(&path).await.error(404, "not_found");
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "playlist_delete");
    assert_eq!(row["playlist_name"], "Doomed");
    assert_eq!(row["metadata"]["track_count"], 3);
    app.as_user(&user)
        .delete(&path)
        .await
        .error(404, "not_found");
}

#[actix_web::test]
async fn public_playlists_are_readable_but_not_writable_by_others() {
    let app = spawn_app().await;
    let owner = app.user("owner").await;
    let other = app.user("visitor").await;
    let p = app.playlist(&owner, "Shared", sample_tracks("pb", 2)).await;
    let path = format!("/api/playlists/{}", p["id"].as_str().unwrap());
    app.as_user(&other).get(&path).await.error(404, "not_found");
    app.as_user(&owner)
        .patch(&path, json!({"is_public": true}))
        .await;
    assert_eq!(app.as_user(&other).get(&path).await.status, StatusCode::OK);
    app.as_user(&other)
        .patch(&path, json!({"name": "mine"}))
        .await
        .error(404, "not_found");
    app.as_user(&other)
        .delete(&path)
        .await
        .error(404, "not_found");
    app.as_user(&other)
        .post(&format!("{path}/shuffle"), json!({}))
        .await
        .error(404, "not_found");
}

#[actix_web::test]
async fn bad_playlist_bodies_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let user = app.user("careless").await;
    let api = app.as_user(&user);
    let too_many = sample_tracks("big", 10_001);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"tracks": []}), "name"),
        (json!({"name": "", "tracks": []}), "name"),
        (json!({"name": "x".repeat(201), "tracks": []}), "name"),
        (json!({"name": 5, "tracks": []}), "body"),
        (
            json!({"name": "ok", "tracks": [{"uri": "", "name": "n"}]}),
            "tracks[0].uri",
        ),
        (
            json!({"name": "ok", "tracks": [{"uri": "u", "name": "n", "tempo": -3}]}),
            "tracks[0].tempo",
        ),
        (
            json!({"name": "ok", "tracks": [{"uri": "u", "name": "n", "duration_ms": -1}]}),
            "tracks[0].duration_ms",
        ),
        (json!({"name": "ok", "tracks": [{"uri": "u"}]}), "name"),
        (json!({"name": "ok", "tracks": too_many}), "tracks"),
    ];
    for (body, field) in cases {
        let res = api.post("/api/playlists", body).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{}", res.text);
    }
    let res = api
        .send(
            Method::POST,
            "/api/playlists",
            None,
            &[("Content-Type", "application/json")],
        )
        .await;
    res.error(400, "validation_failed");
    assert_eq!(api.get("/api/playlists").await.body["total"], 0);
    assert!(api.get("/api/tracks").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // Exactly 10,000 tracks is fine (and over 2 MiB, under the 8 MiB limit).
    let res = api
        .post(
            "/api/playlists",
            json!({"name": "Max", "tracks": sample_tracks("max", 10_000)}),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::CREATED,
        "{}",
        &res.text[..200.min(res.text.len())]
    );
    assert_eq!(res.body["tracks"].as_array().unwrap().len(), 10_000);
}
