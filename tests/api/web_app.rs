//! The web app's routes (docs/architecture.md): `/`, `/assets/*` and `/favicon.ico`
//! serve the app from the binary under a Content-Security-Policy that lets only its own
//! files run; every other unknown path is still the JSON 404.

use actix_web::http::StatusCode;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn the_app_is_served_at_the_root_with_its_assets() {
    let app = spawn_app().await;
    let page = app.get("/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text.contains("/assets/app.js") && page.text.contains("/assets/app.css"));
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(!page.text.contains("https://"), "nothing from elsewhere");

    let script = app.get("/assets/app.js", None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(script.text.contains("/api/activity/stream/tickets"));
    assert!(!script.text.contains("https://"), "nothing from elsewhere");
    let style = app.get("/assets/app.css", None).await;
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

#[actix_web::test]
async fn other_unknown_paths_are_still_the_json_404() {
    let app = spawn_app().await;
    for path in [
        "/assets/missing.js",
        "/index.html",
        "/playlists",
        "/api/nope",
    ] {
        app.get(path, None).await.error(404, "not_found");
    }
    let res = app.post("/", None, serde_json::json!({})).await;
    res.error(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("GET"));
}

#[actix_web::test]
async fn the_icon_is_linked_by_the_page_and_served_at_favicon_ico() {
    let app = spawn_app().await;
    let page = app.get("/", None).await;
    assert!(
        page.text
            .contains(r#"<link rel="icon" href="/assets/icon.svg""#),
        "{}",
        page.text
    );
    for path in ["/assets/icon.svg", "/favicon.ico"] {
        let icon = app.get(path, None).await;
        assert_eq!(icon.status, StatusCode::OK, "{path}");
        assert_eq!(icon.header("content-type"), Some("image/svg+xml"), "{path}");
        assert!(icon.text.starts_with("<svg "), "{path}: {}", icon.text);
        assert!(icon.header("content-security-policy").is_some(), "{path}");
        assert_eq!(icon.header("x-content-type-options"), Some("nosniff"));
    }
}
