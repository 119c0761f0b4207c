//! Playlists: their CRUD, views and reads, versions and `If-Match`, and
//! the playlist activity rows. Other services ask this one for a playlist,
//! its tracks or its URIs; the only other writer of the playlist model is
//! `services::rewrite`, which rewrites orders (and a linked playlist's
//! provider columns) for every kind of rewrite.
//!
//! [`PlaylistService::with_locked`] is a write transaction holding the
//! playlist's row lock, for every write to its aggregate (metadata,
//! snapshots, sessions, sources), so writers of one playlist serialize on
//! PostgreSQL's READ COMMITTED as they do under SQLite's single writer, and
//! check-then-write rules (version, count caps) are atomic.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::db::{self, write_transaction, DbConnection};
use crate::enums::Provider;
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::{Playlist, PlaylistChanges, ProviderLink, Rotation, RotationColumns};
use crate::models::snapshot::Snapshot;
use crate::models::track::{NewTrack, Track, TrackView};
use crate::models::workshop_session::WorkshopSession;
use crate::models::{Changes, NewActivity, User};
use crate::services::ActivityLogService;

/// Most tracks a playlist (or a commit) may hold.
pub const MAX_TRACKS: usize = 10_000;
/// Most playlists one user may keep (docs/api.md, "Limits").
pub const MAX_PLAYLISTS: i64 = 500;
/// An `If-Match` precondition on a playlist's version, compared strongly
/// (RFC 9110 §13.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: whatever version the playlist is at.
    Any,
    /// The versions named by the strong entity tags of the list; any of
    /// them matches. Empty when the value named none (only weak tags, or a
    /// malformed value): it matches nothing.
    Versions(Vec<i32>),
}

impl IfMatch {
    /// Whether the client pinned a version, so a version that moved under
    /// it is a 412 rather than a reason to recompute.
    pub fn pins_version(if_match: Option<&IfMatch>) -> bool {
        matches!(if_match, Some(IfMatch::Versions(_)))
    }
}

/// A playlist after its order was rewritten, and the automatic snapshot
/// of the order it replaced (when the owner keeps them).
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub playlist: Playlist,
    pub snapshot_id: Option<i64>,
    /// Spotify's snapshot after the new order was written there, for a
    /// linked playlist (docs/spotify.md: its row and answer carry it).
    pub spotify_snapshot_id: Option<String>,
}

/// 412 unless the precondition holds for `playlist`.
pub fn check_version(playlist: &Playlist, if_match: Option<&IfMatch>) -> AppResult<()> {
    match if_match {
        None | Some(IfMatch::Any) => Ok(()),
        Some(IfMatch::Versions(versions)) if versions.contains(&playlist.version) => Ok(()),
        Some(IfMatch::Versions(_)) => Err(AppError::PreconditionFailed),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PlaylistTrack)]
pub struct PlaylistTrackView {
    pub position: i32,
    #[serde(flatten)]
    pub track: TrackView,
}

/// A playlist with its tracks, as `GET /api/playlists/{id}` answers it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Playlist)]
pub struct PlaylistView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub owner_id: i64,
    pub version: i32,
    /// `local`, or `spotify` for a playlist linked to Spotify.
    pub provider: Provider,
    /// The linked Spotify playlist; only on a linked playlist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotify_playlist_id: Option<String>,
    /// The pinned slots, sorted (see `PATCH /api/playlists/{id}`).
    #[schema(schema_with = crate::validate::schema::pinned_positions)]
    pub pinned_positions: Vec<usize>,
    pub tracks: Vec<PlaylistTrackView>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: chrono::NaiveDateTime,
    /// Its rotation (docs/api.md, "Rotation"), or `null`.
    pub rotation: Option<Rotation>,
}

