//! `GET /health/live` and `GET /health/ready`: what a load balancer or an
//! orchestrator sees.

use actix_web::http::StatusCode;
use actix_web::{test, web};
use diesel_migrations::MigrationHarness;
use serde_json::json;

use shuffify::db::{ConnectionManager, DatabaseUrl, DbConnection};
use shuffify::AppState;

use crate::helpers::{spawn_app, test_settings, TestDb};

#[actix_web::test]
async fn live_answers_ok_without_a_token_whatever_the_query() {
    let app = spawn_app().await;
    for path in ["/health/live", "/health/live?probe=1&verbose"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
        assert_eq!(res.body, json!({"status": "ok"}));
        assert!(res.header("x-request-id").is_some());
    }
    // Shutting down, the process still answers.
    app.state.shutdown.begin();
    assert_eq!(app.get("/health/live", None).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn ready_is_ok_with_a_database_its_migrations_and_no_shutdown() {
    let app = spawn_app().await;
    let res = app.get("/health/ready?probe=1", None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    assert_eq!(
        res.body,
        json!({
            "status": "ok",
            "failed": [],
            "checks": {"database": "ok", "migrations": "ok", "shutdown": "running"},
        })
    );
}

#[actix_web::test]
async fn ready_is_503_naming_shutdown_once_shutdown_has_begun() {
    let app = spawn_app().await;
    app.state.shutdown.begin();
    let res = app.get("/health/ready", None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert_eq!(res.body["status"], "unavailable");
    assert_eq!(res.body["failed"], json!(["shutdown"]));
    assert_eq!(res.body["checks"]["shutdown"], "shutting_down");
    assert_eq!(res.body["checks"]["database"], "ok");
    // `/health` is as it was.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn ready_is_503_naming_migrations_while_one_is_pending() {
    let app = spawn_app().await;
    {
        let mut conn = app.db.pool.get().unwrap();
        match &mut *conn {
            DbConnection::Sqlite(c) => {
                c.revert_last_migration(shuffify::db::migrations::SQLITE)
                    .unwrap();
            }
            DbConnection::Postgres(c) => {
                c.revert_last_migration(shuffify::db::migrations::POSTGRES)
                    .unwrap();
            }
        }
    }
    let res = app.get("/health/ready", None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.text);
    assert_eq!(res.body["failed"], json!(["migrations"]));
    assert_eq!(res.body["checks"]["migrations"], "pending");
}

#[actix_web::test]
async fn ready_is_503_naming_the_database_when_it_does_not_answer() {
    // A pool over a database that cannot be opened (a file in a directory
    // that does not exist), built without waiting for a connection.
    let db = TestDb::new();
    let url = DatabaseUrl::parse("sqlite:///nonexistent-shuffify-dir/none.db").unwrap();
    let pool = r2d2::Pool::builder()
        .connection_timeout(std::time::Duration::from_millis(500))
        .build_unchecked(ConnectionManager::new(url));
    let state = web::Data::new(AppState::new(pool, test_settings(&db)));
    let service = test::init_service(shuffify::app(state)).await;
    let res = test::call_service(
        &service,
        test::TestRequest::get().uri("/health/ready").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["failed"], json!(["database", "migrations"]));
    assert_eq!(body["checks"]["database"], "unavailable");
    assert_eq!(body["checks"]["migrations"], "unknown");
    assert_eq!(body["checks"]["shutdown"], "running");
}
