//! `/api/playlists`: create, list, read, update, delete, shuffle/undo and
//! dedupe.

use std::collections::BTreeSet;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::{
    Playlist, PlaylistChanges, Rotation, MAX_PINNED, MAX_PINNED_POSITION,
};
use crate::routes::authenticated::AuthUser;
use crate::routes::body::{Json, WholeNumber};
use crate::routes::error_responses::{Conflict, NotFound, PreconditionFailed, RateLimited};
use crate::routes::params::{
    etag, if_match, limit_offset, not_null, nullable, optional_body, present, IfMatchParam,
    PlaylistIdParam,
};
use crate::routes::responses::CountedPage;
use crate::services::dedupe::{DedupeAnswer, DedupeBy, DedupeService};
use crate::services::playlists::{
    NewPlaylistInput, PlaylistChange, PlaylistService, PlaylistSummary, PlaylistView, TrackInput,
    MAX_TRACKS,
};
use crate::services::shuffle::service::{parse_optional_seed, ShuffleRequest, ShuffleService};
use crate::services::shuffle::{AlgorithmKey, AlgorithmParams, Seed};
use crate::services::snapshots::SnapshotService;
use crate::state::AppState;
use crate::validate;

/// A track of a new playlist. A URI new to the catalog is added with
/// these fields; a known one keeps its stored fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackBody {
    #[schema(schema_with = validate::schema::track_uri)]
    uri: String,
    #[schema(schema_with = validate::schema::track_name)]
    name: String,
    #[serde(default)]
    #[schema(schema_with = validate::schema::artists)]
    artists: Vec<String>,
    #[schema(schema_with = validate::schema::nullable_album_name)]
    album_name: Option<String>,
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 2147483647)]
    duration_ms: Option<WholeNumber>,
    /// Beats per minute.
    #[schema(minimum = 0, maximum = 1000)]
    tempo: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreatePlaylistBody, example = json!({"name": "Road Trip", "tracks": [
    {"uri": "demo:1", "name": "Lantern", "artists": ["Neon Harbor"], "album_name": "Night Ferry", "tempo": 96},
    {"uri": "demo:2", "name": "Echo", "artists": ["Kite Theory"], "tempo": 128}
]}))]
pub struct CreateBody {
    #[schema(schema_with = validate::schema::playlist_name)]
    name: String,
    #[schema(schema_with = validate::schema::nullable_description)]
    description: Option<String>,
    is_public: Option<bool>,
    /// At most 10,000 tracks.
    #[serde(default)]
    #[schema(max_items = 10000)]
    tracks: Vec<TrackBody>,
}

fn validate_name(name: &str, errors: &mut Vec<FieldError>) {
    validate::PLAYLIST_NAME.check_trimmed("name", name, errors);
}

fn validate_description(description: &str, errors: &mut Vec<FieldError>) {
    validate::DESCRIPTION.check("description", description, errors);
}

fn validate_track(i: usize, t: TrackBody, errors: &mut Vec<FieldError>) -> TrackInput {
    let field = |name: &str| format!("tracks[{i}].{name}");
    validate::TRACK_URI.check_trimmed(field("uri"), &t.uri, errors);
    validate::TRACK_NAME.check_trimmed(field("name"), &t.name, errors);
    let uri = t.uri.trim().to_string();
    if t.artists.len() > validate::MAX_ARTISTS
        || t.artists
            .iter()
            .any(|a| !validate::ARTIST_NAME.fits_trimmed(a))
    {
        errors.push(FieldError::new(
            field("artists"),
            format!(
                "at most {} names of {} to {} characters",
                validate::MAX_ARTISTS,
                validate::ARTIST_NAME.min,
                validate::ARTIST_NAME.max
            ),
        ));
    }
    validate::ALBUM_NAME.check_optional(field("album_name"), t.album_name.as_deref(), errors);
    let duration_ms = t.duration_ms.map_or(0, |n| n.0);
    if !(0..=i64::from(i32::MAX)).contains(&duration_ms) {
        errors.push(FieldError::new(
            field("duration_ms"),
            "must be a non-negative integer",
        ));
    }
    if t.tempo
        .is_some_and(|v| !v.is_finite() || !(0.0..=1000.0).contains(&v))
    {
        errors.push(FieldError::new(
            field("tempo"),
            "must be a number from 0 to 1000",
        ));
    }
    TrackInput {
        uri,
        name: t.name.trim().to_string(),
        artists: t
            .artists
            .into_iter()
            .map(|a| a.trim().to_string())
            .collect(),
        album_name: t
            .album_name
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
        duration_ms: duration_ms.clamp(0, i64::from(i32::MAX)) as i32,
        tempo: t.tempo,
    }
}

