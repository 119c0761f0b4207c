//! Playlists: versions, `If-Match`, the playlist activity hooks, and the
//! two mechanisms every write to a playlist goes through:
//!
//! - [`PlaylistService::with_locked`]: a write transaction holding the
//!   playlist's row lock, for every write to its aggregate (metadata,
//!   snapshots, sessions, sources), so writers of one playlist serialize on
//!   PostgreSQL's READ COMMITTED as they do under SQLite's single writer,
//!   and check-then-write rules (version, count caps) are atomic.
//! - [`PlaylistService::rewrite`]: the one way an order is replaced
//!   (shuffle, commit, restore, undo), as SPEC §10.5 decides: the new order
//!   is computed outside the write lock, written under a version check,
//!   recomputed once if the version moved, and if it moved again computed
//!   and written holding the row lock. [`PlaylistService::write_order`]
//!   takes the automatic snapshot before every rewrite, so that rule is
//!   structure rather than a convention of each caller.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::enums::{ActivityType, SnapshotType};
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::{Playlist, PlaylistChanges};
use crate::models::snapshot::Snapshot;
use crate::models::track::{NewTrack, Track, TrackView};
use crate::models::{NewActivity, User, UserSettings};
use crate::services::shuffle::TrackFacts;
use crate::services::ActivityLogService;

/// Most tracks a playlist (or a commit) may hold.
pub const MAX_TRACKS: usize = 10_000;
/// Most playlists one user may keep (SPEC §10.9).
pub const MAX_PLAYLISTS: i64 = 500;
/// Rewrites computed outside the write lock before one is computed under
/// it (SPEC §10.5: the first try, and one recompute).
const OPTIMISTIC_TRIES: usize = 2;

/// An `If-Match` precondition on a playlist's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Version(i32),
    /// A value that can match no version (malformed).
    Never,
}

impl IfMatch {
    /// Whether the client pinned a version, so a version that moved under
    /// it is a 412 rather than a reason to recompute.
    fn pins_version(if_match: Option<IfMatch>) -> bool {
        matches!(if_match, Some(IfMatch::Version(_) | IfMatch::Never))
    }
}

