//! `GET /api/activity/stream` (Server-Sent Events of the caller's new
//! activity rows) and `POST /api/activity/stream/tickets`.
//!
//! Authentication (docs/api.md, "The live feed"): API clients send `Authorization: Bearer`.
//! A browser's `EventSource` cannot send headers, so the web app first asks
//! for a ticket with its bearer token and opens
//! `/api/activity/stream?ticket=T&last_event_id=N`: the ticket is random,
//! stored hashed, good for one stream within 60 seconds and bound to the
//! session that asked, so the long-lived token never appears in a URL, and
//! the access log leaves this route's query string out. To resume after a
//! drop, the app asks for a fresh ticket and passes the last id it saw as
//! `last_event_id` (the stand-in for the `Last-Event-ID` header, which an
//! `EventSource` would resend with the spent ticket).
//!
//! A ticket is guessable in principle, so guesses are priced: one that is
//! not 43 characters of base64url is a 401 before any lookup; one that
//! matches nothing takes a token from the address's login bucket, and
//! while that bucket is empty the next ones answer 429 before their lookup.
//! A ticket that matches costs nothing.
//!
//! How rows reach the stream is `crate::live`.

use std::collections::VecDeque;
use std::convert::Infallible;

use actix_web::web::Bytes;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::client_addr::ClientAddr;
use crate::db::{self, Pool};
use crate::error::{AppError, AppResult, TicketProblem};
use crate::live::{Frame, Next, Subscription, REPLAY_PAGE};
use crate::models::activity_log::id_read_floor;
use crate::models::stream_ticket::{self, NewStreamTicket};
use crate::models::{ActivityLog, AuthSession};
use crate::routes::authenticated::AuthUser;
use crate::routes::error_responses::RateLimited;
use crate::routes::known_params;
use crate::routes::params::{present, query};
use crate::services::auth::{new_token, token_hash, token_shaped, TOKEN_CHARS};
use crate::state::AppState;

/// How long a stream ticket is good for (docs/api.md, "The live feed").
pub const TICKET_TTL_SECS: i64 = 60;

/// A ticket to open one stream.
#[derive(Serialize, ToSchema)]
#[schema(as = StreamTicket)]
pub struct TicketResponse {
    /// Put it in the stream's URL as `ticket`; 43 characters of base64url.
    ticket: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    expires_at: chrono::NaiveDateTime,
}

