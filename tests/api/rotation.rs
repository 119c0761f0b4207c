//! Rotation: the setting (PATCH, its 400s, `null` clears, the archive
//! deleted), and what a raid does with it: the entries added longest ago
//! (ties: lower position first) leave, to the end of the archive within its
//! 10,000 cap or dropped; a raid skips what the archive holds; the run's
//! and the archive's rows. Linked playlists: `spotify/rotation.rs`.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::Error;
use diesel::prelude::*;
use serde_json::{json, Value};
use shuffify::models::playlist_order::{OrderEntry, PlaylistOrder};

use crate::helpers::{rows_of, spawn_app, uris, TestApp, TestUser};

/// Sets the added times of `playlist`'s entries, in order (unix seconds).
fn set_added(conn: &mut shuffify::db::DbConnection, playlist: &str, times: &[i64]) {
    let entries: Vec<OrderEntry> = PlaylistOrder::entries(conn, playlist)
        .unwrap()
        .into_iter()
        .zip(times)
        .map(|(e, &added_at)| OrderEntry {
            uri: e.uri,
            added_at,
        })
        .collect();
    assert_eq!(entries.len(), times.len());
    PlaylistOrder::write(conn, playlist, &entries).unwrap();
}

fn tracks(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"uri": format!("{prefix}:{i}"), "name": format!("{prefix} {i}")}))
            .collect(),
    )
}

fn id(playlist: &Value) -> String {
    playlist["id"].as_str().unwrap().to_string()
}

/// A raid schedule of `target` from `sources` (`raid` or
/// `raid_and_shuffle`); its id.
async fn raid<S, B>(
    app: &TestApp<S>,
    user: &TestUser,
    target: &str,
    sources: &[&str],
    job: &str,
) -> i64
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let mut body =
        json!({"job_type": job, "target_playlist_id": target, "source_playlist_ids": sources});
    if job == "raid_and_shuffle" {
        body["algorithm_name"] = json!("basic");
    }
    app.schedule(user, body).await
}

/// Runs `schedule` now; its execution.
async fn run_now<S, B>(app: &TestApp<S>, user: &TestUser, schedule: i64) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let run = app
        .as_user(user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "success", "{}", run.text);
    run.body
}

/// PATCHes `playlist`'s rotation (a setting or `null`) as `user`.
async fn set_rotation<S, B>(
    app: &TestApp<S>,
    user: &TestUser,
    playlist: &str,
    rotation: Value,
) -> crate::helpers::TestResponse
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    app.as_user(user)
        .patch(
            &format!("/api/playlists/{playlist}"),
            json!({ "rotation": rotation }),
        )
        .await
}

/// Makes `schedule` due and runs one scheduler tick, as `serve` would;
/// how many schedules it ran.
async fn tick_due<S, B>(app: &TestApp<S>, schedule: i64) -> usize
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
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
    );
    let pool = app.db.pool.clone();
    actix_web::web::block(move || {
        shuffify::scheduler::tick(
            &mut shuffify::db::Checkout::new(pool),
            &executor,
            &std::sync::atomic::AtomicBool::new(false),
        )
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn a_rotation_is_set_shown_logged_and_cleared_by_null() {
    let app = spawn_app().await;
    let user = app.user("rotator").await;
    let list = app.playlist(&user, "List", tracks("l", 2)).await;
    let archive = app.playlist(&user, "Archive", tracks("a", 1)).await;
    let path = format!("/api/playlists/{}", id(&list));
    assert_eq!(list["rotation"], Value::Null);

    let rotation = json!({"max_tracks": 50, "archive_playlist_id": id(&archive)});
    let set = app
        .as_user(&user)
        .patch(&path, json!({"rotation": rotation}))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.body["rotation"], rotation);
    assert_eq!(
        set.body["version"], 2,
        "a rotation change bumps the version"
    );
    assert_eq!(set.header("etag"), Some("\"2\""));
    assert_eq!(
        app.as_user(&user).get(&path).await.body["rotation"],
        rotation
    );
    let listed = app.as_user(&user).get("/api/playlists").await;
    let item = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == list["id"])
        .unwrap()
        .clone();
    assert_eq!(item["rotation"], rotation);
    let row = rows_of(&app.activity(&user).await, "playlist_update")[0].clone();
    assert_eq!(row["metadata"]["changed_fields"], json!(["rotation"]));
    assert_eq!(
        row["metadata"]["changes"],
        json!({"rotation": {"from": null, "to": rotation}})
    );

    // The same value again changes nothing: no version, no row.
    let same = app
        .as_user(&user)
        .patch(&path, json!({"rotation": rotation}))
        .await;
    assert_eq!(same.body["version"], 2);
    // Without an archive, then cleared with null.
    let bare = app
        .as_user(&user)
        .patch(&path, json!({"rotation": {"max_tracks": 10}}))
        .await;
    assert_eq!(bare.status, StatusCode::OK, "{}", bare.text);
    assert_eq!(
        bare.body["rotation"],
        json!({"max_tracks": 10, "archive_playlist_id": null})
    );
    let cleared = app
        .as_user(&user)
        .patch(&path, json!({"rotation": null}))
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert_eq!(cleared.body["rotation"], Value::Null);
    assert_eq!(cleared.body["version"], 4);
    let updates = rows_of(&app.activity(&user).await, "playlist_update")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(updates.len(), 3);
    assert_eq!(
        updates[0]["metadata"]["changes"]["rotation"],
        json!({"from": {"max_tracks": 10, "archive_playlist_id": null}, "to": null})
    );
}

