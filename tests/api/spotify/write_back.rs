//! Rewrites of a linked playlist written back to Spotify: the exact order
//! in batches of 100, items the Web API cannot write refused, a write that
//! fails part-way, an append whose answer is lost, parallel shuffles.

use actix_web::http::StatusCode;
use serde_json::json;

use super::connected;
use crate::fake_spotify::{FakeSpotify, Injected, ACCOUNT};
use crate::helpers::{rows_of, spawn_app_on, uris, TestDb};

#[actix_web::test]
async fn a_shuffle_writes_the_exact_order_back_in_batches_of_100() {
    let (fake, app, user) = connected("shuffler").await;
    fake.add_playlist("mix", ACCOUNT, 250);
    let linked = app.import(&user, "mix").await;
    let id = linked["id"].as_str().unwrap();
    let item_reads = fake.requests_matching("GET /v1/playlists/mix/items");

    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic", "seed": 7}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
    let order = uris(&res.body["playlist"]);
    assert_ne!(order, uris(&linked));
    assert_eq!(
        fake.items("mix"),
        order,
        "Spotify holds the service's order"
    );
    assert_eq!(res.body["provider"], "spotify");
    let snapshot = format!("snap-mix-{}", fake.lock().playlists["mix"].snapshot);
    assert_eq!(res.body["spotify_snapshot_id"], snapshot);
    assert_eq!(fake.requests_matching("PUT /v1/playlists/mix/items"), 1);
    assert_eq!(fake.requests_matching("POST /v1/playlists/mix/items"), 2);
    assert_eq!(
        fake.requests_matching("GET /v1/playlists/mix/items"),
        item_reads,
        "Spotify still at the imported snapshot: its items need not be read again"
    );

    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), order);

    let activity = app.activity(&user).await;
    let shuffle = rows_of(&activity, "shuffle")[0];
    assert_eq!(shuffle["metadata"]["provider"], "spotify");
    assert_eq!(shuffle["metadata"]["spotify_snapshot_id"], snapshot);
    assert!(
        shuffle["metadata"]["snapshot_id"].is_i64(),
        "the local snapshot first"
    );

    // Undo writes the earlier order back to Spotify too.
    let undone = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/undo"))
        .await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text);
    assert_eq!(uris(&undone.body), uris(&linked));
    assert_eq!(fake.items("mix"), uris(&linked));
}

#[actix_web::test]
async fn a_spotify_item_the_api_cannot_write_back_makes_rewrites_409() {
    let (fake, app, user) = connected("localfile").await;
    fake.add_playlist_items(
        "withlocal",
        ACCOUNT,
        vec![
            "spotify:track:a1".into(),
            "spotify:local:Band:Album:Demo:120".into(),
            "spotify:track:a2".into(),
            "spotify:track:a3".into(),
            "spotify:track:a4".into(),
            "spotify:track:a5".into(),
        ],
    );
    let linked = app.import(&user, "withlocal").await;
    assert_eq!(
        uris(&linked),
        [
            "spotify:track:a1",
            "spotify:track:a2",
            "spotify:track:a3",
            "spotify:track:a4",
            "spotify:track:a5"
        ],
        "a linked playlist holds only what can be written back"
    );
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{}/shuffle", linked["id"].as_str().unwrap()),
            json!({"algorithm": "basic", "seed": 3}),
        )
        .await;
    let error = res.error(409, "conflict");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("spotify:local:"),
        "{}",
        res.text
    );
    assert_eq!(
        fake.items("withlocal").len(),
        6,
        "nothing dropped on Spotify"
    );
}

#[actix_web::test]
async fn a_write_that_fails_part_way_leaves_the_order_and_marks_the_playlist_out_of_sync() {
    let (fake, app, user) = connected("partway").await;
    fake.add_playlist("long", ACCOUNT, 150);
    let linked = app.import(&user, "long").await;
    let id = linked["id"].as_str().unwrap();
    let shuffle = format!("/api/playlists/{id}/shuffle");

    // The first batch replaces; the append fails three times (sent again
    // only after reading that it did not land), and the write stops.
    fake.inject(Some("POST"), "/v1/playlists/long/items", 500, None, 3);
    app.as_user(&user)
        .post(&shuffle, json!({"seed": 5}))
        .await
        .error(502, "upstream_error");
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(
        uris(&read.body),
        uris(&linked),
        "the local order is unchanged"
    );
    assert_eq!(read.body["version"], linked["version"]);
    assert_eq!(
        fake.items("long").len(),
        100,
        "Spotify got the first batch only"
    );

    let refused = app.as_user(&user).post(&shuffle, json!({"seed": 6})).await;
    let error = refused.error(409, "conflict");
    assert!(
        error["message"].as_str().unwrap().contains("sync first"),
        "{}",
        refused.text
    );

    let synced = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/sync"))
        .await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text);
    assert_eq!(synced.body["removed"], 50);
    let again = app.as_user(&user).post(&shuffle, json!({"seed": 6})).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(fake.items("long"), uris(&again.body["playlist"]));
}

