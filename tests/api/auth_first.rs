//! 401 first: on every route that needs a token, a missing, malformed,
//! unknown, expired or revoked token answers 401 with the error body (its
//! message says which), and `WWW-Authenticate: Bearer` (with
//! `error="invalid_token"` when a token was sent), before anything else
//! about the request is judged: path values, query values and names,
//! `Content-Type`, the body's size and JSON, whether Spotify is configured,
//! whether the resource exists. Only routing (404, 405) and the head's
//! limits (431) come before it.
//!
//! The table is the router's own ([`shuffify::routes::endpoints`]); what
//! may be called without a token is listed here, apart from the router, so
//! a route that forgets its token check fails here rather than passing
//! because the router calls it public.

use std::collections::BTreeSet;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::{test, Error};
use diesel::prelude::*;

use shuffify::db::schema::{auth_sessions, stream_tickets};
use shuffify::routes::Access;

use crate::fake_spotify::FakeSpotify;
use crate::helpers::{spawn_app, spawn_app_on, spawn_app_with, TestApp, TestDb};

/// Every (method, path) of the router that takes no token. The live
/// stream is not here: it takes a bearer token or a ticket, and without
/// either it is a 401 like the rest.
const PUBLIC: [(&str, &str); 8] = [
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    // Spotify's redirect: its single-use `state` names the user.
    ("GET", "/api/providers/spotify/callback"),
];

/// Values for a path parameter: not a number, and well-formed but naming
/// nothing (a numeric id and a playlist id of 22 base62 characters).
const PATH_VALUES: [&str; 3] = ["not-a-number", "987654321", "0123456789abcdefABCDEF"];

/// Query values every route would refuse, were they judged first:
/// repeated, out of range, not numbers, not UTF-8.
const JUNK_QUERY: &str =
    "limit=x&limit=0&offset=-1&page=x&days=x&since=x&last_event_id=x&cursor=%FF&q=%FF";

/// A body over the 2 MiB limit of every route but two (whose limit is
/// 8 MiB): sent with its length, so an eager size check could answer 413.
fn oversized_body() -> Vec<u8> {
    vec![b' '; shuffify::routes::BODY_LIMIT + 1]
}

/// How each request carries (or fails to carry) a token, and what its
/// 401 says: a word of its message, and its `WWW-Authenticate`
/// (`error="invalid_token"` when a token was sent).
fn credentials(
    revoked: &str,
    expired: &str,
) -> Vec<(String, Option<String>, &'static str, &'static str)> {
    let unknown = shuffify::services::auth::new_token();
    assert_eq!(unknown.len(), 43);
    let none = "Bearer";
    let invalid = "Bearer error=\"invalid_token\"";
    vec![
        (
            "no Authorization".into(),
            None,
            "authentication required",
            none,
        ),
        (
            "Basic scheme".into(),
            Some("Basic YWxpY2U6c2VjcmV0".into()),
            "authentication required",
            none,
        ),
        (
            "Bearer x".into(),
            Some("Bearer x".into()),
            "unknown",
            invalid,
        ),
        (
            "empty Bearer".into(),
            Some("Bearer ".into()),
            "authentication required",
            none,
        ),
        (
            "a 500-character token".into(),
            Some(format!("Bearer {}", "a".repeat(500))),
            "unknown",
            invalid,
        ),
        (
            "a revoked token".into(),
            Some(format!("Bearer {revoked}")),
            "revoked",
            invalid,
        ),
        (
            "an expired token".into(),
            Some(format!("Bearer {expired}")),
            "expired",
            invalid,
        ),
        (
            "an unknown token".into(),
            Some(format!("Bearer {unknown}")),
            "unknown",
            invalid,
        ),
    ]
}