#[actix_web::test]
async fn a_rotation_that_cannot_be_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let user = app.user("strict").await;
    let other = app.user("someone").await;
    let a = id(&app.playlist(&user, "A", tracks("a", 1)).await);
    let b = id(&app.playlist(&user, "B", tracks("b", 1)).await);
    let c = id(&app.playlist(&user, "C", tracks("c", 1)).await);
    let theirs = id(&app.playlist(&other, "Theirs", tracks("t", 1)).await);
    let patch = |playlist: &str| format!("/api/playlists/{playlist}");
    let max = "rotation.max_tracks";
    let archive = "rotation.archive_playlist_id";
    for (body, field) in [
        (json!({"max_tracks": 0}), max),
        (json!({"max_tracks": 10001}), max),
        (json!({"max_tracks": -3}), max),
        (json!({"max_tracks": 5, "archive_playlist_id": a}), archive),
        (
            json!({"max_tracks": 5, "archive_playlist_id": theirs}),
            archive,
        ),
        (
            json!({"max_tracks": 5, "archive_playlist_id": "NoSuchPlaylist00000000"}),
            archive,
        ),
        (json!({"max_tracks": 5, "archive_playlist_id": ""}), archive),
        (
            json!({"max_tracks": 5, "archive_playlist_id": "x".repeat(300)}),
            archive,
        ),
    ] {
        let res = set_rotation(&app, &user, &a, json!(body)).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(error["details"][0]["field"], field, "{body}: {}", res.text);
    }
    // Shapes serde refuses are 400s too.
    for body in [
        json!({"max_tracks": "5"}),
        json!({}),
        json!({"max_tracks": 5, "extra": 1}),
    ] {
        let res = set_rotation(&app, &user, &a, json!(body)).await;
        res.error(400, "validation_failed");
    }
    // A archives into B: B may not archive into A, nor C close a loop.
    for (playlist, into, allowed) in [
        (&a, &b, true),
        (&b, &a, false),
        (&b, &c, true),
        (&c, &a, false),
    ] {
        let res = set_rotation(
            &app,
            &user,
            playlist,
            json!({"max_tracks": 5, "archive_playlist_id": into}),
        )
        .await;
        if allowed {
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        } else {
            assert_eq!(
                res.error(400, "validation_failed")["details"][0]["field"],
                archive
            );
        }
    }
    // Nothing of the refused ones was kept.
    let read = app.as_user(&user).get(&patch(&c)).await;
    assert_eq!(read.body["rotation"], Value::Null);
    assert_eq!(read.body["version"], 1);
    // Another user's playlist stays a 404 to change.
    app.as_user(&other)
        .patch(&patch(&a), json!({"rotation": null}))
        .await
        .error(404, "not_found");
}

