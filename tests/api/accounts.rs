//! Register, login, logout, /api/me and the login throttle, over HTTP.

use actix_web::http::{Method, StatusCode};
use diesel::prelude::*;
use serde_json::json;

use shuffify::db::schema::{activity_log, auth_sessions};
use shuffify::enums::ActivityType;
use shuffify::services::ActivityLogService;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn register_creates_a_user_with_defaults() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "new_user.1", "password": "long enough", "email": "a@b.example"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    assert_eq!(res.header("location"), Some("/api/me"));
    assert_eq!(res.body["username"], "new_user.1");
    assert_eq!(res.body["display_name"], "new_user.1");
    assert_eq!(res.body["email"], "a@b.example");
    assert_eq!(res.body["login_count"], 0);
    assert!(res.body["last_login_at"].is_null());
    assert!(res.body.get("password_hash").is_none());
    // Registration has no activity type: nothing is logged.
    let id = res.body["id"].as_i64().unwrap();
    assert!(ActivityLogService::get_recent(&mut app.conn(), id, 20, None).is_empty());
}

#[actix_web::test]
async fn register_rejects_bad_input() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"username": "ab", "password": "password1"}),
            "username",
        ),
        (
            json!({"username": "Alice", "password": "password1"}),
            "username",
        ),
        (
            json!({"username": "has space", "password": "password1"}),
            "username",
        ),
        (
            json!({"username": "alice", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "alice", "password": "x".repeat(129)}),
            "password",
        ),
        (
            json!({"username": "alice", "password": "password1", "email": "nope"}),
            "email",
        ),
        (json!({"username": "alice"}), "password"),
        (
            json!({"username": "alice", "password": "password1", "admin": true}),
            "admin",
        ),
        (json!({"username": 5, "password": "password1"}), "body"),
    ];
    for (body, field) in cases {
        let res = app.post("/api/auth/register", None, body.clone()).await;
        let error = res.error(400, "validation_failed");
        assert_eq!(
            error["details"][0]["field"], field,
            "for {body}: {}",
            res.text
        );
    }
    // Nothing was stored: the name is still free.
    assert_eq!(
        app.register("alice", "password1").await.status,
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn duplicate_username_is_a_conflict() {
    let app = spawn_app().await;
    assert_eq!(
        app.register("dup", "password1").await.status,
        StatusCode::CREATED
    );
    let res = app.register("dup", "password2").await;
    res.error(409, "conflict");
}

#[actix_web::test]
async fn login_returns_a_token_and_logs_the_session() {
    let app = spawn_app().await;
    app.register("carol", "carol-password").await;
    let res = app.login("carol", "carol-password").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    let token = res.body["token"].as_str().unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(res.body["user"]["login_count"], 1);
    assert!(res.body["expires_at"].as_str().unwrap().ends_with('Z'));

    let me = app.get("/api/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "carol");
    assert_eq!(me.body["login_count"], 1);
    assert!(me.body["last_login_at"].is_string());

    let user_id = me.body["id"].as_i64().unwrap();
    let mut conn = app.conn();
    let rows = ActivityLogService::get_recent(&mut conn, user_id, 20, None);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].activity_type, ActivityType::Login);
    assert_eq!(rows[0].actor_name.as_deref(), Some("carol"));
    let session_id: i64 = auth_sessions::table
        .filter(auth_sessions::user_id.eq(user_id))
        .select(auth_sessions::id)
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        rows[0].metadata.as_ref().unwrap().value(),
        json!({"session_id": session_id})
    );
    // The session remembers where the login came from.
    let (ip, agent): (Option<String>, Option<String>) = auth_sessions::table
        .find(session_id)
        .select((auth_sessions::ip_address, auth_sessions::user_agent))
        .first(&mut conn)
        .unwrap();
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(agent, None);
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app().await;
    let user = app.user("dave").await;
    let wrong = app.login("dave", "not-the-password").await;
    let unknown = app.login("nobody", "not-the-password").await;
    let wrong_error = wrong.error(401, "unauthorized");
    let unknown_error = unknown.error(401, "unauthorized");
    assert_eq!(wrong_error["message"], unknown_error["message"]);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));

    let mut conn = app.conn();
    let rows = ActivityLogService::get_recent(&mut conn, user.id, 20, None);
    assert_eq!(rows[0].activity_type, ActivityType::LoginFailed);
    assert_eq!(rows[0].metadata, None);
    // The unknown name wrote nothing anywhere.
    let total: i64 = activity_log::table.count().get_result(&mut conn).unwrap();
    assert_eq!(total, 2, "one login and one login_failed");
}

