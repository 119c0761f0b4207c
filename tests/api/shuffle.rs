//! Shuffling over HTTP: algorithms, seeds, defaults, snapshots, undo.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{sample_tracks, spawn_app, uris};

#[actix_web::test]
async fn algorithms_describe_their_parameters() {
    let app = spawn_app().await;
    let user = app.user("curious").await;
    let res = app.as_user(&user).get("/api/algorithms").await;
    assert_eq!(res.status, StatusCode::OK);
    // `{items}`, like every list (docs/api.md, "API conventions"; it was a bare array).
    assert!(res.body.is_object(), "{}", res.text);
    let list = res.body["items"].as_array().unwrap();
    let keys: Vec<&str> = list.iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "basic",
            "balanced",
            "stratified",
            "percentage",
            "artist_spacing",
            "album_sequence",
            "tempo_gradient"
        ]
    );
    let balanced = &list[1];
    assert!(balanced["name"].is_string() && balanced["description"].is_string());
    assert_eq!(
        balanced["parameters"]["section_count"],
        json!({
            "type": "integer", "default": 4, "min": 2, "max": 10,
            "description": balanced["parameters"]["section_count"]["description"],
        })
    );
    assert_eq!(
        list[3]["parameters"]["shuffle_location"]["options"],
        json!(["front", "back"])
    );
}

#[actix_web::test]
async fn shuffle_reorders_snapshots_first_and_logs() {
    let app = spawn_app().await;
    let user = app.user("shuffler").await;
    let p = app.playlist(&user, "Mix", sample_tracks("sh", 20)).await;
    let id = p["id"].as_str().unwrap();
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{id}/shuffle"),
            json!({"algorithm": "basic", "params": {"keep_first": 3}, "seed": 99}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], true);
    assert_eq!(res.body["playlist"]["version"], 2);
    let order = uris(&res.body["playlist"]);
    assert_eq!(&order[..3], &uris(&p)[..3]);
    let mut sorted = order.clone();
    sorted.sort();
    let mut original = uris(&p);
    original.sort();
    assert_eq!(sorted, original);
    let snapshot_id = res.body["snapshot_id"].as_i64().unwrap();
    let snapshot = app
        .as_user(&user)
        .get(&format!("/api/snapshots/{snapshot_id}"))
        .await;
    assert_eq!(snapshot.body["snapshot_type"], "auto_pre_shuffle");
    assert_eq!(snapshot.body["track_uris"], json!(uris(&p)));

    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "shuffle");
    assert_eq!(row["playlist_id"], id);
    assert_eq!(row["actor_type"], "user");
    assert_eq!(
        row["metadata"],
        json!({
            "algorithm": "basic",
            "params": {"keep_first": 3, "seed": 99},
            "track_count": 20,
            "snapshot_id": snapshot_id,
        })
    );
}

#[actix_web::test]
async fn the_same_seed_gives_the_same_order() {
    let app = spawn_app().await;
    let user = app.user("seeded").await;
    let a = app.playlist(&user, "A", sample_tracks("sd", 30)).await;
    let b = app.playlist(&user, "B", sample_tracks("sd", 30)).await;
    let mut orders = Vec::new();
    for (p, seed) in [
        (&a, json!(12345678901234567u64)),
        (&b, json!("12345678901234567")),
    ] {
        let path = format!("/api/playlists/{}/shuffle", p["id"].as_str().unwrap());
        let body =
            json!({"algorithm": "artist_spacing", "params": {"min_spacing": 2}, "seed": seed});
        orders.push(uris(
            &app.as_user(&user).post(&path, body).await.body["playlist"],
        ));
    }
    assert_eq!(orders[0], orders[1]);
    let preview = app.as_user(&user).post(&format!("/api/playlists/{}/workshop/preview", a["id"].as_str().unwrap()), json!({"algorithm": "artist_spacing", "params": {"min_spacing": 2}, "seed": "12345678901234567", "track_uris": uris(&b)}))
        .await;
    assert_eq!(preview.body["track_uris"], json!(orders[1]));
}

