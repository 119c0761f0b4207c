//! Where each row came from: `context: {request_id, ip_address, user_agent,
//! session_id}` on every item written while serving a request, `null` on
//! rows no request wrote; the `ip=`, `session_id=` and `request_id=`
//! filters of the listing and the export; the CSV export's context columns.

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use shuffify::enums::ActivityType;
use shuffify::models::NewActivity;
use shuffify::services::ActivityLogService;

use crate::helpers::{rows_of, sample_tracks, spawn_app, spawn_app_with, TestUser};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// The session a user's login row names (the login the helper made).
fn login_session(activity: &[Value]) -> i64 {
    let logins = rows_of(activity, "login");
    logins[0]["metadata"]["session_id"].as_i64().unwrap()
}

#[actix_web::test]
async fn a_row_written_over_http_names_its_request_address_browser_and_session() {
    // Behind a trusted proxy at 127.0.0.1 (the test client's address), the
    // client is the rightmost forwarded entry that is not a proxy; what a
    // client wrote further left is not believed.
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let user = app.user("traveller").await;
    let session = login_session(&app.activity(&user).await);

    let res = app
        .send(
            Method::POST,
            "/api/playlists",
            Some(&user.token),
            Some(json!({"name": "Road Trip", "tracks": sample_tracks("rt", 2)})),
            &[
                ("X-Forwarded-For", "198.51.100.9, 203.0.113.5"),
                ("User-Agent", FIREFOX),
                ("X-Request-Id", "trip-create-1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.header("x-request-id"), Some("trip-create-1"));

    let activity = app.activity(&user).await;
    let created = rows_of(&activity, "playlist_create")[0];
    assert_eq!(
        created["context"],
        json!({
            "request_id": "trip-create-1",
            "ip_address": "203.0.113.5",
            "user_agent": FIREFOX,
            "session_id": session,
        })
    );

    // Without a client id, the row names the id the response carried.
    let res = app
        .as_user(&user)
        .patch(
            &format!("/api/playlists/{}", res.body["id"].as_str().unwrap()),
            json!({"name": "Summer Road Trip"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let generated = res.header("x-request-id").unwrap().to_string();
    let activity = app.activity(&user).await;
    let updated = rows_of(&activity, "playlist_update")[0];
    assert_eq!(updated["context"]["request_id"], generated.as_str());
    assert_eq!(updated["context"]["ip_address"], "127.0.0.1");
    assert_eq!(updated["context"]["user_agent"], Value::Null);
    assert_eq!(updated["context"]["session_id"], session);
}

#[actix_web::test]
async fn each_row_names_the_session_whose_token_made_it_and_a_login_names_its_new_one() {
    let app = spawn_app().await;
    let first = app.user("twofold").await;
    // A second login: a second session of the same user.
    let login = app.login("twofold", &first.password).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let second = TestUser {
        token: login.body["token"].as_str().unwrap().to_string(),
        ..first.clone()
    };
    let login_id = login.header("x-request-id").unwrap().to_string();

    let activity = app.activity(&first).await;
    let logins = rows_of(&activity, "login");
    assert_eq!(logins.len(), 2);
    let (second_session, first_session) = (
        logins[0]["metadata"]["session_id"].as_i64().unwrap(),
        logins[1]["metadata"]["session_id"].as_i64().unwrap(),
    );
    assert_ne!(first_session, second_session);
    // The login row: its new session, and the login request's id.
    assert_eq!(logins[0]["context"]["session_id"], second_session);
    assert_eq!(logins[0]["context"]["request_id"], login_id.as_str());
    assert_eq!(logins[1]["context"]["session_id"], first_session);

    app.playlist(&first, "By the first", sample_tracks("a", 1))
        .await;
    app.playlist(&second, "By the second", sample_tracks("b", 1))
        .await;
    let activity = app.activity(&first).await;
    let made = rows_of(&activity, "playlist_create");
    assert_eq!(made[0]["playlist_name"], "By the second");
    assert_eq!(made[0]["context"]["session_id"], second_session);
    assert_eq!(made[1]["context"]["session_id"], first_session);

    // A logout row names the session it ended.
    let res = app.as_user(&second).post_empty("/api/auth/logout").await;
    assert!(res.status.is_success(), "{}", res.text);
    let activity = app.activity(&first).await;
    assert_eq!(
        rows_of(&activity, "logout")[0]["context"]["session_id"],
        second_session
    );
}

#[actix_web::test]
async fn a_run_now_carries_its_request_context() {
    let app = spawn_app().await;
    let user = app.user("runner").await;
    let target = app.playlist(&user, "Run", sample_tracks("rn", 4)).await;
    let schedule = app
        .shuffle_schedule(&user, target["id"].as_str().unwrap())
        .await;
    let res = app
        .send(
            Method::POST,
            &format!("/api/schedules/{schedule}/run"),
            Some(&user.token),
            None,
            &[("X-Request-Id", "run-now-1")],
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text);
    let activity = app.activity(&user).await;
    let run = rows_of(&activity, "schedule_run")[0];
    assert_eq!(run["context"]["request_id"], "run-now-1");
    assert!(run["context"]["session_id"].is_i64());
}

#[actix_web::test]
async fn a_row_written_outside_any_request_has_no_context() {
    let app = spawn_app().await;
    let user = app.user("offline").await;
    // What the command line and the scheduler do: the service on a
    // connection of their own, while requests come and go.
    app.playlist(&user, "Busy", sample_tracks("x", 1)).await;
    ActivityLogService::log(
        &mut app.conn(),
        NewActivity::new(
            user.id,
            ActivityType::SettingsChange,
            "from the command line",
        ),
    )
    .expect("written");
    app.playlist(&user, "Busy again", sample_tracks("y", 1))
        .await;

    let activity = app.activity(&user).await;
    let offline = activity
        .iter()
        .find(|r| r["description"] == "from the command line")
        .unwrap();
    assert!(offline.as_object().unwrap().contains_key("context"));
    assert_eq!(offline["context"], Value::Null);
    assert!(rows_of(&activity, "playlist_create")
        .iter()
        .all(|r| r["context"].is_object()));

    // Every view of an item says the same.
    let recent = app.as_user(&user).get("/api/activity/recent?limit=5").await;
    let item = recent.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["description"] == "from the command line")
        .unwrap();
    assert_eq!(item["context"], Value::Null);
    let ndjson = app.as_user(&user).get("/api/activity/export").await;
    let lines: Vec<Value> = ndjson
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = lines
        .iter()
        .find(|r| r["description"] == "from the command line")
        .unwrap();
    assert_eq!(line["context"], Value::Null);
    assert!(lines
        .iter()
        .filter(|r| r["activity_type"] == "playlist_create")
        .all(|r| r["context"]["session_id"].is_i64()));
}

/// Two sessions from two addresses, each writing rows.
async fn two_sessions<S, B>(app: &crate::helpers::TestApp<S>) -> (TestUser, i64, i64)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let user = app.user("filtered").await;
    let home = login_session(&app.activity(&user).await);
    let login = app
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "filtered", "password": user.password})),
            &[("X-Forwarded-For", "203.0.113.77")],
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let away_token = login.body["token"].as_str().unwrap().to_string();
    let away = rows_of(&app.activity(&user).await, "login")[0]["metadata"]["session_id"]
        .as_i64()
        .unwrap();
    for (token, name, forwarded, request) in [
        (&user.token, "Home 1", "198.51.100.1", "home-1"),
        (&user.token, "Home 2", "198.51.100.1", "home-2"),
        (&away_token, "Away 1", "203.0.113.77", "away-1"),
    ] {
        let res = app
            .send(
                Method::POST,
                "/api/playlists",
                Some(token),
                Some(json!({"name": name, "tracks": []})),
                &[("X-Forwarded-For", forwarded), ("X-Request-Id", request)],
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    }
    (user, home, away)
}

fn names(res: &crate::helpers::TestResponse) -> Vec<String> {
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["playlist_name"].as_str().unwrap_or("-").to_string())
        .collect()
}

#[actix_web::test]
async fn the_listing_and_export_filter_by_address_session_and_request() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (user, home, away) = two_sessions(&app).await;
    let api = app.as_user(&user);

    let by_ip = api
        .get("/api/activity?ip=198.51.100.1&types=playlist_create")
        .await;
    assert_eq!(names(&by_ip), ["Home 2", "Home 1"]);
    // The away login itself came from 203.0.113.77 too.
    let by_ip = api.get("/api/activity?ip=203.0.113.77").await;
    assert_eq!(names(&by_ip), ["Away 1", "-"]);

    let by_session = api.get(&format!("/api/activity?session_id={away}")).await;
    assert_eq!(names(&by_session), ["Away 1", "-"]);
    let by_session = api
        .get(&format!(
            "/api/activity?session_id={home}&types=playlist_create"
        ))
        .await;
    assert_eq!(names(&by_session), ["Home 2", "Home 1"]);

    let by_request = api.get("/api/activity?request_id=home-1").await;
    assert_eq!(names(&by_request), ["Home 1"]);

    // Combined: AND.
    let both = api
        .get(&format!("/api/activity?session_id={home}&ip=203.0.113.77"))
        .await;
    assert_eq!(names(&both), Vec::<String>::new());
    let both = api
        .get(&format!(
            "/api/activity?session_id={home}&request_id=home-2&ip=198.51.100.1"
        ))
        .await;
    assert_eq!(names(&both), ["Home 2"]);
    // With page numbers, the total counts the same rows.
    let paged = api
        .get(&format!("/api/activity?session_id={away}&page=1"))
        .await;
    assert_eq!(paged.body["total"], 2, "{}", paged.text);

    // The same address however it is written.
    let v6 = api.get("/api/activity?ip=2001:DB8:0:0::1").await;
    assert_eq!(names(&v6), Vec::<String>::new());

    // The export takes them too.
    let export = api
        .get(&format!(
            "/api/activity/export?session_id={away}&types=playlist_create"
        ))
        .await;
    assert_eq!(export.status, StatusCode::OK);
    let lines: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["playlist_name"], "Away 1");
    assert_eq!(lines[0]["context"]["request_id"], "away-1");

    // Another user's session id finds nothing of theirs.
    let other = app.user("other").await;
    let theirs = app
        .as_user(&other)
        .get(&format!("/api/activity?session_id={home}"))
        .await;
    assert_eq!(names(&theirs), Vec::<String>::new());
}

