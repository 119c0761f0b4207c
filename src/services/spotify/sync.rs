//! Pulling Spotify's order into a linked playlist: a sync that finds
//! another order there takes an `auto_pre_sync` snapshot, bumps the
//! version and logs `playlist_sync` (so undo reverts it, and writes the
//! old order back to Spotify); one that finds the same order writes and
//! logs nothing.

use std::collections::HashMap;

use serde::Serialize;

use super::tokens::{gone, linked_to, require_account};
use super::SpotifyService;
use crate::db::{self, write_transaction, Checkout, DbConnection, Pool};
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::models::track::NewTrack;
use crate::models::{NewActivity, SyncCounts, User};
use crate::providers::spotify::http::Found;
use crate::providers::spotify::Spotify;
use crate::services::playlists::{
    check_version, IfMatch, PlaylistService, PlaylistView, TrackInput, MAX_TRACKS,
};
use crate::services::rewrite::linked::{claim_is_live, mark_in_sync, write_under_way};
use crate::services::rewrite::order::{replace_order, Rewrite, RewriteTarget};
use crate::services::ActivityLogService;

/// Reads of Spotify a sync makes before it gives up on a playlist that
/// keeps changing under it.
const SYNC_TRIES: usize = 3;

/// `POST /api/playlists/{id}/sync`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncAnswer {
    pub playlist: PlaylistView,
    pub changed: bool,
    pub added: usize,
    pub removed: usize,
    pub reordered: bool,
}

impl SpotifyService {
    /// Pulls Spotify's order into a linked playlist; 409 while a write to
    /// Spotify is under way, for a local playlist, or when the playlist is
    /// gone from Spotify.
    pub fn sync(
        pool: &Pool,
        spotify: &Spotify,
        user: &User,
        playlist_id: &str,
        if_match: Option<IfMatch>,
    ) -> AppResult<SyncAnswer> {
        let mut db = Checkout::new(pool.clone());
        for _ in 0..SYNC_TRIES {
            let read = PlaylistService::owned(db.conn()?, user.id, playlist_id)?;
            let remote_id = linked_to(&read)?;
            check_version(&read, if_match.as_ref())?;
            if claim_is_live(&read.link, db::now()) {
                return Err(write_under_way());
            }
            let (fetched, _) = Self::with_token(&mut db, spotify, user.id, |api, s| {
                if let Err(other_account) = require_account(&read, &s.account_id) {
                    return Ok(Err(other_account));
                }
                let found = api.playlist(&s.token, &remote_id).and_then(|info| {
                    Ok((info, api.playlist_items(&s.token, &remote_id, MAX_TRACKS)?))
                });
                Ok(found.found()?.ok_or_else(|| gone(&remote_id)))
            })?;
            let (info, items) = fetched.map_err(AppError::Conflict)?;
            let tracks = Self::linked_tracks(&items);
            let added = Self::linked_added_at(&items);
            let whole = tracks.len() == items.len();
            let written = write_transaction(db.conn()?, |conn| {
                let locked = PlaylistService::lock_owned(conn, user.id, playlist_id)?;
                check_version(&locked, if_match.as_ref())?;
                // A rewrite wrote here and to Spotify after we read Spotify:
                // what we read is older than both; read again.
                if locked.version != read.version || locked.link != read.link {
                    return Ok(None);
                }
                Self::pull(
                    conn,
                    user,
                    locked,
                    &tracks,
                    &added,
                    &info.snapshot_id,
                    whole,
                )
                .map(Some)
            })?;
            if let Some(answer) = written {
                return Ok(answer);
            }
        }
        Err(AppError::Conflict(format!(
            "the playlist changed {SYNC_TRIES} times while it was being synced; try again"
        )))
    }

    /// Writes Spotify's order (`tracks`, added at `added`, at `snapshot`;
    /// `whole` when every item is in the copy, else the snapshot is not
    /// kept) into the locked
    /// linked playlist: nothing when it is already there (only an out of
    /// sync mark is cleared), else with an `auto_pre_sync` snapshot, a new
    /// version and a `playlist_sync` row.
    fn pull(
        conn: &mut DbConnection,
        user: &User,
        locked: Playlist,
        tracks: &[TrackInput],
        added: &[Option<i64>],
        snapshot: &str,
        whole: bool,
    ) -> AppResult<SyncAnswer> {
        let kept = whole.then_some(snapshot);
        let current = PlaylistService::track_uris(conn, &locked)?;
        let remote: Vec<String> = tracks.iter().map(|t| t.uri.clone()).collect();
        let counts = compare(&current, &remote);
        if current == remote {
            mark_in_sync(conn, &locked, kept)?;
            return Ok(SyncAnswer {
                playlist: PlaylistService::view(conn, &locked)?,
                changed: false,
                added: 0,
                removed: 0,
                reordered: false,
            });
        }
        let now = db::now();
        let new_tracks: Vec<NewTrack> =
            tracks.iter().map(|t| NewTrack::from_view(t, now)).collect();
        NewTrack::replace_all(conn, locked.owner_id, &new_tracks)?;
        let target = RewriteTarget::synced(locked, kept, added.to_vec());
        let written = replace_order(conn, &target, &current, &remote, Rewrite::Sync)?
            .ok_or_else(|| AppError::Internal("a changed sync wrote nothing".into()))?;
        ActivityLogService::log(
            conn,
            NewActivity::playlist_sync(
                user,
                &written.playlist,
                counts,
                written.snapshot_id,
                snapshot,
            ),
        );
        Ok(SyncAnswer {
            playlist: PlaylistService::view(conn, &written.playlist)?,
            changed: true,
            added: counts.added,
            removed: counts.removed,
            reordered: counts.reordered,
        })
    }
}

/// What changed from `before` to `after`: items added and removed, counted
/// with repeats, and whether the items kept on both sides changed order.
pub fn compare(before: &[String], after: &[String]) -> SyncCounts {
    let mut left: HashMap<&str, i64> = HashMap::new();
    for uri in before {
        *left.entry(uri).or_default() += 1;
    }
    for uri in after {
        *left.entry(uri).or_default() -= 1;
    }
    let removed = left.values().filter(|n| **n > 0).sum::<i64>() as usize;
    let added = left.values().filter(|n| **n < 0).map(|n| -n).sum::<i64>() as usize;
    // The common items, in each order: a multiset intersection.
    let kept = |from: &[String], other: &[String]| -> Vec<String> {
        let mut budget: HashMap<&str, usize> = HashMap::new();
        for uri in other {
            *budget.entry(uri).or_default() += 1;
        }
        from.iter()
            .filter(|uri| {
                let n = budget.entry(uri.as_str()).or_default();
                if *n > 0 {
                    *n -= 1;
                    true
                } else {
                    false
                }
            })
            .cloned()
            .collect()
    };
    let reordered = kept(before, after) != kept(after, before);
    SyncCounts {
        added,
        removed,
        reordered,
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use crate::models::SyncCounts;

    fn uris(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn compare_counts_additions_removals_and_reordering() {
        let same = compare(&uris("a b c"), &uris("a b c"));
        assert_eq!(same, SyncCounts::default());
        assert_eq!(
            compare(&uris("a b c"), &uris("c a b")),
            SyncCounts {
                added: 0,
                removed: 0,
                reordered: true
            }
        );
        assert_eq!(
            compare(&uris("a b c"), &uris("a c d d")),
            SyncCounts {
                added: 2,
                removed: 1,
                reordered: false
            }
        );
        assert_eq!(
            compare(&uris("a a b"), &uris("a b a")),
            SyncCounts {
                added: 0,
                removed: 0,
                reordered: true
            }
        );
    }
}
