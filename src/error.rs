//! The one error type of the service, and how it reaches a client.
//!
//! Policy: every failure, from a handler, an extractor, the router or the
//! database, leaves as the JSON error body (docs/api.md, "API conventions"),
//! `{"error": {"code", "message", "details", "request_id"}}`. Client mistakes
//! are 4xx with a message that names what was wrong; anything unexpected is a
//! 500 `internal` whose message says nothing about internals (the cause goes
//! to the server log, tagged with the request id). Diesel's `NotFound` maps to
//! 404 and unique violations to 409, so a model can let them bubble up.
//!
//! Where input is checked (one convention, so "where is field X checked?"
//! has one answer):
//!
//! - **Shape and length, in the route.** The route's body type (serde, with
//!   `deny_unknown_fields`) gives the shape; the handler checks lengths and
//!   formats with the limits of `crate::validate` before it takes a
//!   connection, and answers every bad field at once (`details`). NUL and
//!   oversized heads are refused earlier still, for every route, by
//!   `routes::body` and `routes::errors`.
//! - **Rules that need the database, in the service**: ownership (404),
//!   whether tracks are in the catalog, caps, versions (412), whether a
//!   schedule's target and sources exist. The algorithm and its parameters
//!   are checked by one resolver, `services::shuffle::choose`, named by the
//!   caller's fields.
//!
//! Each variant has one status ([`ResponseError::status_code`]); its `code`
//! is the status's, from [`code_for_status`], the same table that names a
//! framework error's status.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

/// One invalid input: which field, and what is wrong with it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a bearer token that was sent does not work. Each says only what
/// the token's own holder already could know: nothing about whose it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    /// Not a token this service issued (or its account is gone).
    #[error("the bearer token is unknown; log in for a new one")]
    Unknown,
    #[error("the bearer token has expired; log in again")]
    Expired,
    /// Its session was ended: a logout, or ended from another session.
    #[error("the bearer token was revoked (its session was ended); log in again")]
    Revoked,
}

/// Why a stream ticket does not open a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketProblem {
    #[error("the stream ticket is unknown; ask POST /api/activity/stream/tickets for one")]
    Unknown,
    #[error(
        "the stream ticket was already used; ask POST /api/activity/stream/tickets for a new one"
    )]
    Used,
    #[error("the stream ticket has expired; ask POST /api/activity/stream/tickets for a new one")]
    Expired,
    /// The session that asked for it has ended since.
    #[error("the session the stream ticket was made for has ended; log in again")]
    SessionEnded,
}

/// `2 MiB`, `512 KiB`, `100 bytes`: a size as a limit's message names it.
pub fn size_text(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request was understood but its values are not acceptable.
    #[error("{message}")]
    Validation {
        message: String,
        details: Vec<FieldError>,
    },
    /// 401: no bearer token was sent.
    #[error("authentication required: send Authorization: Bearer <token>")]
    Unauthorized,
    /// 401: a bearer token was sent, and it is not one that works now;
    /// `WWW-Authenticate` says `error="invalid_token"`.
    #[error("{0}")]
    InvalidToken(TokenProblem),
    /// 401: the stream ticket is not one that opens a stream now.
    #[error("{0}")]
    InvalidTicket(TicketProblem),
    /// 401 for a failed login: one message for an unknown user and a wrong
    /// password alike.
    #[error("invalid username or password")]
    BadCredentials,
    /// 401 for a wrong password given to confirm an action of a signed-in
    /// user (deleting the account): the token is fine, so no
    /// `WWW-Authenticate`, and a client does not take it as signed out.
    #[error("the password is wrong")]
    WrongPassword,
    #[error("not found")]
    NotFound,
    /// 404 saying why: a feature that is off (Spotify not configured).
    #[error("{0}")]
    NotAvailable(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the resource has changed since it was read")]
    PreconditionFailed,
    /// 413: the body is over the route's limit, in bytes.
    #[error("the body exceeds the limit of {}", size_text(*.0))]
    PayloadTooLarge(usize),
    /// 429: a rate, a lockout or a cap on concurrent things; the message
    /// names the limit and its number.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// 502: a playlist provider (Spotify) failed or answered what the
    /// service cannot use; the message says what, never a token.
    #[error("{0}")]
    Upstream(String),
    /// 503: a playlist provider is unavailable or asks us to wait longer
    /// than a request can (docs/spotify.md), with its `Retry-After`.
    #[error("{message}")]
    UpstreamUnavailable {
        message: String,
        retry_after_secs: u64,
    },
    /// 500: the string is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// Work that must call Spotify found itself off the Spotify pool,
    /// before it changed anything: `AppState::run_rewrite` runs it again
    /// there. Never reaches a client (it would be a 500).
    #[error("internal error: Spotify work off the Spotify pool")]
    NeedsSpotifyPool,
}

impl AppError {
    /// A 400 with one field error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let detail = FieldError::new(field, message);
        AppError::Validation {
            message: format!("{}: {}", detail.field, detail.message),
            details: vec![detail],
        }
    }

    /// A 400 listing several field errors; `None` when there are none.
    pub fn from_field_errors(details: Vec<FieldError>) -> Option<Self> {
        if details.is_empty() {
            return None;
        }
        Some(AppError::Validation {
            message: "the request has invalid fields".into(),
            details,
        })
    }

    /// `Ok` when `details` is empty, else the 400 listing them all.
    pub fn ensure_valid(details: Vec<FieldError>) -> AppResult<()> {
        match Self::from_field_errors(details) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    pub fn code(&self) -> &'static str {
        code_for_status(self.status_code())
    }
}

