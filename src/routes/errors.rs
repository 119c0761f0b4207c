//! How actix's own failures become the JSON error body: unknown routes,
//! wrong methods, and bodies, queries or paths that do not parse.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{AppError, FieldError};

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn method_not_allowed() -> Result<HttpResponse, AppError> {
    Err(AppError::MethodNotAllowed)
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
        .error_handler(|err, _req: &HttpRequest| {
            let app_err = match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => AppError::PayloadTooLarge,
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
    let message = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase();
    let (request, _) = res.into_parts();
    let body = crate::error::error_body(status, code, message, &[]);
    Ok(actix_web::dev::ServiceResponse::new(request, body).map_into_right_body())
}
