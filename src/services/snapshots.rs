//! Snapshots: manual ones, restore, undo and delete. Automatic snapshots
//! (before every rewrite of an order, while the owner's
//! `auto_snapshot_enabled` is on, never logged) are taken by
//! `rewrite::replace_order`; `Snapshot::take` prunes automatic
//! snapshots beyond the owner's `max_snapshots_per_playlist`.

use std::collections::HashMap;

use crate::db::{Checkout, DbConnection};
use crate::enums::SnapshotType;
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::models::snapshot::Snapshot;
use crate::models::track::Track;
use crate::models::user_settings::DEFAULT_MAX_SNAPSHOTS;
use crate::models::{NewActivity, User, UserSettings};
use crate::providers::spotify::Spotify;
use crate::services::playlists::{IfMatch, PlaylistService, PlaylistView};
use crate::services::rewrite::{replace_order, OrderPlan, Rewrite, RewriteService, RewriteTarget};
use crate::services::ActivityLogService;

/// Manual snapshots one playlist may keep.
pub const MAX_MANUAL: i64 = 50;

/// A restore computed from the playlist as read.
struct Restore {
    snapshot: Snapshot,
    current: Vec<String>,
    target: Vec<String>,
    catalog: HashMap<String, Track>,
}

impl OrderPlan for Restore {
    fn current(&self) -> &[String] {
        &self.current
    }
    fn order(&self) -> &[String] {
        &self.target
    }
    fn why(&self) -> Rewrite<'_> {
        Rewrite::Restore {
            snapshot_id: self.snapshot.id,
        }
    }
}

pub struct SnapshotService;

impl SnapshotService {
    pub fn create_manual(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        description: Option<String>,
    ) -> AppResult<Snapshot> {
        PlaylistService::with_locked(conn, user.id, playlist_id, |conn, playlist| {
            if Snapshot::count_manual(conn, playlist_id)? >= MAX_MANUAL {
                return Err(AppError::Conflict(format!(
                    "a playlist keeps at most {MAX_MANUAL} manual snapshots; delete one first"
                )));
            }
            let uris = PlaylistService::track_uris(conn, &playlist)?;
            // Every user gets a settings row at registration; without one,
            // the column's default.
            let keep = UserSettings::find_for_user(conn, user.id)?
                .map_or(DEFAULT_MAX_SNAPSHOTS, |s| s.max_snapshots_per_playlist);
            let snapshot = Snapshot::take(
                conn,
                &playlist,
                &uris,
                SnapshotType::Manual,
                description,
                i64::from(keep),
            )?;
            ActivityLogService::log(
                conn,
                NewActivity::snapshot_create(user, &playlist, &snapshot),
            );
            Ok(snapshot)
        })
    }

    pub fn owned(conn: &mut DbConnection, user_id: i64, id: i64) -> AppResult<Snapshot> {
        Snapshot::find_owned(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    pub fn delete(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        let playlist_id = Self::owned(conn, user.id, id)?.playlist_id;
        PlaylistService::with_locked(conn, user.id, &playlist_id, |conn, _| {
            // Read again under the lock: a parallel delete may have won.
            let snapshot = Self::owned(conn, user.id, id)?;
            Snapshot::delete(conn, id)?;
            ActivityLogService::log(conn, NewActivity::snapshot_delete(user, &snapshot));
            Ok(())
        })
    }

    /// Puts a snapshot's order back, after an `auto_pre_restore` snapshot of
    /// the current one; logged as `snapshot_restore`.
    pub fn restore(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
        user: &User,
        id: i64,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        let playlist_id = Self::owned(db.conn()?, user.id, id)?.playlist_id;
        Self::restore_into(db, spotify, user, &playlist_id, if_match, |conn| {
            Self::owned(conn, user.id, id)
        })
    }

    /// Restores the newest automatic snapshot other than an
    /// `auto_pre_restore` one; 404 when there is none.
    pub fn undo(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
        user: &User,
        playlist_id: &str,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        Self::restore_into(db, spotify, user, playlist_id, if_match, |conn| {
            Snapshot::newest_undoable(conn, playlist_id)?.ok_or(AppError::NotFound)
        })
    }

    /// Rewrites `playlist_id` to the order of the snapshot `find` picks
    /// (read again on every try of the rewrite, so it is never stale).
    fn restore_into(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
        user: &User,
        playlist_id: &str,
        if_match: Option<IfMatch>,
        find: impl Fn(&mut DbConnection) -> AppResult<Snapshot>,
    ) -> AppResult<PlaylistView> {
        let plan = |conn: &mut DbConnection, playlist: &Playlist| {
            let snapshot = find(conn)?;
            let current = PlaylistService::track_uris(conn, playlist)?;
            let target = snapshot.track_uris.strings();
            let catalog = PlaylistService::require_in_catalog(
                conn,
                playlist.owner_id,
                "track_uris",
                &target,
            )?;
            Ok(Restore {
                snapshot,
                current,
                target,
                catalog,
            })
        };
        let write = |conn: &mut DbConnection, rewrite: RewriteTarget, restore: Restore| {
            let Restore {
                snapshot, target, ..
            } = &restore;
            let written = replace_order(conn, &rewrite, &restore.current, target, restore.why())?;
            let playlist = rewrite.playlist;
            // A restore always writes (see `Rewrite`); `None` cannot come
            // back, and would answer the playlist as it is.
            let Some(done) = written else {
                return Ok(PlaylistService::view_of(
                    &playlist,
                    target,
                    &restore.catalog,
                ));
            };
            ActivityLogService::log(
                conn,
                NewActivity::snapshot_restore(
                    user,
                    &done.playlist,
                    snapshot.id,
                    target.len(),
                    done.snapshot_id,
                )
                .written_back(done.spotify_snapshot_id.as_deref()),
            );
            Ok(PlaylistService::view_of(
                &done.playlist,
                target,
                &restore.catalog,
            ))
        };
        RewriteService::rewrite(db, spotify, user.id, playlist_id, if_match, plan, write)
    }
}
