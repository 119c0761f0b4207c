//! Per-user and per-playlist caps (docs/api.md, "Limits"): beyond each, a 409 whose
//! message names the cap and its number, and nothing stored; a raid stops
//! at the track limit and says how many it left out. The fill-up rows are
//! inserted through the models (the caps are what is under test, not the
//! 500 requests it would take to reach them).

use futures_util::future::join_all;
use serde_json::json;

use shuffify::db::{self, DbConnection, Json};
use shuffify::enums::SourceType;
use shuffify::models::playlist::Playlist;
use shuffify::models::upstream_source::NewUpstreamSource;
use shuffify::models::workshop_session::NewWorkshopSession;

use crate::helpers::{insert_playlist, sample_tracks, spawn_app, spawn_shared_app, uris};

fn insert_playlists(conn: &mut DbConnection, owner: i64, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            insert_playlist(
                conn,
                owner,
                format!("{prefix}{i:0>6}"),
                &format!("Filler {i}"),
            )
            .id
        })
        .collect()
}

fn playlist_count(conn: &mut DbConnection, owner: i64) -> i64 {
    Playlist::count_owned(conn, owner).unwrap()
}

#[actix_web::test]
async fn parallel_creates_at_499_playlists_let_exactly_one_through() {
    let app = spawn_shared_app().await;
    let user = app.user("hoarder").await;
    insert_playlists(&mut app.conn(), user.id, "fill", 499);

    let results = join_all((0..6).map(|i| {
        app.as_user(&user).post(
            "/api/playlists",
            json!({"name": format!("One more {i}"), "tracks": sample_tracks("more", 2)}),
        )
    }))
    .await;

    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1);
    for refused in results.iter().filter(|r| r.status != 201) {
        let error = refused.error(409, "conflict");
        assert!(
            error["message"].as_str().unwrap().contains("500 playlists"),
            "{error}"
        );
    }
    assert_eq!(playlist_count(&mut app.conn(), user.id), 500);
}

#[actix_web::test]
async fn a_playlist_takes_at_most_twenty_upstream_sources() {
    let app = spawn_app().await;
    let user = app.user("sourcer").await;
    let target = app.playlist(&user, "Target", sample_tracks("tg", 2)).await;
    let target_id = target["id"].as_str().unwrap();
    let mut conn = app.conn();
    let sources = insert_playlists(&mut conn, user.id, "src", 21);
    for source in &sources[..20] {
        NewUpstreamSource {
            user_id: user.id,
            target_playlist_id: target_id.to_string(),
            source_playlist_id: source.clone(),
            source_type: SourceType::Own,
            source_url: None,
            source_name: None,
            created_at: db::now(),
        }
        .insert_if_new(&mut conn)
        .unwrap();
    }
    drop(conn);
    let path = format!("/api/playlists/{target_id}/upstream-sources");

    let refused = app
        .as_user(&user)
        .post(&path, json!({"source_playlist_id": sources[20]}))
        .await;

    let error = refused.error(409, "conflict");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("20 upstream sources"));
    let listed = app.as_user(&user).get(&path).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 20);
    // An existing source is still answered idempotently, not refused.
    let again = app
        .as_user(&user)
        .post(&path, json!({"source_playlist_id": sources[0]}))
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
}

#[actix_web::test]
async fn a_user_keeps_at_most_a_hundred_workshop_sessions() {
    let app = spawn_app().await;
    let user = app.user("drafty").await;
    let mut conn = app.conn();
    let playlists = insert_playlists(&mut conn, user.id, "ws", 11);
    for playlist in &playlists[..10] {
        for i in 0..10 {
            NewWorkshopSession {
                user_id: user.id,
                playlist_id: playlist.clone(),
                session_name: format!("Draft {i}"),
                track_uris: Json(json!([])),
                created_at: db::now(),
                updated_at: db::now(),
            }
            .insert(&mut conn)
            .unwrap();
        }
    }
    drop(conn);

    let refused = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{}/workshop/sessions", playlists[10]),
            json!({"session_name": "One too many", "track_uris": []}),
        )
        .await;

    let error = refused.error(409, "conflict");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("100 workshop sessions per user"));
    let activity = app.activity(&user).await;
    assert!(activity
        .iter()
        .all(|row| row["activity_type"] != "workshop_session_save"));
}

#[actix_web::test]
async fn a_raid_stops_at_the_track_limit_and_records_what_it_left_out() {
    let app = spawn_app().await;
    let user = app.user("raider").await;
    let target = app
        .playlist(&user, "Nearly full", sample_tracks("full", 9_995))
        .await;
    let source = app
        .playlist(&user, "Source", sample_tracks("new", 12))
        .await;
    let schedule = app
        .as_user(&user)
        .post(
            "/api/schedules",
            json!({"job_type": "raid", "target_playlist_id": target["id"],
                   "source_playlist_ids": [source["id"]]}),
        )
        .await;
    assert_eq!(schedule.status, 201, "{}", schedule.text);

    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{}/run", schedule.body["id"]))
        .await;

    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.body["status"], "success");
    assert_eq!(run.body["tracks_added"], 5);
    assert_eq!(run.body["tracks_total"], 10_000);
    let after = app
        .as_user(&user)
        .get(&format!(
            "/api/playlists/{}",
            target["id"].as_str().unwrap()
        ))
        .await;
    let order = uris(&after.body);
    assert_eq!(order.len(), 10_000);
    assert_eq!(
        &order[9_995..],
        ["new:0", "new:1", "new:2", "new:3", "new:4"]
    );
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "schedule_run");
    assert_eq!(row["metadata"]["tracks_left_out"], 7);
}
