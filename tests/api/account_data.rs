//! Taking your data and leaving: `GET /api/me/export` (one JSON document of
//! everything the caller owns) and `DELETE /api/me` (the account and all
//! of it gone), on both backends.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use actix_web::Error;
use chrono::Duration as Age;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::{json, Value};

use shuffify::config::Settings;
use shuffify::db::schema::{activity_log, auth_sessions};
use shuffify::db::{self, DbConnection, Json};
use shuffify::enums::{ActivityType, ActorType, Provider};
use shuffify::models::provider_connection::NewProviderConnection;

use crate::helpers::{
    insert_playlist, rows_of, sample_tracks, spawn_app_on, wait_until, TestApp, TestDb, TestUser,
};
use crate::stream::EventReader;

/// Marks stored as Spotify tokens: neither may appear in an export.
const ACCESS_TOKEN: &str = "ACCESS-TOKEN-never-exported";
const REFRESH_TOKEN: &str = "REFRESH-TOKEN-never-exported";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Every `(table, column)` of the database whose column is named one of
/// `names`: read from the catalog, so tables added later are covered.
fn columns_named(conn: &mut DbConnection, names: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    match conn {
        DbConnection::Sqlite(c) => {
            let tables: Vec<Named> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
            )
            .load(c)
            .unwrap();
            for table in tables {
                let columns: Vec<Named> = diesel::sql_query(format!(
                    "SELECT name FROM pragma_table_info('{}')",
                    table.name
                ))
                .load(c)
                .unwrap();
                for column in columns {
                    if names.contains(&column.name.as_str()) {
                        found.push((table.name.clone(), column.name));
                    }
                }
            }
        }
        // A partition's rows are its table's (activity_log's months).
        DbConnection::Postgres(c) => {
            let columns: Vec<Column> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name::text NOT IN (SELECT relname::text FROM pg_class \
                     WHERE relispartition AND relnamespace = current_schema()::regnamespace)",
            )
            .load(c)
            .unwrap();
            for column in columns {
                if names.contains(&column.column_name.as_str()) {
                    found.push((column.table_name, column.column_name));
                }
            }
        }
    }
    assert!(!found.is_empty(), "no column named {names:?}");
    found
}

fn count(conn: &mut DbConnection, sql: String) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

/// Rows per table whose user column holds `user_id`.
fn rows_of_user(conn: &mut DbConnection, user_id: i64) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for (table, column) in columns_named(conn, &["user_id", "owner_id"]) {
        let n = count(
            conn,
            format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = {user_id}"),
        );
        *counts.entry(table).or_insert(0) += n;
    }
    counts
}

/// Rows anywhere that name one of `values` in a column named one of `names`.
fn rows_naming(conn: &mut DbConnection, names: &[&str], values: &[String]) -> i64 {
    if values.is_empty() {
        return 0;
    }
    let list = values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(",");
    columns_named(conn, names)
        .into_iter()
        .map(|(table, column)| {
            count(
                conn,
                format!(
                    "SELECT COUNT(*) AS n FROM {table} WHERE CAST({column} AS TEXT) IN ({list})"
                ),
            )
        })
        .sum()
}

fn ids(conn: &mut DbConnection, sql: String) -> BTreeSet<String> {
    diesel::sql_query(sql)
        .load::<Named>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

/// What the database holds for `user_id`, per section of the export: the
/// ids as text.
fn stored_ids(conn: &mut DbConnection, user_id: i64) -> BTreeMap<&'static str, BTreeSet<String>> {
    let by_user = |table: &str, column: &str| {
        format!("SELECT CAST(id AS TEXT) AS name FROM {table} WHERE {column} = {user_id}")
    };
    BTreeMap::from([
        ("playlists", ids(conn, by_user("playlists", "owner_id"))),
        (
            "snapshots",
            ids(conn, by_user("playlist_snapshots", "user_id")),
        ),
        (
            "workshop_sessions",
            ids(conn, by_user("workshop_sessions", "user_id")),
        ),
        (
            "upstream_sources",
            ids(conn, by_user("upstream_sources", "user_id")),
        ),
        ("schedules", ids(conn, by_user("schedules", "user_id"))),
        (
            "schedule_executions",
            ids(
                conn,
                format!(
                    "SELECT CAST(e.id AS TEXT) AS name FROM job_executions e \
                     JOIN schedules s ON s.id = e.schedule_id WHERE s.user_id = {user_id}"
                ),
            ),
        ),
        ("sessions", ids(conn, by_user("auth_sessions", "user_id"))),
        ("webhooks", ids(conn, by_user("webhooks", "user_id"))),
        (
            "webhook_deliveries",
            ids(
                conn,
                format!(
                    "SELECT CAST(d.id AS TEXT) AS name FROM webhook_deliveries d \
                     JOIN webhooks w ON w.id = d.webhook_id WHERE w.user_id = {user_id}"
                ),
            ),
        ),
        ("activity", ids(conn, by_user("activity_log", "user_id"))),
    ])
}

