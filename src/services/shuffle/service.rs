//! Shuffling a stored playlist: choosing the algorithm (the request's, or the
//! owner's default), validating its parameters, and writing the new order
//! with its snapshot and `shuffle` activity row, or nothing at all when the
//! order did not change.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{choose, order_uris, Algorithm, ChoiceFields, Params};
use crate::db::{Checkout, DbConnection};
use crate::error::{AppResult, FieldError};
use crate::models::playlist::Playlist;
use crate::models::track::Track;
use crate::models::user_settings::DEFAULT_ALGORITHM;
use crate::models::{AlgorithmUsed, NewActivity, User, UserSettings};
use crate::providers::spotify::Spotify;
use crate::services::playlists::{IfMatch, PlaylistChange, PlaylistService};
use crate::services::rewrite::{replace_order, OrderPlan, Rewrite, RewriteService, RewriteTarget};
use crate::services::ActivityLogService;

/// A seed: a JSON integer, or a string of decimal digits (JavaScript
/// loses integers above 2^53); either within `u64`.
pub fn parse_seed(value: &Value) -> Result<u64, FieldError> {
    let parsed = match value {
        Value::Number(n) => crate::validate::whole_u64(n),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().ok()
        }
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

impl OrderPlan for Planned {
    fn current(&self) -> &[String] {
        &self.current
    }
    fn order(&self) -> &[String] {
        &self.new_order
    }
    fn why(&self) -> Rewrite<'_> {
        Rewrite::Shuffle {
            algorithm: self.algorithm.key(),
        }
    }
}

pub struct ShuffleService;

impl ShuffleService {
    /// The request's algorithm and parameters, or the owner's defaults.
    pub fn resolve(
        settings: Option<&UserSettings>,
        request: &ShuffleRequest,
    ) -> AppResult<(&'static dyn Algorithm, Params)> {
        let (key, given) = match (&request.algorithm, settings) {
            (Some(key), _) => (key.as_str(), request.params.as_ref()),
            (None, Some(s)) => (
                s.default_algorithm.as_str(),
                Some(
                    request
                        .params
                        .as_ref()
                        .unwrap_or(&s.default_algorithm_params.0),
                ),
            ),
            (None, None) => (DEFAULT_ALGORITHM, request.params.as_ref()),
        };
        Ok(choose(
            key,
            given.unwrap_or(&Value::Null),
            ChoiceFields::SHUFFLE,
        )?)
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
    /// write lock (see `RewriteService::rewrite`), so a long shuffle never
    /// holds SQLite's write lock or a PostgreSQL row lock.
    pub fn shuffle(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
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
            let rows = PlaylistService::tracks(conn, playlist)?;
            let tracks: Vec<&Track> = rows.iter().map(|(_, t)| t).collect();
            let current: Vec<String> = tracks.iter().map(|t| t.uri.clone()).collect();
            let new_order = order_uris(algorithm, &params, &tracks, seed, &playlist.pinned());
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
        let write = |conn: &mut DbConnection, target: RewriteTarget, planned: Planned| {
            let algorithm = planned.algorithm;
            let new_order = &planned.new_order;
            let written = replace_order(conn, &target, &planned.current, new_order, planned.why())?;
            if let Some(done) = &written {
                ActivityLogService::log(
                    conn,
                    NewActivity::shuffle(
                        user,
                        &done.playlist,
                        AlgorithmUsed {
                            key: algorithm.key(),
                            name: algorithm.name(),
                        },
                        Self::logged_params(&planned.params, request.seed),
                        new_order.len(),
                        done.snapshot_id,
                    )
                    .written_back(done.spotify_snapshot_id.as_deref()),
                );
            }
            Ok(PlaylistChange::new(
                &target.playlist,
                written.as_ref(),
                new_order,
                &planned.catalog,
            ))
        };
        RewriteService::rewrite(db, spotify, user.id, playlist_id, if_match, plan, write)
    }
}
