//! How an order is stored: one row per playlist (`playlist_orders`). The
//! migration that brought it carries every order over, entry for entry;
//! rewrites keep each entry's added time.

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection;
use serde_json::json;

use shuffify::db::{self, DbConnection};
use shuffify::models::playlist::Playlist;
use shuffify::models::playlist_order::{OrderEntry, PlaylistOrder};
use shuffify::services::playlists::PlaylistService;

use crate::helpers::{sample_tracks, spawn_app, spawn_app_on, uris, TestDb};
use crate::schema::migrate_through;

/// The migration before the one that replaced `playlist_tracks`.
const BEFORE_ORDERS: &str = "20261207010000";

/// A playlist's id, its `created_at`, and its `playlist_tracks` rows as
/// (position, uri) in the order they are inserted.
type OldOrder = (&'static str, &'static str, Vec<(i32, String)>);

fn old_orders() -> Vec<OldOrder> {
    let odd = [(3, "m:c"), (0, "m:b"), (2, "m:a"), (1, "m:a"), (4, "m:b")]
        .into_iter()
        .map(|(p, u)| (p, u.to_string()))
        .collect();
    // 40 entries written last position first, URIs repeating.
    let long = (0..40)
        .rev()
        .map(|p| (p, format!("m:{}", (p * 7) % 11)))
        .collect();
    vec![
        ("MigratedOddOrder000001", "2026-11-30 08:15:00.250000", odd),
        ("MigratedEmpty000000002", "2026-12-01 00:00:00", vec![]),
        ("MigratedLong0000000003", "2026-12-02 12:00:59.999999", long),
    ]
}

/// Each playlist's URIs by position, as the old schema read them.
fn expected(rows: &[(i32, String)]) -> Vec<String> {
    let mut sorted = rows.to_vec();
    sorted.sort();
    sorted.into_iter().map(|(_, uri)| uri).collect()
}

fn seed_old_schema(conn: &mut DbConnection) {
    // Written in SQL as the schema stood then, not through today's models.
    let mut sql = String::from(
        "INSERT INTO users (username, display_name, password_hash, created_at, updated_at) \
         VALUES ('mover', 'm', 'x', '2026-11-01 00:00:00', '2026-11-01 00:00:00');",
    );
    for i in 0..11 {
        sql.push_str(&format!(
            "INSERT INTO tracks (uri, name, artists, album_name, duration_ms, tempo, created_at) \
             VALUES ('m:{i}', 'Song {i}', '[\"Artist {i}\"]', NULL, {i}, NULL, \
             '2026-11-01 00:00:00');"
        ));
    }
    for uri in ["m:a", "m:b", "m:c"] {
        sql.push_str(&format!(
            "INSERT INTO tracks (uri, name, artists, album_name, duration_ms, tempo, created_at) \
             VALUES ('{uri}', '{uri}', '[]', 'Album', 1, 90.5, '2026-11-01 00:00:00');"
        ));
    }
    for (id, created_at, rows) in old_orders() {
        sql.push_str(&format!(
            "INSERT INTO playlists (id, owner_id, name, description, is_public, version, \
             created_at, updated_at) SELECT '{id}', id, '{id}', '', TRUE, 3, '{created_at}', \
             '2026-12-06 00:00:00' FROM users WHERE username = 'mover';"
        ));
        for (position, uri) in rows {
            sql.push_str(&format!(
                "INSERT INTO playlist_tracks (playlist_id, position, track_uri) \
                 VALUES ('{id}', {position}, '{uri}');"
            ));
        }
    }
    conn.batch_execute(&sql).unwrap();
}

