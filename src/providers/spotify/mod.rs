//! Spotify's side of the provider: OAuth (authorization code with PKCE,
//! through the `oauth2` crate, its HTTP calls made by [`http::Http`] so
//! they follow the same timeout and retry policy as the Web API calls) and
//! the Web API ([`api::Api`]). Nothing here touches the database; the
//! service in `services::spotify` decides what is stored and when.
//!
//! The PKCE verifier is not stored anywhere: it is derived from the
//! authorization's random `state` with HMAC-SHA-256 under the token key,
//! so the callback recomputes it from the `state` it is given, and the
//! database keeps only the state's hash and the challenge (docs/spotify.md).

pub mod api;
pub mod http;

use std::cell::Cell;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use sha2::Sha256;

use crate::config::SpotifyConfig;
use crate::providers::seal::TokenSeal;
use api::Api;
use http::{CallError, Http, Pause, Repeat};

/// What the service asks of an account: to read its playlists (private
/// and collaborative too), to write their order, and to read its Liked
/// Songs (a raid's source).
pub const SCOPES: [&str; 5] = [
    "playlist-read-private",
    "playlist-read-collaborative",
    "playlist-modify-private",
    "playlist-modify-public",
    LIBRARY_SCOPE,
];

/// The scope `GET /me/tracks` needs. A connection made before the service
/// asked for it lacks it until the user connects again.
pub const LIBRARY_SCOPE: &str = "user-library-read";

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Tokens from the token endpoint.
#[derive(Clone)]
pub struct Tokens {
    pub access: String,
    /// Spotify may rotate the refresh token; `None` keeps the old one.
    pub refresh: Option<String>,
    pub expires_in: Duration,
    pub scopes: Vec<String>,
}

/// Why the token endpoint gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is not (or no longer)
    /// good.
    Refused(String),
    /// The call itself failed.
    Call(CallError),
}

/// An authorization to start: where to send the browser, and what to keep.
pub struct Authorization {
    pub url: String,
    pub state: String,
    /// The PKCE challenge (the derived verifier's SHA-256).
    pub challenge: String,
}

/// Spotify, configured.
pub struct Spotify {
    pub config: SpotifyConfig,
    pub seal: TokenSeal,
    /// How long a write to a linked playlist waits for another write of
    /// it to Spotify to end (a user's rewrite and a scheduled run alike).
    pub claim_wait: Duration,
    pub http: Http,
}

impl std::fmt::Debug for Spotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spotify")
            .field("config", &self.config)
            .finish()
    }
}

impl Spotify {
    /// Spotify with at most `max_calls` calls in flight at once and the
    /// app-wide `pause` after a 429.
    pub fn new(
        config: SpotifyConfig,
        max_calls: usize,
        claim_wait: Duration,
        pause: Pause,
    ) -> Self {
        let seal = TokenSeal::new(&config.token_key);
        Spotify {
            config,
            seal,
            claim_wait,
            http: Http::new(max_calls, pause),
        }
    }

