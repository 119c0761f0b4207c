//! Pinned positions over HTTP: PATCH validation and its `playlist_update`
//! row, and shuffles (every algorithm, `keep_first`, run-now and the
//! scheduler's own runs) that leave the entries of pinned slots in place.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use serde_json::json;

use shuffify::db::schema::schedules;

use crate::helpers::{rows_of, sample_tracks, spawn_app, uris};
use crate::scheduler::tick;

/// Asserts that `after` keeps each of `before`'s entries at `slots` (those
/// within the order) and holds the same entries as `before`.
fn holds_pins(before: &[String], after: &[String], slots: &[usize]) {
    for &slot in slots.iter().filter(|s| **s < before.len()) {
        assert_eq!(after[slot], before[slot], "slot {slot} of {after:?}");
    }
    let (mut a, mut b) = (before.to_vec(), after.to_vec());
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same entries");
}

#[actix_web::test]
async fn patch_validates_pinned_positions_and_logs_the_change() {
    let app = spawn_app().await;
    let user = app.user("pinner").await;
    let p = app.playlist(&user, "Pins", sample_tracks("pn", 5)).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/api/playlists/{id}");
    assert_eq!(p["pinned_positions"], json!([]));

    let too_many: Vec<usize> = (0..101).collect();
    for (body, field) in [
        (json!(null), "pinned_positions"),
        (json!("1,2"), "pinned_positions"),
        (json!({"0": 1}), "pinned_positions"),
        (json!([1, 1]), "pinned_positions[1]"),
        (json!([3, 10000]), "pinned_positions[1]"),
        (json!([-1]), "pinned_positions[0]"),
        (json!([1.5]), "pinned_positions[0]"),
        (json!(["2"]), "pinned_positions[0]"),
        (json!(too_many), "pinned_positions"),
    ] {
        let res = app
            .as_user(&user)
            .patch(&path, json!({ "pinned_positions": body }))
            .await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{body}: {}", res.text);
    }
    let unchanged = app.as_user(&user).get(&path).await;
    assert_eq!(unchanged.body["version"], 1);
    assert_eq!(unchanged.body["pinned_positions"], json!([]));

    // Sorted in the answer; a slot past the end is kept; 100 are allowed.
    let res = app
        .as_user(&user)
        .patch(&path, json!({"pinned_positions": [9999, 3, 0]}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["pinned_positions"], json!([0, 3, 9999]));
    assert_eq!(res.body["version"], 2, "a change of pins is a new version");
    assert_eq!(res.header("etag"), Some("\"2\""));
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "playlist_update");
    assert_eq!(
        row["metadata"]["changed_fields"],
        json!(["pinned_positions"])
    );
    assert_eq!(
        row["metadata"]["changes"],
        json!({"pinned_positions": {"from": [], "to": [0, 3, 9999]}})
    );

    // The same set in another order changes nothing and logs nothing.
    let rows = app.activity(&user).await.len();
    let same = app
        .as_user(&user)
        .patch(&path, json!({"pinned_positions": [3, 9999, 0]}))
        .await;
    assert_eq!(same.body["version"], 2);
    assert_eq!(app.activity(&user).await.len(), rows);

    let hundred: Vec<usize> = (0..100).map(|i| i * 7).collect();
    let res = app
        .as_user(&user)
        .patch(&path, json!({"pinned_positions": hundred}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["pinned_positions"], json!(hundred));

    // `[]` clears them.
    let res = app
        .as_user(&user)
        .patch(&path, json!({"pinned_positions": []}))
        .await;
    assert_eq!(res.body["pinned_positions"], json!([]));
    assert_eq!(res.body["version"], 4);
    let read = app.as_user(&user).get(&path).await;
    assert_eq!(read.body["pinned_positions"], json!([]));
}

#[actix_web::test]
async fn every_algorithm_leaves_pinned_tracks_where_they_are() {
    let app = spawn_app().await;
    let user = app.user("keeper").await;
    let p = app.playlist(&user, "Pinned", sample_tracks("pa", 30)).await;
    let id = p["id"].as_str().unwrap();
    let pins = [0, 7, 13, 29, 400];
    let res = app
        .as_user(&user)
        .patch(
            &format!("/api/playlists/{id}"),
            json!({"pinned_positions": pins}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let mut before = uris(&p);
    for (key, seed) in [
        ("basic", 1),
        ("balanced", 2),
        ("stratified", 3),
        ("percentage", 4),
        ("artist_spacing", 5),
        ("album_sequence", 6),
        ("tempo_gradient", 7),
    ] {
        let res = app
            .as_user(&user)
            .post(
                &format!("/api/playlists/{id}/shuffle"),
                json!({"algorithm": key, "seed": seed}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{key}: {}", res.text);
        let after = uris(&res.body["playlist"]);
        holds_pins(&before, &after, &pins);
        assert_eq!(res.body["playlist"]["pinned_positions"], json!(pins));
        before = after;
    }
    // Unseeded too.
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic"}),
        )
        .await;
    holds_pins(&before, &uris(&res.body["playlist"]), &pins);
    // The pins really held: the free slots did move.
    assert_ne!(uris(&res.body["playlist"]), uris(&p));
}

#[actix_web::test]
async fn keep_first_adds_its_slots_to_the_pins() {
    let app = spawn_app().await;
    let user = app.user("prefix").await;
    let p = app.playlist(&user, "Prefix", sample_tracks("kf", 20)).await;
    let id = p["id"].as_str().unwrap();
    app.as_user(&user)
        .patch(
            &format!("/api/playlists/{id}"),
            json!({"pinned_positions": [10, 15]}),
        )
        .await;
    for seed in 0..5 {
        let before = uris(
            &app.as_user(&user)
                .get(&format!("/api/playlists/{id}"))
                .await
                .body,
        );
        let res = app
            .as_user(&user)
            .post(
                &format!("/api/playlists/{id}/shuffle"),
                json!({"algorithm": "stratified", "params": {"keep_first": 3}, "seed": seed}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        holds_pins(&before, &uris(&res.body["playlist"]), &[0, 1, 2, 10, 15]);
    }
    // keep_first is for that shuffle only: the pins are still [10, 15].
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(read.body["pinned_positions"], json!([10, 15]));
}

#[actix_web::test]
async fn scheduled_shuffles_leave_pinned_tracks_where_they_are() {
    let app = spawn_app().await;
    let user = app.user("scheduled").await;
    let target = app.playlist(&user, "T", sample_tracks("st", 20)).await;
    let source = app.playlist(&user, "S", sample_tracks("ss", 6)).await;
    let tid = target["id"].as_str().unwrap();
    let pins = [1, 5, 19, 22];
    app.as_user(&user)
        .patch(
            &format!("/api/playlists/{tid}"),
            json!({"pinned_positions": pins}),
        )
        .await;

    // Run-now of a raid and shuffle: the raid appends (slot 22 is then
    // within the order, holding a raided track), the shuffle keeps every
    // pinned slot.
    let schedule = app
        .schedule(
            &user,
            json!({"job_type": "raid_and_shuffle", "target_playlist_id": tid,
                "source_playlist_ids": [source["id"]], "algorithm_name": "artist_spacing"}),
        )
        .await;
    let exec = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(exec.body["status"], "success", "{}", exec.text);
    let mut raided = uris(&target);
    raided.extend(uris(&source));
    let after = uris(
        &app.as_user(&user)
            .get(&format!("/api/playlists/{tid}"))
            .await
            .body,
    );
    holds_pins(&raided, &after, &pins);
    assert_ne!(after, raided, "the free slots were shuffled");

    // The scheduler's own run of a shuffle schedule.
    let shuffle = app.shuffle_schedule(&user, tid).await;
    let mut conn = app.conn();
    diesel::update(schedules::table.find(shuffle))
        .set(schedules::next_run_at.eq(Some(shuffify::db::now() - chrono::Duration::minutes(1))))
        .execute(&mut conn)
        .unwrap();
    drop(conn);
    assert_eq!(tick(&app.db.pool), 1);
    let ticked = uris(
        &app.as_user(&user)
            .get(&format!("/api/playlists/{tid}"))
            .await
            .body,
    );
    holds_pins(&after, &ticked, &pins);
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs[0]["actor_type"], "scheduler");
    assert_eq!(runs[0]["metadata"]["schedule_id"], json!(shuffle));
}

#[actix_web::test]
async fn a_workshop_commit_ignores_pins() {
    let app = spawn_app().await;
    let user = app.user("workshop").await;
    let p = app.playlist(&user, "W", sample_tracks("wk", 4)).await;
    let id = p["id"].as_str().unwrap();
    app.as_user(&user)
        .patch(
            &format!("/api/playlists/{id}"),
            json!({"pinned_positions": [0, 1, 2, 3]}),
        )
        .await;
    let mut reversed = uris(&p);
    reversed.reverse();
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/workshop/commit"),
            json!({ "track_uris": reversed }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(uris(&res.body["playlist"]), reversed);
    // Every slot pinned: a shuffle changes nothing.
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic", "seed": 3}),
        )
        .await;
    assert_eq!(res.body["changed"], false, "{}", res.text);
    assert_eq!(uris(&res.body["playlist"]), reversed);
}