/// Bodies sent with each credential: none for a GET; for a method with a
/// body, an empty one, invalid JSON, a JSON object missing every required
/// field, a wrong `Content-Type` and an oversized one.
fn bodies(method: &str) -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
    if method == "GET" {
        return vec![("no body", None, Vec::new())];
    }
    vec![
        ("an empty body", Some("application/json"), Vec::new()),
        (
            "invalid JSON",
            Some("application/json"),
            b"{\"name\":".to_vec(),
        ),
        (
            "an object of no field",
            Some("application/json"),
            b"{}".to_vec(),
        ),
        ("an array", Some("application/json"), b"[1, 2]".to_vec()),
        ("text/plain", Some("text/plain"), b"name=x".to_vec()),
        (
            "a body over 2 MiB",
            Some("application/json"),
            oversized_body(),
        ),
    ]
}

/// Every secured (method, path) of the router, with its parameters
/// substituted by each of [`PATH_VALUES`].
fn secured_requests() -> Vec<(String, String, String)> {
    let mut routed = BTreeSet::new();
    let mut requests = Vec::new();
    for endpoint in shuffify::routes::endpoints() {
        for method in endpoint.methods() {
            routed.insert((method.to_string(), endpoint.path().to_string()));
            let public = PUBLIC.contains(&(method, endpoint.path()));
            assert_eq!(
                endpoint.access() == Access::Public,
                public,
                "{method} {}: {:?}",
                endpoint.path(),
                endpoint.access()
            );
            if public {
                continue;
            }
            let pattern = endpoint.path();
            let values: &[&str] = if pattern.contains('{') {
                &PATH_VALUES
            } else {
                &[""]
            };
            for value in values {
                let path = substitute(pattern, value);
                requests.push((method.to_string(), pattern.to_string(), path));
            }
        }
    }
    for (method, path) in PUBLIC {
        assert!(
            routed.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is listed as public but not routed"
        );
    }
    assert!(
        requests.len() > 80,
        "the walk saw the whole router: {}",
        requests.len()
    );
    requests
}

/// `pattern` with every `{name}` replaced by `value`.
fn substitute(pattern: &str, value: &str) -> String {
    let mut path = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a closed parameter") + start;
        path.push_str(&rest[..start]);
        path.push_str(value);
        rest = &rest[end + 1..];
    }
    path.push_str(rest);
    path
}

/// A user's token that logged out, and another whose session expired.
async fn dead_tokens<S, B>(app: &TestApp<S>) -> (String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let user = app.user("gatekeeper").await;
    let logout = app.as_user(&user).post_empty("/api/auth/logout").await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT, "{}", logout.text);
    let again = app.login(&user.username, &user.password).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let expired = again.body["token"].as_str().unwrap().to_string();
    let past = shuffify::db::now() - chrono::Duration::minutes(1);
    diesel::update(auth_sessions::table.filter(auth_sessions::revoked_at.is_null()))
        .set(auth_sessions::expires_at.eq(past))
        .execute(&mut app.conn())
        .unwrap();
    // Both really are dead, on a route with nothing else to judge.
    for token in [&user.token, &expired] {
        app.get("/api/me", Some(token))
            .await
            .error(401, "unauthorized");
    }
    (user.token, expired)
}

