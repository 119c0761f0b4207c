//! Listing the connected account's playlists and importing one as a
//! linked playlist here. What Spotify says of a playlist and its tracks is
//! cut to the limits a client's playlist and tracks are held to.

use std::collections::HashMap;

use serde::Serialize;

use super::{SpotifyService, ONLY_OWN_OR_COLLABORATIVE};
use crate::db::{write_transaction, Checkout, DbConnection, Pool};
use crate::enums::Provider;
use crate::error::{AppError, AppResult};
use crate::models::playlist::ProviderLink;
use crate::models::User;
use crate::providers::spotify::api::{self, PlaylistItem};
use crate::providers::spotify::http::Found;
use crate::providers::spotify::Spotify;
use crate::services::playlists::{
    NewPlaylistInput, PlaylistService, PlaylistView, TrackInput, MAX_TRACKS,
};
use crate::validate::{
    ALBUM_NAME, ARTIST_NAME, DESCRIPTION, MAX_ARTISTS, PLAYLIST_NAME, TRACK_NAME,
};

/// One of the caller's Spotify playlists.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpotifyPlaylist {
    pub spotify_playlist_id: String,
    pub name: String,
    pub track_count: u64,
    /// The owner's Spotify id.
    pub owner: String,
    /// Whether the connected account owns it.
    pub owned: bool,
    /// Whether it is collaborative (the account may change it).
    pub collaborative: bool,
    /// Whether it can be imported (or be a raid's source): owned or
    /// collaborative. Spotify only lets this app read the items of
    /// playlists the account owns or collaborates on; a playlist it only
    /// follows is listed but cannot be read.
    pub importable: bool,
    /// Whether the connected account may write its order (its own, or
    /// collaborative); the same as `importable`.
    pub writable: bool,
    /// The caller's playlist linked to it, if any.
    #[schema(required = true)]
    pub linked_playlist_id: Option<String>,
}

impl SpotifyService {
    /// A window of the caller's Spotify playlists, and Spotify's total.
    pub fn list(
        pool: &Pool,
        spotify: &Spotify,
        user: &User,
        limit: usize,
        offset: u64,
    ) -> AppResult<(Vec<SpotifyPlaylist>, u64)> {
        let mut db = Checkout::new(pool.clone());
        let ((found, total), account) = Self::with_token(&mut db, spotify, user.id, |api, s| {
            api.my_playlists(&s.token, offset, limit)
        })?;
        let linked: HashMap<String, String> =
            PlaylistService::linked_ids(db.conn()?, user.id, Provider::Spotify)?;
        let items = found
            .into_iter()
            .map(|p| SpotifyPlaylist {
                writable: p.writable_by(&account),
                importable: p.writable_by(&account),
                owned: p.owned_by(&account),
                collaborative: p.collaborative,
                track_count: p.total(),
                linked_playlist_id: linked.get(&p.id).cloned(),
                spotify_playlist_id: p.id,
                name: p.name,
                owner: p.owner.id,
            })
            .collect();
        Ok((items, total))
    }

