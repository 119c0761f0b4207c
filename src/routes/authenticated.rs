//! Who is calling, settled before anything else about a request.
//!
//! Every route but the few that take no token is registered with a
//! middleware in front of its handler ([`Access`], applied by
//! `routes::Endpoint` to each method it registers): it looks the bearer
//! token up and answers 401 with `WWW-Authenticate: Bearer` when it is
//! missing, malformed, unknown, expired or revoked (the message says which
//! of the last three, and the header adds `error="invalid_token"` when a
//! token was sent: `AppError::InvalidToken`); otherwise it leaves the
//! caller in the request's extensions, where [`AuthUser`] and [`Bearer`]
//! find it. It runs before the handler's extractors, so nothing of an
//! unauthenticated request (path values, query, `Content-Type`, body size
//! or JSON) is judged: actix polls a handler's extractors together, and a
//! body that failed to parse while the token's lookup was still pending
//! used to answer 400 first, at random. Routing (404, 405) and the head's
//! limits (431) still come first: the middleware wraps each registered
//! method, not the resource.

use std::future::{ready, Ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{http::header, web, FromRequest, HttpMessage, HttpRequest, Route};

use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult, TokenProblem};
use crate::models::{AuthSession, User};
use crate::services::auth::AuthService;
use crate::state::AppState;

/// Real tokens are 43 characters; anything far off is not looked up.
const MAX_TOKEN_LEN: usize = 128;

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: register, login, the API document, health, metrics,
    /// Spotify's callback (its single-use `state` names the user), the web
    /// app and its assets.
    Public,
    /// A live bearer token.
    Token,
    /// A live bearer token, or else a stream ticket in the query, which
    /// the handler redeems (the live stream: a browser's `EventSource`
    /// cannot send `Authorization`). A request with neither is a 401 there.
    TokenOrTicket,
}

impl Access {
    /// `route` with this access checked in front of its handler.
    pub(crate) fn guard(self, route: Route) -> Route {
        match self {
            Access::Public => route,
            Access::Token => route.wrap(from_fn(require_token)),
            Access::TokenOrTicket => route.wrap(from_fn(token_unless_ticket)),
        }
    }
}

/// The caller, proven by their token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    pub session: AuthSession,
}

impl AuthUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    /// The caller the middleware authenticated, if it did.
    pub fn of(req: &HttpRequest) -> Option<AuthUser> {
        req.extensions().get::<AuthUser>().cloned()
    }
}

/// The `Authorization: Bearer` token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// What the middleware answers: the handler's response, or its own 401.
type Answer<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

/// [`Access::Token`]: the request goes on only with a live token.
async fn require_token<B: MessageBody + 'static>(req: ServiceRequest, next: Next<B>) -> Answer<B> {
    let caller = authenticate(&req, bearer_token(req.request())).await;
    proceed(req, next, caller).await
}

/// [`Access::TokenOrTicket`]: a request with a bearer token goes on only
/// when it is live; one without goes on to the handler, which takes a
/// ticket or answers 401.
async fn token_unless_ticket<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Answer<B> {
    match bearer_token(req.request()) {
        None => Ok(next.call(req).await?.map_into_left_body()),
        token => {
            let caller = authenticate(&req, token).await;
            proceed(req, next, caller).await
        }
    }
}

/// Hands an authenticated request to the handler with its caller, or
/// answers the failure (401, or the database's 5xx) without calling it.
async fn proceed<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    caller: AppResult<AuthUser>,
) -> Answer<B> {
    match caller {
        Ok(caller) => {
            // The rows this request writes name the session it used.
            crate::request_context::set_session(caller.session.id);
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(err) => Ok(req.error_response(err).map_into_right_body()),
    }
}

/// The session and user of `token`: 401 when there is none, or it is
/// far from a token's length, or not live.
async fn authenticate(req: &ServiceRequest, token: Option<String>) -> AppResult<AuthUser> {
    let token = token.ok_or(AppError::Unauthorized)?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(AppError::InvalidToken(TokenProblem::Unknown));
    }
    let pool = app_state(req.request())?.pool.clone();
    db::run(&pool, move |conn| {
        let (session, user) = AuthService::authenticate(conn, &token)?;
        Ok(AuthUser { user, session })
    })
    .await
}

fn app_state(req: &HttpRequest) -> AppResult<&web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal("the application state is not registered".into()))
}

/// The caller of a route registered with a token ([`Access`]).
fn caller(req: &HttpRequest) -> AppResult<AuthUser> {
    AuthUser::of(req).ok_or_else(|| {
        // Never a 401: that would pass for a bad token. The route was
        // registered as public, so its handler must not ask for a caller.
        AppError::Internal(format!(
            "{} asks for a caller but is registered without a token",
            req.match_pattern()
                .unwrap_or_else(|| req.path().to_string())
        ))
    })
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req))
    }
}

/// The caller and the pool, for read handlers: [`Bearer::run`] runs their
/// statements on one connection in one trip to the blocking pool. An
/// authenticated read makes two database round trips, the token's and its
/// own, as it did when the token was looked up on the read's connection;
/// the middleware's trip of its own is what a 401 that always comes first
/// costs (README, "What made the difference").
pub struct Bearer {
    auth: AuthUser,
    pool: db::Pool,
}

impl Bearer {
    /// Runs `f` with the caller on one pooled connection.
    pub async fn run<T, F>(self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection, AuthUser) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let auth = self.auth;
        db::run(&self.pool, move |conn| f(conn, auth)).await
    }
}

impl FromRequest for Bearer {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req).and_then(|auth| {
            Ok(Bearer {
                auth,
                pool: app_state(req)?.pool.clone(),
            })
        }))
    }
}
