//! Spotify playlists as raid sources: checked through the caller's
//! connection when a source is added, and read (their first 10,000 items)
//! when a scheduled raid runs.

use super::{SpotifyService, ONLY_OWN_OR_COLLABORATIVE};
use crate::db::{self, write_transaction, Checkout, DbConnection};
use crate::error::{AppError, AppResult};
use crate::models::track::NewTrack;
use crate::providers::spotify::http::{CallError, Found};
use crate::providers::spotify::Spotify;
use crate::services::playlists::{TrackInput, MAX_TRACKS};

impl SpotifyService {
    /// The tracks of a Spotify playlist the user may read (a raid's
    /// source), its first 10,000 items at most, and how many items it has
    /// beyond them; `None` when Spotify has no such playlist (or not for
    /// this account). Spotify's 403 (the account no longer owns or
    /// collaborates on it) is a 409 saying so, which fails the run.
    pub fn source_tracks(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<Option<(Vec<TrackInput>, usize)>> {
        let (found, _) = Self::with_token(db, spotify, user_id, |api, s| {
            match api.first_items(&s.token, spotify_playlist_id, MAX_TRACKS) {
                Err(CallError::Forbidden(_)) => Ok(None),
                other => other.found().map(Some),
            }
        })?;
        let found = found.ok_or_else(|| {
            AppError::Conflict(format!(
                "Spotify refused to read the source playlist {spotify_playlist_id}: \
                 {ONLY_OWN_OR_COLLABORATIVE}"
            ))
        })?;
        Ok(found.map(|(items, total)| {
            let unread = (total as usize).saturating_sub(items.len());
            (Self::linked_tracks(&items), unread)
        }))
    }

    /// The name of a Spotify playlist the user may read, for a new
    /// upstream source; `None` when Spotify has no such playlist, 400 when
    /// the account only follows it (its items could not be read).
    pub fn readable_name(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<Option<String>> {
        let (info, account) = Self::with_token(db, spotify, user_id, |api, s| {
            api.playlist(&s.token, spotify_playlist_id).found()
        })?;
        match info {
            Some(info) if !info.writable_by(&account) => Err(AppError::invalid(
                "source_playlist_id",
                format!(
                    "is {}'s Spotify playlist and you do not collaborate on it; \
                     {ONLY_OWN_OR_COLLABORATIVE}",
                    info.owner.id
                ),
            )),
            info => Ok(info.map(|i| i.name)),
        }
    }

    /// Adds (or refreshes) provider tracks in the catalog.
    pub fn add_to_catalog(conn: &mut DbConnection, tracks: &[TrackInput]) -> AppResult<()> {
        let now = db::now();
        let rows: Vec<NewTrack> = tracks.iter().map(|t| NewTrack::from_view(t, now)).collect();
        write_transaction(conn, |conn| NewTrack::replace_all(conn, &rows))?;
        Ok(())
    }
}
