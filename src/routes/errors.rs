//! How actix's own failures become the JSON error body: unknown routes,
//! wrong methods, and bodies, queries or paths that do not parse.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{AppError, FieldError};

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// 405 with the error body and `Allow: <the resource's methods>`.
pub async fn method_not_allowed(allow: String) -> HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&AppError::MethodNotAllowed);
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

/// The field a serde message names (`missing field `x``), if any.
fn named_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// A 400 for a value serde could not read, naming the field when serde does.
pub(crate) fn serde_error(source: &str, message: String) -> AppError {
    let field = if message.starts_with("missing field") || message.starts_with("unknown field") {
        named_field(&message).unwrap_or(source).to_string()
    } else {
        source.to_string()
    };
    AppError::Validation {
        message: format!("invalid {source}: {message}"),
        details: vec![FieldError::new(field, message)],
    }
}

/// Any Content-Type (or none) is read as JSON; oversize bodies are 413 and
/// everything else that fails to parse is a 400 naming the field.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .content_type_required(false)
        .content_type(|_| true)
        .error_handler(move |err, _req: &HttpRequest| {
            let app_err = match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => AppError::PayloadTooLarge(limit),
                JsonPayloadError::Deserialize(e) if e.is_data() => {
                    serde_error("body", e.to_string())
                }
                JsonPayloadError::Deserialize(e) => {
                    AppError::invalid("body", format!("malformed JSON: {e}"))
                }
                other => AppError::invalid("body", other.to_string()),
            };
            app_err.into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        serde_error("query", message).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let message = match err {
            PathError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        serde_error("path", message).into()
    })
}

/// The safety net: any 4xx/5xx that did not come from [`AppError`] (a body
/// over a raw payload limit, a framework error) still leaves as the JSON
/// error body, with its status kept.
pub async fn json_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    let is_json = res
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return Ok(res.map_into_left_body());
    }
    let code = crate::error::code_for_status(status);
    let message = if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        // A raw body (`web::Bytes`) over the payload limit: the default
        // one, as no route sets another for raw bodies.
        crate::error::AppError::PayloadTooLarge(crate::routes::BODY_LIMIT).to_string()
    } else {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    };
    let (request, _) = res.into_parts();
    let body = crate::error::error_body(status, code, message, &[]);
    Ok(actix_web::dev::ServiceResponse::new(request, body).map_into_right_body())
}

/// Largest request head the service reads (docs/api.md, "Limits"), in bytes: the
/// request line plus every header line.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Most header fields a request may carry (docs/api.md, "Limits").
pub const MAX_HEADER_FIELDS: usize = 64;

/// Checks the request head before routing: over 32 KiB or more than 64
/// header fields is a 431 `headers_too_large` with the error body (heads
/// beyond actix-http's own limits, about 96 fields or a head it cannot
/// buffer, are refused by actix-http itself with its plain 431); a NUL in
/// the path or query (it can only arrive as `%00`) is a 400, as in a body
/// (see `routes::body`), since PostgreSQL cannot store one.
pub async fn check_head(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let fields = req.headers().len();
    let head_bytes = req.method().as_str().len()
        + req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    let body = if fields > MAX_HEADER_FIELDS || head_bytes > MAX_HEAD_BYTES {
        let message = format!(
            "request headers too large: at most {MAX_HEADER_FIELDS} fields and {} KiB in all",
            MAX_HEAD_BYTES / 1024
        );
        crate::error::error_body(
            actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            message,
            &[],
        )
    } else if req.uri().to_string().contains("%00") {
        let field = if req.query_string().contains("%00") {
            "query"
        } else {
            "path"
        };
        actix_web::ResponseError::error_response(&AppError::invalid(
            field,
            "must not contain NUL (U+0000) characters",
        ))
    } else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let (request, _) = req.into_parts();
    Ok(actix_web::dev::ServiceResponse::new(request, body).map_into_right_body())
}