#[actix_web::test]
async fn deleting_the_archive_keeps_the_rotation_without_it() {
    let app = spawn_app().await;
    let user = app.user("keeper").await;
    let list = id(&app.playlist(&user, "List", tracks("l", 1)).await);
    let archive = id(&app.playlist(&user, "Archive", tracks("a", 1)).await);
    let path = format!("/api/playlists/{list}");
    app.as_user(&user)
        .patch(
            &path,
            json!({"rotation": {"max_tracks": 3, "archive_playlist_id": archive}}),
        )
        .await;
    let gone = app
        .as_user(&user)
        .delete(&format!("/api/playlists/{archive}"))
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    let read = app.as_user(&user).get(&path).await;
    assert_eq!(
        read.body["rotation"],
        json!({"max_tracks": 3, "archive_playlist_id": null})
    );
}

#[actix_web::test]
async fn a_raid_over_the_limit_drops_the_oldest_ties_by_position_without_an_archive() {
    let app = spawn_app().await;
    let user = app.user("dropper").await;
    let target = id(&app.playlist(&user, "Target", tracks("t", 4)).await);
    let source = id(&app.playlist(&user, "Source", tracks("s", 2)).await);
    // t:1 and t:2 were added at the same, oldest, time: t:1 goes first.
    set_added(&mut app.conn(), &target, &[500, 100, 100, 300]);
    set_rotation(&app, &user, &target, json!({"max_tracks": 5})).await;
    let schedule = raid(&app, &user, &target, &[&source], "raid").await;
    let run = run_now(&app, &user, schedule).await;
    assert_eq!(run["tracks_added"], 2);
    assert_eq!(run["tracks_total"], 5);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{target}"))
        .await;
    assert_eq!(uris(&read.body), ["t:0", "t:2", "t:3", "s:0", "s:1"]);
    let row = rows_of(&app.activity(&user).await, "schedule_run")[0].clone();
    assert_eq!(row["metadata"]["rotated_out"], 1);
    assert_eq!(row["metadata"]["archive_playlist_id"], Value::Null);
    assert_eq!(row["metadata"]["rotation_dropped"], 1);
    // Again: the raid adds nothing, the playlist is at its size.
    run_now(&app, &user, schedule).await;
    let again = app
        .as_user(&user)
        .get(&format!("/api/playlists/{target}"))
        .await;
    assert_eq!(uris(&again.body), ["t:0", "t:2", "t:3", "s:0", "s:1"]);
    let row = rows_of(&app.activity(&user).await, "schedule_run")[0].clone();
    assert_eq!(row["metadata"]["rotated_out"], 0);
}

#[actix_web::test]
async fn a_raid_moves_the_oldest_to_the_end_of_the_archive_with_its_own_row() {
    let app = spawn_app().await;
    let user = app.user("archivist").await;
    let target = id(&app.playlist(&user, "Target", tracks("t", 4)).await);
    let source = id(&app.playlist(&user, "Source", tracks("s", 3)).await);
    let archive = app.playlist(&user, "Archive", tracks("a", 1)).await;
    let archive_id = id(&archive);
    set_added(&mut app.conn(), &target, &[400, 300, 100, 200]);
    set_rotation(
        &app,
        &user,
        &target,
        json!({"max_tracks": 4, "archive_playlist_id": archive_id}),
    )
    .await;
    let started = shuffify::db::now().and_utc().timestamp();
    let schedule = raid(&app, &user, &target, &[&source], "raid").await;
    let run = run_now(&app, &user, schedule).await;
    assert_eq!(run["tracks_added"], 3);
    assert_eq!(run["tracks_total"], 4);

    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{target}"))
        .await;
    assert_eq!(uris(&read.body), ["t:0", "s:0", "s:1", "s:2"]);
    // Oldest first, at the archive's end, added now.
    let kept = app
        .as_user(&user)
        .get(&format!("/api/playlists/{archive_id}"))
        .await;
    assert_eq!(uris(&kept.body), ["a:0", "t:2", "t:3", "t:1"]);
    assert_eq!(kept.body["version"], 2, "the archive's version moved");
    let entries = PlaylistOrder::entries(&mut app.conn(), &archive_id).unwrap();
    assert!(
        entries[1..].iter().all(|e| e.added_at >= started),
        "{entries:?}"
    );

    let activity = app.activity(&user).await;
    let run_row = rows_of(&activity, "schedule_run")[0].clone();
    assert_eq!(run_row["metadata"]["rotated_out"], 3);
    assert_eq!(run_row["metadata"]["archive_playlist_id"], archive_id);
    assert_eq!(run_row["metadata"]["rotation_dropped"], 0);
    let archived = rows_of(&activity, "playlist_update")
        .into_iter()
        .find(|r| r["playlist_id"] == archive_id)
        .expect("the archive's row")
        .clone();
    assert_eq!(archived["actor_type"], "user");
    assert_eq!(
        archived["metadata"]["changes"],
        json!({"track_count": {"from": 1, "to": 4}})
    );
    assert_eq!(archived["metadata"]["rotated_from_playlist_id"], target);
    assert_eq!(archived["metadata"]["track_count"], 4);
    // The archive's change can be undone like any rewrite.
    let snapshots = app
        .as_user(&user)
        .get(&format!("/api/playlists/{archive_id}/snapshots"))
        .await;
    assert_eq!(snapshots.body["items"][0]["snapshot_type"], "auto_pre_raid");
    assert_eq!(snapshots.body["items"][0]["track_count"], 1);
}