/// The body of every error response (docs/api.md, "API conventions").
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error, example = json!({"error": {
    "code": "validation_failed", "message": "the request has invalid fields",
    "details": [{"field": "limit", "message": "must be an integer from 1 to 100"}],
    "request_id": "a67eb154028357bad80c8671656f3c54"
}}))]
pub struct ErrorBody<'a> {
    error: ErrorContent<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorContent<'a> {
    /// `validation_failed`, `unauthorized`, `not_found`, `method_not_allowed`,
    /// `conflict`, `precondition_failed`, `payload_too_large`, `rate_limited`,
    /// `headers_too_large`, `upstream_error`, `upstream_unavailable` or
    /// `internal`.
    code: &'a str,
    /// A sentence for a person; for a cap or a limit it names the number.
    message: String,
    /// The invalid fields of a 400; `[]` otherwise.
    details: &'a [FieldError],
    /// The request's `X-Request-Id`, also in the server log.
    request_id: String,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Validation { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized
            | AppError::InvalidToken(_)
            | AppError::InvalidTicket(_)
            | AppError::BadCredentials
            | AppError::WrongPassword => StatusCode::UNAUTHORIZED,
            AppError::NotFound | AppError::NotAvailable(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::UpstreamUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) | AppError::NeedsSpotifyPool => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            AppError::Internal(_) | AppError::NeedsSpotifyPool => {
                let request_id = crate::request_id::current().unwrap_or_default();
                log::error!("request {request_id} failed: {self}");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        let details: &[FieldError] = match self {
            AppError::Validation { details, .. } => details,
            _ => &[],
        };
        let mut response = error_body(self.status_code(), self.code(), message, details);
        let extra = match self {
            AppError::Unauthorized | AppError::InvalidTicket(_) | AppError::BadCredentials => {
                Some((header::WWW_AUTHENTICATE, "Bearer".to_string()))
            }
            AppError::InvalidToken(_) => Some((
                header::WWW_AUTHENTICATE,
                "Bearer error=\"invalid_token\"".to_string(),
            )),
            AppError::RateLimited {
                retry_after_secs, ..
            }
            | AppError::UpstreamUnavailable {
                retry_after_secs, ..
            } => Some((header::RETRY_AFTER, retry_after_secs.to_string())),
            _ => None,
        };
        if let Some((name, value)) = extra {
            if let Ok(value) = header::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// The error body (docs/api.md, "API conventions"), for a given status, code and message.
pub fn error_body(
    status: StatusCode,
    code: &str,
    message: String,
    details: &[FieldError],
) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: ErrorContent {
            code,
            message,
            details,
            request_id: crate::request_id::current().unwrap_or_default(),
        },
    })
}

/// The `code` of an error body with this status: the one table, for
/// [`AppError`] and for framework errors alike.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "validation_failed",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        412 => "precondition_failed",
        413 => "payload_too_large",
        429 => "rate_limited",
        431 => "headers_too_large",
        502 => "upstream_error",
        503 => "upstream_unavailable",
        500..=599 => "internal",
        _ => "error",
    }
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => AppError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::Conflict("a resource with these values already exists".into())
            }
            // Input is validated before it reaches the database; should a
            // constraint still refuse it (a row deleted meanwhile), that is
            // the client's conflict or mistake, never a 500.
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                AppError::Conflict("a resource this refers to no longer exists".into())
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation,
                _,
            ) => AppError::invalid("body", "a value is not acceptable"),
            other => AppError::Internal(format!("database: {other}")),
        }
    }
}

impl From<r2d2::Error> for AppError {
    fn from(err: r2d2::Error) -> Self {
        AppError::Internal(format!("connection pool: {err}"))
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking task: {err}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;