/// The answer to a request that may rewrite a playlist's order (shuffle,
/// workshop commit): the playlist as it now is, whether the order changed,
/// and the automatic snapshot taken first, if any.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "playlist": {"id": "XiZ9cSNar5OCsS1r8dQ7bR", "name": "Road Trip", "description": "",
        "is_public": false, "owner_id": 1, "version": 2, "pinned_positions": [], "tracks": [
            {"position": 0, "uri": "demo:2", "name": "Echo", "artists": ["Kite Theory"],
             "album_name": null, "duration_ms": 0, "tempo": 128.0},
            {"position": 1, "uri": "demo:1", "name": "Lantern", "artists": ["Neon Harbor"],
             "album_name": "Night Ferry", "duration_ms": 0, "tempo": 96.0}],
        "updated_at": "2026-12-04T03:32:08.772999Z"},
    "changed": true, "snapshot_id": 1
}))]
pub struct PlaylistChange {
    pub playlist: PlaylistView,
    pub changed: bool,
    pub snapshot_id: Option<i64>,
    /// `spotify` when the new order was written to Spotify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// Spotify's snapshot after the write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotify_snapshot_id: Option<String>,
}

impl PlaylistChange {
    /// The answer after `rewrite::replace_order` put `order` in
    /// `playlist` (`written`), or found it already there (`None`).
    pub fn new(
        playlist: &Playlist,
        written: Option<&Rewritten>,
        order: &[String],
        catalog: &HashMap<String, Track>,
    ) -> Self {
        match written {
            None => PlaylistChange {
                playlist: PlaylistService::view_of(playlist, order, catalog),
                changed: false,
                snapshot_id: None,
                provider: None,
                spotify_snapshot_id: None,
            },
            Some(done) => PlaylistChange {
                playlist: PlaylistService::view_of(&done.playlist, order, catalog),
                changed: true,
                snapshot_id: done.snapshot_id,
                provider: done.spotify_snapshot_id.as_ref().map(|_| Provider::Spotify),
                spotify_snapshot_id: done.spotify_snapshot_id.clone(),
            },
        }
    }
}

/// A playlist in a listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlaylistSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub is_public: bool,
    pub track_count: i64,
    pub version: i32,
    pub provider: Provider,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: chrono::NaiveDateTime,
    /// Its rotation, or `null`.
    pub rotation: Option<Rotation>,
}

/// One track of a new playlist, validated: the fields a client reads back.
pub type TrackInput = TrackView;

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

pub struct PlaylistService;

