//! Schedules over HTTP: validation, CRUD, toggle, run now, history, and
//! the activity rows of each; another user's schedules and sources are
//! 404s. Upstream sources on their own are in `upstream.rs`.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use shuffify::db;
use shuffify::enums::TriggeredBy;
use shuffify::models::job_execution::JobExecution;

use crate::helpers::{rows_of, sample_tracks, spawn_app, uris};

#[actix_web::test]
async fn create_validates_every_rule() {
    let app = spawn_app().await;
    let user = app.user("planner").await;
    let other = app.user("stranger").await;
    let target = app.playlist(&user, "T", sample_tracks("vt", 2)).await;
    let source = app.playlist(&user, "S", sample_tracks("vs", 2)).await;
    let theirs = app.playlist(&other, "X", sample_tracks("vx", 2)).await;
    let tid = target["id"].as_str().unwrap();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"job_type": "dance", "target_playlist_id": tid}),
            "job_type",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": theirs["id"], "algorithm_name": "basic"}),
            "target_playlist_id",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid}),
            "algorithm_name",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid, "algorithm_name": "nope"}),
            "algorithm_name",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid, "algorithm_name": "balanced", "algorithm_params": {"section_count": 1}}),
            "algorithm_params.section_count",
        ),
        (
            json!({"job_type": "raid", "target_playlist_id": tid}),
            "source_playlist_ids",
        ),
        (
            json!({"job_type": "raid", "target_playlist_id": tid, "source_playlist_ids": [theirs["id"]]}),
            "source_playlist_ids",
        ),
        (
            json!({"job_type": "raid", "target_playlist_id": tid, "source_playlist_ids": [tid]}),
            "source_playlist_ids",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid, "algorithm_name": "basic", "schedule_value": "hourly"}),
            "schedule_value",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid, "algorithm_name": "basic", "schedule_type": "cron", "schedule_value": "0 0 12 * * *"}),
            "schedule_value",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid, "algorithm_name": "basic", "schedule_type": "cron", "schedule_value": "99 * * * *"}),
            "schedule_value",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid, "algorithm_name": "basic", "schedule_type": "weekly"}),
            "schedule_type",
        ),
        (
            json!({"job_type": "shuffle", "target_playlist_id": tid, "algorithm_name": "basic", "color": "red"}),
            "color",
        ),
    ];
    for (body, field) in cases {
        let res = app
            .as_user(&user)
            .post("/api/schedules", body.clone())
            .await;
        let error = res.error(400, "validation_failed");
        let fields: Vec<&str> = error["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap_or(""))
            .collect();
        assert!(
            fields.contains(&field)
                || (field == "job_type" || field == "schedule_type") && fields.contains(&"body"),
            "{body} gave {fields:?}: {}",
            res.text
        );
    }
    assert!(app.as_user(&user).get("/api/schedules").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());

    // Valid: interval by default (daily), next run one interval ahead.
    let res = app.as_user(&user).post("/api/schedules", json!({"job_type": "raid", "target_playlist_id": tid, "source_playlist_ids": [source["id"]]})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.body["schedule_type"], "interval");
    assert_eq!(res.body["schedule_value"], "daily");
    assert_eq!(res.body["target_playlist_name"], "T");
    let created = shuffify::timestamp::parse(res.body["created_at"].as_str().unwrap()).unwrap();
    let next = shuffify::timestamp::parse(res.body["next_run_at"].as_str().unwrap()).unwrap();
    assert_eq!(next - created, chrono::Duration::days(1));
    assert!(
        res.body["last_run_at"].is_null()
            && res.body["last_status"].is_null()
            && res.body["last_error"].is_null()
    );
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "schedule_create");
    assert_eq!(
        row["metadata"],
        json!({"schedule_id": res.body["id"], "job_type": "raid"})
    );

    // A raid may rely on the target's upstream sources instead.
    app.as_user(&user)
        .post(
            &format!("/api/playlists/{tid}/upstream-sources"),
            json!({"source_playlist_id": source["id"]}),
        )
        .await;
    let res = app.as_user(&user).post("/api/schedules", json!({"job_type": "raid", "target_playlist_id": tid, "schedule_type": "cron", "schedule_value": "30 6 * * 1"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert!(res.body["next_run_at"]
        .as_str()
        .unwrap()
        .contains("T06:30:00.000000Z"));
}

#[actix_web::test]
async fn at_most_five_schedules() {
    let app = spawn_app().await;
    let user = app.user("eager").await;
    let p = app.playlist(&user, "P", sample_tracks("fv", 2)).await;
    let body =
        json!({"job_type": "shuffle", "target_playlist_id": p["id"], "algorithm_name": "basic"});
    for _ in 0..5 {
        assert_eq!(
            app.as_user(&user)
                .post("/api/schedules", body.clone())
                .await
                .status,
            StatusCode::CREATED
        );
    }
    app.as_user(&user)
        .post("/api/schedules", body)
        .await
        .error(409, "conflict");
}

#[actix_web::test]
async fn patch_validates_the_merged_schedule_and_logs_changed_fields() {
    let app = spawn_app().await;
    let user = app.user("tweaker").await;
    let target = app.playlist(&user, "T", sample_tracks("pt", 3)).await;
    let source = app.playlist(&user, "S", sample_tracks("ps", 3)).await;
    let res = app.as_user(&user).post("/api/schedules", json!({"job_type": "raid", "target_playlist_id": target["id"], "source_playlist_ids": [source["id"]]})).await;
    let path = format!("/api/schedules/{}", res.body["id"]);
    let api = app.as_user(&user);

    // Would leave a raid without sources.
    let err = api.patch(&path, json!({"source_playlist_ids": []})).await;
    assert_eq!(
        err.error(400, "validation_failed")["details"][0]["field"],
        "source_playlist_ids"
    );
    // A six-field cron.
    let err = api
        .patch(
            &path,
            json!({"schedule_type": "cron", "schedule_value": "0 0 12 * * *"}),
        )
        .await;
    assert_eq!(
        err.error(400, "validation_failed")["details"][0]["field"],
        "schedule_value"
    );
    // Switching to a shuffle job needs an algorithm.
    let err = api
        .patch(&path, json!({"job_type": "raid_and_shuffle"}))
        .await;
    assert_eq!(
        err.error(400, "validation_failed")["details"][0]["field"],
        "algorithm_name"
    );
    api.patch(&path, json!({"job_type": null}))
        .await
        .error(400, "validation_failed");
    assert_eq!(api.get(&path).await.body["job_type"], "raid");

    let res = api.patch(&path, json!({"job_type": "raid_and_shuffle", "algorithm_name": "balanced", "schedule_value": "every_6h"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["job_type"], "raid_and_shuffle");
    let updated = shuffify::timestamp::parse(res.body["updated_at"].as_str().unwrap()).unwrap();
    let next = shuffify::timestamp::parse(res.body["next_run_at"].as_str().unwrap()).unwrap();
    assert_eq!(next - updated, chrono::Duration::hours(6));
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "schedule_update");
    assert_eq!(
        row["metadata"]["updated_fields"],
        json!(["job_type", "schedule_value", "algorithm_name"])
    );
    assert_eq!(row["metadata"]["job_type"], "raid_and_shuffle");

    let before = app.activity(&user).await.len();
    let res = api
        .patch(&path, json!({"schedule_value": "every_6h"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        app.activity(&user).await.len(),
        before,
        "a PATCH that changes nothing logs nothing"
    );
}

#[actix_web::test]
async fn toggle_clears_and_restores_next_run() {
    let app = spawn_app().await;
    let user = app.user("switcher").await;
    let p = app.playlist(&user, "P", sample_tracks("tg", 3)).await;
    let res = app.as_user(&user).post("/api/schedules", json!({"job_type": "shuffle", "target_playlist_id": p["id"], "algorithm_name": "basic", "schedule_value": "every_12h"})).await;
    let path = format!("/api/schedules/{}/toggle", res.body["id"]);
    let off = app.as_user(&user).post_empty(&path).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(off.body["is_enabled"], false);
    assert!(off.body["next_run_at"].is_null());
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "schedule_toggle");
    assert_eq!(row["metadata"]["is_enabled"], false);
    let on = app.as_user(&user).post_empty(&path).await;
    assert_eq!(on.body["is_enabled"], true);
    let updated = shuffify::timestamp::parse(on.body["updated_at"].as_str().unwrap()).unwrap();
    let next = shuffify::timestamp::parse(on.body["next_run_at"].as_str().unwrap()).unwrap();
    assert_eq!(next - updated, chrono::Duration::hours(12));
}

#[actix_web::test]
async fn run_now_raids_new_tracks_once_in_source_order() {
    let app = spawn_app().await;
    let user = app.user("runner").await;
    let target = app
        .playlist(
            &user,
            "Target",
            json!([{"uri": "r:1", "name": "a"}, {"uri": "r:2", "name": "b"}]),
        )
        .await;
    let s1 = app.playlist(&user, "S1", json!([{"uri": "r:2", "name": "b"}, {"uri": "r:3", "name": "c"}, {"uri": "r:4", "name": "d"}, {"uri": "r:3", "name": "c"}])).await;
    let s2 = app
        .playlist(
            &user,
            "S2",
            json!([{"uri": "r:5", "name": "e"}, {"uri": "r:4", "name": "d"}]),
        )
        .await;
    let res = app.as_user(&user).post("/api/schedules", json!({"job_type": "raid", "target_playlist_id": target["id"], "source_playlist_ids": [s1["id"], s2["id"]]})).await;
    let schedule = res.body.clone();
    let next_before = schedule["next_run_at"].clone();

    let exec = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{}/run", schedule["id"]))
        .await;
    assert_eq!(exec.status, StatusCode::OK, "{}", exec.text);
    assert_eq!(exec.body["status"], "success");
    assert_eq!(exec.body["tracks_added"], 3);
    assert_eq!(exec.body["tracks_total"], 5);
    assert!(exec.body["error_message"].is_null() && exec.body["completed_at"].is_string());
    let tid = target["id"].as_str().unwrap();
    let after = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}"))
        .await;
    assert_eq!(uris(&after.body), ["r:1", "r:2", "r:3", "r:4", "r:5"]);

    let snapshots = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}/snapshots"))
        .await;
    let pre_raid = &snapshots.body["items"][0];
    assert_eq!(pre_raid["snapshot_type"], "auto_pre_raid");
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "schedule_run");
    assert_eq!(row["actor_type"], "user");
    assert_eq!(
        row["description"],
        format!(
            "Scheduled raid into \"{}\", schedule #{}: 3 tracks added, 5 in total",
            after.body["name"].as_str().unwrap(),
            schedule["id"]
        )
    );
    assert_eq!(row["playlist_id"], tid);
    assert_eq!(
        row["metadata"],
        json!({
            "schedule_id": schedule["id"], "execution_id": exec.body["id"], "job_type": "raid",
            "status": "success", "tracks_added": 3, "tracks_total": 5,
            "tracks_left_out": 0, "snapshot_ids": [pre_raid["id"]],
        })
    );
    let snapshots = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}/snapshots"))
        .await;
    assert_eq!(snapshots.body["items"][0]["snapshot_type"], "auto_pre_raid");
    assert_eq!(snapshots.body["items"][0]["track_count"], 2);

    // Run again: nothing new, no snapshot, still one row per run.
    let again = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{}/run", schedule["id"]))
        .await;
    assert_eq!(again.body["tracks_added"], 0);
    assert_eq!(
        app.as_user(&user)
            .get(&format!("/api/playlists/{tid}/snapshots"))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let activity = app.activity(&user).await;
    assert_eq!(rows_of(&activity, "schedule_run").len(), 2);

    let got = app
        .as_user(&user)
        .get(&format!("/api/schedules/{}", schedule["id"]))
        .await;
    assert_eq!(got.body["last_status"], "success");
    assert!(got.body["last_run_at"].is_string());
    assert_eq!(
        got.body["next_run_at"], next_before,
        "run-now leaves next_run_at alone"
    );
    let history = app
        .as_user(&user)
        .get(&format!(
            "/api/schedules/{}/history?limit=1",
            schedule["id"]
        ))
        .await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(history.body["items"][0]["id"], again.body["id"]);
    assert_eq!(history.body["items"][0]["triggered_by"], "manual");
}

#[actix_web::test]
async fn run_now_shuffles_and_raid_and_shuffle_does_both() {
    let app = spawn_app().await;
    let user = app.user("mixer").await;
    let target = app.playlist(&user, "T", sample_tracks("mx", 20)).await;
    let source = app.playlist(&user, "S", sample_tracks("ms", 5)).await;
    let tid = target["id"].as_str().unwrap();
    let schedule = app.shuffle_schedule(&user, tid).await;
    let exec = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(exec.body["status"], "success");
    assert_eq!(exec.body["tracks_added"], 0);
    assert_eq!(exec.body["tracks_total"], 20);
    let shuffled = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}"))
        .await;
    assert_ne!(uris(&shuffled.body), uris(&target));
    let snaps = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}/snapshots"))
        .await;
    assert_eq!(
        snaps.body["items"][0]["snapshot_type"],
        "scheduled_pre_execution"
    );
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "schedule_run");
    assert_eq!(
        row["description"],
        format!("Scheduled shuffle of \"T\" (basic), schedule #{schedule}: 20 tracks")
    );

    let res = app.as_user(&user).post("/api/schedules", json!({"job_type": "raid_and_shuffle", "target_playlist_id": tid, "source_playlist_ids": [source["id"]], "algorithm_name": "balanced"})).await;
    let exec = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{}/run", res.body["id"]))
        .await;
    assert_eq!(exec.body["status"], "success", "{}", exec.text);
    assert_eq!(exec.body["tracks_added"], 5);
    assert_eq!(exec.body["tracks_total"], 25);
    let after = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}"))
        .await;
    let order = uris(&after.body);
    assert_eq!(order.len(), 25);
    // Shuffled: the raided tracks are not simply appended at the end.
    // (balanced takes its sections round-robin, so the last position comes
    // from the first section, never from the raided tracks: with stratified
    // they stayed in the last section and kept their order 1 time in 120.)
    let appended: Vec<String> = (0..5).map(|i| format!("ms:{i}")).collect();
    assert_ne!(&order[20..], &appended[..]);
    let row = &app.activity(&user).await[0];
    assert_eq!(
        row["description"],
        format!(
            "Scheduled raid and shuffle of \"T\" (balanced), schedule #{}: \
             5 tracks added, 25 in total",
            res.body["id"]
        )
    );
    let types: Vec<String> = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}/snapshots"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["snapshot_type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&types[..2], ["scheduled_pre_execution", "auto_pre_raid"]);
}

