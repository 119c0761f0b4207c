//! Choosing an algorithm and its parameters: the one resolver behind a
//! shuffle (`algorithm`, `params`), a workshop preview, the default in the
//! settings (`default_algorithm`, `default_algorithm_params`) and a
//! schedule (`algorithm_name`, `algorithm_params`). Each caller names its
//! fields, so every error names the field the client sent, and an unknown
//! algorithm is spelled the same way everywhere.

use serde_json::Value;

use super::{find, keys, params, Algorithm, Params};
use crate::error::{AppError, FieldError};

/// The names a request gives the algorithm and its parameters.
#[derive(Debug, Clone, Copy)]
pub struct ChoiceFields {
    pub algorithm: &'static str,
    pub params: &'static str,
}

impl ChoiceFields {
    /// A shuffle or a workshop preview.
    pub const SHUFFLE: ChoiceFields = ChoiceFields {
        algorithm: "algorithm",
        params: "params",
    };
    /// The owner's default, in the settings.
    pub const SETTINGS: ChoiceFields = ChoiceFields {
        algorithm: "default_algorithm",
        params: "default_algorithm_params",
    };
    /// A schedule's shuffle.
    pub const SCHEDULE: ChoiceFields = ChoiceFields {
        algorithm: "algorithm_name",
        params: "algorithm_params",
    };
}

/// Why a choice was refused.
#[derive(Debug, Clone)]
pub enum ChoiceError {
    /// No algorithm has this key; the detail lists the valid ones.
    UnknownAlgorithm(FieldError),
    /// The parameters do not fit the algorithm; one detail per problem.
    Params {
        algorithm: &'static dyn Algorithm,
        details: Vec<FieldError>,
    },
}

impl ChoiceError {
    /// The field errors, for a caller that reports several rules at once.
    pub fn into_details(self) -> Vec<FieldError> {
        match self {
            ChoiceError::UnknownAlgorithm(detail) => vec![detail],
            ChoiceError::Params { details, .. } => details,
        }
    }
}

impl From<ChoiceError> for AppError {
    fn from(err: ChoiceError) -> Self {
        match err {
            ChoiceError::UnknownAlgorithm(detail) => {
                AppError::invalid(detail.field, detail.message)
            }
            ChoiceError::Params { algorithm, details } => {
                let valid: Vec<&str> = algorithm.parameters().iter().map(|p| p.name).collect();
                AppError::Validation {
                    message: format!(
                        "invalid parameters for {}; its parameters are: {}",
                        algorithm.key(),
                        if valid.is_empty() {
                            "none".to_string()
                        } else {
                            valid.join(", ")
                        }
                    ),
                    details,
                }
            }
        }
    }
}

/// The algorithm `key` names and `given` validated against its schema
/// (defaults filled in; `null` counts as `{}`).
pub fn choose(
    key: &str,
    given: &Value,
    fields: ChoiceFields,
) -> Result<(&'static dyn Algorithm, Params), ChoiceError> {
    let algorithm = find(key).ok_or_else(|| {
        ChoiceError::UnknownAlgorithm(FieldError::new(
            fields.algorithm,
            format!(
                "unknown algorithm {key:?}; valid algorithms: {}",
                keys().join(", ")
            ),
        ))
    })?;
    let params =
        params::validate(algorithm.parameters(), given, fields.params).map_err(|problems| {
            ChoiceError::Params {
                algorithm,
                details: problems
                    .into_iter()
                    .map(|(field, message)| FieldError::new(field, message))
                    .collect(),
            }
        })?;
    Ok((algorithm, params))
}
