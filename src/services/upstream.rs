//! Upstream sources: the playlists a target's raids pull from. Adding is
//! idempotent (the existing row comes back, unlogged); the source must be a
//! playlist the user may read (own, or someone's public one), never the
//! target itself. A `spotify` source is a Spotify playlist the connected
//! account owns or collaborates on (Spotify lets this app read no other),
//! named by its Spotify id and checked through the caller's connection
//! when added; raids read it from Spotify. A `spotify_liked` source (id
//! `liked`) is the connected account's Liked Songs, read by raids oldest
//! liked first.

use crate::db::{self, Checkout, DbConnection, Pool};
use crate::enums::SourceType;
use crate::error::{AppError, AppResult};
use crate::models::upstream_source::{NewUpstreamSource, UpstreamSource};
use crate::models::{NewActivity, User};
use crate::providers::spotify::Spotify;
use crate::services::playlists::PlaylistService;
use crate::services::spotify::SpotifyService;
use crate::services::ActivityLogService;

#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    pub source_playlist_id: String,
    pub source_type: Option<SourceType>,
    pub source_url: Option<String>,
    pub source_name: Option<String>,
}

/// Upstream sources one playlist may take (docs/api.md, "Limits").
pub const MAX_SOURCES: usize = 20;

/// The `source_playlist_id` of a `spotify_liked` source.
pub const LIKED_ID: &str = "liked";
/// The name a Liked Songs source is given.
const LIKED_SONGS: &str = "Liked Songs";

pub struct UpstreamService;

impl UpstreamService {
    pub fn list(
        conn: &mut DbConnection,
        user: &User,
        target: &str,
    ) -> AppResult<Vec<UpstreamSource>> {
        PlaylistService::owned(conn, user.id, target)?;
        Ok(UpstreamSource::list_for_target(conn, user.id, target)?)
    }

    /// Adds a source that is a playlist here. `(source, created)`.
    pub fn add(
        conn: &mut DbConnection,
        user: &User,
        target: &str,
        input: &SourceInput,
    ) -> AppResult<(UpstreamSource, bool)> {
        if matches!(
            input.source_type,
            Some(SourceType::Spotify | SourceType::SpotifyLiked)
        ) {
            return Err(AppError::invalid(
                "source_type",
                "a Spotify source is added through Spotify (is Spotify configured?)",
            ));
        }
        Self::add_resolved(conn, user, target, input, |conn| {
            if input.source_playlist_id == target {
                return Err(AppError::invalid(
                    "source_playlist_id",
                    "a playlist cannot be its own source",
                ));
            }
            let source = PlaylistService::find_readable(conn, user.id, &input.source_playlist_id)?
                .ok_or_else(|| {
                    AppError::invalid("source_playlist_id", "is not a playlist you can read")
                })?;
            let default_type = if source.owner_id == user.id {
                SourceType::Own
            } else {
                SourceType::External
            };
            Ok((input.source_type.unwrap_or(default_type), source.name))
        })
    }

    /// Adds a Spotify playlist (own or collaborative) as a source of `target`,
    /// checked through the caller's connection, with no connection held
    /// while Spotify answers (docs/spotify.md). `(source, created)`.
    pub fn add_spotify(
        pool: &Pool,
        spotify: &Spotify,
        user: &User,
        target: &str,
        input: &SourceInput,
    ) -> AppResult<(UpstreamSource, bool)> {
        let mut db = Checkout::new(pool.clone());
        let conn = db.conn()?;
        PlaylistService::owned(conn, user.id, target)?;
        if let Some(existing) =
            UpstreamSource::find(conn, user.id, target, &input.source_playlist_id)?
        {
            return Ok((existing, false));
        }
        let name =
            SpotifyService::readable_name(&mut db, spotify, user.id, &input.source_playlist_id)?
                .ok_or_else(|| {
                    AppError::invalid(
                        "source_playlist_id",
                        "is not a Spotify playlist the connected account can read",
                    )
                })?;
        Self::add_resolved(db.conn()?, user, target, input, |_| {
            Ok((SourceType::Spotify, name))
        })
    }

    /// Adds the connected account's Liked Songs as a source of `target`:
    /// 409 when the connection may not read them (connect again). No call
    /// to Spotify: raids read them. `(source, created)`.
    pub fn add_spotify_liked(
        conn: &mut DbConnection,
        user: &User,
        target: &str,
        input: &SourceInput,
    ) -> AppResult<(UpstreamSource, bool)> {
        PlaylistService::owned(conn, user.id, target)?;
        SpotifyService::require_library_scope(conn, user.id)?;
        Self::add_resolved(conn, user, target, input, |_| {
            Ok((SourceType::SpotifyLiked, LIKED_SONGS.to_string()))
        })
    }

    /// The shared part of adding: under the target's lock, `resolve` checks
    /// the source and gives its type and name; an existing source comes
    /// back unlogged, a new one within the cap is inserted and logged.
    fn add_resolved(
        conn: &mut DbConnection,
        user: &User,
        target: &str,
        input: &SourceInput,
        resolve: impl FnOnce(&mut DbConnection) -> AppResult<(SourceType, String)>,
    ) -> AppResult<(UpstreamSource, bool)> {
        PlaylistService::with_locked(conn, user.id, target, |conn, target_playlist| {
            let (source_type, source_name) = resolve(conn)?;
            let source_id = &input.source_playlist_id;
            if let Some(existing) = UpstreamSource::find(conn, user.id, target, source_id)? {
                return Ok((existing, false));
            }
            if UpstreamSource::list_for_target(conn, user.id, target)?.len() >= MAX_SOURCES {
                return Err(AppError::Conflict(format!(
                    "a playlist takes at most {MAX_SOURCES} upstream sources; remove one first"
                )));
            }
            let new = NewUpstreamSource {
                user_id: user.id,
                target_playlist_id: target.to_string(),
                source_playlist_id: source_id.clone(),
                source_type,
                source_url: input.source_url.clone(),
                source_name: input.source_name.clone().or(Some(source_name.clone())),
                created_at: db::now(),
            };
            let Some(created) = new.insert_if_new(conn)? else {
                // Added by a concurrent request after our look-up.
                let existing = UpstreamSource::find(conn, user.id, target, source_id)?
                    .ok_or(AppError::NotFound)?;
                return Ok((existing, false));
            };
            ActivityLogService::log(
                conn,
                NewActivity::upstream_source_add(user, &target_playlist, &source_name, &created),
            );
            Ok((created, true))
        })
    }

    pub fn owned(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<UpstreamSource> {
        UpstreamSource::find_owned(conn, user.id, id)?.ok_or(AppError::NotFound)
    }

    pub fn delete(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        let source = UpstreamSource::find_owned(conn, user.id, id)?.ok_or(AppError::NotFound)?;
        PlaylistService::with_locked(conn, user.id, &source.target_playlist_id, |conn, target| {
            // Read again under the lock: a parallel delete may have won.
            let source =
                UpstreamSource::find_owned(conn, user.id, id)?.ok_or(AppError::NotFound)?;
            UpstreamSource::delete(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::upstream_source_delete(user, &target, &source),
            );
            Ok(())
        })
    }
}