#[actix_web::test]
async fn a_raid_does_not_add_what_the_archive_holds() {
    let app = spawn_app().await;
    let user = app.user("skipper").await;
    let target = id(&app.playlist(&user, "Target", tracks("t", 1)).await);
    let source = app
        .playlist(
            &user,
            "Source",
            json!([{"uri": "x:1", "name": "x1"}, {"uri": "x:2", "name": "x2"}, {"uri": "x:3", "name": "x3"}]),
        )
        .await;
    let archive = app
        .playlist(&user, "Archive", json!([{"uri": "x:2", "name": "x2"}]))
        .await;
    set_rotation(
        &app,
        &user,
        &target,
        json!({"max_tracks": 100, "archive_playlist_id": archive["id"]}),
    )
    .await;
    let schedule = raid(&app, &user, &target, &[&id(&source)], "raid").await;
    let run = run_now(&app, &user, schedule).await;
    assert_eq!(run["tracks_added"], 2);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{target}"))
        .await;
    assert_eq!(uris(&read.body), ["t:0", "x:1", "x:3"]);
    let row = rows_of(&app.activity(&user).await, "schedule_run")[0].clone();
    assert_eq!(row["metadata"]["rotated_out"], 0);
}

#[actix_web::test]
async fn a_full_archive_takes_what_fits_and_the_rest_is_dropped_and_counted() {
    let app = spawn_app().await;
    let user = app.user("overflow").await;
    let target = id(&app.playlist(&user, "Target", tracks("t", 3)).await);
    let source = id(&app.playlist(&user, "Source", tracks("s", 3)).await);
    let archive = id(&app.playlist(&user, "Archive", tracks("a", 1)).await);
    // The archive holds 9,999 entries (one track, repeated): room for one.
    let full: Vec<OrderEntry> = (0..9_999)
        .map(|_| OrderEntry {
            uri: "a:0".into(),
            added_at: 1,
        })
        .collect();
    PlaylistOrder::write(&mut app.conn(), &archive, &full).unwrap();
    set_added(&mut app.conn(), &target, &[10, 20, 30]);
    set_rotation(
        &app,
        &user,
        &target,
        json!({"max_tracks": 3, "archive_playlist_id": archive}),
    )
    .await;
    let schedule = raid(&app, &user, &target, &[&source], "raid").await;
    run_now(&app, &user, schedule).await;
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{target}"))
        .await;
    assert_eq!(uris(&read.body), ["s:0", "s:1", "s:2"]);
    let entries = PlaylistOrder::entries(&mut app.conn(), &archive).unwrap();
    assert_eq!(entries.len(), 10_000);
    assert_eq!(entries[9_999].uri, "t:0", "the oldest went in");
    let activity = app.activity(&user).await;
    let row = rows_of(&activity, "schedule_run")[0].clone();
    assert_eq!(row["metadata"]["rotated_out"], 3);
    assert_eq!(row["metadata"]["rotation_dropped"], 2);
    let archived = rows_of(&activity, "playlist_update")[0].clone();
    assert_eq!(
        archived["metadata"]["changes"],
        json!({"track_count": {"from": 9_999, "to": 10_000}})
    );
}

