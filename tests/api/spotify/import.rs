//! Listing the account's playlists (Spotify's pages followed) and
//! importing one as a linked playlist (tempo left unknown: Spotify serves
//! none); Spotify's 429s and 5xx on the way, waited out or retried.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::connected;
use crate::fake_spotify::ACCOUNT;
use crate::helpers::{rows_of, uris};

#[actix_web::test]
async fn an_import_keeps_a_description_up_to_the_limit_of_a_playlists() {
    let (fake, app, user) = connected("describer").await;
    fake.add_playlist("long", ACCOUNT, 2);
    fake.add_playlist("longer", ACCOUNT, 2);
    let long = "é".repeat(4_321);
    fake.lock().playlists.get_mut("long").unwrap().description = long.clone();
    fake.lock().playlists.get_mut("longer").unwrap().description = "x".repeat(6_000);

    let kept = app.import(&user, "long").await;
    let cut = app.import(&user, "longer").await;

    assert_eq!(
        kept["description"], long,
        "kept whole, counted in characters"
    );
    assert_eq!(
        cut["description"],
        "x".repeat(5_000),
        "cut as a client's is limited"
    );
}

#[actix_web::test]
async fn listing_follows_next_links_and_import_reads_every_page() {
    let (fake, app, user) = connected("importer").await;
    fake.add_playlist("big", ACCOUNT, 250);
    fake.add_playlist("theirs", "someone-else", 3);
    for i in 0..70 {
        fake.add_playlist(&format!("p{i}"), ACCOUNT, 1);
    }

    let page = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists?limit=60")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["total"], 72);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 60, "two of Spotify's pages of 50");
    assert_eq!(items[0]["spotify_playlist_id"], "big");
    assert_eq!(items[0]["track_count"], 250);
    assert_eq!(items[0]["writable"], true);
    assert_eq!(items[1]["writable"], false);
    assert_eq!(items[1]["owner"], "someone-else");
    let last = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists?limit=100&offset=60")
        .await;
    assert_eq!(last.body["items"].as_array().unwrap().len(), 12);

    let linked = app.import(&user, "big").await;
    assert_eq!(linked["provider"], "spotify");
    assert_eq!(linked["spotify_playlist_id"], "big");
    assert_eq!(linked["name"], "Mix big");
    assert_eq!(
        uris(&linked),
        fake.items("big"),
        "250 items over three pages"
    );
    assert_eq!(linked["tracks"][0]["artists"], json!(["Artist of bigt0"]));
    assert_eq!(linked["tracks"][0]["album_name"], "Fake Album");
    assert!(
        linked["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["tempo"].is_null()),
        "Spotify serves no tempo; only a client can give one"
    );

    let again = app.try_import(&user, "big").await;
    let error = again.error(409, "conflict");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains(linked["id"].as_str().unwrap()));
    app.try_import(&user, "theirs").await.error(409, "conflict");
    app.try_import(&user, "nope").await.error(404, "not_found");
    app.try_import(&user, "a/b")
        .await
        .error(400, "validation_failed");

    let listed = app
        .as_user(&user)
        .get("/api/providers/spotify/playlists")
        .await;
    assert_eq!(listed.body["items"][0]["linked_playlist_id"], linked["id"]);
    assert_eq!(listed.body["items"][1]["linked_playlist_id"], Value::Null);

    let activity = app.activity(&user).await;
    let created = rows_of(&activity, "playlist_create");
    assert_eq!(created[0]["metadata"]["provider"], "spotify");
    assert_eq!(created[0]["metadata"]["spotify_playlist_id"], "big");
    assert_eq!(created[0]["metadata"]["track_count"], 250);
}

#[actix_web::test]
async fn a_short_429_is_waited_out_a_long_one_is_a_503_and_5xx_is_retried_twice() {
    let (fake, app, user) = connected("patient").await;
    fake.add_playlist("one", ACCOUNT, 1);
    let list = "/api/providers/spotify/playlists";

    fake.inject(Some("GET"), "/v1/me/playlists", 429, Some(1), 1);
    let waited = app.as_user(&user).get(list).await;
    assert_eq!(waited.status, StatusCode::OK, "{}", waited.text);
    assert_eq!(fake.requests_matching("GET /v1/me/playlists"), 2);

    let sent = fake.requests_matching("GET /v1/me/playlists");
    fake.inject(Some("GET"), "/v1/me/playlists", 500, None, 2);
    let retried = app.as_user(&user).get(list).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(
        fake.requests_matching("GET /v1/me/playlists"),
        sent + 3,
        "two retries"
    );

    fake.inject(Some("GET"), "/v1/me/playlists", 502, None, 3);
    app.as_user(&user)
        .get(list)
        .await
        .error(502, "upstream_error");
    assert_eq!(
        fake.requests_matching("GET /v1/me/playlists"),
        sent + 6,
        "and no more"
    );

    fake.inject(Some("GET"), "/v1/me/playlists", 429, Some(30), 1);
    let busy = app.as_user(&user).get(list).await;
    busy.error(503, "upstream_unavailable");
    assert_eq!(busy.header("retry-after"), Some("30"));
    // Spotify's limit is the app's: the next call waits too, unsent.
    let asked = fake.lock().requests.len();
    let still = app.as_user(&user).get(list).await;
    still.error(503, "upstream_unavailable");
    let after: u64 = still.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&after), "{after}");
    assert_eq!(fake.lock().requests.len(), asked, "nothing sent to Spotify");
}

#[actix_web::test]
async fn an_import_on_the_spotify_pool_carries_its_request_context() {
    let (fake, app, user) = connected("pooled").await;
    fake.add_playlist("ctx", ACCOUNT, 2);
    let linked = app.import(&user, "ctx").await;
    assert_eq!(linked["spotify_playlist_id"], "ctx");

    let activity = app.activity(&user).await;
    let session = rows_of(&activity, "login")[0]["metadata"]["session_id"].clone();
    let imported = rows_of(&activity, "playlist_create")[0];
    assert_eq!(imported["metadata"]["spotify_playlist_id"], "ctx");
    assert!(imported["context"]["request_id"].is_string());
    assert_eq!(imported["context"]["ip_address"], "127.0.0.1");
    assert_eq!(imported["context"]["session_id"], session);
    // The connection, made at Spotify's callback (a public route, no
    // token), names the session that asked for the authorization.
    let connected = rows_of(&activity, "provider_connect")[0];
    assert!(connected["context"]["request_id"].is_string());
    assert_eq!(connected["context"]["session_id"], session);
}

#[actix_web::test]
async fn an_import_records_when_spotify_says_each_entry_was_added() {
    let (fake, app, user) = connected("stamper").await;
    fake.add_playlist("dated", ACCOUNT, 3);

    let imported = app.import(&user, "dated").await;

    let id = imported["id"].as_str().unwrap();
    let entries =
        shuffify::models::playlist_order::PlaylistOrder::entries(&mut app.conn(), id).unwrap();
    let listed: Vec<String> = entries.iter().map(|e| e.uri.clone()).collect();
    assert_eq!(listed, uris(&imported));
    // The fake's entries were all added at 2026-01-01T00:00:00Z.
    assert!(entries.iter().all(|e| e.added_at == 1_767_225_600));
}
