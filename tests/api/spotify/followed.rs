//! Which Spotify playlists can be read: Spotify lets a development-mode app
//! read the items only of playlists the account owns or collaborates on,
//! so one it only follows is listed as not importable, cannot be imported
//! (409, nothing read or stored) nor added as a raid source (400), and a
//! source Spotify stops letting us read fails the run that reads it.

use actix_web::http::StatusCode;
use serde_json::json;

use super::connected;
use crate::fake_spotify::ACCOUNT;
use crate::helpers::{rows_of, sample_tracks, uris};

const WHY: &str = "Spotify only lets this app read playlists you own or collaborate on";

#[actix_web::test]
async fn a_followed_playlist_is_listed_as_not_importable_and_importing_it_reads_and_stores_nothing()
{
    let (fake, app, user) = connected("follower").await;
    fake.add_playlist("mine", ACCOUNT, 2);
    fake.add_playlist("shared", "a-friend", 2);
    fake.lock()
        .playlists
        .get_mut("shared")
        .unwrap()
        .collaborative = true;
    fake.add_playlist("followed", "a-curator", 2);

    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let flags: Vec<_> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["spotify_playlist_id"].as_str().unwrap().to_string(),
                p["owned"].clone(),
                p["collaborative"].clone(),
                p["importable"].clone(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("mine".into(), json!(true), json!(false), json!(true)),
            ("shared".into(), json!(false), json!(true), json!(true)),
            ("followed".into(), json!(false), json!(false), json!(false)),
        ]
    );

    let refused = app.try_import(&user, "followed").await;
    let error = refused.error(409, "conflict");
    assert!(
        error["message"].as_str().unwrap().contains(WHY),
        "{}",
        refused.text
    );
    assert_eq!(
        fake.requests_matching("/items"),
        0,
        "no item was read: {:#?}",
        fake.lock().requests
    );
    let playlists = app.as_user(&user).get("/api/playlists").await;
    assert_eq!(playlists.body["items"], json!([]), "nothing stored");
    assert!(rows_of(&app.activity(&user).await, "playlist_create").is_empty());

    let shared = app.import(&user, "shared").await;
    assert_eq!(
        uris(&shared),
        fake.items("shared"),
        "a collaborative one is"
    );
}

#[actix_web::test]
async fn a_followed_playlist_cannot_be_a_spotify_source() {
    let (fake, app, user) = connected("sourcer").await;
    fake.add_playlist("followed", "a-curator", 2);
    let local = app.playlist(&user, "Inbox", sample_tracks("in", 1)).await;
    let sources = format!(
        "/api/playlists/{}/upstream-sources",
        local["id"].as_str().unwrap()
    );

    let refused = app
        .as_user(&user)
        .post(
            &sources,
            json!({"source_playlist_id": "followed", "source_type": "spotify"}),
        )
        .await;
    let error = refused.error(400, "validation_failed");
    assert_eq!(error["details"][0]["field"], "source_playlist_id");
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains(WHY),
        "{}",
        refused.text
    );
    assert_eq!(
        app.as_user(&user).get(&sources).await.body["items"],
        json!([])
    );
    assert_eq!(fake.requests_matching("/items"), 0);
}

#[actix_web::test]
async fn a_source_spotify_no_longer_lets_us_read_fails_the_run_with_the_reason() {
    let (fake, app, user) = connected("lapsed").await;
    fake.add_playlist("shared", "a-friend", 3);
    fake.lock()
        .playlists
        .get_mut("shared")
        .unwrap()
        .collaborative = true;
    let local = app.playlist(&user, "Inbox", sample_tracks("in", 2)).await;
    let id = local["id"].as_str().unwrap();
    let added = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/upstream-sources"),
            json!({"source_playlist_id": "shared", "source_type": "spotify"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let schedule = app
        .schedule(&user, json!({"job_type": "raid", "target_playlist_id": id}))
        .await;
    // The owner stops the collaboration: Spotify now answers 403.
    fake.lock()
        .playlists
        .get_mut("shared")
        .unwrap()
        .collaborative = false;

    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "failed");
    let message = run.body["error_message"].as_str().unwrap();
    assert!(message.contains(WHY), "{}", run.text);
    assert!(message.contains("shared"), "names the source: {message}");

    let activity = app.activity(&user).await;
    let runs = rows_of(&activity, "schedule_run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["metadata"]["status"], "failed");
    assert!(runs[0]["metadata"]["error"].as_str().unwrap().contains(WHY));
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), uris(&local), "nothing raided");
}
