//! Spotify playlists as raid sources: checked through the caller's
//! connection when a source is added, and read (their first 10,000 items)
//! when a scheduled raid runs.

use super::SpotifyService;
use crate::db::{self, write_transaction, Checkout, DbConnection};
use crate::error::AppResult;
use crate::models::track::NewTrack;
use crate::providers::spotify::http::Found;
use crate::providers::spotify::Spotify;
use crate::services::playlists::{TrackInput, MAX_TRACKS};

impl SpotifyService {
    /// The tracks of a Spotify playlist the user may read (a raid's
    /// source), its first 10,000 items at most, and how many items it has
    /// beyond them; `None` when Spotify has no such playlist (or not for
    /// this account).
    pub fn source_tracks(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<Option<(Vec<TrackInput>, usize)>> {
        let (found, _) = Self::with_token(db, spotify, user_id, |api, s| {
            api.first_items(&s.token, spotify_playlist_id, MAX_TRACKS)
                .found()
        })?;
        Ok(found.map(|(items, total)| {
            let unread = (total as usize).saturating_sub(items.len());
            (Self::linked_tracks(&items), unread)
        }))
    }

    /// The name of a Spotify playlist the user may read, for a new
    /// upstream source; `None` when Spotify has no such playlist.
    pub fn readable_name(
        db: &mut Checkout,
        spotify: &Spotify,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<Option<String>> {
        let (info, _) = Self::with_token(db, spotify, user_id, |api, s| {
            api.playlist(&s.token, spotify_playlist_id).found()
        })?;
        Ok(info.map(|i| i.name))
    }

    /// Adds (or refreshes) provider tracks in the catalog.
    pub fn add_to_catalog(conn: &mut DbConnection, tracks: &[TrackInput]) -> AppResult<()> {
        let now = db::now();
        let rows: Vec<NewTrack> = tracks.iter().map(|t| NewTrack::from_view(t, now)).collect();
        write_transaction(conn, |conn| NewTrack::replace_all(conn, &rows))?;
        Ok(())
    }
}
