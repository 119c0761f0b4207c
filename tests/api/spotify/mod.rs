//! Spotify as a provider, against the fake Spotify of `fake_spotify.rs`
//! over real HTTP, a file per concern: connecting and the connection's
//! tokens (`connect`), the connection bound to the browser that asked and
//! one user per Spotify account (`binding`), listing and importing
//! (`import`), playlists the account only follows (`followed`), Liked
//! Songs as a raid source (`liked`), rewrites written back (`write_back`),
//! syncing (`sync`), scheduled runs with Spotify sources (`raids`),
//! rotation into and out of linked playlists (`rotation`), the
//! Web API as Spotify serves it to a development-mode app (`dev_mode`),
//! the bounds on Spotify work (`pool`) and retries that cannot duplicate
//! (`retries`). Runs on both backends like the rest of the suite.

mod binding;
mod connect;
mod dev_mode;
mod followed;
mod import;
mod liked;
mod pool;
mod raids;
mod retries;
mod rotation;
mod sync;
mod write_back;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::Error;
use serde_json::{json, Value};

use crate::fake_spotify::FakeSpotify;
use crate::helpers::{spawn_app_with, TestApp, TestResponse, TestUser};

/// A fake Spotify, the app configured for it, and a user `name` whose
/// account is connected.
pub async fn connected(
    name: &str,
) -> (
    FakeSpotify,
    TestApp<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error>>,
    TestUser,
) {
    connected_to(FakeSpotify::start(), name).await
}

/// [`connected`], to a fake of the caller's choosing (e.g. one serving the
/// older shapes).
pub async fn connected_to(
    fake: FakeSpotify,
    name: &str,
) -> (
    FakeSpotify,
    TestApp<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = Error>>,
    TestUser,
) {
    let settings = fake.clone();
    let app = spawn_app_with(move |s| settings.configure(s)).await;
    let user = app.user(name).await;
    app.connect_spotify(&fake, &user).await;
    (fake, app, user)
}

/// The `shuffify_spotify` cookie a response sets (or clears), if any.
/// The code a callback that linked nothing sent the browser back to the
/// settings page with: a 303 to `/#/settings?spotify_error=<code>`, no
/// cookie cleared or set, no body.
pub fn sent_back_with(res: &TestResponse) -> &str {
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text);
    assert!(spotify_cookie(res).is_none(), "{:?}", res.headers);
    assert!(res.text.is_empty(), "{}", res.text);
    res.header("location")
        .and_then(|l| l.strip_prefix("/#/settings?spotify_error="))
        .unwrap_or_else(|| panic!("location {:?}", res.header("location")))
}

pub fn spotify_cookie(res: &TestResponse) -> Option<Cookie<'static>> {
    res.headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Cookie::parse(v.to_string()).ok())
        .find(|c| c.name() == "shuffify_spotify")
}

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    /// Starts connecting `user` as their browser does: answers the consent
    /// URL and the `Cookie` header value (`shuffify_spotify=<nonce>`) the
    /// browser keeps for the callback.
    pub async fn start_spotify(&self, user: &TestUser) -> (String, String) {
        let started = self
            .as_user(user)
            .post_empty("/api/providers/spotify/authorize")
            .await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.text);
        let url = started.body["authorize_url"].as_str().unwrap().to_string();
        let cookie = spotify_cookie(&started).expect("authorize sets the cookie");
        (url, format!("{}={}", cookie.name(), cookie.value()))
    }

    /// The callback `path` as a browser holding `cookie` (a `Cookie` header
    /// value) sends it, with `accept` as its `Accept` header, if any.
    pub async fn spotify_callback(
        &self,
        path: &str,
        cookie: Option<&str>,
        accept: Option<&str>,
    ) -> TestResponse {
        let mut headers = Vec::new();
        if let Some(cookie) = cookie {
            headers.push(("Cookie", cookie));
        }
        if let Some(accept) = accept {
            headers.push(("Accept", accept));
        }
        self.send(Method::GET, path, None, None, &headers).await
    }

    /// Connects `user` to `fake` through the whole flow (authorize, the
    /// consent page, the callback with the cookie authorize set); answers
    /// the callback's path and query and the service's answer to it.
    pub async fn connect_spotify(
        &self,
        fake: &FakeSpotify,
        user: &TestUser,
    ) -> (String, TestResponse) {
        self.connect_spotify_as(fake, user, crate::fake_spotify::ACCOUNT)
            .await
    }

    /// [`Self::connect_spotify`] with the Spotify account `account`.
    pub async fn connect_spotify_as(
        &self,
        fake: &FakeSpotify,
        user: &TestUser,
        account: &str,
    ) -> (String, TestResponse) {
        let (url, cookie) = self.start_spotify(user).await;
        let callback = fake.consent_as(&url, account);
        let done = self.spotify_callback(&callback, Some(&cookie), None).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        (callback, done)
    }

    /// Asks to import the fake's playlist `spotify_playlist_id`; answers
    /// the response.
    pub async fn try_import(&self, user: &TestUser, spotify_playlist_id: &str) -> TestResponse {
        self.as_user(user)
            .post(
                "/api/providers/spotify/import",
                json!({ "spotify_playlist_id": spotify_playlist_id }),
            )
            .await
    }

    /// Imports the fake's playlist `spotify_playlist_id`; answers the
    /// linked playlist.
    pub async fn import(&self, user: &TestUser, spotify_playlist_id: &str) -> Value {
        let res = self.try_import(user, spotify_playlist_id).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.body
    }
}
