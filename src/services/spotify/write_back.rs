//! Replacing a linked playlist's order on Spotify with ours, if Spotify
//! still holds the order ours was computed from. Only the rewrite path
//! (`services::rewrite::linked`) calls it: that path owns the write claim,
//! the automatic snapshots and the local write around it.

use super::tokens::{gone, linked_to, require_account};
use super::SpotifyService;
use crate::db::Checkout;
use crate::error::AppError;
use crate::models::playlist::Playlist;
use crate::providers::spotify::api::{self, PlaylistItem};
use crate::providers::spotify::http::{CallError, Found};
use crate::providers::spotify::Spotify;
use crate::services::playlists::MAX_TRACKS;

/// Why a write-back did not happen: before anything was written to
/// Spotify (the claim is simply released), or part-way (the playlist is
/// out of sync).
#[derive(Debug)]
pub enum WriteBackError {
    Before(AppError),
    PartWay(AppError),
}

impl WriteBackError {
    /// Whether the automatic snapshots taken for the write remain.
    pub fn keeps_snapshots(&self) -> bool {
        matches!(self, WriteBackError::PartWay(_))
    }

    pub fn into_error(self) -> AppError {
        match self {
            WriteBackError::Before(err) | WriteBackError::PartWay(err) => err,
        }
    }
}

/// Replaces the order of `playlist` on Spotify with `order`, if Spotify
/// still holds `expected`: 409 when it changed there (or holds items the
/// Web API cannot write back, named), 502 when a write failed part-way.
/// Answers Spotify's new snapshot id.
pub fn write_order(
    db: &mut Checkout,
    spotify: &Spotify,
    playlist: &Playlist,
    expected: &[String],
    order: &[String],
) -> Result<String, WriteBackError> {
    let remote_id = linked_to(playlist).map_err(WriteBackError::Before)?;
    let mut attempted = false;
    let answer = SpotifyService::with_token(db, spotify, playlist.owner_id, |api, s| {
        if attempted {
            // A token refused after a batch was written: Spotify holds
            // part of the order; do not compare again, give up.
            return Err(CallError::Failed(
                "Spotify refused the access token part-way through the write".into(),
            ));
        }
        if let Err(other_account) = require_account(playlist, &s.account_id) {
            return Ok(Err(other_account));
        }
        let Some(now_at) = api.snapshot_id(&s.token, &remote_id).found()? else {
            return Ok(Err(gone(&remote_id)));
        };
        // Spotify still at the snapshot whose items this order was read
        // from (kept only when all of them can be written back): no need to
        // read and compare the items.
        if playlist.link.snapshot_id.as_deref() == Some(now_at.as_str()) {
            attempted = true;
            return replace(api, &s.token, &remote_id, order, &mut attempted);
        }
        let Some(items) = api
            .playlist_items(&s.token, &remote_id, MAX_TRACKS)
            .found()?
        else {
            return Ok(Err(gone(&remote_id)));
        };
        let unwritable: Vec<&str> = items
            .iter()
            .map(|item| item.uri().unwrap_or("(an item Spotify no longer serves)"))
            .filter(|uri| !api::writable_uri(uri))
            .collect();
        if !unwritable.is_empty() {
            return Ok(Err(format!(
                "the Spotify playlist holds items the Web API cannot write back ({}); \
                 rewriting it would drop them",
                unwritable
                    .iter()
                    .take(10)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let remote: Vec<&str> = items.iter().filter_map(PlaylistItem::uri).collect();
        if remote != expected.iter().map(String::as_str).collect::<Vec<_>>() {
            return Ok(Err(
                "the playlist changed on Spotify; sync first (POST /api/playlists/{id}/sync)"
                    .replace("{id}", &playlist.id),
            ));
        }
        attempted = true;
        replace(api, &s.token, &remote_id, order, &mut attempted)
    });
    match answer {
        Ok((Ok(snapshot), _)) => Ok(snapshot),
        Ok((Err(conflict), _)) => Err(WriteBackError::Before(AppError::Conflict(conflict))),
        Err(err) if attempted => Err(WriteBackError::PartWay(AppError::Upstream(format!(
            "the write to Spotify stopped part-way ({err}); the playlist is marked out of \
             sync: sync it (POST /api/playlists/{}/sync)",
            playlist.id
        )))),
        Err(err) => Err(WriteBackError::Before(err)),
    }
}

/// Replaces Spotify's items with `order`. A token refused before the first
/// batch was written is given back to `with_token` to refresh and run
/// again (`attempted` reset); after it, it is a failure part-way.
fn replace(
    api: &api::Api<'_>,
    token: &str,
    remote_id: &str,
    order: &[String],
    attempted: &mut bool,
) -> Result<Result<String, String>, CallError> {
    match api.replace_items(token, remote_id, order) {
        Ok(snapshot) => Ok(Ok(snapshot)),
        Err((0, CallError::Unauthorized)) => {
            *attempted = false;
            Err(CallError::Unauthorized)
        }
        Err((_, err)) => Err(err),
    }
}
