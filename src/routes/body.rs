//! The JSON body extractor of every route: actix's `web::Json` (so the
//! body limits and error handling of `errors::json_config` apply), read
//! first as a `serde_json::Value` that is refused when any string or key
//! holds a NUL character, then turned into the route's body type.
//!
//! NUL is refused here, once for every body, because PostgreSQL cannot
//! store it in text (it answered 500) while SQLite silently can: the same
//! input must get the same 400 on both backends (SPEC §5, issue 8 item 7).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::routes::errors::serde_error;

/// A JSON body of type `T` with no NUL character anywhere in it.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            Ok(Json(from_value(value)?))
        })
    }
}

/// An integer field of a body: a whole JSON number, `3` or `3.0` (JSON
/// Schema counts both as integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholeNumber(pub i64);

impl<'de> serde::Deserialize<'de> for WholeNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(deserializer)?;
        crate::validate::whole_i64(&n)
            .map(WholeNumber)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number")))
    }
}

/// `value` as a `T`, unless it is not a JSON object (every body of the API
/// is one; serde would also read a struct from an array of its fields in
/// order, so `[]` was an empty PATCH) or holds a NUL (400 naming where).
pub fn from_value<T: DeserializeOwned>(value: Value) -> AppResult<T> {
    if !value.is_object() {
        return Err(AppError::invalid("body", "must be a JSON object"));
    }
    if let Some(path) = nul_at(&value, String::new()) {
        let field = if path.is_empty() { "body".into() } else { path };
        return Err(AppError::invalid(
            field,
            "must not contain NUL (U+0000) characters",
        ));
    }
    serde_json::from_value(value).map_err(|e| serde_error("body", e.to_string()))
}

/// Where the first NUL is, as a field path like `tracks[3].name` (empty:
/// the body itself).
fn nul_at(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let field = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(path.clone())
            } else {
                nul_at(v, field)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_anywhere() {
        assert_eq!(nul_at(&json!({"a": "ok"}), String::new()), None);
        assert_eq!(
            nul_at(&json!({"t": [{"n": "x"}, {"n": "a\u{0}b"}]}), String::new()).as_deref(),
            Some("t[1].n")
        );
        assert_eq!(
            nul_at(&json!({"k\u{0}": 1}), String::new()).as_deref(),
            Some("")
        );
    }
}
