//! The error responses operations declare in the API's description: each
//! is the `Error` body with its own description and headers, referenced by
//! a handler's `#[utoipa::path]` as `response = Name`. Handlers import them
//! from here; the document itself (`api_doc`) only collects them.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::ToResponse;

/// Declares the error responses: each is the `Error` body with its own
/// description and headers, referenced by handlers as `response = Name`.
macro_rules! error_responses {
    ($($name:ident: $description:literal $(, $header:literal = $header_description:literal)*;)*) => {$(
        #[doc = $description]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (
                    stringify!($name),
                    error_response($description, &[$(($header, $header_description)),*]).into(),
                )
            }
        }
    )*};
}

error_responses! {
    BadRequest: "`validation_failed`: a value is not acceptable, or the query has a parameter \
        this operation does not take; `details` names each field (an unknown parameter's \
        message lists the accepted ones).";
    Unauthorized: "`unauthorized`: the bearer token is missing, unknown, expired or revoked, \
        and the message says which (or, at login, the username or password is wrong).",
        "WWW-Authenticate" = "`Bearer`, or `Bearer error=\"invalid_token\"` when a token was \
            sent";
    UnauthorizedOrWrongPassword: "`unauthorized`: the bearer token is missing, unknown, \
        expired or revoked (with `WWW-Authenticate`), or the password given to confirm is \
        wrong (without it: the token still works).";
    NotFound: "`not_found`: no such resource among the caller's own (another user's \
        answers exactly as a missing one).";
    Conflict: "`conflict`: the request conflicts with what is stored (a cap named with \
        its number, a name taken, a run in progress).";
    PreconditionFailed: "`precondition_failed`: `If-Match` names a version that is no \
        longer current; nothing changed. Read the playlist again and retry.";
    PayloadTooLarge: "`payload_too_large`: the body is over 2 MiB (8 MiB for a playlist \
        create and a workshop commit).";
    RateLimited: "`rate_limited`: a rate, a lockout or a cap on concurrent things, named \
        with its number in the message.",
        "Retry-After" = "Seconds to wait before trying again";
    HeadersTooLarge: "`headers_too_large`: the request head is over 32 KiB or has more \
        than 64 fields.";
    UpstreamError: "`upstream_error`: Spotify failed or answered what the service cannot \
        use (the message says what); nothing was changed here, or the playlist is marked \
        out of sync and says so.";
    UpstreamUnavailable: "`upstream_unavailable`: Spotify is busy or down, or asks for a \
        longer wait than a request takes.",
        "Retry-After" = "Seconds to wait before trying again";
    Internal: "`internal`: something failed on the server; the message says nothing more, \
        the server log has the cause under the request id.";
}

/// A response with the `Error` body and `X-Request-Id`.
fn error_response(description: &str, headers: &[(&str, &str)]) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Error")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .header(REQUEST_ID, request_id_header());
    for (name, description) in headers {
        response = response.header(
            *name,
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(*description))
                .build(),
        );
    }
    response.build()
}

pub const REQUEST_ID: &str = "X-Request-Id";

pub fn request_id_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some("The request's id, also in the server's log line"))
        .build()
}
