//! Shuffling a stored playlist: choosing the algorithm (the request's, or the
//! owner's default), validating its parameters, and writing the new order
//! with its snapshot and `shuffle` activity row, or nothing at all when the
//! order did not change.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{find, keys, validate_params, Algorithm, Params, ShuffleRng};
use crate::db::DbConnection;
use crate::enums::{ActivityType, SnapshotType};
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::Playlist;
use crate::models::track::Track;
use crate::models::{NewActivity, User, UserSettings};
use crate::services::playlists::{facts, IfMatch, PlaylistChange, PlaylistService, Rewritten};
use crate::services::ActivityLogService;

/// A seed: a JSON integer, or a decimal string (JavaScript loses integers
/// above 2^53).
pub fn parse_seed(value: &Value) -> Result<u64, FieldError> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        FieldError::new(
            "seed",
            "must be an unsigned 64-bit integer or a decimal string of one",
        )
    })
}

/// An optional seed (`null` counts as absent).
pub fn parse_optional_seed(value: Option<&Value>) -> Result<Option<u64>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_seed(v).map(Some),
    }
}

/// An algorithm by key, or a 400 listing the valid ones.
pub fn algorithm(key: &str) -> AppResult<&'static dyn Algorithm> {
    find(key).ok_or_else(|| {
        AppError::invalid(
            "algorithm",
            format!(
                "unknown algorithm {key:?}; valid algorithms: {}",
                keys().join(", ")
            ),
        )
    })
}

/// Validated parameters, or a 400 naming each bad one.
pub fn params(algorithm: &dyn Algorithm, given: Option<&Value>) -> AppResult<Params> {
    validate_params(algorithm, given.unwrap_or(&Value::Null)).map_err(|errors| {
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
            details: errors
                .into_iter()
                .map(|(f, m)| FieldError::new(f, m))
                .collect(),
        }
    })
}

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct ShuffleRequest {
    pub algorithm: Option<String>,
    pub params: Option<Value>,
    pub seed: Option<u64>,
}

/// A shuffle computed from the playlist as read.
struct Planned {
    algorithm: &'static dyn Algorithm,
    params: Params,
    current: Vec<String>,
    new_order: Vec<String>,
    catalog: HashMap<String, Track>,
}

pub struct ShuffleService;

impl ShuffleService {
    /// The request's algorithm and parameters, or the owner's defaults.
    pub fn resolve(
        settings: Option<&UserSettings>,
        request: &ShuffleRequest,
    ) -> AppResult<(&'static dyn Algorithm, Params)> {
        match (&request.algorithm, settings) {
            (Some(key), _) => {
                let a = algorithm(key)?;
                Ok((a, params(a, request.params.as_ref())?))
            }
            (None, Some(s)) => {
                let a = algorithm(&s.default_algorithm)?;
                let given = request
                    .params
                    .as_ref()
                    .unwrap_or(&s.default_algorithm_params.0);
                Ok((a, params(a, Some(given))?))
            }
            (None, None) => {
                let a = algorithm("basic")?;
                Ok((a, params(a, request.params.as_ref())?))
            }
        }
    }

    /// The new order of `tracks`, as URIs.
    pub fn order(
        algorithm: &dyn Algorithm,
        params: &Params,
        tracks: &[&Track],
        seed: Option<u64>,
    ) -> Vec<String> {
        let seed = seed.unwrap_or_else(rand::random);
        let order = algorithm.order(&facts(tracks), params, &mut ShuffleRng::from_seed(seed));
        order.into_iter().map(|i| tracks[i].uri.clone()).collect()
    }

    /// The effective parameters for the activity row: defaults included,
    /// and the seed when one was given.
    pub fn logged_params(params: &Params, seed: Option<u64>) -> Value {
        let mut logged = params.clone();
        if let Some(seed) = seed {
            logged.insert("seed".into(), json!(seed));
        }
        Value::Object(logged)
    }

    /// Shuffles the caller's playlist. The order is computed outside the
    /// write lock (see `PlaylistService::rewrite`), so a long shuffle never
    /// holds SQLite's write lock or a PostgreSQL row lock.
    pub fn shuffle(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        request: &ShuffleRequest,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistChange> {
        // The same seed on every try, so a recompute after a concurrent
        // change shuffles as the client asked.
        let seed = request.seed.unwrap_or_else(rand::random);
        let plan = |conn: &mut DbConnection, playlist: &Playlist| {
            let settings = match request.algorithm {
                Some(_) => None,
                None => UserSettings::find_for_user(conn, user.id)?,
            };
            let (algorithm, params) = Self::resolve(settings.as_ref(), request)?;
            let rows = Playlist::tracks(conn, &playlist.id)?;
            let tracks: Vec<&Track> = rows.iter().map(|(_, t)| t).collect();
            let current: Vec<String> = tracks.iter().map(|t| t.uri.clone()).collect();
            let new_order = Self::order(algorithm, &params, &tracks, Some(seed));
            let catalog: HashMap<String, Track> =
                rows.into_iter().map(|(_, t)| (t.uri.clone(), t)).collect();
            Ok(Planned {
                algorithm,
                params,
                current,
                new_order,
                catalog,
            })
        };
        let write = |conn: &mut DbConnection, playlist: Playlist, planned: Planned| {
            let Planned {
                algorithm,
                params,
                current,
                new_order,
                catalog,
            } = planned;
            if new_order == current {
                return Ok(PlaylistChange {
                    playlist: PlaylistService::view_of(&playlist, &current, &catalog),
                    changed: false,
                    snapshot_id: None,
                });
            }
            let Rewritten {
                playlist: updated,
                snapshot_id,
            } = PlaylistService::write_order(
                conn,
                &playlist,
                &current,
                &new_order,
                SnapshotType::AutoPreShuffle,
                &format!("Before {} shuffle", algorithm.key()),
            )?;
            ActivityLogService::log(
                conn,
                NewActivity::by(
                    user,
                    ActivityType::Shuffle,
                    format!("Shuffled \"{}\" with {}", updated.name, algorithm.name()),
                )
                .playlist(&updated.id, &updated.name)
                .metadata(json!({
                    "algorithm": algorithm.key(),
                    "params": Self::logged_params(&params, request.seed),
                    "track_count": new_order.len(),
                    "snapshot_id": snapshot_id,
                })),
            );
            Ok(PlaylistChange {
                playlist: PlaylistService::view_of(&updated, &new_order, &catalog),
                changed: true,
                snapshot_id,
            })
        };
        PlaylistService::rewrite(conn, user.id, playlist_id, if_match, plan, write)
    }
}
