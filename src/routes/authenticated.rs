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
//!
//! The hot activity reads ([`Access::TokenOnRead`]) leave the lookup to
//! their handler, which runs it on the read's own connection in the
//! read's one trip to the blocking pool (a trip costs more than the
//! lookup); nothing is cached, so a logout or an ended session is seen by
//! the next request on every instance. They judge nothing of the request
//! before the token, and when the unknown-parameter check answers before
//! the handler runs, the middleware looks the token up then and a bad
//! token's 401 replaces that answer.

use std::future::{ready, Ready};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// A live bearer token, looked up by the handler's [`Bearer::run`] on
    /// the read's own connection, in the read's one trip to the blocking
    /// pool: for the hot reads, whose handlers take only [`Bearer`] and
    /// judge nothing of the request before it (they parse their query
    /// inside `run`, after the token). The middleware answers a missing
    /// or oversized token itself; when the handler answers without having
    /// run (the unknown-parameter check refused the request first), it
    /// looks the token up then, and a bad token's 401 replaces that
    /// answer, so the 401 still comes first.
    TokenOnRead,
}

impl Access {
    /// `route` with this access checked in front of its handler.
    pub(crate) fn guard(self, route: Route) -> Route {
        match self {
            Access::Public => route,
            Access::Token => route.wrap(from_fn(require_token)),
            Access::TokenOrTicket => route.wrap(from_fn(token_unless_ticket)),
            Access::TokenOnRead => route.wrap(from_fn(token_on_read)),
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

    /// The live session and user of `token`, or the 401 saying why not.
    fn look_up(conn: &mut DbConnection, token: &str) -> AppResult<AuthUser> {
        let (session, user) = AuthService::authenticate(conn, token)?;
        Ok(AuthUser { user, session })
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

/// A token the handler looks up on its own connection ([`Access::TokenOnRead`]).
#[derive(Debug)]
struct PendingToken {
    token: String,
    /// Set once [`Bearer::run`] has taken the token to the database: its
    /// answer (the read, or the 401) is then the request's.
    taken: AtomicBool,
}

/// [`Access::TokenOnRead`]: a request without a token, or with one far
/// from a token's length, is a 401 at once; otherwise the handler looks
/// the token up with its read, and when it answered without doing so,
/// the token is looked up now and its 401 wins.
async fn token_on_read<B: MessageBody + 'static>(req: ServiceRequest, next: Next<B>) -> Answer<B> {
    let token = match bearer_token(req.request()) {
        None => {
            return Ok(req
                .error_response(AppError::Unauthorized)
                .map_into_right_body())
        }
        Some(token) if token.len() > MAX_TOKEN_LEN => {
            let err = AppError::InvalidToken(TokenProblem::Unknown);
            return Ok(req.error_response(err).map_into_right_body());
        }
        Some(token) => token,
    };
    let pending = Arc::new(PendingToken {
        token,
        taken: AtomicBool::new(false),
    });
    req.extensions_mut().insert(pending.clone());
    let res = next.call(req).await?;
    if pending.taken.load(Ordering::Acquire) {
        return Ok(res.map_into_left_body());
    }
    let (http_req, res) = res.into_parts();
    let token = pending.token.clone();
    match authenticate_token(&http_req, token).await {
        Ok(_) => Ok(ServiceResponse::new(http_req, res).map_into_left_body()),
        Err(err) => Ok(ServiceResponse::from_err(err, http_req).map_into_right_body()),
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
    authenticate_token(req.request(), token).await
}

/// [`authenticate`] of a token already taken from the request.
async fn authenticate_token(req: &HttpRequest, token: String) -> AppResult<AuthUser> {
    let pool = app_state(req)?.pool.clone();
    db::run(&pool, move |conn| AuthUser::look_up(conn, &token)).await
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
/// own; on a route registered with [`Access::TokenOnRead`] both run in
/// that one trip (docs/performance.md, "What made the difference").
pub struct Bearer {
    caller: Caller,
    pool: db::Pool,
}

/// Who [`Bearer::run`] runs for: a caller the middleware authenticated, or
/// a token it leaves to the read.
enum Caller {
    Known(Box<AuthUser>),
    Token(Arc<PendingToken>),
}

impl Bearer {
    /// Runs `f` with the caller on one pooled connection.
    pub async fn run<T, F>(self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection, AuthUser) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        match self.caller {
            Caller::Known(auth) => db::run(&self.pool, move |conn| f(conn, *auth)).await,
            Caller::Token(pending) => {
                pending.taken.store(true, Ordering::Release);
                db::run(&self.pool, move |conn| {
                    let auth = AuthUser::look_up(conn, &pending.token)?;
                    // The rows this request writes name the session it used.
                    crate::request_context::set_session(auth.session.id);
                    f(conn, auth)
                })
                .await
            }
        }
    }
}

impl FromRequest for Bearer {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pending = req.extensions().get::<Arc<PendingToken>>().cloned();
        let caller = match pending {
            Some(pending) => Ok(Caller::Token(pending)),
            None => caller(req).map(|auth| Caller::Known(Box::new(auth))),
        };
        ready(caller.and_then(|caller| {
            Ok(Bearer {
                caller,
                pool: app_state(req)?.pool.clone(),
            })
        }))
    }
}
