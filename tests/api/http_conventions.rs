//! The conventions that hold for every route (docs/api.md, "API conventions"): error bodies, request ids,
//! body limits, health and metrics.

use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use serde_json::json;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn unknown_routes_and_wrong_methods_answer_json_errors() {
    let app = spawn_app().await;
    app.get("/no/such/route", None)
        .await
        .error(404, "not_found");
    app.get("/api/nothing-here", None)
        .await
        .error(404, "not_found");
    let res = app
        .send(Method::DELETE, "/api/auth/login", None, None, &[])
        .await;
    res.error(405, "method_not_allowed");
    let res = app.get("/api/auth/login", None).await;
    res.error(405, "method_not_allowed");
}

#[actix_web::test]
async fn request_ids_are_echoed_or_made_and_appear_in_error_bodies() {
    let app = spawn_app().await;
    let res = app
        .send(
            Method::GET,
            "/health",
            None,
            None,
            &[("X-Request-Id", "client-id-123")],
        )
        .await;
    assert_eq!(res.header("x-request-id"), Some("client-id-123"));
    let res = app.get("/health", None).await;
    let made = res.header("x-request-id").unwrap().to_string();
    assert_eq!(made.len(), 32);
    let err = app
        .send(
            Method::GET,
            "/api/me",
            None,
            None,
            &[("X-Request-Id", "trace-me")],
        )
        .await;
    assert_eq!(err.error(401, "unauthorized")["request_id"], "trace-me");
    assert_eq!(err.header("x-request-id"), Some("trace-me"));
}

#[actix_web::test]
async fn malformed_json_and_missing_content_type_are_handled() {
    let app = spawn_app().await;
    let req = TestRequest::post()
        .uri("/api/auth/login")
        .set_payload("{not json")
        .to_request();
    let res = app.call(req).await;
    res.error(400, "validation_failed");
    // No Content-Type: still read as JSON.
    let req = TestRequest::post()
        .uri("/api/auth/register")
        .set_payload(json!({"username": "plainbody", "password": "password1"}).to_string())
        .to_request();
    assert_eq!(app.call(req).await.status, StatusCode::CREATED);
    // A wrong JSON type is a 400 too.
    let res = app
        .post(
            "/api/auth/login",
            None,
            json!({"username": 7, "password": "x"}),
        )
        .await;
    res.error(400, "validation_failed");
}

#[actix_web::test]
async fn bodies_over_two_mebibytes_are_refused() {
    let app = spawn_app().await;
    let big = json!({"username": "x".repeat(2 * 1024 * 1024 + 10), "password": "password1"});
    let res = app.post("/api/auth/register", None, big).await;
    res.error(413, "payload_too_large");
}

#[actix_web::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let res = app.get("/health", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "ok");
    assert_eq!(res.body["checks"]["database"], "ok");
    assert_eq!(res.body["version"], env!("CARGO_PKG_VERSION"));
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_and_activity_writes() {
    let app = spawn_app().await;
    app.user("metric_user").await;
    app.get("/api/me", None).await;
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.text.contains("shuffify_http_requests_total{route=\"/api/auth/login\",method=\"POST\",status=\"200\"}"), "{}", res.text);
    assert!(res
        .text
        .contains("shuffify_http_request_duration_seconds_bucket{route=\"/api/me\",status=\"401\",le=\"+Inf\"}"));
    assert!(res.text.contains("shuffify_activity_log_writes_total "));
    assert!(res
        .text
        .contains("shuffify_activity_log_write_failures_total "));
}

#[actix_web::test]
async fn raw_bodies_over_two_mebibytes_are_413_with_the_error_body() {
    let app = spawn_app().await;
    let user = app.user("bigbody").await;
    let huge = "a".repeat(2 * 1024 * 1024 + 1);
    let req = TestRequest::post()
        .uri("/api/playlists/whatever/shuffle")
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .set_payload(huge.clone())
        .to_request();
    app.call(req).await.error(413, "payload_too_large");
    let req = TestRequest::patch()
        .uri("/api/settings")
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .set_payload(format!("{{\"default_algorithm\": \"{huge}\"}}"))
        .to_request();
    app.call(req).await.error(413, "payload_too_large");
    assert_eq!(
        app.as_user(&user).get("/api/settings").await.body["default_algorithm"],
        "basic"
    );
}

#[actix_web::test]
async fn unparseable_path_values_are_400s() {
    let app = spawn_app().await;
    let user = app.user("pathy").await;
    let res = app.as_user(&user).get("/api/snapshots/12abc").await;
    res.error(400, "validation_failed");
    let res = app.as_user(&user).get("/api/workshop/sessions/-").await;
    res.error(400, "validation_failed");
}

#[actix_web::test]
async fn cors_allows_only_the_configured_origins() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.cors_allowed_origins = vec!["https://app.example".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/api/me")
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", "GET"))
            .insert_header(("Access-Control-Request-Headers", "authorization"))
            .to_request()
    };
    let allowed = app.call(preflight("https://app.example")).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let refused = app.call(preflight("https://evil.example")).await;
    assert_ne!(
        refused.header("access-control-allow-origin"),
        Some("https://evil.example")
    );
    assert!(refused.status.is_client_error());

    // With no origins configured, none is allowed.
    let closed = spawn_app().await;
    let res = closed.call(preflight("https://app.example")).await;
    assert!(res.header("access-control-allow-origin").is_none());
}
