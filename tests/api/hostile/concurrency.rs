//! Parallel writers on one aggregate: every rewrite without `If-Match`
//! succeeds one after another, a stale `If-Match` is a 412 (never a 409 or
//! a 500), count caps hold under parallel creates, and parallel creates
//! naming the same tracks each keep their sender's facts. On PostgreSQL's READ
//! COMMITTED these fail unless the aggregate's row is locked; on SQLite the
//! file database's single writer must not answer "database is locked".

use actix_web::http::Method;
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{sample_tracks, spawn_shared_app, uris, TestResponse};

fn statuses(results: &[TestResponse]) -> Vec<u16> {
    results.iter().map(|r| r.status.as_u16()).collect()
}

fn count(results: &[TestResponse], status: u16) -> usize {
    results
        .iter()
        .filter(|r| r.status.as_u16() == status)
        .count()
}

/// Tracks by `n` distinct artists, so `artist_spacing` has real work.
fn many_artists(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "uri": format!("{prefix}:{i}"),
                    "name": format!("Song {i}"),
                    "artists": [format!("{prefix} artist {}", i % (n / 2).max(1))],
                    "duration_ms": 1000,
                })
            })
            .collect(),
    )
}

#[actix_web::test]
async fn parallel_shuffles_of_one_playlist_all_succeed_one_after_another() {
    let app = spawn_shared_app().await;
    let user = app.user("racer").await;
    let playlist = app.playlist(&user, "Race", sample_tracks("race", 30)).await;
    let id = playlist["id"].as_str().unwrap();
    let path = format!("/api/playlists/{id}/shuffle");

    let results = join_all((0..40).map(|seed| {
        app.as_user(&user)
            .post(&path, json!({"algorithm": "basic", "seed": seed}))
    }))
    .await;

    assert!(
        results.iter().all(|r| r.status == 200),
        "{:?}",
        statuses(&results)
    );
    let changed = results.iter().filter(|r| r.body["changed"] == true).count();
    let now = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(now.body["version"], json!(1 + changed as i64));
    let mut order = uris(&now.body);
    order.sort();
    let mut original = uris(&playlist);
    original.sort();
    assert_eq!(order, original, "the order is still a permutation");
    let shuffles = app
        .activity(&user)
        .await
        .iter()
        .filter(|row| row["activity_type"] == "shuffle")
        .count();
    assert_eq!(
        shuffles, changed,
        "one row per shuffle that changed the order"
    );
}

#[actix_web::test]
async fn parallel_patches_with_one_if_match_let_exactly_one_through() {
    let app = spawn_shared_app().await;
    let user = app.user("patcher").await;
    let playlist = app
        .playlist(&user, "Patch me", sample_tracks("pm", 3))
        .await;
    let path = format!("/api/playlists/{}", playlist["id"].as_str().unwrap());

    let results = join_all((0..20).map(|i| {
        app.as_user(&user).send(
            Method::PATCH,
            &path,
            Some(json!({ "name": format!("Name {i}") })),
            &[("If-Match", "\"1\"")],
        )
    }))
    .await;

    assert_eq!(count(&results, 200), 1, "{:?}", statuses(&results));
    assert_eq!(count(&results, 412), 19, "{:?}", statuses(&results));
    for r in results.iter().filter(|r| r.status == 412) {
        r.error(412, "precondition_failed");
    }
    let now = app.as_user(&user).get(&path).await;
    assert_eq!(now.body["version"], 2);
    let updates = app
        .activity(&user)
        .await
        .iter()
        .filter(|row| row["activity_type"] == "playlist_update")
        .count();
    assert_eq!(updates, 1);
}

#[actix_web::test]
async fn parallel_commits_with_a_stale_or_shared_if_match_answer_412_never_409() {
    let app = spawn_shared_app().await;
    let user = app.user("committer").await;
    let playlist = app.playlist(&user, "Commit", sample_tracks("cm", 12)).await;
    let id = playlist["id"].as_str().unwrap();
    let path = format!("/api/playlists/{id}/workshop/commit");
    let original = uris(&playlist);

    // Each commit rotates the order differently; all claim version 1.
    let results = join_all((1..=20).map(|k| {
        let mut order = original.clone();
        order.rotate_left(k % original.len());
        app.as_user(&user).send(
            Method::POST,
            &path,
            Some(json!({ "track_uris": order })),
            &[("If-Match", "\"1\"")],
        )
    }))
    .await;

    assert_eq!(count(&results, 200), 1, "{:?}", statuses(&results));
    assert_eq!(count(&results, 412), 19, "{:?}", statuses(&results));
    let now = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(now.body["version"], 2);
}