/// Creates a playlist (logged as `playlist_create`).
#[utoipa::path(
    post, path = "/api/playlists", tag = "playlists",
    security(("bearer" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new playlist with its tracks", body = PlaylistView,
            headers(
                ("Location" = String, description = "`/api/playlists/{id}`"),
                ("ETag" = String, description = "The version, quoted: `\"1\"`"),
            ),
            links(
                ("get_playlist" = (operation_id = "get_playlist", parameters(("id" = "$response.body#/id")))),
                ("update_playlist" = (operation_id = "update_playlist", parameters(("id" = "$response.body#/id")))),
                ("shuffle_playlist" = (operation_id = "shuffle_playlist", parameters(("id" = "$response.body#/id")))),
                ("undo_playlist" = (operation_id = "undo_playlist", parameters(("id" = "$response.body#/id")))),
                ("dedupe_playlist" = (operation_id = "dedupe_playlist", parameters(("id" = "$response.body#/id")))),
                ("sync_playlist" = (operation_id = "sync_playlist", parameters(("id" = "$response.body#/id")))),
                ("create_snapshot" = (operation_id = "create_snapshot", parameters(("id" = "$response.body#/id")))),
                ("list_snapshots" = (operation_id = "list_snapshots", parameters(("id" = "$response.body#/id")))),
                ("preview" = (operation_id = "preview", parameters(("id" = "$response.body#/id")))),
                ("commit" = (operation_id = "commit", parameters(("id" = "$response.body#/id")))),
                ("create_session" = (operation_id = "create_session", parameters(("id" = "$response.body#/id")))),
                ("list_sessions" = (operation_id = "list_sessions", parameters(("id" = "$response.body#/id")))),
                ("add_source" = (operation_id = "add_source", parameters(("id" = "$response.body#/id")))),
                ("list_sources" = (operation_id = "list_sources", parameters(("id" = "$response.body#/id")))),
                ("delete_playlist" = (operation_id = "delete_playlist", parameters(("id" = "$response.body#/id")))),
                ("create_schedule" = (operation_id = "create_schedule", request_body = json!({
                    "job_type": "shuffle", "target_playlist_id": "$response.body#/id",
                    "schedule_type": "interval", "schedule_value": "daily",
                    "source_playlist_ids": [], "algorithm_name": "basic",
                    "algorithm_params": {}, "is_enabled": true
                }))),
            )),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create_playlist(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<CreateBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    validate_name(&body.name, &mut errors);
    let description = body.description.unwrap_or_default();
    validate_description(&description, &mut errors);
    if body.tracks.len() > MAX_TRACKS {
        errors.push(FieldError::new(
            "tracks",
            format!("at most {MAX_TRACKS} tracks"),
        ));
    }
    let tracks: Vec<TrackInput> = if errors.is_empty() {
        body.tracks
            .into_iter()
            .enumerate()
            .map(|(i, t)| validate_track(i, t, &mut errors))
            .collect()
    } else {
        Vec::new()
    };
    errors.truncate(50);
    AppError::ensure_valid(errors)?;
    let input = NewPlaylistInput {
        name: body.name,
        description,
        is_public: body.is_public.unwrap_or(false),
        tracks,
    };
    let view = db::run(&state.pool, move |conn| {
        PlaylistService::create(conn, &auth.user, &input)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/playlists/{}", view.id)))
        .insert_header(etag(view.version))
        .json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 50)]
    limit: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 2147483647, default = 0)]
    offset: Option<String>,
}