#[actix_web::test]
async fn eleventh_failure_is_rate_limited_before_the_password_check() {
    let app = spawn_app().await;
    let user = app.user("erin").await;
    for _ in 0..10 {
        app.login("erin", "wrong-password")
            .await
            .error(401, "unauthorized");
    }
    // Even the right password is refused now, and nothing more is logged.
    let res = app.login("erin", &user.password).await;
    res.error(429, "rate_limited");
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    let failed = ActivityLogService::get_recent(
        &mut app.conn(),
        user.id,
        100,
        Some(ActivityType::LoginFailed),
    );
    assert_eq!(failed.len(), 10);
    // Unknown names are throttled too, and other names are not.
    for _ in 0..10 {
        app.login("ghost", "whatever-pw")
            .await
            .error(401, "unauthorized");
    }
    app.login("ghost", "whatever-pw")
        .await
        .error(429, "rate_limited");
    app.register("frank", "frank-password").await;
    assert_eq!(
        app.login("frank", "frank-password").await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn logout_revokes_the_token() {
    let app = spawn_app().await;
    let user = app.user("gina").await;
    let res = app
        .as_user(&user)
        .send(Method::POST, "/api/auth/logout", None, &[])
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
    let me = app.as_user(&user).get("/api/me").await;
    let error = me.error(401, "unauthorized");
    assert!(error["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(
        me.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    let rows = ActivityLogService::get_recent(&mut app.conn(), user.id, 20, None);
    assert_eq!(rows[0].activity_type, ActivityType::Logout);
    assert!(rows[0].metadata.as_ref().unwrap().value()["session_id"].is_i64());
    // A second logout with the dead token is simply unauthorized.
    app.as_user(&user)
        .send(Method::POST, "/api/auth/logout", None, &[])
        .await
        .error(401, "unauthorized");
}

#[actix_web::test]
async fn expired_missing_and_malformed_tokens_are_unauthorized() {
    let app = spawn_app().await;
    let user = app.user("hank").await;
    app.get("/api/me", None).await.error(401, "unauthorized");
    app.get("/api/me", Some("not-a-token"))
        .await
        .error(401, "unauthorized");
    let res = app
        .send(
            Method::GET,
            "/api/me",
            None,
            None,
            &[("Authorization", "Basic abc")],
        )
        .await;
    res.error(401, "unauthorized");

    let past = shuffify::db::now() - chrono::Duration::minutes(1);
    diesel::update(auth_sessions::table.filter(auth_sessions::user_id.eq(user.id)))
        .set(auth_sessions::expires_at.eq(past))
        .execute(&mut app.conn())
        .unwrap();
    app.as_user(&user)
        .get("/api/me")
        .await
        .error(401, "unauthorized");
}

#[actix_web::test]
async fn the_database_never_holds_a_raw_token() {
    let app = spawn_app().await;
    let user = app.user("ivy").await;
    let mut conn = app.conn();
    let hashes: Vec<String> = auth_sessions::table
        .select(auth_sessions::token_hash)
        .load(&mut conn)
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert_ne!(hashes[0], user.token);
    assert!(!hashes[0].contains(&user.token));
    assert_eq!(hashes[0], shuffify::services::auth::token_hash(&user.token));
    let metadata: Vec<Option<String>> = diesel::sql_query("SELECT metadata FROM activity_log")
        .load::<MetadataRow>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.metadata)
        .collect();
    assert!(metadata.iter().flatten().all(|m| !m.contains(&user.token)));
    assert!(metadata
        .iter()
        .flatten()
        .all(|m| !m.contains(&user.password)));
}

#[derive(QueryableByName)]
struct MetadataRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    metadata: Option<String>,
}

#[actix_web::test]
async fn cli_style_registration_through_the_service_can_log_in() {
    // `shuffify user create` calls AuthService::register; its user logs in.
    let app = spawn_app().await;
    let reg = shuffify::services::auth::Registration {
        username: "cli_user".into(),
        password: "cli-password".into(),
        display_name: None,
        email: None,
    };
    shuffify::services::auth::AuthService::register(&mut app.conn(), &reg).unwrap();
    assert_eq!(
        app.login("cli_user", "cli-password").await.status,
        StatusCode::OK
    );
}