#[actix_web::test]
async fn mixed_parallel_rewrites_without_if_match_all_succeed() {
    let app = spawn_shared_app().await;
    let user = app.user("mixer").await;
    let playlist = app.playlist(&user, "Mixed", sample_tracks("mx", 20)).await;
    let id = playlist["id"].as_str().unwrap().to_string();
    let snapshot = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/snapshots"))
        .await;
    assert_eq!(snapshot.status, 201, "{}", snapshot.text);
    let snapshot_id = snapshot.body["id"].as_i64().unwrap();
    let mut reversed = uris(&playlist);
    reversed.reverse();

    let shuffle_path = format!("/api/playlists/{id}/shuffle");
    let commit_path = format!("/api/playlists/{id}/workshop/commit");
    let restore_path = format!("/api/snapshots/{snapshot_id}/restore");
    let requests = (0..24).map(|i| match i % 3 {
        0 => app.as_user(&user).post(&shuffle_path, json!({ "seed": i })),
        1 => app
            .as_user(&user)
            .post(&commit_path, json!({ "track_uris": reversed })),
        _ => app.as_user(&user).post(&restore_path, json!({})),
    });
    let results = join_all(requests).await;

    assert!(
        results.iter().all(|r| r.status == 200),
        "{:?}",
        results
            .iter()
            .filter(|r| r.status != 200)
            .map(|r| &r.text)
            .collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn heavy_artist_spacing_shuffles_in_parallel_give_no_errors() {
    let app = spawn_shared_app().await;
    let user = app.user("heavy").await;
    let other = app.user("bystander").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let p = app
            .playlist(
                &user,
                &format!("Heavy {i}"),
                many_artists(&format!("h{i}"), 2000),
            )
            .await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/api/playlists/{id}/shuffle"))
        .collect();

    let shuffles = join_all((0..8).map(|i| {
        app.as_user(&user).post(
            &paths[i % paths.len()],
            json!({"algorithm": "artist_spacing", "params": {"min_spacing": 3}}),
        )
    }));
    let bystander = async {
        app.as_user(&other)
            .post(
                "/api/playlists",
                json!({"name": "Meanwhile", "tracks": sample_tracks("mw", 5)}),
            )
            .await
    };
    let (results, created) = futures_util::join!(shuffles, bystander);

    assert!(
        results.iter().all(|r| r.status == 200),
        "{:?}",
        statuses(&results)
    );
    assert_eq!(created.status, 201, "{}", created.text);
}

#[actix_web::test]
async fn parallel_schedule_creates_at_four_let_exactly_one_through() {
    let app = spawn_shared_app().await;
    let user = app.user("scheduler").await;
    let playlist = app.playlist(&user, "Target", sample_tracks("st", 5)).await;
    let body = json!({
        "job_type": "shuffle",
        "target_playlist_id": playlist["id"],
        "algorithm_name": "basic",
    });
    for _ in 0..4 {
        let r = app
            .as_user(&user)
            .post("/api/schedules", body.clone())
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    let results =
        join_all((0..20).map(|_| app.as_user(&user).post("/api/schedules", body.clone()))).await;

    assert_eq!(count(&results, 201), 1, "{:?}", statuses(&results));
    assert_eq!(count(&results, 409), 19, "{:?}", statuses(&results));
    let listed = app.as_user(&user).get("/api/schedules").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 5);
}

#[actix_web::test]
async fn parallel_workshop_session_creates_at_nine_let_exactly_one_through() {
    let app = spawn_shared_app().await;
    let user = app.user("drafter").await;
    let playlist = app.playlist(&user, "Drafts", sample_tracks("dr", 3)).await;
    let path = format!(
        "/api/playlists/{}/workshop/sessions",
        playlist["id"].as_str().unwrap()
    );
    let body =
        |i: usize| json!({"session_name": format!("Draft {i}"), "track_uris": uris(&playlist)});
    for i in 0..9 {
        let r = app.as_user(&user).post(&path, body(i)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    let results = join_all((10..30).map(|i| app.as_user(&user).post(&path, body(i)))).await;

    assert_eq!(count(&results, 201), 1, "{:?}", statuses(&results));
    assert_eq!(count(&results, 409), 19, "{:?}", statuses(&results));
    let listed = app.as_user(&user).get(&path).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 10);
}

#[actix_web::test]
async fn parallel_manual_snapshots_at_forty_nine_let_exactly_one_through() {
    let app = spawn_shared_app().await;
    let user = app.user("snapper").await;
    let playlist = app.playlist(&user, "Snaps", sample_tracks("sn", 3)).await;
    let path = format!(
        "/api/playlists/{}/snapshots",
        playlist["id"].as_str().unwrap()
    );
    for _ in 0..49 {
        let r = app.as_user(&user).post_empty(&path).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    let results = join_all((0..12).map(|_| app.as_user(&user).post_empty(&path))).await;

    assert_eq!(count(&results, 201), 1, "{:?}", statuses(&results));
    assert_eq!(count(&results, 409), 11, "{:?}", statuses(&results));
}

#[actix_web::test]
async fn parallel_creates_naming_the_same_tracks_each_keep_their_senders_facts() {
    let app = spawn_shared_app().await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(app.user(&format!("describer{i}")).await);
    }
    // Every user names the same 40 URIs, each with facts of their own, in
    // two playlists at once: 12 creates racing on one set of URIs.
    let facts = |who: usize| {
        Value::Array(
            (0..40)
                .map(|t| {
                    json!({"uri": format!("shared:{t}"), "name": format!("user {who} song {t}"),
                           "artists": [format!("artist {who}")], "tempo": (who * 10 + t) as f64})
                })
                .collect(),
        )
    };
    let creates = users.iter().enumerate().flat_map(|(who, user)| {
        let app = &app;
        let body = facts(who);
        (0..2).map(move |k| {
            let body = json!({"name": format!("P{who}-{k}"), "tracks": body.clone()});
            async move { app.as_user(user).post("/api/playlists", body).await }
        })
    });
    let results = join_all(creates).await;
    assert_eq!(count(&results, 201), 12, "{:?}", statuses(&results));
    for res in &results {
        let owner = res.body["name"].as_str().unwrap()[1..]
            .split('-')
            .next()
            .unwrap()
            .to_string();
        let read = app
            .as_user(&users[owner.parse::<usize>().unwrap()])
            .get(&format!(
                "/api/playlists/{}",
                res.body["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(uris(&read.body).len(), 40);
        for (t, track) in read.body["tracks"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                track["name"],
                format!("user {owner} song {t}"),
                "{}",
                read.text
            );
        }
    }
}
