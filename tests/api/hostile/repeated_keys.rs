//! Bodies that repeat a key. JSON parsers disagree about them (the first
//! wins, the last wins, an error), so a proxy that checks one reading and
//! a service that acts on another can be played against each other; here
//! a repeated key at any depth is a 400 naming it, and nothing is stored.

use actix_web::http::header;
use actix_web::test::TestRequest;
use diesel::prelude::*;

use shuffify::db::schema::{playlists, users};

use crate::helpers::{spawn_app, TestResponse};

/// `raw` as the body of `POST path`, exactly as written.
fn post_raw(path: &str, token: Option<&str>, raw: &str) -> actix_http::Request {
    let mut req = TestRequest::post()
        .uri(path)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(raw.to_string());
    if let Some(token) = token {
        req = req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")));
    }
    req.to_request()
}

fn assert_names_repeated(res: &TestResponse, field: &str) {
    let error = res.error(400, "validation_failed");
    assert_eq!(error["details"][0]["field"], field, "{}", res.text);
    let message = error["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("repeated"), "{message}");
}

#[actix_web::test]
async fn a_registration_that_repeats_the_username_is_400_and_registers_no_one() {
    let app = spawn_app().await;
    let raw = r#"{"username":"alice","username":"mallory","password":"a-fine-password"}"#;

    let res = app.call(post_raw("/api/auth/register", None, raw)).await;

    assert_names_repeated(&res, "username");
    let users: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(users, 0);
    // Neither reading of the body was taken.
    for name in ["alice", "mallory"] {
        assert_eq!(app.login(name, "a-fine-password").await.status, 401);
    }
}

#[actix_web::test]
async fn a_key_repeated_deep_inside_a_body_is_named_and_nothing_is_stored() {
    let app = spawn_app().await;
    let user = app.user("nester").await;
    let raw = r#"{"name":"Deep","tracks":[
        {"uri":"spotify:track:a","name":"A"},
        {"uri":"spotify:track:b","name":"B","name":"C"}]}"#;

    let res = app
        .call(post_raw("/api/playlists", Some(&user.token), raw))
        .await;

    assert_names_repeated(&res, "tracks[1].name");
    let count: i64 = playlists::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 0);
}

#[actix_web::test]
async fn a_login_that_repeats_the_password_is_400_before_any_check() {
    let app = spawn_app().await;
    let user = app.user("twice").await;
    let raw = format!(
        r#"{{"username":"twice","password":"wrong-password","password":"{}"}}"#,
        user.password
    );

    let res = app.call(post_raw("/api/auth/login", None, &raw)).await;

    assert_names_repeated(&res, "password");
}
