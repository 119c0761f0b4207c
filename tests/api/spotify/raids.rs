//! Scheduled runs on linked playlists (written back, one activity row
//! each, a Spotify failure failing the run) and Spotify playlists as a
//! raid's upstream sources.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use serde_json::json;

use super::connected;
use crate::fake_spotify::ACCOUNT;
use crate::helpers::{rows_of, sample_tracks, uris};

#[actix_web::test]
async fn a_scheduled_shuffle_of_a_linked_playlist_writes_back_with_one_row() {
    let (fake, app, user) = connected("scheduler").await;
    fake.add_playlist("sched", ACCOUNT, 30);
    let linked = app.import(&user, "sched").await;
    let id = linked["id"].as_str().unwrap();
    let schedule = app.shuffle_schedule(&user, id).await;
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "success", "{}", run.text);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_ne!(uris(&read.body), uris(&linked));
    assert_eq!(fake.items("sched"), uris(&read.body));
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metadata"]["status"], "success");
    assert_eq!(
        runs[0]["metadata"]["snapshot_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[actix_web::test]
async fn a_scheduled_raid_from_a_spotify_source_fills_a_local_playlist() {
    let (fake, app, user) = connected("raider").await;
    fake.add_playlist("public1", "a-curator", 4);
    // Theirs, but the account collaborates on it, so its items can be read.
    fake.lock()
        .playlists
        .get_mut("public1")
        .unwrap()
        .collaborative = true;
    let local = app.playlist(&user, "Inbox", sample_tracks("in", 2)).await;
    let id = local["id"].as_str().unwrap();
    let sources = format!("/api/playlists/{id}/upstream-sources");

    app.as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "missing", "source_type": "spotify"}),
        )
        .await
        .error(400, "validation_failed");
    let added = app
        .as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "public1", "source_type": "spotify"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.body["source_type"], "spotify");
    assert_eq!(added.body["source_name"], "Mix public1");
    let again = app
        .as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "public1", "source_type": "spotify"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "idempotent: {}", again.text);

    let schedule = app
        .schedule(&user, json!({"job_type": "raid", "target_playlist_id": id}))
        .await;
    diesel::update(shuffify::db::schema::schedules::table.find(schedule))
        .set(
            shuffify::db::schema::schedules::next_run_at
                .eq(Some(shuffify::db::now() - chrono::Duration::minutes(1))),
        )
        .execute(&mut app.conn())
        .unwrap();
    let executor = shuffify::services::job_executor::JobExecutor::new(
        app.db.pool.clone(),
        shuffify::config::Lease::default(),
    )
    .with_spotify(app.state.spotify.clone());
    let pool = app.db.pool.clone();
    let ran = actix_web::web::block(move || {
        shuffify::scheduler::tick(
            &mut shuffify::db::Checkout::new(pool),
            &executor,
            &std::sync::atomic::AtomicBool::new(false),
        )
    })
    .await
    .unwrap();
    assert_eq!(ran, 1);

    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    let mut expected = uris(&local);
    expected.extend(fake.items("public1"));
    assert_eq!(
        uris(&read.body),
        expected,
        "the source's tracks appended in order"
    );
    assert_eq!(read.body["tracks"][2]["name"], "Song public1t0");
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["actor_type"], "scheduler");
    assert_eq!(runs[0]["metadata"]["tracks_added"], 4);
}

#[actix_web::test]
async fn a_raid_and_shuffle_of_a_linked_playlist_writes_the_final_order_back() {
    let (fake, app, user) = connected("both").await;
    fake.add_playlist("target", ACCOUNT, 5);
    fake.add_playlist("feed", "a-curator", 3);
    fake.lock().playlists.get_mut("feed").unwrap().collaborative = true;
    let linked = app.import(&user, "target").await;
    let id = linked["id"].as_str().unwrap();
    // A local source too: its tracks are not Spotify's and stay out.
    let local = app
        .playlist(&user, "Local feed", sample_tracks("lf", 2))
        .await;
    for (source, kind) in [("feed", "spotify"), (local["id"].as_str().unwrap(), "own")] {
        let res = app
            .as_user(&user)
            .post(
                &format!("/api/playlists/{id}/upstream-sources"),
                json!({"source_playlist_id": source, "source_type": kind}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let schedule = app
        .schedule(
            &user,
            json!({"job_type": "raid_and_shuffle", "target_playlist_id": id,
            "algorithm_name": "basic"}),
        )
        .await;
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    assert_eq!(run.body["tracks_added"], 3);
    assert_eq!(run.body["tracks_total"], 8);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    let order = uris(&read.body);
    assert_eq!(fake.items("target"), order);
    let mut sorted = order.clone();
    sorted.sort();
    let mut expected = uris(&linked);
    expected.extend(fake.items("feed"));
    expected.sort();
    assert_eq!(sorted, expected);
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(
        runs[0]["metadata"]["snapshot_ids"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "before the raid and before the shuffle"
    );
}

#[actix_web::test]
async fn a_spotify_failure_fails_the_run_with_its_message_and_one_row() {
    let (fake, app, user) = connected("unlucky").await;
    fake.add_playlist("moving", ACCOUNT, 8);
    let linked = app.import(&user, "moving").await;
    let id = linked["id"].as_str().unwrap();
    let schedule = app.shuffle_schedule(&user, id).await;
    fake.edit("moving", |items| items.reverse());
    let theirs = fake.items("moving");
    let snapshots = format!("/api/playlists/{id}/snapshots");
    let kept = app.as_user(&user).get(&snapshots).await.body["items"].clone();
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "failed");
    assert!(
        run.body["error_message"]
            .as_str()
            .unwrap()
            .contains("changed on Spotify"),
        "{}",
        run.text
    );
    assert_eq!(fake.items("moving"), theirs);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), uris(&linked));
    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metadata"]["status"], "failed");
    assert!(runs[0]["metadata"]["error"]
        .as_str()
        .unwrap()
        .contains("sync first"));
    assert_eq!(runs[0]["metadata"]["snapshot_ids"], json!([]));
    let after = app.as_user(&user).get(&snapshots).await.body["items"].clone();
    assert_eq!(after, kept, "no snapshot of an order never replaced");

    // Nothing stays claimed: after a sync the next run goes through.
    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(fake.items("moving"), uris(&read.body));
}