/// A ticket for one stream within 60 seconds, bound to the caller's
/// session; logs nothing.
#[utoipa::path(
    post, path = "/api/activity/stream/tickets", tag = "activity",
    security(("bearer" = [])),
    responses((status = 201, description = "The ticket", body = TicketResponse,
        headers(("Location" = String, description = "`/api/activity/stream`")))),
)]
pub async fn create_ticket(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let ticket = new_token();
    let hash = token_hash(&ticket);
    let created_at = db::now();
    let expires_at = created_at + chrono::Duration::seconds(TICKET_TTL_SECS);
    db::run(&state.pool, move |conn| {
        Ok(NewStreamTicket {
            ticket_hash: &hash,
            user_id: auth.id(),
            session_id: auth.session.id,
            created_at,
            expires_at,
        }
        .insert(conn)?)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/api/activity/stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TicketResponse { ticket, expires_at }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// A ticket of `POST /api/activity/stream/tickets`, for clients that
    /// cannot send `Authorization` (a browser's `EventSource`).
    #[param(pattern = "^[^\\u0000]*$")]
    ticket: Option<String>,
    /// Resume after this activity id (as the `Last-Event-ID` header does).
    #[param(value_type = Option<i64>, minimum = 0)]
    last_event_id: Option<String>,
}

/// The caller's new activity rows as Server-Sent Events, oldest first:
/// each `id: <activity id>`, `event: activity`, `data: <the item>`, and a
/// comment heartbeat at least every 15 s. Without `Last-Event-ID` only rows
/// written after the stream opened; with it, the rows after that id first,
/// then live, with no gap and no duplicate. The stream ends when its
/// session is revoked or expires.
#[utoipa::path(
    get, path = "/api/activity/stream", tag = "activity",
    security(("bearer" = []), ()),
    params(
        StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this activity id"),
    ),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream",
            body = String),
        (status = 401, response = crate::routes::error_responses::Unauthorized),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn stream_activity(
    req: HttpRequest,
    client: ClientAddr,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    // The query is judged only once the caller is known: a bad credential
    // is a 401 whatever the query holds. A ticket is still found in a query
    // that does not parse.
    let params = query::<StreamParams>(req.query_string());
    let ticket = match &params {
        Ok(params) => present(&params.ticket).map(str::to_string),
        Err(_) => ticket_in(req.query_string()),
    };
    let resume = params.and_then(|params| last_event_id(&req, &params));
    // Judged by the middleware when a bearer token came; with a ticket,
    // here, once the ticket is good.
    let known = known_params::check(&req);
    let (user_id, session_id, resume, last_id) = match AuthUser::of(&req) {
        // A bearer token, checked before this handler ran (`Access`).
        Some(auth) => {
            let resume = resume?;
            let user_id = auth.id();
            let last_id = db::run(&state.pool, move |conn| {
                Ok(ActivityLog::last_id(conn, user_id)?)
            })
            .await?;
            (user_id, auth.session.id, resume, last_id)
        }
        None => {
            let ticket = ticket.ok_or(AppError::Unauthorized)?;
            if !token_shaped(&ticket, TOKEN_CHARS) {
                return Err(AppError::InvalidTicket(TicketProblem::Unknown));
            }
            let hash = token_hash(&ticket);
            state.address_limits.refuse_spent_guesser(client).await?;
            let lookup = hash.clone();
            let problem = db::run(&state.pool, move |conn| {
                Ok(stream_ticket::problem(conn, &lookup, db::now())?)
            })
            .await?;
            if let Some(problem) = problem {
                state.address_limits.charge_guess(client).await;
                return Err(AppError::InvalidTicket(problem));
            }
            db::run(&state.pool, move |conn| {
                db::write_transaction(conn, |conn| {
                    let now = db::now();
                    // Redeemed meanwhile by another stream (or just expired).
                    let holder = stream_ticket::redeem(conn, &hash, now)?
                        .ok_or(AppError::InvalidTicket(TicketProblem::Used))?;
                    // The session that asked for it must still be live: a
                    // ticket does not outlive a logout.
                    if AuthSession::live_among(conn, &[holder.session_id], now)?.is_empty() {
                        return Err(AppError::InvalidTicket(TicketProblem::SessionEnded));
                    }
                    // A bad query is a 400 that rolls the redemption back:
                    // the ticket is spent only by a stream that opens.
                    known?;
                    let resume = resume?;
                    let last_id = ActivityLog::last_id(conn, holder.user_id)?;
                    Ok((holder.user_id, holder.session_id, resume, last_id))
                })
            })
            .await?
        }
    };
    // The tail watches from the user's last row whatever the stream asked
    // for; what lies between `Last-Event-ID` and it is the stream's replay.
    // No client has seen an id of theirs above their last one.
    let start = resume.map_or(last_id, |id| id.min(last_id));
    let subscription =
        state
            .hub
            .subscribe(user_id, session_id, last_id, Some(client.limit_key()))?;
    let shutdown = state.shutdown.subscribe();
    let body = events(subscription, state.pool.clone(), user_id, start, shutdown);
    // One stream per connection: closed when the stream ends (at shutdown,
    // say), so an idle keep-alive connection does not hold the server.
    Ok(HttpResponse::Ok()
        .force_close()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// The (first) `ticket` value of a query that does not parse as a whole;
/// empty is absent.
fn ticket_in(query_string: &str) -> Option<String> {
    url::form_urlencoded::parse(query_string.as_bytes())
        .find(|(name, _)| name == "ticket")
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
}

/// `Last-Event-ID`, or the `last_event_id` query value: a non-negative
/// integer, else 400.
fn last_event_id(req: &HttpRequest, params: &StreamParams) -> AppResult<Option<i64>> {
    let (field, raw) = match req.headers().get("last-event-id") {
        Some(value) => ("Last-Event-ID", value.to_str().ok().map(str::trim)),
        None => ("last_event_id", present(&params.last_event_id)),
    };
    match raw {
        None if field == "last_event_id" => Ok(None),
        Some(text) if !text.is_empty() => match text.parse::<i64>() {
            Ok(id) if id >= 0 => Ok(Some(id)),
            _ => Err(AppError::invalid(field, "must be a non-negative integer")),
        },
        _ => Err(AppError::invalid(field, "must be a non-negative integer")),
    }
}

/// The stream's body: an opening comment, the replay of rows after `start`
/// (pages of [`REPLAY_PAGE`], each its own short checkout), then the live
/// frames with ids above the last one sent, and a replay again whenever
/// the stream fell behind. It ends at once when the server begins to shut
/// down: the client reconnects elsewhere (or later) with `Last-Event-ID`
/// and misses nothing.
fn events(
    subscription: Subscription,
    pool: Pool,
    user_id: i64,
    start: i64,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    let state = Body {
        shutdown,
        subscription,
        pool,
        user_id,
        last_sent: start,
        last_sent_at: None,
        replaying: true,
        pending: VecDeque::from([Bytes::from_static(b"retry: 3000\n: open\n\n")]),
    };
    futures_util::stream::unfold(state, |mut body| async move {
        loop {
            if *body.shutdown.borrow() {
                return None;
            }
            if let Some(bytes) = body.pending.pop_front() {
                // The client took the previous frame: it is making progress.
                body.subscription.touch();
                return Some((Ok(bytes), body));
            }
            if body.replaying {
                let (pool, user_id, after) = (body.pool.clone(), body.user_id, body.last_sent);
                let seen_at = body.last_sent_at;
                let (page, seen_at) = db::run(&pool, move |conn| {
                    // Bounded in time too, from the last row sent (looked
                    // up once, for where the stream started).
                    let seen_at = match seen_at {
                        Some(at) => Some(at),
                        None => ActivityLog::time_of(conn, user_id, after)?,
                    };
                    let since = id_read_floor(seen_at);
                    let page = ActivityLog::after(conn, user_id, after, since, REPLAY_PAGE)?;
                    Ok((page, seen_at))
                })
                .await
                .ok()?;
                body.last_sent_at = seen_at;
                body.replaying = page.len() as i64 == REPLAY_PAGE;
                for row in &page {
                    if row.id > body.last_sent {
                        body.last_sent = row.id;
                        body.last_sent_at = Some(row.created_at);
                    }
                    body.pending.push_back(Frame::activity(row).bytes);
                }
                continue;
            }
            let next = tokio::select! {
                next = body.subscription.next() => next?,
                _ = body.shutdown.wait_for(|begun| *begun) => return None,
            };
            let frame = match next {
                Next::Frame(frame) => frame,
                Next::CatchUp => {
                    body.replaying = true;
                    continue;
                }
            };
            match frame.id {
                Some(id) if id <= body.last_sent => continue,
                Some(id) => {
                    body.last_sent = id;
                    body.last_sent_at = frame.created_at.or(body.last_sent_at);
                }
                None => {}
            }
            return Some((Ok(frame.bytes), body));
        }
    })
}

struct Body {
    shutdown: tokio::sync::watch::Receiver<bool>,
    subscription: Subscription,
    pool: Pool,
    user_id: i64,
    last_sent: i64,
    /// The time of the row `last_sent` names, once known.
    last_sent_at: Option<chrono::NaiveDateTime>,
    replaying: bool,
    pending: VecDeque<Bytes>,
}