/// Sends every secured route every bad credential with every bad body;
/// answers what was not a 401 with the error body and `WWW-Authenticate`.
async fn sweep<S, B>(app: &TestApp<S>) -> (usize, Vec<String>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    let (revoked, expired) = dead_tokens(app).await;
    let credentials = credentials(&revoked, &expired);
    let mut sent = 0;
    let mut wrong = Vec::new();
    for (method, pattern, path) in secured_requests() {
        for (who, authorization, says, challenge) in &credentials {
            for (what, content_type, body) in bodies(&method) {
                for uri in [path.clone(), format!("{path}?{JUNK_QUERY}")] {
                    let mut req = test::TestRequest::default()
                        .method(Method::from_bytes(method.as_bytes()).unwrap())
                        .uri(&uri);
                    if let Some(value) = authorization {
                        req = req.insert_header(("Authorization", value.as_str()));
                    }
                    if let Some(value) = content_type {
                        req = req.insert_header(("Content-Type", value));
                    }
                    if !body.is_empty() {
                        req = req.set_payload(body.clone());
                    }
                    let res = app.call(req.to_request()).await;
                    sent += 1;
                    let right = res.status == StatusCode::UNAUTHORIZED
                        && res.body["error"]["code"] == "unauthorized"
                        && res.body["error"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains(says))
                        && res.body["error"]["details"] == serde_json::json!([])
                        && res.header("www-authenticate") == Some(challenge);
                    if !right {
                        wrong.push(format!(
                            "{method} {uri} ({pattern}) with {who} and {what}: {} {}",
                            res.status,
                            res.text.chars().take(160).collect::<String>()
                        ));
                    }
                }
            }
        }
    }
    (sent, wrong)
}

fn assert_all_401(sent: usize, wrong: &[String]) {
    assert!(
        wrong.is_empty(),
        "{} of {sent} answers were not 401 first:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[actix_web::test]
async fn every_secured_route_answers_401_first_without_spotify() {
    let app = spawn_app().await;
    let (sent, wrong) = sweep(&app).await;
    assert_all_401(sent, &wrong);
}

#[actix_web::test]
async fn every_secured_route_answers_401_first_with_spotify_configured() {
    let fake = FakeSpotify::start();
    let settings = fake.clone();
    let app = spawn_app_with(move |s| settings.configure(s)).await;
    let (sent, wrong) = sweep(&app).await;
    assert_all_401(sent, &wrong);
    // Nothing got as far as Spotify.
    assert_eq!(fake.lock().requests.len(), 0);
}

#[actix_web::test]
async fn routing_still_answers_404_and_405_before_the_token() {
    let app = spawn_app().await;
    // An unknown path, and a method the resource does not have.
    app.post_empty("/api/no-such-route", None)
        .await
        .error(404, "not_found");
    let res = app
        .send(Method::PUT, "/api/playlists", None, None, &[])
        .await;
    res.error(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("GET, POST"));
    let res = app.post_empty("/api/me", Some("x")).await;
    res.error(405, "method_not_allowed");
    // The routes that take no token do not ask for one.
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/openapi.json", None).await.status,
        StatusCode::OK
    );
    app.post("/api/auth/login", None, serde_json::json!({}))
        .await
        .error(400, "validation_failed");
}

#[actix_web::test]
async fn the_live_stream_judges_its_ticket_before_its_query() {
    let app = spawn_app_on(TestDb::shared_file(), |_| {}).await;
    let user = app.user("ticketholder").await;
    let stream = |query: String| {
        test::TestRequest::get()
            .uri(&format!("/api/activity/stream?{query}"))
            .to_request()
    };
    // Unknown tickets, in a query that is wrong and in one that does not
    // parse at all (a repeated value).
    for query in [
        "ticket=not-a-ticket&last_event_id=x",
        "ticket=not-a-ticket&last_event_id=1&last_event_id=2",
        "last_event_id=x",
    ] {
        let res = app.call(stream(query.to_string())).await;
        res.error(401, "unauthorized");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"), "{query}");
    }
    // A good ticket in a query that does not parse is a 400 that leaves
    // it unspent: it still opens a stream.
    let ticket = app
        .as_user(&user)
        .post_empty("/api/activity/stream/tickets")
        .await
        .body["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(stream(format!(
        "ticket={ticket}&last_event_id=1&last_event_id=2"
    )))
    .await
    .error(400, "validation_failed");
    let unspent: i64 = stream_tickets::table
        .filter(stream_tickets::used_at.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(unspent, 1);
    let opened = app
        .call_raw(stream(format!("ticket={ticket}&last_event_id=0")))
        .await;
    assert_eq!(opened.status(), StatusCode::OK);
}
