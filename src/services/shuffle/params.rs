//! Parameter schemas and their validation. Integers must be whole JSON
//! numbers within their range; options must be one of the listed strings;
//! unknown names are refused, naming the valid ones.

use serde_json::{json, Map, Value};

use crate::validate::whole_i64;

#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    Integer {
        min: i64,
        max: i64,
        default: i64,
    },
    Options {
        options: &'static [&'static str],
        default: &'static str,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub description: &'static str,
}

/// What a parameter takes: a whole number or one of a list of strings.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Integer,
    String,
}

/// A parameter as `GET /api/algorithms` describes it:
/// `{type, default, min?, max?, options?, description}`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ParamSchema {
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// An integer for `integer` parameters, one of `options` for `string` ones.
    #[schema(value_type = Value)]
    pub default: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<&'static [&'static str]>,
    pub description: &'static str,
}

impl ParamSpec {
    /// How `GET /api/algorithms` describes this parameter.
    pub fn schema(&self) -> ParamSchema {
        let (kind, min, max, options) = match self.kind {
            ParamKind::Integer { min, max, .. } => (ParamType::Integer, Some(min), Some(max), None),
            ParamKind::Options { options, .. } => (ParamType::String, None, None, Some(options)),
        };
        ParamSchema {
            kind,
            default: self.default_value(),
            min,
            max,
            options,
            description: self.description,
        }
    }

    fn default_value(&self) -> Value {
        match self.kind {
            ParamKind::Integer { default, .. } => json!(default),
            ParamKind::Options { default, .. } => json!(default),
        }
    }

    fn check(&self, value: &Value) -> Result<Value, String> {
        match self.kind {
            ParamKind::Integer { min, max, .. } => match value.as_number().and_then(whole_i64) {
                Some(v) if (min..=max).contains(&v) => Ok(json!(v)),
                _ => Err(format!("must be an integer from {min} to {max}")),
            },
            ParamKind::Options { options, .. } => match value.as_str() {
                Some(v) if options.contains(&v) => Ok(json!(v)),
                _ => Err(format!("must be one of: {}", options.join(", "))),
            },
        }
    }
}

pub const KEEP_FIRST: ParamSpec = ParamSpec {
    name: "keep_first",
    kind: ParamKind::Integer {
        min: 0,
        max: 10_000,
        default: 0,
    },
    description: "How many tracks at the start stay where they are",
};

/// Checks `given` against `specs`; errors name `{field}` (the request's
/// name for the parameters object) or `{field}.{parameter}`.
pub fn validate(
    specs: &[ParamSpec],
    given: &Value,
    field: &str,
) -> Result<Map<String, Value>, Vec<(String, String)>> {
    let empty = Map::new();
    let given = match given {
        Value::Null => &empty,
        Value::Object(map) => map,
        _ => return Err(vec![(field.into(), "must be an object".into())]),
    };
    let mut errors = Vec::new();
    for name in given.keys() {
        if !specs.iter().any(|s| s.name == name) {
            let valid: Vec<&str> = specs.iter().map(|s| s.name).collect();
            let valid = if valid.is_empty() {
                "none".to_string()
            } else {
                valid.join(", ")
            };
            errors.push((
                format!("{field}.{name}"),
                format!("unknown parameter; valid parameters: {valid}"),
            ));
        }
    }
    let mut params = Map::new();
    for spec in specs {
        match given.get(spec.name) {
            None => {
                params.insert(spec.name.into(), spec.default_value());
            }
            Some(value) => match spec.check(value) {
                Ok(v) => {
                    params.insert(spec.name.into(), v);
                }
                Err(message) => errors.push((format!("{field}.{}", spec.name), message)),
            },
        }
    }
    if errors.is_empty() {
        Ok(params)
    } else {
        Err(errors)
    }
}

/// A validated integer parameter (0 if absent, which validation prevents).
pub fn int(params: &Map<String, Value>, name: &str) -> usize {
    params.get(name).and_then(Value::as_i64).unwrap_or(0).max(0) as usize
}

/// A validated option parameter.
pub fn option<'a>(params: &'a Map<String, Value>, name: &str) -> &'a str {
    params.get(name).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECTIONS: ParamSpec = ParamSpec {
        name: "section_count",
        kind: ParamKind::Integer {
            min: 2,
            max: 10,
            default: 4,
        },
        description: "",
    };

    #[test]
    fn defaults_fill_in_and_bad_values_are_named() {
        let ok = validate(
            &[KEEP_FIRST, SECTIONS],
            &json!({"section_count": 3}),
            "params",
        )
        .unwrap();
        assert_eq!(
            Value::Object(ok),
            json!({"keep_first": 0, "section_count": 3})
        );
        let err = validate(
            &[KEEP_FIRST, SECTIONS],
            &json!({"section_count": 11, "x": 1, "keep_first": 1.5}),
            "params",
        )
        .unwrap_err();
        let fields: Vec<&str> = err.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["params.x", "params.keep_first", "params.section_count"]
        );
        assert!(validate(&[KEEP_FIRST], &json!([1]), "params").is_err());
    }
}