#[actix_web::test]
async fn parallel_shuffles_of_a_linked_playlist_each_write_and_spotify_ends_as_stored() {
    let fake = FakeSpotify::start();
    let app = spawn_app_on(TestDb::shared_file(), |s| fake.configure(s)).await;
    let user = app.user("racer").await;
    app.connect_spotify(&fake, &user).await;
    fake.add_playlist("race", ACCOUNT, 120);
    let linked = app.import(&user, "race").await;
    let path = format!("/api/playlists/{}/shuffle", linked["id"].as_str().unwrap());
    let client = app.as_user(&user);
    // Two at once: a user runs at most two Spotify operations at a time.
    let answers = futures_util::future::join_all(
        (0..2).map(|seed| client.post(&path, json!({"algorithm": "basic", "seed": seed + 10}))),
    )
    .await;
    for res in &answers {
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    }
    let read = client
        .get(&format!(
            "/api/playlists/{}",
            linked["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        fake.items("race"),
        uris(&read.body),
        "Spotify and the service agree"
    );
    let versions: std::collections::BTreeSet<i64> = answers
        .iter()
        .map(|r| r.body["playlist"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.len(), 2, "each shuffle wrote in turn");
}

#[actix_web::test]
async fn an_append_whose_answer_is_lost_is_read_back_and_not_sent_twice() {
    let (fake, app, user) = connected("lostanswer").await;
    fake.add_playlist("dup", ACCOUNT, 150);
    let linked = app.import(&user, "dup").await;
    let id = linked["id"].as_str().unwrap();
    // Spotify appends the second batch, but its answer never arrives.
    fake.inject_with(Injected {
        method: Some("POST"),
        path: "/v1/playlists/dup/items".into(),
        status: 500,
        after: true,
        times: 1,
        ..Injected::default()
    });
    let res = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 4}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(fake.items("dup").len(), 150, "no batch twice on Spotify");
    assert_eq!(
        fake.requests_matching("POST /v1/playlists/dup/items"),
        1,
        "the batch had landed: not sent again"
    );
    assert_eq!(fake.items("dup"), uris(&res.body["playlist"]), "both agree");
    let read = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}"))
        .await;
    assert_eq!(uris(&read.body), fake.items("dup"));
}

#[actix_web::test]
async fn an_append_that_did_not_land_is_sent_again() {
    let (fake, app, user) = connected("resent").await;
    fake.add_playlist("again", ACCOUNT, 150);
    let linked = app.import(&user, "again").await;
    let id = linked["id"].as_str().unwrap();
    // The append fails before Spotify carries it out.
    fake.inject(Some("POST"), "/v1/playlists/again/items", 503, None, 1);
    let res = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 4}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        fake.requests_matching("POST /v1/playlists/again/items"),
        2,
        "sent again once it was read not to have landed"
    );
    assert_eq!(fake.items("again").len(), 150);
    assert_eq!(fake.items("again"), uris(&res.body["playlist"]));
}

#[actix_web::test]
async fn a_dedupe_writes_the_new_order_back_and_undo_writes_the_old_one() {
    let (fake, app, user) = connected("dedupelinked").await;
    let items: Vec<String> = ["t1", "t2", "t1", "t3", "t2", "t4", "t5", "t6"]
        .iter()
        .map(|t| format!("spotify:track:{t}"))
        .collect();
    fake.add_playlist_items("dups", ACCOUNT, items.clone());
    let linked = app.import(&user, "dups").await;
    let id = linked["id"].as_str().unwrap();
    assert_eq!(uris(&linked), items);
    // Slot 4 (the second t2) is pinned: the first t2 goes instead.
    let res = app
        .as_user(&user)
        .patch(
            &format!("/api/playlists/{id}"),
            json!({"pinned_positions": [4]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);

    // A preview asks nothing of Spotify.
    let writes = fake.requests_matching("PUT /v1/playlists/dups/items");
    let preview = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/dedupe?dry_run=true"),
            json!({"by": "uri"}),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert_eq!(fake.items("dups"), items);

    let res = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/dedupe"), json!({"by": "uri"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
    assert_eq!(
        res.body["removed"],
        json!([
            {"uri": "spotify:track:t2", "position": 1},
            {"uri": "spotify:track:t1", "position": 2},
        ])
    );
    let order = uris(&res.body["playlist"]);
    assert_eq!(
        order,
        ["t1", "t3", "t4", "t5", "t2", "t6"].map(|t| format!("spotify:track:{t}")),
        "the pinned t2 stays in slot 4; the others close ranks around it"
    );
    assert_eq!(fake.items("dups"), order, "Spotify holds the deduped order");
    assert_eq!(
        res.body["playlist"]["tracks"],
        preview.body["playlist"]["tracks"]
    );
    assert_eq!(res.body["provider"], "spotify");
    let snapshot = format!("snap-dups-{}", fake.lock().playlists["dups"].snapshot);
    assert_eq!(res.body["spotify_snapshot_id"], snapshot);
    assert_eq!(
        fake.requests_matching("PUT /v1/playlists/dups/items"),
        writes + 1
    );
    let activity = app.activity(&user).await;
    let row = rows_of(&activity, "playlist_dedupe")[0];
    assert_eq!(row["metadata"]["provider"], "spotify");
    assert_eq!(row["metadata"]["spotify_snapshot_id"], snapshot);
    assert_eq!(row["metadata"]["removed"], 2);

    let undone = app
        .as_user(&user)
        .post_empty(&format!("/api/playlists/{id}/undo"))
        .await;
    assert_eq!(undone.status, StatusCode::OK, "{}", undone.text);
    assert_eq!(fake.items("dups"), items, "undo wrote the duplicates back");
}

#[actix_web::test]
async fn a_shuffle_of_a_linked_playlist_keeps_its_pins_on_spotify() {
    let (fake, app, user) = connected("pinnedlinked").await;
    fake.add_playlist("pinmix", ACCOUNT, 40);
    let linked = app.import(&user, "pinmix").await;
    let id = linked["id"].as_str().unwrap();
    app.as_user(&user)
        .patch(
            &format!("/api/playlists/{id}"),
            json!({"pinned_positions": [0, 20, 39]}),
        )
        .await;
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic", "seed": 11}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let before = uris(&linked);
    let order = fake.items("pinmix");
    assert_eq!(order, uris(&res.body["playlist"]));
    assert_ne!(order, before);
    for slot in [0, 20, 39] {
        assert_eq!(order[slot], before[slot]);
    }
}
