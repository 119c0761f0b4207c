//! The JSON body extractor of every route: actix's `web::Json` (so the
//! body limits and error handling of `errors::json_config` apply), read
//! first as a `serde_json::Value` that is refused when any object, at any
//! depth, repeats a key, or when any string or key holds a NUL character,
//! then turned into the route's body type.
//!
//! Repeated keys are caught while the body is parsed ([`UniqueKeys`], a
//! serde visitor that builds the `Value` itself): `serde_json::Value`
//! keeps the last of repeated keys, so `{"username":"a","username":"b"}`
//! registered `b`, and nothing after the parse can tell.
//!
//! NUL is refused here, once for every body, because PostgreSQL cannot
//! store it in text (it answered 500) while SQLite silently can: the same
//! input must get the same 400 on both backends (docs/api.md, "API conventions", issue 8 item 7).

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
        let body = web::Json::<UniqueKeys>::from_request(req, payload);
        Box::pin(async move {
            let UniqueKeys { value, repeated } = body.await?.into_inner();
            if let Some(key) = repeated {
                return Err(AppError::invalid(
                    key,
                    "is repeated: each key may appear only once in an object",
                )
                .into());
            }
            Ok(Json(from_value(value)?))
        })
    }
}

/// A JSON document as a `Value`, and the first key found repeated in one
/// of its objects, as a field path like `tracks[3].name`.
///
/// Hand-written because neither serde_json nor a kept crate refuses
/// repeated keys: `Value`'s own visitor inserts each key into its map and
/// the last one wins.
#[derive(Debug)]
pub struct UniqueKeys {
    pub value: Value,
    pub repeated: Option<String>,
}

impl UniqueKeys {
    fn plain(value: Value) -> Self {
        UniqueKeys {
            value,
            repeated: None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys::plain(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys::plain(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys::plain(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys::plain(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys::plain(Value::String(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys::plain(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys::plain(Value::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        let mut items = Vec::new();
        let mut repeated = None;
        while let Some(item) = seq.next_element::<UniqueKeys>()? {
            if repeated.is_none() {
                repeated = item
                    .repeated
                    .map(|inner| nested(&format!("[{}]", items.len()), &inner));
            }
            items.push(item.value);
        }
        Ok(UniqueKeys {
            value: Value::Array(items),
            repeated,
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut object = serde_json::Map::new();
        let mut repeated = None;
        while let Some(key) = map.next_key::<String>()? {
            let item = map.next_value::<UniqueKeys>()?;
            if repeated.is_none() {
                if object.contains_key(&key) {
                    repeated = Some(key.clone());
                } else if let Some(inner) = item.repeated {
                    repeated = Some(nested(&key, &inner));
                }
            }
            object.insert(key, item.value);
        }
        Ok(UniqueKeys {
            value: Value::Object(object),
            repeated,
        })
    }
}

/// The path of `inner` inside the member or element `outer`.
fn nested(outer: &str, inner: &str) -> String {
    if inner.starts_with('[') {
        format!("{outer}{inner}")
    } else {
        format!("{outer}.{inner}")
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

    fn repeated(body: &str) -> Option<String> {
        serde_json::from_str::<UniqueKeys>(body).unwrap().repeated
    }

    #[test]
    fn finds_repeated_keys_at_any_depth() {
        assert_eq!(
            repeated(r#"{"a":1,"b":{"a":2},"c":[{"a":1},{"b":2}]}"#),
            None
        );
        assert_eq!(repeated(r#"{"a":1,"a":2}"#).as_deref(), Some("a"));
        assert_eq!(repeated(r#"{"a":{"b":1,"b":1}}"#).as_deref(), Some("a.b"));
        assert_eq!(
            repeated(r#"{"t":[{"n":1},{"n":2,"m":[1,{"x":0,"x":0}]}]}"#).as_deref(),
            Some("t[1].m[1].x")
        );
        assert_eq!(
            repeated(r#"[[{"k":1,"k":2}]]"#).as_deref(),
            Some("[0][0].k")
        );
    }

    #[test]
    fn reads_what_value_reads() {
        let body = r#"{"s":"x\u00e9","n":-3,"u":18446744073709551615,"f":1.5,"b":true,"z":null,"a":[1,"2"]}"#;
        let checked = serde_json::from_str::<UniqueKeys>(body).unwrap();
        assert_eq!(checked.value, serde_json::from_str::<Value>(body).unwrap());
        assert_eq!(checked.repeated, None);
    }

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
