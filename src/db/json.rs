//! JSON stored as TEXT on both backends. `MultiConnection` has no JSON type,
//! so `Json` serializes to a string on the way in and parses on the way out.

use std::io::Write;

use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use serde::{Deserialize, Serialize};

use super::MultiBackend;

/// A JSON value in a TEXT column.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Default,
    Serialize,
    Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = Text)]
#[serde(transparent)]
pub struct Json(pub serde_json::Value);

impl From<serde_json::Value> for Json {
    fn from(value: serde_json::Value) -> Self {
        Json(value)
    }
}

fn parse(text: &str) -> deserialize::Result<Json> {
    Ok(Json(serde_json::from_str(text)?))
}

impl ToSql<Text, Sqlite> for Json {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(serialize::IsNull::No)
    }
}

impl ToSql<Text, Pg> for Json {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(&mut *out, &self.0)?;
        out.flush()?;
        Ok(serialize::IsNull::No)
    }
}

impl ToSql<Text, MultiBackend> for Json {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(serialize::IsNull::No)
    }
}

impl FromSql<Text, Sqlite> for Json {
    fn from_sql(
        bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
        parse(&text)
    }
}

impl FromSql<Text, Pg> for Json {
    fn from_sql(
        bytes: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        Ok(Json(serde_json::from_slice(bytes.as_bytes())?))
    }
}

impl FromSql<Text, MultiBackend> for Json {
    fn from_sql(
        bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        bytes.from_sql::<Json, Text>()
    }
}

impl Json {
    /// A JSON array of strings, as track URI lists are stored.
    pub fn from_strings(items: &[String]) -> Json {
        Json(serde_json::Value::Array(
            items
                .iter()
                .cloned()
                .map(serde_json::Value::String)
                .collect(),
        ))
    }

    /// The strings of a JSON array (anything else reads as empty).
    pub fn strings(&self) -> Vec<String> {
        self.0
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// JSON in a TEXT column, checked on the way out of the database but kept as
/// its text: for columns that are only read to be sent (activity metadata),
/// where building a `Value` tree and serialising it again cost more than
/// decoding the rest of the row (issue 10).
#[derive(Debug, Clone, Serialize, diesel::FromSqlRow)]
#[serde(transparent)]
pub struct RawJson(pub Box<serde_json::value::RawValue>);

impl RawJson {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The JSON as a value (parsed on each call).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.get()).unwrap_or_default()
    }
}

/// Equal when the values are: `{"a":1}` read back is equal to itself
/// whatever spacing another writer used.
impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get() || self.value() == other.value()
    }
}

fn raw(text: String) -> deserialize::Result<RawJson> {
    Ok(RawJson(serde_json::value::RawValue::from_string(text)?))
}

impl FromSql<Text, Sqlite> for RawJson {
    fn from_sql(
        bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        raw(<String as FromSql<Text, Sqlite>>::from_sql(bytes)?)
    }
}

impl FromSql<Text, Pg> for RawJson {
    fn from_sql(
        bytes: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        raw(<String as FromSql<Text, Pg>>::from_sql(bytes)?)
    }
}

impl FromSql<Text, MultiBackend> for RawJson {
    fn from_sql(
        bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        bytes.from_sql::<RawJson, Text>()
    }
}