#[actix_web::test]
async fn a_job_whose_target_is_gone_fails_cleanly() {
    let app = spawn_app().await;
    let user = app.user("orphan").await;
    let target = app.playlist(&user, "Gone", sample_tracks("gn", 3)).await;
    let tid = target["id"].as_str().unwrap();
    let id = app.shuffle_schedule(&user, tid).await;
    app.as_user(&user)
        .delete(&format!("/api/playlists/{tid}"))
        .await;
    let exec = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{}/run", id))
        .await;
    assert_eq!(exec.status, StatusCode::OK, "a failed job is still a 200");
    assert_eq!(exec.body["status"], "failed");
    let message = exec.body["error_message"].as_str().unwrap();
    assert!(message.contains("no longer exists"), "{message}");
    let schedule = app
        .as_user(&user)
        .get(&format!("/api/schedules/{id}"))
        .await;
    assert_eq!(schedule.body["last_status"], "failed");
    assert_eq!(schedule.body["last_error"], message);
    let activity = app.activity(&user).await;
    let rows = rows_of(&activity, "schedule_run");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["metadata"]["status"], "failed");
    assert_eq!(rows[0]["metadata"]["error"], message);
    assert_eq!(rows[0]["playlist_name"], "Gone");
}

#[actix_web::test]
async fn run_now_while_running_is_a_conflict_and_delete_takes_the_history() {
    let app = spawn_app().await;
    let user = app.user("impatient").await;
    let p = app.playlist(&user, "P", sample_tracks("ip", 3)).await;
    let res = app.as_user(&user).post("/api/schedules", json!({"job_type": "shuffle", "target_playlist_id": p["id"], "algorithm_name": "basic"})).await;
    let id = res.body["id"].as_i64().unwrap();
    JobExecution::start(&mut app.conn(), id, TriggeredBy::Scheduler, db::now()).unwrap();
    app.as_user(&user)
        .post_empty(&format!("/api/schedules/{}/run", json!(id)))
        .await
        .error(409, "conflict");
    let res = app
        .as_user(&user)
        .delete(&format!("/api/schedules/{id}"))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "schedule_delete");
    assert_eq!(
        row["metadata"],
        json!({"schedule_id": id, "job_type": "shuffle"})
    );
    assert_eq!(JobExecution::count_for(&mut app.conn(), id).unwrap(), 0);
    app.as_user(&user)
        .get(&format!("/api/schedules/{id}"))
        .await
        .error(404, "not_found");
}

