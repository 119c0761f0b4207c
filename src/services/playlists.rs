//! Playlists: the one module through which playlist contents are read and
//! written, so that a second provider (SPEC §9) can slot in behind the same
//! handlers. Versions, `If-Match` and the playlist activity hooks live here.

use serde::Serialize;
use serde_json::json;

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::enums::ActivityType;
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::{Playlist, PlaylistChanges};
use crate::models::track::{NewTrack, Track, TrackView};
use crate::models::{NewActivity, User};
use crate::services::shuffle::TrackFacts;
use crate::services::ActivityLogService;

/// Most tracks a playlist (or a commit) may hold.
pub const MAX_TRACKS: usize = 10_000;

/// An `If-Match` precondition on a playlist's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Version(i32),
    /// A value that can match no version (malformed).
    Never,
}

/// 412 unless the precondition holds for `playlist`.
pub fn check_version(playlist: &Playlist, if_match: Option<IfMatch>) -> AppResult<()> {
    match if_match {
        None | Some(IfMatch::Any) => Ok(()),
        Some(IfMatch::Version(v)) if v == playlist.version => Ok(()),
        Some(_) => Err(AppError::PreconditionFailed),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlaylistTrackView {
    pub position: i32,
    #[serde(flatten)]
    pub track: TrackView,
}

/// A playlist with its tracks, as `GET /api/playlists/{id}` answers it.
#[derive(Debug, Clone, Serialize)]
pub struct PlaylistView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub owner_id: i64,
    pub version: i32,
    pub tracks: Vec<PlaylistTrackView>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: chrono::NaiveDateTime,
}

/// The answer to a request that may rewrite a playlist's order (shuffle,
/// workshop commit): the playlist as it now is, whether the order changed,
/// and the automatic snapshot taken first, if any.
#[derive(Debug, Clone, Serialize)]
pub struct PlaylistChange {
    pub playlist: PlaylistView,
    pub changed: bool,
    pub snapshot_id: Option<i64>,
}

/// A playlist in a listing.
#[derive(Debug, Clone, Serialize)]
pub struct PlaylistSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub track_count: i64,
    pub version: i32,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: chrono::NaiveDateTime,
}

/// One track of a new playlist, validated.
#[derive(Debug, Clone)]
pub struct TrackInput {
    pub uri: String,
    pub name: String,
    pub artists: Vec<String>,
    pub album_name: Option<String>,
    pub duration_ms: i32,
    pub tempo: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct NewPlaylistInput {
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub tracks: Vec<TrackInput>,
}

/// 22 random base62 characters.
pub fn new_playlist_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn validate_name(name: &str, errors: &mut Vec<FieldError>) {
    let n = name.trim().chars().count();
    if n == 0 || n > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    }
}

pub fn validate_description(description: &str, errors: &mut Vec<FieldError>) {
    if description.chars().count() > 5000 {
        errors.push(FieldError::new(
            "description",
            "must be at most 5000 characters",
        ));
    }
}

/// The facts the shuffle algorithms read, in playlist order.
pub fn facts(tracks: &[&Track]) -> Vec<TrackFacts> {
    tracks
        .iter()
        .map(|t| TrackFacts {
            artist: t.artist_names().into_iter().next(),
            album: t.album_name.clone(),
            tempo: t.tempo,
        })
        .collect()
}

pub struct PlaylistService;