    /// Imports a Spotify playlist as a linked local one: 409 when the
    /// caller already linked it, when the account neither owns nor
    /// collaborates on it (its items are not even read: Spotify would
    /// refuse them), or over 10,000 items.
    pub fn import(
        pool: &Pool,
        spotify: &Spotify,
        user: &User,
        spotify_playlist_id: &str,
    ) -> AppResult<PlaylistView> {
        let mut db = Checkout::new(pool.clone());
        Self::refuse_linked_twice(db.conn()?, user.id, spotify_playlist_id)?;
        let (found, account) = Self::with_token(&mut db, spotify, user.id, |api, s| {
            let Some(info) = api.playlist(&s.token, spotify_playlist_id).found()? else {
                return Ok(None);
            };
            if !info.writable_by(&s.account_id) || info.total() as usize > MAX_TRACKS {
                return Ok(Some((info, Vec::new())));
            }
            let items = api.playlist_items(&s.token, spotify_playlist_id, MAX_TRACKS)?;
            Ok(Some((info, items)))
        })?;
        let (info, items) = found.ok_or(AppError::NotFound)?;
        if !info.writable_by(&account) {
            return Err(AppError::Conflict(format!(
                "the Spotify playlist {spotify_playlist_id} belongs to {} and you do not \
                 collaborate on it; {ONLY_OWN_OR_COLLABORATIVE}, so it cannot be imported",
                info.owner.id
            )));
        }
        if info.total() as usize > MAX_TRACKS {
            return Err(AppError::Conflict(format!(
                "the Spotify playlist has {} items; at most {MAX_TRACKS} can be linked",
                info.total()
            )));
        }
        let tracks = Self::linked_tracks(&items);
        let added = Self::linked_added_at(&items);
        // Spotify's snapshot is kept only when every item is in the copy:
        // a rewrite may then trust it without reading the items again.
        let whole = tracks.len() == items.len();
        let name: String = match info.name.trim() {
            "" => "Untitled Spotify playlist".to_string(),
            name => PLAYLIST_NAME.truncate(name).to_string(),
        };
        let input = NewPlaylistInput {
            name,
            description: DESCRIPTION
                .truncate(info.description.as_deref().unwrap_or_default())
                .to_string(),
            is_public: false,
            tracks,
        };
        let link = ProviderLink::spotify(
            spotify_playlist_id,
            &account,
            whole.then_some(info.snapshot_id),
        );
        write_transaction(db.conn()?, |conn| {
            // The owner's lock first, so a parallel import of the same
            // playlist waits here and then finds this one's link.
            User::lock(conn, user.id)?;
            Self::refuse_linked_twice(conn, user.id, spotify_playlist_id)?;
            PlaylistService::create_linked(conn, user, &input, link, &added)
        })
    }

    fn refuse_linked_twice(
        conn: &mut DbConnection,
        user_id: i64,
        spotify_playlist_id: &str,
    ) -> AppResult<()> {
        match PlaylistService::find_linked(conn, user_id, Provider::Spotify, spotify_playlist_id)? {
            Some(linked) => Err(AppError::Conflict(format!(
                "the Spotify playlist {spotify_playlist_id} is already linked as playlist {}",
                linked.id
            ))),
            None => Ok(()),
        }
    }

    /// The writable items as tracks of a linked playlist, their text cut
    /// to the catalog's limits. Tempo stays unknown: Spotify serves no
    /// audio features to a development-mode app, so only a client can give
    /// one.
    pub(super) fn linked_tracks(items: &[PlaylistItem]) -> Vec<TrackInput> {
        items
            .iter()
            .filter_map(Self::linked_item)
            .map(|t| TrackInput {
                uri: t.uri.clone(),
                name: TRACK_NAME.truncate(&t.name).to_string(),
                artists: match (&t.show, t.artists.is_empty()) {
                    (Some(show), true) => vec![ARTIST_NAME.truncate(&show.name).to_string()],
                    _ => t
                        .artists
                        .iter()
                        .take(MAX_ARTISTS)
                        .map(|a| ARTIST_NAME.truncate(&a.name).to_string())
                        .collect(),
                },
                album_name: t
                    .album
                    .as_ref()
                    .or(t.show.as_ref())
                    .map(|a| ALBUM_NAME.truncate(&a.name).to_string()),
                duration_ms: i32::try_from(t.duration_ms).unwrap_or(i32::MAX),
                tempo: None,
            })
            .collect()
    }

    /// Spotify's added time of each item [`Self::linked_tracks`] keeps, in
    /// the same order.
    pub(super) fn linked_added_at(items: &[PlaylistItem]) -> Vec<Option<i64>> {
        items
            .iter()
            .filter(|entry| Self::linked_item(entry).is_some())
            .map(|entry| entry.added_at)
            .collect()
    }

    /// The item of an entry a linked playlist keeps: a track or an episode
    /// the Web API can write back, not a local file.
    fn linked_item(entry: &PlaylistItem) -> Option<&api::Playable> {
        entry
            .item
            .as_ref()
            .filter(|t| !t.is_local && api::writable_uri(&t.uri))
    }
}