#[actix_web::test]
async fn a_scheduled_raid_and_shuffle_rotates_after_the_raid_and_before_the_shuffle() {
    let app = spawn_app().await;
    let user = app.user("scheduled").await;
    let target = id(&app.playlist(&user, "Target", tracks("t", 6)).await);
    let source = id(&app.playlist(&user, "Source", tracks("s", 4)).await);
    let archive = id(&app.playlist(&user, "Archive", json!([])).await);
    set_added(&mut app.conn(), &target, &[1, 2, 3, 4, 5, 6]);
    set_rotation(
        &app,
        &user,
        &target,
        json!({"max_tracks": 6, "archive_playlist_id": archive}),
    )
    .await;
    let schedule = raid(&app, &user, &target, &[&source], "raid_and_shuffle").await;
    assert_eq!(tick_due(&app, schedule).await, 1);
    // The four oldest left before the shuffle: what stays is the newest
    // six, in some order; the archive has the four, oldest first.
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{target}"))
        .await;
    let mut kept = uris(&read.body);
    kept.sort();
    assert_eq!(kept, ["s:0", "s:1", "s:2", "s:3", "t:4", "t:5"]);
    let archived = app
        .as_user(&user)
        .get(&format!("/api/playlists/{archive}"))
        .await;
    assert_eq!(uris(&archived.body), ["t:0", "t:1", "t:2", "t:3"]);
    let activity = app.activity(&user).await;
    let run_row = rows_of(&activity, "schedule_run")[0].clone();
    assert_eq!(run_row["actor_type"], "scheduler");
    assert_eq!(run_row["metadata"]["rotated_out"], 4);
    let archive_row = rows_of(&activity, "playlist_update")[0].clone();
    assert_eq!(archive_row["playlist_id"], archive);
    assert_eq!(archive_row["actor_type"], "scheduler");
    assert_eq!(
        archive_row["metadata"]["changes"],
        json!({"track_count": {"from": 0, "to": 4}})
    );
}

/// Pins and rotation together, on a scheduled raid_and_shuffle: the pinned
/// entries neither rotate out (the oldest of all is pinned) nor move in the
/// shuffle; the oldest unpinned go to the archive, oldest first.
#[actix_web::test]
async fn a_scheduled_raid_and_shuffle_keeps_pinned_entries_through_rotation_and_shuffle() {
    let app = spawn_app().await;
    let user = app.user("pinned").await;
    let target = id(&app.playlist(&user, "Target", tracks("t", 6)).await);
    let source = id(&app.playlist(&user, "Source", tracks("s", 4)).await);
    let archive = id(&app.playlist(&user, "Archive", json!([])).await);
    set_added(&mut app.conn(), &target, &[1, 2, 3, 4, 5, 6]);
    let patched = app
        .as_user(&user)
        .patch(
            &format!("/api/playlists/{target}"),
            json!({"pinned_positions": [3, 0],
                   "rotation": {"max_tracks": 6, "archive_playlist_id": archive}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["pinned_positions"], json!([0, 3]));
    let schedule = raid(&app, &user, &target, &[&source], "raid_and_shuffle").await;
    assert_eq!(tick_due(&app, schedule).await, 1);
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{target}"))
        .await;
    let order = uris(&read.body);
    assert_eq!(
        (order[0].as_str(), order[3].as_str()),
        ("t:0", "t:3"),
        "{order:?}"
    );
    let mut rest = [&order[1], &order[2], &order[4], &order[5]].map(|u| u.to_string());
    rest.sort();
    assert_eq!(rest, ["s:0", "s:1", "s:2", "s:3"]);
    let archived = app
        .as_user(&user)
        .get(&format!("/api/playlists/{archive}"))
        .await;
    assert_eq!(uris(&archived.body), ["t:1", "t:2", "t:4", "t:5"]);
    let run_row = rows_of(&app.activity(&user).await, "schedule_run")[0].clone();
    assert_eq!(run_row["metadata"]["rotated_out"], 4);
    assert_eq!(run_row["metadata"]["archive_playlist_id"], archive);
}

/// A stale `If-Match` is a 412 before the archive is judged: the
/// precondition comes first, as on every playlist write.
#[actix_web::test]
async fn a_stale_version_is_a_412_before_the_archive_is_judged() {
    let app = spawn_app().await;
    let user = app.user("stale").await;
    let target = id(&app.playlist(&user, "Target", tracks("t", 2)).await);
    let res = app
        .as_user(&user)
        .send(
            actix_web::http::Method::PATCH,
            &format!("/api/playlists/{target}"),
            Some(json!({"rotation": {"max_tracks": 5, "archive_playlist_id": target}})),
            &[("If-Match", "\"7\"")],
        )
        .await;
    res.error(412, "precondition_failed");
}