/// The caller's own playlists, newest change first.
#[utoipa::path(
    get, path = "/api/playlists", tag = "playlists",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "A page of playlists", body = CountedPage<PlaylistSummary>)),
)]
pub async fn list_playlists(
    state: web::Data<AppState>,
    auth: AuthUser,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let mut errors = Vec::new();
    let (limit, offset) = limit_offset(&params.limit, &params.offset, 50, &mut errors);
    AppError::ensure_valid(errors)?;
    let (items, total) = db::run(&state.pool, move |conn| {
        PlaylistService::list(conn, auth.id(), limit, offset)
    })
    .await?;
    Ok(HttpResponse::Ok().json(CountedPage {
        items,
        total,
        limit,
        offset,
    }))
}

/// A playlist with its tracks: the caller's own, or another user's public one.
#[utoipa::path(
    get, path = "/api/playlists/{id}", tag = "playlists",
    security(("bearer" = [])),
    params(PlaylistIdParam),
    responses(
        (status = 200, description = "The playlist", body = PlaylistView,
            headers(("ETag" = String, description = "The version, quoted: `\"3\"`"))),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get_playlist(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let view = db::run(&state.pool, move |conn| {
        let playlist = PlaylistService::readable(conn, auth.id(), &id)?;
        PlaylistService::view(conn, &playlist)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(view.version))
        .json(view))
}

/// Absent fields stay as they are; none of them may be `null`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdatePlaylistBody)]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::playlist_name)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::description)]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = bool)]
    is_public: Option<Option<bool>>,
    // Pinned positions.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = validate::schema::pinned_positions)]
    pinned_positions: Option<Option<Value>>,
    /// The playlist's rotation; `null` clears it (the one field that may
    /// be `null`).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<RotationBody>)]
    rotation: Option<Option<RotationBody>>,
}

/// A rotation: after a raid leaves the playlist with more than
/// `max_tracks` entries, those added longest ago move to the end of the
/// archive, or are dropped without one (docs/api.md, "Rotation").
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"max_tracks": 100, "archive_playlist_id": "Yq3XcSNar5OCsS1r8dQ7bR"}))]
pub struct RotationBody {
    #[schema(value_type = i64, minimum = 1, maximum = 10000)]
    max_tracks: WholeNumber,
    /// Another playlist of yours (local or linked to Spotify), never this
    /// one nor one whose rotation archives into this one; an unknown id or
    /// another user's playlist is a 400 too.
    #[serde(default)]
    #[schema(max_length = 64)]
    archive_playlist_id: Option<String>,
}

/// Longest archive id read (playlist ids have 22 characters).
const MAX_ARCHIVE_ID_CHARS: usize = 64;