/// The ids of a section of an export, as text, failing on a repeat.
fn exported_ids(document: &Value, section: &str) -> BTreeSet<String> {
    let items = document[section]
        .as_array()
        .unwrap_or_else(|| panic!("section {section} is not a list"));
    let mut seen = BTreeSet::new();
    for item in items {
        let id = match &item["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert!(seen.insert(id.clone()), "{section}: id {id} appears twice");
    }
    seen
}

fn connect_spotify(conn: &mut DbConnection, user_id: i64, account: &str) {
    let now = db::now();
    NewProviderConnection {
        user_id,
        provider: Provider::Spotify,
        account_id: account,
        display_name: Some("On Spotify"),
        scopes: "playlist-read-private",
        access_token: ACCESS_TOKEN,
        refresh_token: REFRESH_TOKEN,
        access_expires_at: now + Age::hours(1),
        connected_at: now,
        updated_at: now,
    }
    .upsert(conn)
    .expect("store a connection");
}

/// Gives `user` some of every kind of data: two playlists with tracks, a
/// manual and an automatic snapshot, a workshop session, an upstream
/// source, a schedule with a run, a second session, track facts, a
/// Spotify connection and the activity rows all of it wrote.
async fn fill<S, B>(app: &TestApp<S>, user: &TestUser) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let name = &user.username;
    let first = app
        .playlist(user, &format!("{name} one"), sample_tracks(name, 5))
        .await;
    let second = app
        .playlist(user, &format!("{name} two"), sample_tracks(name, 3))
        .await;
    let (first, second) = (
        first["id"].as_str().unwrap().to_string(),
        second["id"].as_str().unwrap().to_string(),
    );
    let api = app.as_user(user);
    let res = api
        .post(&format!("/api/playlists/{first}/snapshots"), json!({}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = api
        .post(
            &format!("/api/playlists/{first}/shuffle"),
            json!({"seed": 7}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let res = api
        .post(
            &format!("/api/playlists/{first}/workshop/sessions"),
            json!({"session_name": "Idea", "track_uris": [format!("{name}:1")]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let res = api
        .post(
            &format!("/api/playlists/{first}/upstream-sources"),
            json!({"source_playlist_id": second}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let schedule = app.shuffle_schedule(user, &first).await;
    let res = api
        .post_empty(&format!("/api/schedules/{schedule}/run"))
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let res = app.login(name, &user.password).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    connect_spotify(&mut app.conn(), user.id, &format!("spotify-{name}"));
    // A webhook (to a closed loopback port: nothing is delivered here, no
    // worker runs) and one delivery of it, as the worker would record it.
    let res = api
        .post(
            "/api/webhooks",
            json!({"url": format!("http://127.0.0.1:9/{name}")}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let webhook = res.body["id"].as_i64().unwrap();
    diesel::sql_query(format!(
        "INSERT INTO webhook_deliveries (webhook_id, activity_id, status, attempts, last_error, created_at) \
         VALUES ({webhook}, 1, 'failed', 3, 'connection refused', CURRENT_TIMESTAMP)"
    ))
    .execute(&mut *app.conn())
    .unwrap();
    first
}

/// Webhooks may point at loopback here (`fill` adds one; nothing is sent).
fn webhooks_to_loopback(settings: &mut Settings) {
    settings.webhook_allow_private = true;
    settings.webhook_allowed_hosts = vec!["127.0.0.1".into()];
}

fn export_request(user: &TestUser) -> actix_http::Request {
    TestRequest::get()
        .uri("/api/me/export")
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .to_request()
}

fn stream_request(user: &TestUser) -> actix_http::Request {
    TestRequest::get()
        .uri("/api/activity/stream")
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .to_request()
}

#[actix_web::test]
async fn an_export_holds_every_id_of_the_user_once_and_no_secret() {
    let app = spawn_app_on(TestDb::new(), webhooks_to_loopback).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    fill(&app, &alice).await;
    fill(&app, &bob).await;

    let res = app.as_user(&alice).get("/api/me/export").await;

    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.header("content-disposition"),
        Some("attachment; filename=\"shuffify-export-alice.json\"")
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(res
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    let document = &res.body;
    assert_eq!(document["export_format"], "shuffify-account-export");
    assert_eq!(document["user"]["username"], "alice");
    assert_eq!(document["settings"]["default_algorithm"], "basic");
    // Every id the database holds for alice, each exactly once, and no
    // more (so none of bob's).
    let stored = stored_ids(&mut app.conn(), alice.id);
    for (section, ids) in &stored {
        assert!(!ids.is_empty(), "the test stored no {section}");
        assert_eq!(&exported_ids(document, section), ids, "section {section}");
    }
    // Playlists with their tracks, in order, as the API shows them.
    for playlist in document["playlists"].as_array().unwrap() {
        let id = playlist["id"].as_str().unwrap();
        let shown = app
            .as_user(&alice)
            .get(&format!("/api/playlists/{id}"))
            .await;
        assert_eq!(playlist["tracks"], shown.body["tracks"]);
    }
    // Activity items are exactly the listing's items.
    let listed = app.activity(&alice).await;
    let exported = document["activity"].as_array().unwrap();
    assert_eq!(&exported[..listed.len()], &listed[..]);
    assert_eq!(rows_of(exported, "account_export").len(), 1);
    assert_eq!(rows_of(&listed, "account_export").len(), 1);
    assert_eq!(
        document["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .count(),
        1
    );
    assert_eq!(
        document["track_facts"].as_array().unwrap().len(),
        5,
        "{}",
        document["track_facts"]
    );
    // No secret of anyone's: tokens, token hashes, password hashes.
    let text = &res.text;
    let mut secrets = vec![
        ACCESS_TOKEN.to_string(),
        REFRESH_TOKEN.to_string(),
        alice.token.clone(),
        bob.token.clone(),
    ];
    let mut conn = app.conn();
    secrets.extend(
        auth_sessions::table
            .select(auth_sessions::token_hash)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    secrets.extend(ids(
        &mut conn,
        "SELECT password_hash AS name FROM users".into(),
    ));
    secrets.extend(ids(&mut conn, "SELECT secret AS name FROM webhooks".into()));
    assert_eq!(document["webhooks"].as_array().unwrap().len(), 1);
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "the export holds {secret}");
    }
    for key in [
        "token_hash",
        "password_hash",
        "access_token",
        "refresh_token",
        "secret",
    ] {
        assert!(!text.contains(key), "the export names {key}");
    }
    assert!(!text.contains("bob"), "bob's data in alice's export");
}

#[actix_web::test]
async fn a_user_with_100000_rows_and_500_playlists_exports_a_document_that_parses() {
    let app = spawn_app_on(TestDb::new(), webhooks_to_loopback).await;
    let user = app.user("big").await;
    let mut conn = app.conn();
    let start = db::now() - Age::days(30);
    let conn: &mut DbConnection = &mut conn;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for chunk in (0..100_000i64).collect::<Vec<_>>().chunks(1_000) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|i| {
                    (
                        activity_log::user_id.eq(user.id),
                        activity_log::activity_type.eq(ActivityType::Shuffle),
                        activity_log::description.eq(format!("Shuffled number {i}")),
                        activity_log::actor_type.eq(ActorType::User),
                        activity_log::metadata.eq(Some(Json(json!({"n": i})))),
                        activity_log::created_at.eq(start + Age::milliseconds(*i)),
                    )
                })
                .collect();
            shuffify::db::with_backend!(conn, |c| diesel::insert_into(activity_log::table)
                .values(&rows)
                .execute(c))?;
        }
        for i in 0..500 {
            insert_playlist(conn, user.id, format!("big{i:019}"), &format!("List {i}"));
        }
        Ok(())
    })
    .expect("seed");

    let res = app.as_user(&user).get("/api/me/export").await;

    assert_eq!(res.status, StatusCode::OK);
    let document: Value = serde_json::from_str(&res.text).expect("the document parses");
    // The rows, the login and the export's own row.
    assert_eq!(document["activity"].as_array().unwrap().len(), 100_002);
    assert_eq!(document["playlists"].as_array().unwrap().len(), 500);
}

#[actix_web::test]
async fn the_export_is_one_of_the_users_concurrent_exports() {
    let app = spawn_app_on(TestDb::shared_file(), webhooks_to_loopback).await;
    let user = app.user("hoarder").await;
    // Enough rows that a producer whose client does not read must wait.
    let mut conn = app.conn();
    let start = db::now() - Age::hours(1);
    for i in 0..3_000 {
        crate::helpers::insert_activity_at(
            &mut conn,
            user.id,
            ActivityType::Shuffle,
            start - Age::seconds(i),
        );
    }
    drop(conn);

    // An account export and an activity export, neither read.
    let first = app.call_raw(export_request(&user)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = app
        .call_raw(
            TestRequest::get()
                .uri("/api/activity/export")
                .insert_header(("Authorization", format!("Bearer {}", user.token)))
                .peer_addr("127.0.0.1:40000".parse().unwrap())
                .to_request(),
        )
        .await;
    assert_eq!(second.status(), StatusCode::OK);

    let refused = app.as_user(&user).get("/api/me/export").await;
    let error = refused.error(429, "rate_limited");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at most 2 concurrent exports per user"),
        "{error}"
    );
    assert!(refused.header("retry-after").is_some());
    // The refused export logged nothing: one row for the one that started.
    let rows: i64 = activity_log::table
        .filter(activity_log::user_id.eq(user.id))
        .filter(activity_log::activity_type.eq(ActivityType::AccountExport))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(rows, 1);

    drop(first);
    drop(second);
    wait_until("the exports' slots are freed", || {
        app.state.exports.active(user.id) == 0
    })
    .await;
    let res = app.as_user(&user).get("/api/me/export").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body["activity"].as_array().unwrap().len() > 3_000);
}

#[actix_web::test]
async fn a_wrong_password_deletes_nothing_and_counts_as_a_failed_login() {
    let app = spawn_app_on(TestDb::new(), webhooks_to_loopback).await;
    let user = app.user("stayer").await;
    let playlist = fill(&app, &user).await;
    let before = rows_of_user(&mut app.conn(), user.id);
    let api = app.as_user(&user);

    let res = api
        .send(
            Method::DELETE,
            "/api/me",
            Some(json!({"password": "not-the-password"})),
            &[],
        )
        .await;

    let error = res.error(401, "unauthorized");
    assert_eq!(error["message"], "the password is wrong");
    assert!(res.header("www-authenticate").is_none());
    assert_eq!(api.get("/api/me").await.status, StatusCode::OK);
    let res = api.get(&format!("/api/playlists/{playlist}")).await;
    assert_eq!(res.status, StatusCode::OK);
    let after = rows_of_user(&mut app.conn(), user.id);
    assert_eq!(after["activity_log"], before["activity_log"] + 1);
    assert_eq!(
        app.activity(&user).await[0]["activity_type"],
        "login_failed"
    );
    for (table, n) in &before {
        if table != "activity_log" {
            assert_eq!(after[table], *n, "{table}");
        }
    }

    // Bad bodies are 400s, and are no attempt.
    for body in [
        json!({}),
        json!({"password": 5}),
        json!({"password": ""}),
        json!({"password": user.password, "extra": 1}),
    ] {
        api.send(Method::DELETE, "/api/me", Some(body), &[])
            .await
            .error(400, "validation_failed");
    }
    api.delete("/api/me").await.error(400, "validation_failed");
    assert_eq!(api.get("/api/me").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn wrong_passwords_lock_the_name_out_as_failed_logins_do() {
    let app = spawn_app_on(TestDb::new(), webhooks_to_loopback).await;
    let user = app.user("guessed").await;
    let api = app.as_user(&user);
    let wrong = json!({"password": "a-guess"});
    for _ in 0..10 {
        api.send(Method::DELETE, "/api/me", Some(wrong.clone()), &[])
            .await
            .error(401, "unauthorized");
    }
    // The eleventh guess, right or wrong, and a login, are refused unjudged.
    let right = json!({"password": user.password});
    api.send(Method::DELETE, "/api/me", Some(right), &[])
        .await
        .error(429, "rate_limited");
    app.login("guessed", &user.password)
        .await
        .error(429, "rate_limited");
    assert_eq!(api.get("/api/me").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn deleting_the_account_leaves_no_row_of_it_and_ends_its_streams() {
    let app = spawn_app_on(TestDb::shared_file(), |s| {
        // Only the deletion itself may end the stream within the guard.
        s.stream_heartbeat = Duration::from_secs(3600);
        webhooks_to_loopback(s);
    })
    .await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    fill(&app, &alice).await;
    fill(&app, &bob).await;
    let second_token = app.login("alice", &alice.password).await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut conn = app.conn();
    let playlists: Vec<String> = stored_ids(&mut conn, alice.id)["playlists"]
        .iter()
        .cloned()
        .collect();
    let schedules: Vec<String> = stored_ids(&mut conn, alice.id)["schedules"]
        .iter()
        .cloned()
        .collect();
    let bob_before = rows_of_user(&mut conn, bob.id);
    drop(conn);
    let res = app.call_raw(stream_request(&alice)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut events = EventReader::new(res.into_body());
    wait_until("the stream is open", || app.state.hub.open_streams() == 1).await;

    let res = app
        .as_user(&alice)
        .send(
            Method::DELETE,
            "/api/me",
            Some(json!({"password": alice.password})),
            &[],
        )
        .await;

    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    // The stream ends now, not at a session check an hour away.
    if let Some(event) = events.next().await {
        panic!("an event after the deletion: {event:?}");
    }
    wait_until("the slot is freed", || app.state.hub.open_streams() == 0).await;
    // Every token is dead.
    for token in [alice.token.as_str(), second_token.as_str()] {
        app.get("/api/me", Some(token))
            .await
            .error(401, "unauthorized");
    }
    // No row of alice's in any table, by user column or through her
    // playlists and schedules.
    let mut conn = app.conn();
    let left = rows_of_user(&mut conn, alice.id);
    assert!(left.values().all(|n| *n == 0), "{left:?}");
    assert_eq!(
        rows_naming(
            &mut conn,
            &["playlist_id", "target_playlist_id", "source_playlist_id"],
            &playlists
        ),
        0
    );
    assert_eq!(rows_naming(&mut conn, &["schedule_id"], &schedules), 0);
    // Bob's untouched.
    assert_eq!(rows_of_user(&mut conn, bob.id), bob_before);
    drop(conn);
    let res = app.as_user(&bob).get("/api/me/export").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["playlists"].as_array().unwrap().len(), 2);
    // The name is free again, for a new account with nothing in it.
    let again = app.user("alice").await;
    assert_ne!(again.id, alice.id);
    let res = app.as_user(&again).get("/api/playlists").await;
    assert_eq!(res.body["total"], 0);
}

#[actix_web::test]
async fn writes_of_the_same_user_during_the_deletion_neither_fail_nor_come_back() {
    let app = spawn_app_on(TestDb::shared_file(), webhooks_to_loopback).await;
    let user = app.user("racer").await;
    let playlist = fill(&app, &user).await;
    let api = app.as_user(&user);
    let delete = api.send(
        Method::DELETE,
        "/api/me",
        Some(json!({"password": user.password})),
        &[],
    );
    let playlist = &playlist;
    let (name, password, app_ref) = (&user.username, &user.password, &app);
    let writes = futures_util::future::join_all((0..15).map(|i| async move {
        match i % 5 {
            0 => {
                api.post("/api/playlists", json!({"name": format!("Late {i}")}))
                    .await
            }
            1 => {
                api.post(
                    &format!("/api/playlists/{playlist}/shuffle"),
                    json!({"seed": i}),
                )
                .await
            }
            2 => {
                api.post(&format!("/api/playlists/{playlist}/snapshots"), json!({}))
                    .await
            }
            3 => app_ref.login(name, password).await,
            _ => {
                api.post(
                    &format!("/api/playlists/{playlist}/workshop/sessions"),
                    json!({"session_name": format!("Late {i}"), "track_uris": []}),
                )
                .await
            }
        }
    }));
    let (deleted, writes) = futures_util::join!(delete, writes);

    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    for res in writes {
        assert!(
            res.status.is_success() || [401, 404, 409].contains(&res.status.as_u16()),
            "{} {}",
            res.status,
            res.text
        );
    }
    let left = rows_of_user(&mut app.conn(), user.id);
    assert!(left.values().all(|n| *n == 0), "{left:?}");
}