/// A playlist after its order was rewritten, and the automatic snapshot
/// of the order it replaced (when the owner keeps them).
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub playlist: Playlist,
    pub snapshot_id: Option<i64>,
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
        Ok(Self::view_with(playlist, tracks))
    }

    /// The view of `playlist` holding `order`, from catalog entries already
    /// read: a rewrite answers with it without reading 10,000 tracks again
    /// while it holds the write lock.
    pub fn view_of(
        playlist: &Playlist,
        order: &[String],
        catalog: &HashMap<String, Track>,
    ) -> PlaylistView {
        let tracks = order
            .iter()
            .filter_map(|uri| catalog.get(uri))
            .enumerate()
            .map(|(position, track)| PlaylistTrackView {
                position: position as i32,
                track: track.view(),
            })
            .collect();
        Self::view_with(playlist, tracks)
    }

    fn view_with(playlist: &Playlist, tracks: Vec<PlaylistTrackView>) -> PlaylistView {
        PlaylistView {
            id: playlist.id.clone(),
            name: playlist.name.clone(),
            description: playlist.description.clone(),
            is_public: playlist.is_public,
            owner_id: playlist.owner_id,
            version: playlist.version,
            tracks,
            updated_at: playlist.updated_at,
        }
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

    /// The caller's own playlist, its row locked until the transaction
    /// ends; 404 when it is not theirs. The caller holds a write
    /// transaction.
    pub fn lock_owned(conn: &mut DbConnection, user_id: i64, id: &str) -> AppResult<Playlist> {
        Playlist::lock(conn, id)?
            .filter(|p| p.owner_id == user_id)
            .ok_or(AppError::NotFound)
    }

    /// Runs `f` in a write transaction that holds the caller's playlist
    /// `id` locked (404 when it is not theirs). Every write to a
    /// playlist's aggregate goes through here or through [`Self::rewrite`].
    pub fn with_locked<T>(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
        f: impl FnOnce(&mut DbConnection, Playlist) -> AppResult<T>,
    ) -> AppResult<T> {
        write_transaction(conn, |conn| {
            let playlist = Self::lock_owned(conn, user_id, id)?;
            f(conn, playlist)
        })
    }

    /// Rewrites the order of the caller's playlist `id` (SPEC §10.5).
    ///
    /// `plan` reads what it needs and computes (the expensive part: a
    /// shuffle of 10,000 tracks), given the playlist as read; the first
    /// tries run it outside the write lock. `write` runs in the write
    /// transaction, with the playlist locked and its version unchanged
    /// since `plan` read it, and writes through [`Self::write_order`].
    /// Without `If-Match`, a version that moved under a try means
    /// recompute; the last try plans under the lock and cannot be
    /// overtaken. With `If-Match`, a version that moved is a 412.
    pub fn rewrite<P, T>(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
        if_match: Option<IfMatch>,
        mut plan: impl FnMut(&mut DbConnection, &Playlist) -> AppResult<P>,
        mut write: impl FnMut(&mut DbConnection, Playlist, P) -> AppResult<T>,
    ) -> AppResult<T> {
        for _ in 0..OPTIMISTIC_TRIES {
            let read = Self::owned(conn, user_id, id)?;
            check_version(&read, if_match)?;
            let planned = plan(conn, &read)?;
            let written = write_transaction(conn, |conn| {
                let locked = Self::lock_owned(conn, user_id, id)?;
                if locked.version != read.version {
                    return Ok(None);
                }
                write(conn, locked, planned).map(Some)
            })?;
            match written {
                Some(done) => return Ok(done),
                None if IfMatch::pins_version(if_match) => {
                    return Err(AppError::PreconditionFailed)
                }
                None => continue,
            }
        }
        write_transaction(conn, |conn| {
            let locked = Self::lock_owned(conn, user_id, id)?;
            check_version(&locked, if_match)?;
            let planned = plan(conn, &locked)?;
            write(conn, locked, planned)
        })
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
            User::lock(conn, owner.id)?;
            if Playlist::count_owned(conn, owner.id)? >= MAX_PLAYLISTS {
                return Err(AppError::Conflict(format!(
                    "at most {MAX_PLAYLISTS} playlists per user; delete one first"
                )));
            }
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
        Self::with_locked(conn, user.id, id, |conn, playlist| {
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
            let track_count = Playlist::track_count(conn, id)?;
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
        Self::with_locked(conn, user.id, id, |conn, playlist| {
            check_version(&playlist, if_match)?;
            let track_count = Playlist::track_count(conn, id)?;
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

    /// Replaces the order `current` of a locked playlist with `order`:
    /// first an automatic snapshot of `current` of the given kind (while
    /// the owner's `auto_snapshot_enabled` is on; the owner's settings are
    /// read once, here), then the new order and a new version. The caller
    /// holds the write transaction and the lock, and has checked the URIs
    /// against the catalog.
    pub fn write_order(
        conn: &mut DbConnection,
        playlist: &Playlist,
        current: &[String],
        order: &[String],
        snapshot: SnapshotType,
        description: &str,
    ) -> AppResult<Rewritten> {
        let settings = UserSettings::find_for_user(conn, playlist.owner_id)?;
        let snapshot_id = match settings.filter(|s| s.auto_snapshot_enabled) {
            Some(s) => Some(
                Snapshot::take(
                    conn,
                    playlist,
                    current,
                    snapshot,
                    Some(description.to_string()),
                    i64::from(s.max_snapshots_per_playlist),
                )?
                .id,
            ),
            None => None,
        };
        Playlist::replace_tracks(conn, &playlist.id, order)?;
        let playlist = Playlist::touch(conn, &playlist.id, true, db::now())?;
        Ok(Rewritten {
            playlist,
            snapshot_id,
        })
    }

    /// 400 naming the URIs that are not in the catalog.
    pub fn require_in_catalog(
        conn: &mut DbConnection,
        field: &str,
        uris: &[String],
    ) -> AppResult<HashMap<String, Track>> {
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
