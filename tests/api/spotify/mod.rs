//! Spotify as a provider, against the fake Spotify of `fake_spotify.rs`
//! over real HTTP, a file per concern: connecting and the connection's
//! tokens (`connect`), listing and importing (`import`), rewrites written
//! back (`write_back`), syncing (`sync`), scheduled runs with Spotify
//! sources (`raids`), the Web API as Spotify serves it to a
//! development-mode app (`dev_mode`), the bounds on Spotify work (`pool`)
//! and retries that cannot duplicate (`retries`). Runs on both backends
//! like the rest of the suite.

mod connect;
mod dev_mode;
mod followed;
mod import;
mod pool;
mod raids;
mod retries;
mod sync;
mod write_back;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
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

impl<S, B> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    /// Connects `user` to `fake` through the whole flow (authorize, the
    /// consent page, the callback); answers the callback's path and query
    /// and the service's answer to it.
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
        let started = self
            .as_user(user)
            .post_empty("/api/providers/spotify/authorize")
            .await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.text);
        let callback = fake.consent_as(started.body["authorize_url"].as_str().unwrap(), account);
        let done = self.get(&callback, None).await;
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
