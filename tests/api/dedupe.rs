//! `POST /api/playlists/{id}/dedupe`: by URI and by track (without case or
//! accents), pinned entries kept, the preview, the rewrite's snapshot,
//! version, `If-Match`, undo and its `playlist_dedupe` row.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{rows_of, spawn_app, uris};

fn track(uri: &str, name: &str, artists: &[&str]) -> Value {
    json!({"uri": uri, "name": name, "artists": artists})
}

/// Tracks `a b a c b` (by URI).
fn with_repeats() -> Value {
    json!([
        track("dd:a", "A", &["X"]),
        track("dd:b", "B", &["X"]),
        track("dd:a", "A", &["X"]),
        track("dd:c", "C", &["X"]),
        track("dd:b", "B", &["X"]),
    ])
}

#[actix_web::test]
async fn dedupe_by_uri_keeps_the_first_snapshots_logs_and_undoes() {
    let app = spawn_app().await;
    let user = app.user("deduper").await;
    let p = app.playlist(&user, "Repeats", with_repeats()).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/playlists/{id}/dedupe");

    let res = app.as_user(&user).post(&path, json!({"by": "uri"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
    assert_eq!(
        res.body["removed"],
        json!([{"uri": "dd:a", "position": 2}, {"uri": "dd:b", "position": 4}])
    );
    assert_eq!(uris(&res.body["playlist"]), ["dd:a", "dd:b", "dd:c"]);
    assert_eq!(res.body["playlist"]["version"], 2);
    assert_eq!(res.header("etag"), Some("\"2\""));
    let snapshot_id = res.body["snapshot_id"].as_i64().expect("a snapshot first");
    let snapshot = app
        .as_user(&user)
        .get(&format!("/api/snapshots/{snapshot_id}"))
        .await;
    assert_eq!(snapshot.body["snapshot_type"], "auto_pre_dedupe");
    assert_eq!(snapshot.body["track_uris"], json!(uris(&p)));

    let activity = app.activity(&user).await;
    let row = &activity[0];
    assert_eq!(row["activity_type"], "playlist_dedupe");
    assert_eq!(row["playlist_id"], id);
    assert_eq!(row["description"], "Removed 2 duplicates from \"Repeats\"");
    assert_eq!(
        row["metadata"],
        json!({"by": "uri", "removed": 2, "track_count": 3, "snapshot_id": snapshot_id})
    );

    // Nothing left to remove: unchanged, no snapshot, no row, same version.
    let again = app.as_user(&user).post(&path, json!({"by": "uri"})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["changed"], false);
    assert_eq!(again.body["removed"], json!([]));
    assert_eq!(again.body["snapshot_id"], Value::Null);
    assert_eq!(again.body["playlist"]["version"], 2);
    assert_eq!(app.activity(&user).await.len(), activity.len());

    // Undo brings the duplicates back.
    let undone = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/undo"))
        .await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text);
    assert_eq!(uris(&undone.body), uris(&p));
}

#[actix_web::test]
async fn a_preview_answers_the_same_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.user("previewer").await;
    let p = app.playlist(&user, "Preview", with_repeats()).await;
    let id = p["id"].as_str().unwrap();
    let rows = app.activity(&user).await.len();

    let preview = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/dedupe?dry_run=true"),
            json!({"by": "uri"}),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert_eq!(preview.body["changed"], true);
    assert_eq!(
        preview.body["removed"],
        json!([{"uri": "dd:a", "position": 2}, {"uri": "dd:b", "position": 4}])
    );
    assert_eq!(uris(&preview.body["playlist"]), ["dd:a", "dd:b", "dd:c"]);
    assert_eq!(preview.body["playlist"]["version"], 1);
    assert_eq!(preview.body["snapshot_id"], Value::Null);

    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), uris(&p), "the order is untouched");
    assert_eq!(read.body["version"], 1);
    assert_eq!(app.activity(&user).await.len(), rows, "nothing logged");
    let snapshots = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}/snapshots"))
        .await;
    assert_eq!(snapshots.body["items"], json!([]));

    // The real dedupe then removes exactly what the preview listed.
    let done = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/dedupe?dry_run=false"),
            json!({"by": "uri"}),
        )
        .await;
    assert_eq!(done.body["removed"], preview.body["removed"]);
    assert_eq!(
        done.body["playlist"]["tracks"],
        preview.body["playlist"]["tracks"]
    );
}