impl PlaylistService {
    pub fn view(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<PlaylistView> {
        let tracks = Playlist::tracks(conn, &playlist.id)?
            .into_iter()
            .map(|(position, track)| PlaylistTrackView {
                position,
                track: track.view(),
            })
            .collect();
        Ok(PlaylistView {
            id: playlist.id.clone(),
            name: playlist.name.clone(),
            description: playlist.description.clone(),
            is_public: playlist.is_public,
            owner_id: playlist.owner_id,
            version: playlist.version,
            tracks,
            updated_at: playlist.updated_at,
        })
    }

    pub fn list(
        conn: &mut DbConnection,
        owner_id: i64,
        limit: i64,
        offset: i64,
    ) -> AppResult<(Vec<PlaylistSummary>, i64)> {
        let (rows, total) = Playlist::list_owned(conn, owner_id, limit, offset)?;
        let items = rows
            .into_iter()
            .map(|(p, track_count)| PlaylistSummary {
                id: p.id,
                name: p.name,
                description: p.description,
                is_public: p.is_public,
                track_count,
                version: p.version,
                updated_at: p.updated_at,
            })
            .collect();
        Ok((items, total))
    }

    /// The caller's own playlist or 404.
    pub fn owned(conn: &mut DbConnection, user_id: i64, id: &str) -> AppResult<Playlist> {
        Playlist::find_owned(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    /// Creates a playlist, adds its tracks to the catalog, logs
    /// `playlist_create` (when `log` is set; the demo data is not logged).
    pub fn create(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
        log: bool,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            let now = db::now();
            let catalog: Vec<NewTrack> = input
                .tracks
                .iter()
                .map(|t| NewTrack {
                    uri: t.uri.clone(),
                    name: t.name.clone(),
                    artists: Json(json!(t.artists)),
                    album_name: t.album_name.clone(),
                    duration_ms: t.duration_ms,
                    tempo: t.tempo,
                    created_at: now,
                })
                .collect();
            NewTrack::upsert_all(conn, &catalog)?;
            let playlist = Playlist {
                id: new_playlist_id(),
                owner_id: owner.id,
                name: input.name.trim().to_string(),
                description: input.description.clone(),
                is_public: input.is_public,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            playlist.insert(conn)?;
            let uris: Vec<String> = input.tracks.iter().map(|t| t.uri.clone()).collect();
            Playlist::replace_tracks(conn, &playlist.id, &uris)?;
            if log {
                ActivityLogService::log(
                    conn,
                    NewActivity::by(
                        owner,
                        ActivityType::PlaylistCreate,
                        format!("Created playlist \"{}\"", playlist.name),
                    )
                    .playlist(&playlist.id, &playlist.name)
                    .metadata(json!({ "track_count": uris.len() })),
                );
            }
            Self::view(conn, &playlist)
        })
    }

    /// Applies a metadata change. A change that changes nothing writes and
    /// logs nothing; `version` moves only when the name or description did.
    pub fn update(
        conn: &mut DbConnection,
        user: &User,
        id: &str,
        changes: PlaylistChanges,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            let playlist = Self::owned(conn, user.id, id)?;
            check_version(&playlist, if_match)?;
            let changes = PlaylistChanges {
                name: changes
                    .name
                    .map(|n| n.trim().to_string())
                    .filter(|n| *n != playlist.name),
                description: changes.description.filter(|d| *d != playlist.description),
                is_public: changes.is_public.filter(|p| *p != playlist.is_public),
            };
            let mut changed = Vec::new();
            for (field, is_changed) in [
                ("name", changes.name.is_some()),
                ("description", changes.description.is_some()),
                ("is_public", changes.is_public.is_some()),
            ] {
                if is_changed {
                    changed.push(field);
                }
            }
            if changed.is_empty() {
                return Self::view(conn, &playlist);
            }
            Playlist::apply(conn, id, &changes)?;
            let new_version = changes.name.is_some() || changes.description.is_some();
            let updated = Playlist::touch(conn, id, new_version, db::now())?;
            let track_count = Playlist::track_uris(conn, id)?.len();
            ActivityLogService::log(
                conn,
                NewActivity::by(
                    user,
                    ActivityType::PlaylistUpdate,
                    format!("Updated playlist \"{}\"", updated.name),
                )
                .playlist(&updated.id, &updated.name)
                .metadata(json!({ "track_count": track_count, "changed_fields": changed })),
            );
            Self::view(conn, &updated)
        })
    }

    pub fn delete(
        conn: &mut DbConnection,
        user: &User,
        id: &str,
        if_match: Option<IfMatch>,
    ) -> AppResult<()> {
        write_transaction(conn, |conn| {
            let playlist = Self::owned(conn, user.id, id)?;
            check_version(&playlist, if_match)?;
            let track_count = Playlist::track_uris(conn, id)?.len();
            Playlist::delete(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::by(
                    user,
                    ActivityType::PlaylistDelete,
                    format!("Deleted playlist \"{}\"", playlist.name),
                )
                .playlist(&playlist.id, &playlist.name)
                .metadata(json!({ "track_count": track_count })),
            );
            Ok(())
        })
    }

    /// Writes a new order (a new version). The caller holds the
    /// transaction and has checked the URIs against the catalog.
    pub fn write_order(
        conn: &mut DbConnection,
        playlist: &Playlist,
        uris: &[String],
    ) -> AppResult<Playlist> {
        Playlist::replace_tracks(conn, &playlist.id, uris)?;
        Ok(Playlist::touch(conn, &playlist.id, true, db::now())?)
    }

    /// 400 naming the URIs that are not in the catalog.
    pub fn require_in_catalog(
        conn: &mut DbConnection,
        field: &str,
        uris: &[String],
    ) -> AppResult<std::collections::HashMap<String, Track>> {
        let found = Track::find_by_uris(conn, uris)?;
        let mut unknown: Vec<&String> = uris.iter().filter(|u| !found.contains_key(*u)).collect();
        unknown.sort();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(found);
        }
        let shown: Vec<&str> = unknown.iter().take(20).map(|u| u.as_str()).collect();
        let more = unknown.len().saturating_sub(shown.len());
        let message = if more > 0 {
            format!("unknown track URIs: {} (and {more} more)", shown.join(", "))
        } else {
            format!("unknown track URIs: {}", shown.join(", "))
        };
        Err(AppError::Validation {
            message: message.clone(),
            details: vec![FieldError::new(field, message)],
        })
    }
}
