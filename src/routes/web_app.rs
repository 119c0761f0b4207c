//! The web app: `/`, `/assets/*` and `/favicon.ico` (docs/architecture.md). Its
//! files live in `web/` and are compiled into the binary, so `cargo run
//! --release` serves them with no build step and nothing fetched from
//! elsewhere. The icon is one SVG, linked by the page and also answered at
//! `/favicon.ico` for clients that ask there regardless. Routing
//! inside the app is by fragment (`/#/playlists`), so every other unknown
//! path still answers the JSON 404.
//!
//! How the browser authenticates: the sign-in form calls
//! `POST /api/auth/login` and keeps the bearer token in `sessionStorage`
//! (gone when the tab closes; signing out revokes it), sending it as
//! `Authorization: Bearer` on every call, so there is no cookie and
//! nothing for a cross-site request to ride on (no CSRF surface). The live
//! feed, which `EventSource` opens without headers, uses a single-use
//! stream ticket (`routes::activity_stream`). What keeps a script from
//! reading the token is that no script but the app's own runs: every
//! response of the app carries a Content-Security-Policy allowing only
//! same-origin scripts, styles and connections, and the app writes user
//! content as text, never as HTML.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const INDEX: &str = include_str!("../../web/index.html");
const SCRIPT: &str = include_str!("../../web/app.js");
const STYLE: &str = include_str!("../../web/app.css");
const ICON: &str = include_str!("../../web/icon.svg");
const SVG: &str = "image/svg+xml";

/// Only the app's own files, and calls to its own origin.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

fn file(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The app's page.
pub async fn index() -> HttpResponse {
    file("text/html; charset=utf-8", INDEX)
}

/// `/favicon.ico`: the app's icon (an SVG, whatever the name says).
pub async fn favicon() -> HttpResponse {
    file(SVG, ICON)
}

/// `/assets/{name}`: the script, the style sheet and the icon; anything
/// else is the JSON 404.
pub async fn asset(name: web::Path<String>) -> HttpResponse {
    match name.as_str() {
        "app.js" => file("text/javascript; charset=utf-8", SCRIPT),
        "app.css" => file("text/css; charset=utf-8", STYLE),
        "icon.svg" => file(SVG, ICON),
        _ => actix_web::ResponseError::error_response(&crate::error::AppError::NotFound),
    }
}