#[actix_web::test]
async fn by_track_compares_name_and_first_artist_without_case_or_accents() {
    let app = spawn_app().await;
    let user = app.user("folder").await;
    let p = app
        .playlist(
            &user,
            "Accents",
            json!([
                track("tr:1", "Café del Mar", &["Beyoncé", "Guest"]),
                track("tr:2", "CAFE DEL MAR", &["beyonce"]),
                track("tr:3", "Cafe del Mar", &["Someone Else"]),
                track("tr:4", "Cafe del Mar", &[]),
                track("tr:5", "Cafe del Mar", &[]),
                track("tr:4", "Cafe del Mar", &[]),
                track("tr:6", "Café del Mar", &["Guest", "Beyoncé"]),
            ]),
        )
        .await;
    let id = p["id"].as_str().unwrap();

    // By URI only the repeated tr:4 goes.
    let by_uri = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/dedupe?dry_run=true"),
            json!({"by": "uri"}),
        )
        .await;
    assert_eq!(
        by_uri.body["removed"],
        json!([{"uri": "tr:4", "position": 5}])
    );

    // By track: tr:2 matches tr:1 (same name and first artist, folded);
    // tr:3 has another artist, tr:6 another first artist; tracks without an
    // artist match only by URI.
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/dedupe"),
            json!({"by": "track"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body["removed"],
        json!([{"uri": "tr:2", "position": 1}, {"uri": "tr:4", "position": 5}])
    );
    assert_eq!(
        uris(&res.body["playlist"]),
        ["tr:1", "tr:3", "tr:4", "tr:5", "tr:6"]
    );
    let activity = app.activity(&user).await;
    let row = rows_of(&activity, "playlist_dedupe")[0];
    assert_eq!(row["metadata"]["by"], "track");
    assert_eq!(row["metadata"]["removed"], 2);
    assert_eq!(row["metadata"]["track_count"], 5);
}

#[actix_web::test]
async fn a_pinned_entry_stays_and_its_earlier_duplicate_goes() {
    let app = spawn_app().await;
    let user = app.user("pinnedup").await;
    // a b a c a, slot 2 pinned.
    let p = app
        .playlist(
            &user,
            "Pinned",
            json!([
                track("pd:a", "A", &["X"]),
                track("pd:b", "B", &["X"]),
                track("pd:a", "A", &["X"]),
                track("pd:c", "C", &["X"]),
                track("pd:a", "A", &["X"]),
            ]),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    app.as_user(&user)
        .patch(
            &format!("/api/playlists/{id}"),
            json!({"pinned_positions": [2, 50]}),
        )
        .await;
    let res = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/dedupe"), json!({"by": "uri"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body["removed"],
        json!([{"uri": "pd:a", "position": 0}, {"uri": "pd:a", "position": 4}])
    );
    // The pinned "a" stays in slot 2; "b" and "c" close ranks around it.
    assert_eq!(uris(&res.body["playlist"]), ["pd:b", "pd:c", "pd:a"]);
    assert_eq!(res.body["playlist"]["pinned_positions"], json!([2, 50]));
}

#[actix_web::test]
async fn bad_requests_are_400s_and_if_match_is_honoured() {
    let app = spawn_app().await;
    let user = app.user("strict").await;
    let other = app.user("stranger").await;
    let p = app.playlist(&user, "Strict", with_repeats()).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/playlists/{id}/dedupe");

    for (body, field) in [
        (json!({"by": "album"}), "by"),
        (json!({"by": null}), "by"),
        (json!({"by": 1}), "by"),
        (json!({}), "by"),
        (json!({"by": "uri", "extra": 1}), "extra"),
    ] {
        let res = app.as_user(&user).post(&path, body.clone()).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{body}: {}", res.text);
    }
    let res = app
        .as_user(&user)
        .post(&format!("{path}?dry_run=yes"), json!({"by": "uri"}))
        .await;
    assert_eq!(
        res.error(400, "validation_failed")["details"][0]["field"],
        "dry_run"
    );
    let res = app
        .as_user(&user)
        .post(&format!("{path}?dryrun=true"), json!({"by": "uri"}))
        .await;
    res.error(400, "validation_failed");

    // Someone else's playlist is not found.
    let res = app.as_user(&other).post(&path, json!({"by": "uri"})).await;
    res.error(404, "not_found");

    // A stale version is a 412 and changes nothing, preview or not; the
    // current one goes through.
    for query in ["?dry_run=true", ""] {
        let res = app
            .as_user(&user)
            .send(
                Method::POST,
                &format!("{path}{query}"),
                Some(json!({"by": "uri"})),
                &[("If-Match", "\"7\"")],
            )
            .await;
        res.error(412, "precondition_failed");
    }
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), uris(&p));
    let res = app
        .as_user(&user)
        .send(
            Method::POST,
            &path,
            Some(json!({"by": "uri"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
}