impl PlaylistService {
    pub fn view(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<PlaylistView> {
        let tracks = Self::tracks(conn, playlist)?
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
            provider: playlist.link.provider,
            spotify_playlist_id: playlist.link.playlist_id.clone(),
            pinned_positions: playlist.pinned().into_iter().collect(),
            tracks,
            updated_at: playlist.updated_at,
            rotation: playlist.rotation.get(),
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
                provider: p.link.provider,
                updated_at: p.updated_at,
                rotation: p.rotation.get(),
            })
            .collect();
        Ok((items, total))
    }

    /// The caller's own playlist or 404.
    pub fn owned(conn: &mut DbConnection, user_id: i64, id: &str) -> AppResult<Playlist> {
        Self::find_owned(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    /// The caller's own playlist, if it is theirs.
    pub fn find_owned(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
    ) -> AppResult<Option<Playlist>> {
        Ok(Playlist::find_owned(conn, user_id, id)?)
    }

    /// A playlist the caller may read: their own, or someone's public one.
    pub fn find_readable(
        conn: &mut DbConnection,
        user_id: i64,
        id: &str,
    ) -> AppResult<Option<Playlist>> {
        Ok(Playlist::find_readable(conn, user_id, id)?)
    }

    /// A playlist the caller may read, or 404.
    pub fn readable(conn: &mut DbConnection, user_id: i64, id: &str) -> AppResult<Playlist> {
        Self::find_readable(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    /// A playlist's tracks with their positions, in order, as its owner
    /// described them.
    pub fn tracks(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<Vec<(i32, Track)>> {
        Ok(Playlist::tracks(conn, &playlist.id, playlist.owner_id)?)
    }

    /// A playlist's track URIs, in order.
    pub fn track_uris(conn: &mut DbConnection, playlist: &Playlist) -> AppResult<Vec<String>> {
        Ok(Playlist::track_uris(conn, &playlist.id)?)
    }

    /// The caller's playlist linked to `provider`'s playlist
    /// `provider_playlist_id`, if any.
    pub fn find_linked(
        conn: &mut DbConnection,
        user_id: i64,
        provider: Provider,
        provider_playlist_id: &str,
    ) -> AppResult<Option<Playlist>> {
        Ok(Playlist::find_linked(
            conn,
            user_id,
            provider,
            provider_playlist_id,
        )?)
    }

    /// The caller's playlists linked to `provider`, by the provider's id.
    pub fn linked_ids(
        conn: &mut DbConnection,
        user_id: i64,
        provider: Provider,
    ) -> AppResult<HashMap<String, String>> {
        Ok(Playlist::linked_ids(conn, user_id, provider)?
            .into_iter()
            .filter_map(|(provider_id, id)| Some((provider_id?, id)))
            .collect())
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
    /// playlist's aggregate goes through here, or through
    /// `services::rewrite` for its order.
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

    /// Creates a playlist, adds its tracks to the catalog, logs
    /// `playlist_create`.
    pub fn create(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            let (playlist, track_count) =
                Self::insert(conn, owner, input, ProviderLink::local(), None)?;
            ActivityLogService::log(
                conn,
                NewActivity::playlist_create(owner, &playlist, track_count),
            );
            Self::view(conn, &playlist)
        })
    }

    /// Creates a playlist linked to a provider's (an import), its tracks'
    /// fields taken from the provider and each entry added when the
    /// provider says (`added[i]` for `input.tracks[i]`, else now); logs
    /// `playlist_create` with the provider. The caller holds a write
    /// transaction.
    pub fn create_linked(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
        link: ProviderLink,
        added: &[Option<i64>],
    ) -> AppResult<PlaylistView> {
        let (playlist, track_count) = Self::insert(conn, owner, input, link, Some(added))?;
        ActivityLogService::log(
            conn,
            NewActivity::playlist_import(owner, &playlist, track_count),
        );
        Self::view(conn, &playlist)
    }

    /// Creates a playlist as [`Self::create`] does but logs nothing: for
    /// the demo's playlists, whose history the demo writes itself, back-dated.
    pub fn create_unlogged(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            let (playlist, _) = Self::insert(conn, owner, input, ProviderLink::local(), None)?;
            Self::view(conn, &playlist)
        })
    }

    /// The rows of a new playlist and its catalog entries, under the
    /// owner's lock (the per-user cap); returns it and its track count.
    /// Its entries are added now, or when `added` says (an import's).
    fn insert(
        conn: &mut DbConnection,
        owner: &User,
        input: &NewPlaylistInput,
        link: ProviderLink,
        added: Option<&[Option<i64>]>,
    ) -> AppResult<(Playlist, usize)> {
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
            .map(|t| NewTrack::from_view(t, now))
            .collect();
        if link.is_linked() {
            NewTrack::replace_all(conn, owner.id, &catalog)?;
        } else {
            NewTrack::record_own(conn, owner.id, &catalog)?;
        }
        let playlist = Playlist {
            id: new_playlist_id(),
            owner_id: owner.id,
            name: input.name.trim().to_string(),
            description: input.description.clone(),
            is_public: input.is_public,
            version: 1,
            created_at: now,
            updated_at: now,
            pinned_positions: Playlist::pins_json(&BTreeSet::new()),
            rotation: Default::default(),
            link,
        };
        playlist.insert(conn)?;
        let uris: Vec<String> = input.tracks.iter().map(|t| t.uri.clone()).collect();
        Playlist::replace_tracks_added(conn, &playlist.id, &uris, added)?;
        Ok((playlist, uris.len()))
    }

    /// Applies a metadata change. A change that changes nothing writes and
    /// logs nothing; `version` moves when the name, the description, the
    /// pinned positions or the rotation did (they change what a shuffle or
    /// a raid does), not for `is_public`. `rotation`: absent (`None`),
    /// cleared (`Some(None)`) or set; an archive that is not the owner's,
    /// is the playlist itself or leads back to it is a 400.
    pub fn update(
        conn: &mut DbConnection,
        user: &User,
        id: &str,
        changes: PlaylistChanges,
        rotation: Option<Option<Rotation>>,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            // Rotation: the owner's lock first, so two changes that would
            // each close a loop of archives cannot both pass the check.
            if rotation.is_some() {
                User::lock(conn, user.id)?;
            }
            let playlist = Self::lock_owned(conn, user.id, id)?;
            check_version(&playlist, if_match.as_ref())?;
            if let Some(Some(new)) = &rotation {
                check_archive(conn, user.id, id, new)?;
            }
            let changes = PlaylistChanges {
                name: changes
                    .name
                    .map(|n| n.trim().to_string())
                    .filter(|n| *n != playlist.name),
                description: changes.description.filter(|d| *d != playlist.description),
                is_public: changes.is_public.filter(|p| *p != playlist.is_public),
                // Pinned positions.
                pinned_positions: changes
                    .pinned_positions
                    .filter(|p| *p != playlist.pinned_positions),
            };
            let changed = Changes::new()
                .field(
                    "name",
                    &playlist.name,
                    changes.name.as_ref().unwrap_or(&playlist.name),
                )
                .field(
                    "description",
                    &playlist.description,
                    changes
                        .description
                        .as_ref()
                        .unwrap_or(&playlist.description),
                )
                .field(
                    "is_public",
                    &playlist.is_public,
                    changes.is_public.as_ref().unwrap_or(&playlist.is_public),
                )
                // Pinned positions.
                .field(
                    "pinned_positions",
                    &playlist.pinned_positions,
                    changes
                        .pinned_positions
                        .as_ref()
                        .unwrap_or(&playlist.pinned_positions),
                );
            // Rotation: `{max_tracks, archive_playlist_id}` or null.
            let old_rotation = playlist.rotation.get();
            let new_rotation = rotation.unwrap_or_else(|| old_rotation.clone());
            let rotation_changed = new_rotation != old_rotation;
            let changed = changed.field("rotation", &old_rotation, &new_rotation);
            if changed.is_empty() {
                return Self::view(conn, &playlist);
            }
            if changes.name.is_some()
                || changes.description.is_some()
                || changes.is_public.is_some()
                || changes.pinned_positions.is_some()
            {
                Playlist::apply(conn, id, &changes)?;
            }
            if rotation_changed {
                Playlist::set_rotation(conn, id, &RotationColumns::of(new_rotation.as_ref()))?;
            }
            let new_version = changes.name.is_some()
                || changes.description.is_some()
                || changes.pinned_positions.is_some()
                || rotation_changed;
            let updated = Playlist::touch(conn, id, new_version, db::now())?;
            let track_count = Playlist::track_count(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::playlist_update(user, &updated, track_count, &changed),
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
            // Another user's or an unknown playlist is a 404 before any lock.
            Self::owned(conn, user.id, id)?;
            // The owner's lock: a PATCH that points a rotation at this
            // playlist holds it too, so the list below cannot grow before
            // the delete (a playlist that started archiving here after the
            // list was read would be locked by a raid while the delete,
            // holding this one, clears its archive: a deadlock).
            User::lock(conn, user.id)?;
            // The playlists that archive into this one lose their archive
            // (ON DELETE SET NULL): locked first, as a raid of theirs locks
            // them before their archive.
            for target in Playlist::archiving_into(conn, id)? {
                Playlist::lock(conn, &target)?;
            }
            let playlist = Self::lock_owned(conn, user.id, id)?;
            check_version(&playlist, if_match.as_ref())?;
            let track_count = Playlist::track_count(conn, id)?;
            Playlist::delete(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::playlist_delete(user, &playlist, track_count),
            );
            Ok(())
        })
    }

    /// The catalog entries of `uris` as `user_id` sees them; 400 naming
    /// the URIs the catalog does not have.
    pub fn require_in_catalog(
        conn: &mut DbConnection,
        user_id: i64,
        field: &str,
        uris: &[String],
    ) -> AppResult<HashMap<String, Track>> {
        let found = Track::facts_for(conn, user_id, uris)?;
        let unknown: Vec<&str> = uris
            .iter()
            .filter(|u| !found.contains_key(*u))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            return Ok(found);
        }
        Err(naming(field, "unknown track URIs", unknown))
    }

    /// [`Self::require_in_catalog`] for URIs a client sent in an order:
    /// each must be one the user holds, in a playlist, a snapshot or a
    /// workshop session of theirs (400 naming those that are not), so no
    /// client orders tracks by facts it never had. The snapshots and
    /// sessions are read one at a time, and only for URIs no playlist of
    /// the user holds.
    pub fn require_held(
        conn: &mut DbConnection,
        user_id: i64,
        field: &str,
        uris: &[String],
    ) -> AppResult<HashMap<String, Track>> {
        let mut missing: BTreeSet<&str> = uris.iter().map(String::as_str).collect();
        let wanted: Vec<&str> = missing.iter().copied().collect();
        for held in Playlist::held_uris(conn, user_id, &wanted)? {
            missing.remove(held.as_str());
        }
        if !missing.is_empty() {
            for id in Snapshot::ids_of_user(conn, user_id)? {
                for uri in Snapshot::track_uris_of(conn, id)? {
                    missing.remove(uri.as_str());
                }
                if missing.is_empty() {
                    break;
                }
            }
        }
        if !missing.is_empty() {
            for id in WorkshopSession::ids_of_user(conn, user_id)? {
                for uri in WorkshopSession::track_uris_of(conn, id)? {
                    missing.remove(uri.as_str());
                }
                if missing.is_empty() {
                    break;
                }
            }
        }
        if !missing.is_empty() {
            return Err(naming(
                field,
                "track URIs not in any playlist, snapshot or workshop session of yours",
                missing.into_iter().collect(),
            ));
        }
        Self::require_in_catalog(conn, user_id, field, uris)
    }
}