#[actix_web::test]
async fn an_unchanged_order_writes_and_logs_nothing() {
    let app = spawn_app().await;
    let user = app.user("single").await;
    let p = app.playlist(&user, "Solo", sample_tracks("one", 1)).await;
    let path = format!("/api/playlists/{}/shuffle", p["id"].as_str().unwrap());
    let before = app.activity(&user).await.len();
    let res = app.as_user(&user).post_empty(&path).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(res.body["changed"], false);
    assert!(res.body["snapshot_id"].is_null());
    assert_eq!(res.body["playlist"]["version"], 1);
    // tempo_gradient on an already sorted list is unchanged too.
    let sorted =
        json!([{"uri": "s:1", "name": "a", "tempo": 80}, {"uri": "s:2", "name": "b", "tempo": 90}]);
    let q = app.playlist(&user, "Sorted", sorted).await;
    let res = app
        .as_user(&user)
        .post(
            &format!("/api/playlists/{}/shuffle", q["id"].as_str().unwrap()),
            json!({"algorithm": "tempo_gradient"}),
        )
        .await;
    assert_eq!(res.body["changed"], false);
    assert_eq!(
        app.activity(&user).await.len(),
        before + 1,
        "only the second playlist_create"
    );
    let snapshots = app
        .as_user(&user)
        .get(&format!(
            "/api/playlists/{}/snapshots",
            q["id"].as_str().unwrap()
        ))
        .await;
    assert!(snapshots.body["items"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn bad_algorithms_and_parameters_are_400s_naming_the_valid_ones() {
    let app = spawn_app().await;
    let user = app.user("picky").await;
    let p = app.playlist(&user, "P", sample_tracks("pk", 5)).await;
    let path = format!("/api/playlists/{}/shuffle", p["id"].as_str().unwrap());
    let api = app.as_user(&user);
    let res = api.post(&path, json!({"algorithm": "quantum"})).await;
    let error = res.error(400, "validation_failed");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("artist_spacing"));
    let res = api
        .post(
            &path,
            json!({"algorithm": "balanced", "params": {"section_count": 11}}),
        )
        .await;
    assert_eq!(
        res.error(400, "validation_failed")["details"][0]["field"],
        "params.section_count"
    );
    let res = api
        .post(
            &path,
            json!({"algorithm": "balanced", "params": {"sections": 3}}),
        )
        .await;
    let error = res.error(400, "validation_failed");
    assert_eq!(error["details"][0]["field"], "params.sections");
    assert!(error["details"][0]["message"]
        .as_str()
        .unwrap()
        .contains("section_count"));
    let res = api
        .post(
            &path,
            json!({"algorithm": "percentage", "params": {"shuffle_location": "middle"}}),
        )
        .await;
    res.error(400, "validation_failed");
    api.post(&path, json!({"seed": -1}))
        .await
        .error(400, "validation_failed");
    api.post(&path, json!({"seed": "abc"}))
        .await
        .error(400, "validation_failed");
    api.post(&path, json!({"shuffle": true}))
        .await
        .error(400, "validation_failed");
    assert_eq!(
        api.get(&format!("/api/playlists/{}", p["id"].as_str().unwrap()))
            .await
            .body["version"],
        1
    );
}

#[actix_web::test]
async fn without_an_algorithm_the_owners_default_applies() {
    let app = spawn_app().await;
    let user = app.user("defaulted").await;
    let res = app.as_user(&user).patch("/api/settings", json!({"default_algorithm": "tempo_gradient", "default_algorithm_params": {"direction": "descending"}}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let p = app.playlist(&user, "Tempo", sample_tracks("tp", 10)).await;
    let res = app
        .as_user(&user)
        .post_empty(&format!(
            "/api/playlists/{}/shuffle",
            p["id"].as_str().unwrap()
        ))
        .await;
    let tempos: Vec<f64> = res.body["playlist"]["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["tempo"].as_f64())
        .collect();
    assert!(tempos.windows(2).all(|w| w[0] >= w[1]), "{tempos:?}");
    let tracks = res.body["playlist"]["tracks"].as_array().unwrap();
    assert!(tracks[8]["tempo"].is_null() && tracks[9]["tempo"].is_null());
    let row = &app.activity(&user).await[0];
    assert_eq!(row["metadata"]["algorithm"], "tempo_gradient");
    assert_eq!(
        row["metadata"]["params"],
        json!({"direction": "descending"})
    );
}

#[actix_web::test]
async fn undo_restores_the_newest_automatic_snapshot() {
    let app = spawn_app().await;
    let user = app.user("regretful").await;
    let p = app.playlist(&user, "U", sample_tracks("un", 12)).await;
    let id = p["id"].as_str().unwrap();
    let api = app.as_user(&user);
    api.post_empty(&format!("/api/playlists/{id}/undo"))
        .await
        .error(404, "not_found");
    let shuffled = api
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 5}))
        .await;
    let snapshot_id = shuffled.body["snapshot_id"].as_i64().unwrap();
    let res = api.post_empty(&format!("/api/playlists/{id}/undo")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(uris(&res.body), uris(&p));
    assert_eq!(res.body["version"], 3);
    let row = &app.activity(&user).await[0];
    assert_eq!(row["activity_type"], "snapshot_restore");
    assert_eq!(row["metadata"]["snapshot_id"], snapshot_id);
    let pre = row["metadata"]["pre_restore_snapshot_id"].as_i64().unwrap();
    let pre_snapshot = api.get(&format!("/api/snapshots/{pre}")).await;
    assert_eq!(pre_snapshot.body["snapshot_type"], "auto_pre_restore");
    assert_eq!(
        pre_snapshot.body["track_uris"],
        json!(uris(&shuffled.body["playlist"]))
    );
}

#[actix_web::test]
async fn with_auto_snapshots_off_no_snapshot_is_taken() {
    let app = spawn_app().await;
    let user = app.user("bold").await;
    app.as_user(&user)
        .patch("/api/settings", json!({"auto_snapshot_enabled": false}))
        .await;
    let p = app.playlist(&user, "Bold", sample_tracks("bd", 8)).await;
    let id = p["id"].as_str().unwrap();
    let res = app
        .as_user(&user)
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 3}))
        .await;
    assert_eq!(res.body["changed"], true);
    assert!(res.body["snapshot_id"].is_null());
    assert!(app.activity(&user).await[0]["metadata"]["snapshot_id"].is_null());
    let list = app
        .as_user(&user)
        .get(&format!("/api/playlists/{id}/snapshots"))
        .await;
    assert!(list.body["items"].as_array().unwrap().is_empty());
}

