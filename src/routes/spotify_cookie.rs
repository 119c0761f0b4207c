//! The `shuffify_spotify` cookie, which binds a Spotify authorization to
//! the browser that started it. `POST /api/providers/spotify/authorize`
//! sets it to a random nonce (only its SHA-256 is stored); Spotify's
//! redirect back to the callback carries it, and a callback without it
//! links nothing. HttpOnly, so no script reads it; SameSite=Lax, so the
//! top-level redirect from Spotify still sends it; scoped to the path of
//! `SPOTIFY_REDIRECT_URI` and living as long as an authorization; Secure
//! when that URI is https. One name and path, so a second authorization in
//! the same browser replaces the first's cookie.

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

use crate::config::SpotifyConfig;

pub const NAME: &str = "shuffify_spotify";

/// As long as the authorization it belongs to (ten minutes).
const MAX_AGE_SECS: i64 = 600;

/// The cookie carrying `nonce` to the callback.
pub fn issue(config: &SpotifyConfig, nonce: &str) -> Cookie<'static> {
    let mut cookie = scoped(config, nonce.to_string());
    cookie.set_max_age(Duration::seconds(MAX_AGE_SECS));
    cookie
}

/// The cookie's removal (`Max-Age=0`, same name and path), sent once the
/// authorization is used.
pub fn cleared(config: &SpotifyConfig) -> Cookie<'static> {
    let mut cookie = scoped(config, String::new());
    cookie.make_removal();
    cookie
}

/// The nonce the request's browser holds, if any.
pub fn read(req: &HttpRequest) -> Option<String> {
    req.cookie(NAME).map(|c| c.value().to_string())
}

fn scoped(config: &SpotifyConfig, value: String) -> Cookie<'static> {
    // The redirect URI was checked to be an absolute URL at start-up.
    let (path, secure) = match url::Url::parse(&config.redirect_uri) {
        Ok(uri) => (uri.path().to_string(), uri.scheme() == "https"),
        Err(_) => ("/".to_string(), false),
    };
    Cookie::build(NAME, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path(path)
        .secure(secure)
        .finish()
}