/// The rotation a PATCH sets: absent, cleared (`Some(None)`) or valid.
fn validate_rotation(
    body: Option<Option<RotationBody>>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<Rotation>> {
    let body = match body {
        None => return None,
        Some(None) => return Some(None),
        Some(Some(body)) => body,
    };
    let max_tracks = body.max_tracks.0;
    if !(1..=MAX_TRACKS as i64).contains(&max_tracks) {
        errors.push(FieldError::new(
            "rotation.max_tracks",
            format!("must be an integer from 1 to {MAX_TRACKS}"),
        ));
    }
    if body
        .archive_playlist_id
        .as_ref()
        .is_some_and(|id| id.is_empty() || id.chars().count() > MAX_ARCHIVE_ID_CHARS)
    {
        errors.push(FieldError::new(
            "rotation.archive_playlist_id",
            "is not a playlist of yours",
        ));
    }
    Some(Some(Rotation {
        max_tracks: max_tracks.clamp(1, MAX_TRACKS as i64) as usize,
        archive_playlist_id: body.archive_playlist_id,
    }))
}

/// `pinned_positions` of a PATCH: an array of distinct whole numbers from
/// 0 to 9,999, at most 100 of them; each problem recorded, naming where.
fn parse_pinned_positions(value: &Value, errors: &mut Vec<FieldError>) -> BTreeSet<usize> {
    const FIELD: &str = "pinned_positions";
    let Some(items) = value.as_array() else {
        errors.push(FieldError::new(
            FIELD,
            format!("must be an array of distinct integers from 0 to {MAX_PINNED_POSITION}"),
        ));
        return BTreeSet::new();
    };
    if items.len() > MAX_PINNED {
        errors.push(FieldError::new(
            FIELD,
            format!("at most {MAX_PINNED} positions"),
        ));
        return BTreeSet::new();
    }
    let mut pins = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let slot = item
            .as_number()
            .and_then(validate::whole_i64)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= MAX_PINNED_POSITION);
        match slot {
            None => errors.push(FieldError::new(
                format!("{FIELD}[{i}]"),
                format!("must be an integer from 0 to {MAX_PINNED_POSITION}"),
            )),
            Some(slot) if !pins.insert(slot) => errors.push(FieldError::new(
                format!("{FIELD}[{i}]"),
                format!("repeats position {slot}; positions must be distinct"),
            )),
            Some(_) => {}
        }
    }
    pins
}

/// Renames, describes or publishes a playlist, or sets its pinned positions or its rotation
/// (`playlist_update`, when something changed).
#[utoipa::path(
    patch, path = "/api/playlists/{id}", tag = "playlists",
    security(("bearer" = [])),
    params(PlaylistIdParam, IfMatchParam),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The playlist as it now is", body = PlaylistView,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
    ),
)]
pub async fn update_playlist(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: Json<UpdateBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let changes = PlaylistChanges {
        name: not_null("name", body.name, &mut errors),
        description: not_null("description", body.description, &mut errors),
        is_public: not_null("is_public", body.is_public, &mut errors),
        // Pinned positions.
        pinned_positions: not_null("pinned_positions", body.pinned_positions, &mut errors)
            .map(|v| Playlist::pins_json(&parse_pinned_positions(&v, &mut errors))),
    };
    if let Some(name) = &changes.name {
        validate_name(name, &mut errors);
    }
    if let Some(description) = &changes.description {
        validate_description(description, &mut errors);
    }
    let rotation = validate_rotation(body.rotation, &mut errors);
    AppError::ensure_valid(errors)?;
    let precondition = if_match(&req);
    let id = path.into_inner();
    let view = db::run(&state.pool, move |conn| {
        PlaylistService::update(conn, &auth.user, &id, changes, rotation, precondition)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(view.version))
        .json(view))
}