/// The input of the golden orders: twelve tracks by four artists (a track
/// counts by its first artist, and one has none) on four albums (two
/// tracks have none), three without a tempo and two with the same one.
fn golden_tracks() -> Value {
    let rows: [(&[&str], Option<&str>, Option<f64>); 12] = [
        (&["Ada"], Some("North"), Some(120.0)),
        (&["Ada"], Some("North"), None),
        (&["Bea"], Some("South"), Some(95.5)),
        (&["Ada", "Bea"], Some("North"), Some(140.0)),
        (&["Cy"], Some("East"), Some(95.5)),
        (&["Bea"], Some("South"), Some(80.0)),
        (&[], None, Some(110.0)),
        (&["Cy"], Some("East"), None),
        (&["Dee"], Some("West"), Some(132.0)),
        (&["Ada"], None, Some(101.0)),
        (&["Dee"], Some("South"), None),
        (&["Bea"], Some("West"), Some(88.0)),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (artists, album, tempo))| {
            json!({
                "uri": format!("gold:{i}"), "name": format!("Golden {i}"),
                "artists": artists, "album_name": album,
                "duration_ms": 200_000, "tempo": tempo,
            })
        })
        .collect()
}

/// A seed promises the same order in every release: each algorithm's
/// order of one fixed playlist, with parameters away from their defaults,
/// is written out here as a client saw it. A change to an algorithm's
/// draws, or to how a seed becomes the random stream, shows up as a
/// changed order; such a change breaks every seed clients kept, so it
/// needs more than a new line here.
#[actix_web::test]
async fn each_algorithm_gives_its_golden_order_for_a_seed() {
    let app = spawn_app().await;
    let user = app.user("golden").await;
    // Each order as positions in the input: 4 is the track `gold:4`.
    let golden: [(&str, Value, [u8; 12]); 7] = [
        (
            "basic",
            json!({"keep_first": 2}),
            [0, 1, 4, 7, 11, 5, 2, 9, 8, 6, 3, 10],
        ),
        (
            "balanced",
            json!({"keep_first": 1, "section_count": 3}),
            [0, 3, 5, 10, 4, 7, 11, 2, 8, 9, 1, 6],
        ),
        (
            "stratified",
            json!({"keep_first": 2, "section_count": 3}),
            [0, 1, 4, 5, 3, 2, 7, 8, 6, 9, 10, 11],
        ),
        (
            "percentage",
            json!({"shuffle_percentage": 75, "shuffle_location": "back"}),
            [0, 1, 2, 4, 7, 9, 8, 10, 6, 3, 5, 11],
        ),
        (
            "artist_spacing",
            json!({"min_spacing": 2}),
            [3, 5, 4, 9, 8, 11, 1, 7, 6, 0, 10, 2],
        ),
        (
            "album_sequence",
            json!({"shuffle_within_albums": "yes"}),
            [2, 5, 10, 8, 11, 1, 0, 3, 7, 4, 9, 6],
        ),
        (
            "tempo_gradient",
            json!({"direction": "descending"}),
            [3, 8, 0, 6, 9, 2, 4, 11, 5, 1, 7, 10],
        ),
    ];
    let mut changed = Vec::new();
    for (algorithm, params, expected) in golden {
        let playlist = app.playlist(&user, algorithm, golden_tracks()).await;
        let res = app
            .as_user(&user)
            .post(
                &format!(
                    "/api/playlists/{}/shuffle",
                    playlist["id"].as_str().unwrap()
                ),
                json!({"algorithm": algorithm, "params": params, "seed": 20_240_611}),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{algorithm}: {}", res.text);
        let expected: Vec<String> = expected.iter().map(|i| format!("gold:{i}")).collect();
        let got = uris(&res.body["playlist"]);
        if got != expected {
            let positions: Vec<&str> = got
                .iter()
                .map(|uri| uri.strip_prefix("gold:").unwrap())
                .collect();
            changed.push(format!("{algorithm}: [{}]", positions.join(", ")));
        }
    }
    assert!(
        changed.is_empty(),
        "orders that changed:\n{}",
        changed.join("\n")
    );
}