#[actix_rt::test]
async fn the_orders_migration_carries_every_order_over_unchanged() {
    let db = TestDb::unmigrated();
    let owner = {
        let mut conn = db.conn();
        migrate_through(&mut conn, BEFORE_ORDERS);
        seed_old_schema(&mut conn);
        db::migrations::run_pending(&mut conn).unwrap();
        shuffify::models::User::find_by_username(&mut conn, "mover")
            .unwrap()
            .unwrap()
    };
    let app = spawn_app_on(db, |_| {}).await;
    let reader = app.user("reader").await;

    let mut conn = app.conn();
    let (listed, _) = PlaylistService::list(&mut conn, owner.id, 50, 0).unwrap();
    for (id, created_at, rows) in old_orders() {
        let want = expected(&rows);
        // What a client reads: every entry, in order, numbered from 0.
        let res = app
            .get(&format!("/api/playlists/{id}"), Some(&reader.token))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(uris(&res.body), want, "{id}");
        let positions: Vec<i64> = res.body["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["position"].as_i64().unwrap())
            .collect();
        assert_eq!(positions, (0..want.len() as i64).collect::<Vec<_>>());
        assert_eq!(res.body["version"], 3);

        // The service's other reads agree, and the owner's listing counts.
        let playlist = Playlist::find(&mut conn, id).unwrap().unwrap();
        assert_eq!(
            PlaylistService::track_uris(&mut conn, &playlist).unwrap(),
            want
        );
        let summary = listed.iter().find(|s| s.id == id).unwrap();
        assert_eq!(summary.track_count, want.len() as i64, "{id}");

        // Every existing entry was added when its playlist was created.
        let created = chrono::NaiveDateTime::parse_from_str(created_at, "%Y-%m-%d %H:%M:%S%.f")
            .unwrap()
            .and_utc()
            .timestamp();
        let entries = PlaylistOrder::entries(&mut conn, id).unwrap();
        assert!(entries.iter().all(|e| e.added_at == created), "{id}");
    }
}

fn entry_pairs(mut entries: Vec<OrderEntry>) -> Vec<(String, i64)> {
    entries.sort_by(|a, b| (&a.uri, a.added_at).cmp(&(&b.uri, b.added_at)));
    entries.into_iter().map(|e| (e.uri, e.added_at)).collect()
}

#[actix_rt::test]
async fn shuffles_undo_and_commits_keep_each_entry_added_time() {
    let app = spawn_app().await;
    let user = app.user("keeper").await;
    let api = app.as_user(&user);
    let tracks = sample_tracks("keep", 12);
    let p = app.playlist(&user, "Kept", tracks.clone()).await;
    let id = p["id"].as_str().unwrap().to_string();
    let other = app
        .playlist(
            &user,
            "Other",
            json!([tracks[0].clone(), {"uri": "keep:new",
            "name": "New", "artists": ["N"], "duration_ms": 1}]),
        )
        .await;
    assert!(other["id"].is_string());

    // Give every entry its own time (a playlist is created in one second),
    // repeats included: the third entry is the second `keep:1`.
    let mut order: Vec<String> = uris(&p);
    order.insert(2, "keep:1".to_string());
    let stamped: Vec<OrderEntry> = order
        .iter()
        .enumerate()
        .map(|(i, uri)| OrderEntry {
            uri: uri.clone(),
            added_at: 1_700_000_000 + i as i64,
        })
        .collect();
    PlaylistOrder::write(&mut app.conn(), &id, &stamped).unwrap();
    let before = entry_pairs(stamped.clone());

    let res = api
        .post(&format!("/api/playlists/{id}/shuffle"), json!({"seed": 7}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let entries = PlaylistOrder::entries(&mut app.conn(), &id).unwrap();
    let shuffled: Vec<String> = entries.iter().map(|e| e.uri.clone()).collect();
    assert_eq!(shuffled, uris(&res.body["playlist"]));
    assert_ne!(shuffled, order);
    assert_eq!(entry_pairs(entries), before);

    let res = api.post_empty(&format!("/api/playlists/{id}/undo")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        PlaylistOrder::entries(&mut app.conn(), &id).unwrap(),
        stamped
    );

    // A commit that drops one `keep:1` and adds a URI new to the playlist:
    // the first `keep:1` keeps its time, the new entry is stamped now.
    let mut committed: Vec<String> = order.iter().filter(|u| *u != "keep:1").cloned().collect();
    committed.push("keep:1".to_string());
    committed.push("keep:new".to_string());
    let started = db::now().and_utc().timestamp();
    let res = api
        .post(
            &format!("/api/playlists/{id}/workshop/commit"),
            json!({"track_uris": committed}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let entries = PlaylistOrder::entries(&mut app.conn(), &id).unwrap();
    let times: Vec<(&str, i64)> = entries
        .iter()
        .map(|e| (e.uri.as_str(), e.added_at))
        .collect();
    assert_eq!(times[times.len() - 2], ("keep:1", 1_700_000_001));
    let (uri, added) = times[times.len() - 1];
    assert_eq!(uri, "keep:new");
    assert!(added >= started, "{added} < {started}");
    assert_eq!(entries.len(), committed.len());
}