/// Deletes a playlist with its tracks, sessions, sources and snapshots
/// (`playlist_delete`).
#[utoipa::path(
    delete, path = "/api/playlists/{id}", tag = "playlists",
    security(("bearer" = [])),
    params(PlaylistIdParam, IfMatchParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
    ),
)]
pub async fn delete_playlist(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let precondition = if_match(&req);
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        PlaylistService::delete(conn, &auth.user, &id, precondition)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Without `algorithm`, the caller's default algorithm and its parameters.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"algorithm": "tempo_gradient", "params": {"direction": "descending"}}))]
pub struct ShuffleBody {
    #[schema(value_type = Option<AlgorithmKey>)]
    algorithm: Option<String>,
    #[schema(value_type = Option<AlgorithmParams>)]
    params: Option<Value>,
    #[schema(value_type = Option<Seed>)]
    seed: Option<Value>,
}

/// Shuffles a playlist with an algorithm (`shuffle`); an unchanged order
/// writes and logs nothing.
#[utoipa::path(
    post, path = "/api/playlists/{id}/shuffle", tag = "playlists",
    security(("bearer" = [])),
    params(PlaylistIdParam, IfMatchParam),
    request_body(content = Option<ShuffleBody>, description = "May be empty"),
    responses(
        (status = 200, description = "The playlist, whether it changed, and the automatic snapshot",
            body = PlaylistChange,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn shuffle_playlist(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let body: ShuffleBody = optional_body(&body)?;
    let seed = parse_optional_seed(body.seed.as_ref())
        .map_err(|e| AppError::invalid(e.field, e.message))?;
    let request = ShuffleRequest {
        algorithm: body.algorithm,
        params: body.params,
        seed,
    };
    let precondition = if_match(&req);
    let id = path.into_inner();
    let outcome = state
        .run_rewrite(auth.id(), move |db, spotify| {
            ShuffleService::shuffle(db, spotify, &auth.user, &id, &request, precondition.clone())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(outcome.playlist.version))
        .json(outcome))
}

/// Restores the newest automatic snapshot other than an `auto_pre_restore`
/// one (`snapshot_restore`).
#[utoipa::path(
    post, path = "/api/playlists/{id}/undo", tag = "playlists",
    security(("bearer" = [])),
    params(PlaylistIdParam, IfMatchParam),
    responses(
        (status = 200, description = "The playlist as restored", body = PlaylistView,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn undo_playlist(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let precondition = if_match(&req);
    let id = path.into_inner();
    let view = state
        .run_rewrite(auth.id(), move |db, spotify| {
            SnapshotService::undo(db, spotify, &auth.user, &id, precondition.clone())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(view.version))
        .json(view))
}

/// What makes two entries of the playlist the same.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"by": "track"}))]
pub struct DedupeBody {
    /// `uri`: the same track URI; `track`: the same name and first artist,
    /// without case or accents (a track with no known name or artist
    /// matches only by its URI).
    #[schema(value_type = DedupeBy)]
    by: Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DedupeParams {
    /// `true`: answer what the dedupe would do, and change and log nothing.
    #[param(value_type = Option<bool>, default = false)]
    dry_run: Option<String>,
}

/// Removes the playlist's duplicate entries, keeping the first of each
/// (an entry in a pinned slot is never removed: its unpinned duplicates go
/// instead); the others close ranks. One rewrite like a shuffle: an
/// `auto_pre_dedupe` snapshot first (undo reverts it), a new version,
/// written back to Spotify for a linked playlist, one `playlist_dedupe`
/// row. Nothing to remove writes and logs nothing (`changed: false`).
/// `?dry_run=true` answers the same, with the playlist as it would be, and
/// changes nothing.
#[utoipa::path(
    post, path = "/api/playlists/{id}/dedupe", tag = "playlists",
    security(("bearer" = [])),
    params(PlaylistIdParam, DedupeParams, IfMatchParam),
    request_body = DedupeBody,
    responses(
        (status = 200, description = "The playlist, whether it changed, what was removed \
            (positions in the order before) and the automatic snapshot",
            body = DedupeAnswer,
            headers(("ETag" = String, description = "The version, quoted"))),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn dedupe_playlist(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    params: web::Query<DedupeParams>,
    body: Json<DedupeBody>,
) -> AppResult<HttpResponse> {
    let mut errors = Vec::new();
    let dry_run = match present(&params.dry_run) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::new("dry_run", "must be true or false"));
            false
        }
    };
    let by = body.into_inner().by;
    let by = by.as_str().and_then(DedupeBy::parse);
    if by.is_none() {
        errors.push(FieldError::new("by", "must be one of: uri, track"));
    }
    AppError::ensure_valid(errors)?;
    let by = by.unwrap_or(DedupeBy::Uri);
    let precondition = if_match(&req);
    let id = path.into_inner();
    let answer = if dry_run {
        db::run(&state.pool, move |conn| {
            DedupeService::preview(conn, &auth.user, &id, by, precondition)
        })
        .await?
    } else {
        state
            .run_rewrite(auth.id(), move |db, spotify| {
                DedupeService::dedupe(db, spotify, &auth.user, &id, by, precondition.clone())
            })
            .await?
    };
    Ok(HttpResponse::Ok()
        .insert_header(etag(answer.playlist.version))
        .json(answer))
}
