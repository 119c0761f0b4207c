//! Small parsers shared by handlers: query values (an empty value counts as
//! absent), `If-Match`, and PATCH fields that tell absent from `null`.

use std::str::FromStr;

use actix_web::{http::header, HttpRequest};
use serde::{Deserialize, Deserializer};
use utoipa::IntoParams;

use crate::error::{AppError, AppResult, FieldError};
use crate::services::playlists::IfMatch;

/// A request's query string read into `P`, as `web::Query` would (and
/// with the same 400), for handlers that validate after authenticating
/// (see `authenticated::Bearer`).
pub fn query<P: serde::de::DeserializeOwned>(query_string: &str) -> AppResult<P> {
    actix_web::web::Query::<P>::from_query(query_string)
        .map(actix_web::web::Query::into_inner)
        .map_err(|err| {
            let message = match err {
                actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
                other => other.to_string(),
            };
            crate::routes::errors::serde_error("query", message)
        })
}

/// A query value as sent, with empty meaning absent (docs/api.md, "API conventions"; the
/// document's `allowEmptyValue`). Not trimmed: `limit=%205` is not a number.
pub fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// An integer query value within `min..=max`; records an error otherwise.
pub fn parse_int<T: FromStr + PartialOrd + std::fmt::Display>(
    field: &str,
    raw: Option<&str>,
    default: T,
    min: T,
    max: T,
    errors: &mut Vec<FieldError>,
) -> T {
    match raw {
        None => default,
        Some(text) => match text.parse::<T>() {
            Ok(v) if v >= min && v <= max => v,
            _ => {
                errors.push(FieldError::new(
                    field,
                    format!("must be an integer from {min} to {max}"),
                ));
                default
            }
        },
    }
}

/// `limit` (1–100) and `offset` (from 0) of a paged list.
pub fn limit_offset(
    limit: &Option<String>,
    offset: &Option<String>,
    default_limit: i64,
    errors: &mut Vec<FieldError>,
) -> (i64, i64) {
    let limit = parse_int("limit", present(limit), default_limit, 1, 100, errors);
    let offset = parse_int("offset", present(offset), 0, 0, i64::from(i32::MAX), errors);
    (limit, offset)
}

/// `{id}` of a playlist route (for the API's description).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PlaylistIdParam {
    /// The playlist's id: 22 base62 characters.
    #[param(pattern = "^[^\\u0000]+$")]
    pub id: String,
}

/// `{id}` of a schedule route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ScheduleIdParam {
    pub id: i64,
}

/// `{sid}` of a snapshot, workshop session or upstream source route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ItemIdParam {
    pub sid: i64,
}

/// The `If-Match` request header of a playlist change.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchParam {
    /// `"<version>"` as `ETag` gave it, a comma-separated list of such tags
    /// (any may match), or `*` (any version). Comparison is strong: a weak
    /// tag (`W/"3"`), an unquoted or a malformed value matches nothing. A
    /// version that is no longer current answers 412 and changes nothing;
    /// without the header the change is made whatever the version.
    #[param(rename = "If-Match", value_type = String, required = false)]
    pub if_match: Option<String>,
}

/// The `If-Match` precondition of a request, if it sent one (several
/// header lines are one list).
pub fn if_match(req: &HttpRequest) -> Option<IfMatch> {
    let mut lines = req.headers().get_all(header::IF_MATCH).peekable();
    lines.peek()?;
    // A line that is not visible ASCII is malformed, and so is the list.
    let text: Option<Vec<&str>> = lines.map(|line| line.to_str().ok()).collect();
    Some(match text {
        Some(lines) => parse_if_match(&lines.join(",")),
        None => IfMatch::Versions(Vec::new()),
    })
}

/// `*`, or a list of entity tags (RFC 9110 §13.1.1), read for a strong
/// comparison with `"<version>"`: weak tags and tags that are not a
/// version as `ETag` writes it are kept out of the list; a malformed value
/// (an unquoted or unterminated tag, `*` inside a list) names nothing.
fn parse_if_match(text: &str) -> IfMatch {
    let malformed = || IfMatch::Versions(Vec::new());
    let list_space = |c: char| c == ',' || c == ' ' || c == '\t';
    if text.trim_matches(list_space) == "*" {
        return IfMatch::Any;
    }
    let mut versions = Vec::new();
    let mut rest = text.trim_start_matches(list_space);
    while !rest.is_empty() {
        let (weak, tag) = match rest.strip_prefix("W/") {
            Some(tag) => (true, tag),
            None => (false, rest),
        };
        let Some((opaque, after)) = tag.strip_prefix('"').and_then(|t| t.split_once('"')) else {
            return malformed();
        };
        let after = after.trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(',')) {
            return malformed();
        }
        if let Ok(version) = opaque.parse::<i32>() {
            if !weak && version.to_string() == opaque {
                versions.push(version);
            }
        }
        rest = after.trim_start_matches(list_space);
    }
    IfMatch::Versions(versions)
}

/// The `ETag` of a playlist version.
pub fn etag(version: i32) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

/// For `#[serde(default, deserialize_with = "nullable")]` on an
/// `Option<Option<T>>`: absent is `None`, `null` is `Some(None)`.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Ok(Some(Option::deserialize(deserializer)?))
}

/// A PATCH value of a field that cannot be null: `Err` for `null`.
pub fn not_null<T>(
    field: &str,
    value: Option<Option<T>>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match value {
        Some(None) => {
            errors.push(FieldError::new(field, "cannot be null"));
            None
        }
        Some(Some(v)) => Some(v),
        None => None,
    }
}

/// Reads an optional JSON body: empty, or `null`, means `T::default()`.
pub fn optional_body<T: serde::de::DeserializeOwned + Default>(
    body: &actix_web::web::Bytes,
) -> AppResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| AppError::invalid("body", format!("malformed JSON: {e}")))?;
    if value.is_null() {
        return Ok(T::default());
    }
    crate::routes::body::from_value(value)
}

#[cfg(test)]
mod tests {
    use super::parse_if_match;
    use crate::services::playlists::IfMatch;

    fn versions(v: &[i32]) -> IfMatch {
        IfMatch::Versions(v.to_vec())
    }

    #[test]
    fn if_match_is_read_for_a_strong_comparison() {
        assert_eq!(parse_if_match("*"), IfMatch::Any);
        assert_eq!(parse_if_match("\"3\""), versions(&[3]));
        assert_eq!(
            parse_if_match(" \"3\" , \"5\",\"8\" "),
            versions(&[3, 5, 8])
        );
        // Weak tags never match; the strong ones beside them still do.
        assert_eq!(parse_if_match("W/\"3\""), versions(&[]));
        assert_eq!(parse_if_match("W/\"3\", \"4\""), versions(&[4]));
        // Tags that are not a version as ETag writes it match nothing.
        for odd in ["\"03\"", "\"+3\"", "\"3 \"", "\"abc\"", "\"\""] {
            assert_eq!(parse_if_match(odd), versions(&[]), "{odd}");
        }
        // Malformed values name nothing at all.
        for malformed in [
            "3",
            "\"3",
            "\"3\" x",
            "\"3\" \"4\"",
            "*, \"3\"",
            "w/\"3\"",
            "",
        ] {
            assert_eq!(parse_if_match(malformed), versions(&[]), "{malformed}");
        }
    }
}
