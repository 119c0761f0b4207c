//! Rotation with playlists linked to Spotify: a linked target's rotation is
//! part of the order written back; a linked archive gets what rotates out
//! on Spotify first, then here; entries Spotify cannot hold are dropped.

use actix_web::http::StatusCode;
use serde_json::json;

use super::connected;
use crate::fake_spotify::ACCOUNT;
use crate::helpers::{rows_of, uris};

#[actix_web::test]
async fn a_linked_playlist_rotates_and_the_result_is_written_back() {
    let (fake, app, user) = connected("linkedrot").await;
    fake.add_playlist("target", ACCOUNT, 5);
    fake.add_playlist("feed", ACCOUNT, 3);
    let linked = app.import(&user, "target").await;
    let id = linked["id"].as_str().unwrap();
    let patched = app
        .as_user(&user)
        .patch(
            &format!("/api/playlists/{id}"),
            json!({"rotation": {"max_tracks": 6}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/upstream-sources"),
            json!({"source_playlist_id": "feed", "source_type": "spotify"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let schedule = app
        .schedule(&user, json!({"job_type": "raid", "target_playlist_id": id}))
        .await;
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    assert_eq!(run.body["tracks_total"], 6);
    // Imported entries were all added at Spotify's same time: the two at
    // the lowest positions left.
    let mut expected: Vec<String> = uris(&linked)[2..].to_vec();
    expected.extend(fake.items("feed"));
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), expected);
    assert_eq!(fake.items("target"), expected, "written back");
    let row = rows_of(&app.activity(&user).await, "schedule_run")[0].clone();
    assert_eq!(row["metadata"]["rotated_out"], 2);
    assert_eq!(row["metadata"]["rotation_dropped"], 2);
    assert_eq!(row["metadata"]["provider"], "spotify");
}

#[actix_web::test]
async fn a_local_playlist_rotates_into_a_linked_archive_on_spotify() {
    let (fake, app, user) = connected("linkedarch").await;
    fake.add_playlist("arch", ACCOUNT, 1);
    fake.add_playlist("feed", ACCOUNT, 2);
    let archive = app.import(&user, "arch").await;
    let archive_id = archive["id"].as_str().unwrap();
    // The local target holds Spotify tracks and one that Spotify cannot.
    let feed = app.import(&user, "feed").await;
    let target = app
        .playlist(
            &user,
            "Target",
            json!([{"uri": "local:1", "name": "Local one"}]),
        )
        .await;
    let tid = target["id"].as_str().unwrap();
    for (source, kind) in [(feed["id"].as_str().unwrap(), "own")] {
        let res = app
            .as_user(&user)
            .post(
                &format!("/api/playlists/{tid}/upstream-sources"),
                json!({"source_playlist_id": source, "source_type": kind}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    let patched = app
        .as_user(&user)
        .patch(
            &format!("/api/playlists/{tid}"),
            json!({"rotation": {"max_tracks": 1, "archive_playlist_id": archive_id}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let schedule = app
        .schedule(
            &user,
            json!({"job_type": "raid", "target_playlist_id": tid}),
        )
        .await;
    let run = app
        .as_user(&user)
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert_eq!(run.body["status"], "success", "{}", run.text);
    // local:1 and the feed's first (oldest: ties by position) left; the
    // Spotify one went to the archive, the local one was dropped.
    let feed_items = fake.items("feed");
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{tid}"))
        .await;
    assert_eq!(uris(&read.body), [feed_items[1].clone()]);
    let mut on_spotify = uris(&archive);
    on_spotify.push(feed_items[0].clone());
    assert_eq!(fake.items("arch"), on_spotify, "written back");
    let here = app
        .as_user(&user)
        .get(&format!("/api/playlists/{archive_id}"))
        .await;
    assert_eq!(uris(&here.body), on_spotify);
    assert_eq!(here.body["version"], 2);
    let activity = app.activity(&user).await;
    let row = rows_of(&activity, "schedule_run")[0].clone();
    assert_eq!(row["metadata"]["rotated_out"], 2);
    assert_eq!(row["metadata"]["rotation_dropped"], 1);
    assert_eq!(row["metadata"]["archive_playlist_id"], archive_id);
    let archived = rows_of(&activity, "playlist_update")[0].clone();
    assert_eq!(archived["playlist_id"], archive_id);
    assert_eq!(
        archived["metadata"]["changes"],
        json!({"track_count": {"from": 1, "to": 2}})
    );
    assert_eq!(archived["metadata"]["rotated_from_playlist_id"], tid);
}