/// 400 unless a rotation of `id` may archive where `rotation` says: into
/// another playlist of the owner's whose own archive does not lead back to
/// `id` (followed through each archive's archive: a loop of archives could
/// deadlock two raids). Another user's playlist reads as unknown here, a
/// 400 like an unknown id, not a 404: the playlist being changed exists.
fn check_archive(
    conn: &mut DbConnection,
    owner_id: i64,
    id: &str,
    rotation: &Rotation,
) -> AppResult<()> {
    const FIELD: &str = "rotation.archive_playlist_id";
    let Some(archive_id) = rotation.archive_playlist_id.as_deref() else {
        return Ok(());
    };
    if archive_id == id {
        return Err(AppError::invalid(
            FIELD,
            "a playlist cannot be its own archive",
        ));
    }
    let mut next = Playlist::find_owned(conn, owner_id, archive_id)?
        .ok_or_else(|| AppError::invalid(FIELD, "is not a playlist of yours"))?
        .rotation
        .archive_playlist_id;
    // Each step is another playlist of the owner's: the cap bounds the walk.
    for _ in 0..MAX_PLAYLISTS {
        match next {
            None => return Ok(()),
            Some(step) if step == id => {
                return Err(AppError::invalid(
                    FIELD,
                    "that playlist's rotation archives into this one (directly or through \
                     its archive's archive)",
                ))
            }
            Some(step) => {
                next = Playlist::find_owned(conn, owner_id, &step)?
                    .and_then(|p| p.rotation.archive_playlist_id)
            }
        }
    }
    Ok(())
}

/// 400 on `field`: `what`, naming the first 20 of `uris` (each once).
fn naming(field: &str, what: &str, mut uris: Vec<&str>) -> AppError {
    uris.sort_unstable();
    uris.dedup();
    let shown = &uris[..uris.len().min(20)];
    let more = uris.len() - shown.len();
    let message = if more > 0 {
        format!("{what}: {} (and {more} more)", shown.join(", "))
    } else {
        format!("{what}: {}", shown.join(", "))
    };
    AppError::Validation {
        message: message.clone(),
        details: vec![FieldError::new(field, message)],
    }
}