#[actix_web::test]
async fn bad_filter_values_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let user = app.user("picky").await;
    let api = app.as_user(&user);
    let long_id = "r".repeat(129);
    for (query, field) in [
        ("ip=203.0.113", "ip"),
        ("ip=not-an-address", "ip"),
        ("ip=1.2.3.4%25eth0", "ip"),
        ("ip=1111111111111111111111111111111111111111111111", "ip"),
        ("session_id=0", "session_id"),
        ("session_id=-4", "session_id"),
        ("session_id=abc", "session_id"),
        ("session_id=99999999999999999999", "session_id"),
        ("request_id=has%20space", "request_id"),
        ("request_id=quote%22d", "request_id"),
        ("request_id=caf%C3%A9", "request_id"),
        (&format!("request_id={long_id}"), "request_id"),
    ] {
        for path in ["/api/activity", "/api/activity/export"] {
            let res = api.get(&format!("{path}?{query}")).await;
            let error = res.error(400, "validation_failed");
            assert_eq!(error["details"][0]["field"], field, "{path}?{query}");
        }
    }
    // Empty values count as absent.
    let res = api.get("/api/activity?ip=&session_id=&request_id=").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
}

#[actix_web::test]
async fn the_csv_export_appends_the_context_columns_escaped() {
    let app = spawn_app().await;
    let user = app.user("spreadsheet").await;
    let res = app
        .send(
            Method::POST,
            "/api/playlists",
            Some(&user.token),
            Some(json!({"name": "Sheet", "tracks": []})),
            &[
                ("User-Agent", "=cmd|' /C calc'!A0"),
                ("X-Request-Id", "csv-1"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    let session = login_session(&app.activity(&user).await);

    let csv_res = app
        .as_user(&user)
        .get("/api/activity/export?format=csv")
        .await;
    let mut reader = csv::Reader::from_reader(csv_res.text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers[9..],
        ["request_id", "ip_address", "user_agent", "session_id"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let created = records.iter().find(|r| &r[1] == "playlist_create").unwrap();
    assert_eq!(&created[9], "csv-1");
    assert_eq!(&created[10], "127.0.0.1");
    // A spreadsheet reads it as text, not a formula.
    assert_eq!(&created[11], "'=cmd|' /C calc'!A0");
    assert_eq!(&created[12], session.to_string());
}