#[actix_web::test]
async fn another_users_schedules_and_sources_are_404_for_every_verb() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let target = app.playlist(&alice, "T", sample_tracks("at", 2)).await;
    let source = app.playlist(&alice, "S", sample_tracks("as", 2)).await;
    let tid = target["id"].as_str().unwrap();
    let src = app
        .as_user(&alice)
        .post(
            &format!("/api/playlists/{tid}/upstream-sources"),
            json!({"source_playlist_id": source["id"]}),
        )
        .await;
    let sched = app
        .as_user(&alice)
        .post(
            "/api/schedules",
            json!({"job_type": "raid", "target_playlist_id": tid}),
        )
        .await;
    let (sid, id) = (
        src.body["id"].as_i64().unwrap(),
        sched.body["id"].as_i64().unwrap(),
    );
    let bob_api = app.as_user(&bob);
    for (method, path, body) in [
        (Method::GET, format!("/api/schedules/{id}"), None),
        (
            Method::PATCH,
            format!("/api/schedules/{id}"),
            Some(json!({"schedule_value": "weekly"})),
        ),
        (Method::DELETE, format!("/api/schedules/{id}"), None),
        (Method::POST, format!("/api/schedules/{id}/toggle"), None),
        (Method::POST, format!("/api/schedules/{id}/run"), None),
        (Method::GET, format!("/api/schedules/{id}/history"), None),
        (Method::DELETE, format!("/api/upstream-sources/{sid}"), None),
        (
            Method::GET,
            format!("/api/playlists/{tid}/upstream-sources"),
            None,
        ),
        (
            Method::POST,
            format!("/api/playlists/{tid}/upstream-sources"),
            Some(json!({"source_playlist_id": source["id"]})),
        ),
    ] {
        bob_api
            .send(method, &path, body, &[])
            .await
            .error(404, "not_found");
    }
    assert!(bob_api.get("/api/schedules").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(JobExecution::count_for(&mut app.conn(), id).unwrap(), 0);
    let alice_schedule = app
        .as_user(&alice)
        .get(&format!("/api/schedules/{id}"))
        .await;
    assert_eq!(alice_schedule.body["is_enabled"], true);
    assert_eq!(alice_schedule.body["schedule_value"], "daily");
}
