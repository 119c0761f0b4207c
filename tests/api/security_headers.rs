//! What a browser is told about the app's pages, `/docs` and the answers
//! that carry a credential, and what a spreadsheet makes of a CSV export.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::fake_spotify::FakeSpotify;
use crate::helpers::{spawn_app, spawn_app_with, TestResponse};

fn assert_page_headers(path: &str, res: &TestResponse) {
    let policy = res
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{path}: {policy}"
    );
    assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
    assert!(!policy.contains("unsafe-eval"), "{path}: {policy}");
    assert_eq!(
        res.header("x-content-type-options"),
        Some("nosniff"),
        "{path}"
    );
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{path}");
}

#[actix_web::test]
async fn the_app_and_the_api_docs_cannot_be_framed_or_sniffed() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/assets/app.js",
        "/assets/app.css",
        "/docs",
        "/docs/",
        "/docs/index.html",
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let res = app.get(path, None).await;
        assert!(
            res.status == StatusCode::OK || res.status == StatusCode::PERMANENT_REDIRECT,
            "{path}: {}",
            res.status
        );
        assert_page_headers(path, &res);
    }
    // Swagger UI's page loads only its own files, so it needs no inline
    // script.
    let page = app.get("/docs/", None).await;
    assert!(
        page.text.contains("swagger-initializer.js"),
        "{}",
        page.text
    );
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
}

#[actix_web::test]
async fn answers_that_carry_a_token_or_ticket_are_never_stored() {
    let app = spawn_app().await;
    let register = app.register("keeper", "a-fine-password").await;
    assert_eq!(register.status, StatusCode::CREATED, "{}", register.text);
    assert_eq!(register.header("cache-control"), Some("no-store"));
    let login = app.login("keeper", "a-fine-password").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let token = login.body["token"].as_str().unwrap();
    let ticket = app
        .post_empty("/api/activity/stream/tickets", Some(token))
        .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.text);
    assert_eq!(ticket.header("cache-control"), Some("no-store"));
}

#[actix_web::test]
async fn the_spotify_authorize_url_is_never_stored() {
    let fake = FakeSpotify::start();
    let settings = fake.clone();
    let app = spawn_app_with(move |s| settings.configure(s)).await;
    let user = app.user("linker").await;
    let started = app
        .as_user(&user)
        .post_empty("/api/providers/spotify/authorize")
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert!(started.body["authorize_url"].is_string());
    assert_eq!(started.header("cache-control"), Some("no-store"));
}

#[actix_web::test]
async fn csv_cells_a_spreadsheet_would_run_are_written_as_text() {
    let app = spawn_app().await;
    let user = app.user("formulas").await;
    let names = [
        "=HYPERLINK(\"http://127.0.0.1/x\",\"open\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "plain = fine",
    ];
    let mut stored = Vec::new();
    for name in names {
        let res = app
            .as_user(&user)
            .post("/api/playlists", json!({"name": name}))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{name}: {}", res.text);
        stored.push(res.body["name"].as_str().unwrap().to_string());
    }

    let csv = app
        .as_user(&user)
        .get("/api/activity/export?format=csv&types=playlist_create")
        .await;

    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    assert_eq!(reader.headers().unwrap().get(4), Some("playlist_name"));
    let mut written: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[4].to_string())
        .collect();
    written.sort();
    let mut expected: Vec<String> = stored
        .iter()
        .map(|n| {
            if n.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{n}")
            } else {
                n.to_string()
            }
        })
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    // No cell of the export starts a formula.
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?}"
            );
        }
    }
}