    pub fn api(&self) -> Api<'_> {
        Api {
            http: &self.http,
            base: &self.config.api_url,
        }
    }

    fn oauth(&self) -> Result<OAuthClient, CallError> {
        let bad = |what: &str| CallError::Failed(format!("the Spotify {what} URL is not valid"));
        let accounts = &self.config.accounts_url;
        let mut client = BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(format!("{accounts}/authorize")).map_err(|_| bad("accounts"))?,
            )
            .set_token_uri(
                TokenUrl::new(format!("{accounts}/api/token")).map_err(|_| bad("accounts"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.config.redirect_uri.clone()).map_err(|_| bad("redirect"))?,
            );
        if let Some(secret) = &self.config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(client)
    }

    /// The PKCE verifier of the authorization whose state is `state`.
    fn verifier(&self, state: &str) -> PkceCodeVerifier {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.config.token_key)
            .expect("HMAC takes a key of any length");
        mac.update(b"shuffify spotify pkce verifier\0");
        mac.update(state.as_bytes());
        PkceCodeVerifier::new(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// A new authorization: a random `state` (16 bytes, base64url: 22
    /// characters, the shape the callback checks first) and the
    /// URL of Spotify's consent page with the PKCE challenge.
    pub fn authorize(&self) -> Result<Authorization, CallError> {
        let state = CsrfToken::new_random().secret().clone();
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&self.verifier(&state));
        let challenge_text = challenge.as_str().to_string();
        let (url, _) = self
            .oauth()?
            .authorize_url(|| CsrfToken::new(state.clone()))
            .add_scopes(SCOPES.iter().map(|s| Scope::new(s.to_string())))
            .set_pkce_challenge(challenge)
            // Always ask: an account that approved the app before would
            // otherwise be linked without a prompt by whoever sent the link.
            .add_extra_param("show_dialog", "true")
            .url();
        Ok(Authorization {
            url: url.to_string(),
            state,
            challenge: challenge_text,
        })
    }

    /// The challenge an authorization with `state` sent: compared with the
    /// stored one at the callback.
    pub fn challenge_for(&self, state: &str) -> String {
        PkceCodeChallenge::from_code_verifier_sha256(&self.verifier(state))
            .as_str()
            .to_string()
    }

    /// Exchanges the callback's `code` (with the verifier of `state`).
    pub fn exchange(&self, code: &str, state: &str) -> Result<Tokens, TokenError> {
        let retried = Cell::new(false);
        let answer = self
            .oauth()
            .map_err(TokenError::Call)?
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(self.verifier(state))
            .request(&|request| self.token_call(request, &retried));
        read_tokens(answer, retried.get())
    }

    /// A new access token for `refresh_token`.
    pub fn refresh(&self, refresh_token: &str) -> Result<Tokens, TokenError> {
        let token = RefreshToken::new(refresh_token.to_string());
        let retried = Cell::new(false);
        let answer = self
            .oauth()
            .map_err(TokenError::Call)?
            .exchange_refresh_token(&token)
            .request(&|request| self.token_call(request, &retried));
        read_tokens(answer, retried.get())
    }

    /// One call to the token endpoint under [`Http::send`]'s policy,
    /// retried on a 5xx or a broken connection (`retried` notes it); a 4xx
    /// goes back to `oauth2` to read as an OAuth error.
    fn token_call(
        &self,
        request: HttpRequest,
        retried: &Cell<bool>,
    ) -> Result<HttpResponse, CallError> {
        let (parts, body) = request.into_parts();
        let response = self.http.send(Repeat::Safe, |client| {
            client
                .request(parts.method.clone(), parts.uri.to_string())
                .headers(parts.headers.clone())
                .body(body.clone())
        })?;
        retried.set(retried.get() || response.retried);
        let mut answer = HttpResponse::new(response.body);
        *answer.status_mut() = response.status;
        *answer.headers_mut() = response.headers;
        Ok(answer)
    }
}

fn read_tokens(
    answer: Result<
        oauth2::basic::BasicTokenResponse,
        RequestTokenError<CallError, oauth2::basic::BasicErrorResponse>,
    >,
    retried: bool,
) -> Result<Tokens, TokenError> {
    match answer {
        Ok(token) => Ok(Tokens {
            access: token.access_token().secret().clone(),
            refresh: token.refresh_token().map(|r| r.secret().clone()),
            expires_in: token.expires_in().unwrap_or(Duration::from_secs(3600)),
            scopes: token
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
        }),
        // `invalid_grant` to a request sent again after its first answer
        // was lost is most likely the first one's doing (it spent the code,
        // or rotated the refresh token): a failed call, which says nothing
        // of the user's grant.
        Err(RequestTokenError::ServerResponse(err))
            if retried && *err.error() == BasicErrorResponseType::InvalidGrant =>
        {
            Err(TokenError::Call(CallError::Failed(
                "Spotify's answer to a token request was lost, and the request sent again \
                 was refused (the first may have been carried out); try again"
                    .into(),
            )))
        }
        // Only `invalid_grant` says the code or refresh token is no good;
        // any other OAuth error (a rotated client secret, say) is ours or
        // Spotify's, not the user's: a failed call, not a broken connection.
        Err(RequestTokenError::ServerResponse(err))
            if *err.error() == BasicErrorResponseType::InvalidGrant =>
        {
            Err(TokenError::Refused("invalid_grant".into()))
        }
        Err(RequestTokenError::ServerResponse(err)) => {
            Err(TokenError::Call(CallError::Failed(format!(
                "Spotify's accounts service refused the request ({})",
                err.error()
            ))))
        }
        Err(RequestTokenError::Request(call)) => Err(TokenError::Call(call)),
        Err(RequestTokenError::Parse(..) | RequestTokenError::Other(_)) => Err(TokenError::Call(
            CallError::Failed("Spotify's token answer could not be read".into()),
        )),
    }
}
