//! Snapshots: automatic ones before every rewrite of a playlist's order
//! (while the owner's `auto_snapshot_enabled` is on, and never logged),
//! manual ones, restore, undo and delete, and pruning of automatic
//! snapshots beyond the owner's `max_snapshots_per_playlist`.

use serde_json::json;

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::enums::{ActivityType, SnapshotType};
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::models::snapshot::{NewSnapshot, Snapshot};
use crate::models::{NewActivity, User, UserSettings};
use crate::services::playlists::{check_version, IfMatch, PlaylistService, PlaylistView};
use crate::services::ActivityLogService;

/// Manual snapshots one playlist may keep.
pub const MAX_MANUAL: i64 = 50;

pub struct SnapshotService;

impl SnapshotService {
    fn insert(
        conn: &mut DbConnection,
        playlist: &Playlist,
        uris: &[String],
        kind: SnapshotType,
        description: Option<String>,
        keep_automatic: i64,
    ) -> AppResult<Snapshot> {
        let snapshot = NewSnapshot {
            user_id: playlist.owner_id,
            playlist_id: playlist.id.clone(),
            playlist_name: playlist.name.clone(),
            track_uris: Json::from_strings(uris),
            track_count: uris.len() as i32,
            snapshot_type: kind,
            trigger_description: description,
            created_at: db::now(),
        }
        .insert(conn)?;
        Snapshot::prune_automatic(conn, &playlist.id, keep_automatic)?;
        Ok(snapshot)
    }

    /// Saves `uris` (the order about to be replaced) when the owner wants
    /// automatic snapshots; returns the new snapshot's id, if any.
    pub fn take_automatic(
        conn: &mut DbConnection,
        playlist: &Playlist,
        uris: &[String],
        kind: SnapshotType,
        description: &str,
    ) -> AppResult<Option<i64>> {
        let settings = UserSettings::find_for_user(conn, playlist.owner_id)?;
        let Some(settings) = settings.filter(|s| s.auto_snapshot_enabled) else {
            return Ok(None);
        };
        let keep = i64::from(settings.max_snapshots_per_playlist);
        let snapshot = Self::insert(
            conn,
            playlist,
            uris,
            kind,
            Some(description.to_string()),
            keep,
        )?;
        Ok(Some(snapshot.id))
    }

    pub fn create_manual(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        description: Option<String>,
    ) -> AppResult<Snapshot> {
        write_transaction(conn, |conn| {
            let playlist = PlaylistService::owned(conn, user.id, playlist_id)?;
            if Snapshot::count_manual(conn, playlist_id)? >= MAX_MANUAL {
                return Err(AppError::Conflict(format!(
                    "a playlist keeps at most {MAX_MANUAL} manual snapshots; delete one first"
                )));
            }
            let uris = Playlist::track_uris(conn, playlist_id)?;
            let keep = UserSettings::find_for_user(conn, user.id)?
                .map_or(10, |s| i64::from(s.max_snapshots_per_playlist));
            let snapshot = Self::insert(
                conn,
                &playlist,
                &uris,
                SnapshotType::Manual,
                description,
                keep,
            )?;
            ActivityLogService::log(
                conn,
                NewActivity::by(
                    user,
                    ActivityType::SnapshotCreate,
                    format!("Saved a snapshot of \"{}\"", playlist.name),
                )
                .playlist(&playlist.id, &playlist.name)
                .metadata(
                    json!({ "snapshot_id": snapshot.id, "track_count": snapshot.track_count }),
                ),
            );
            Ok(snapshot)
        })
    }

    pub fn owned(conn: &mut DbConnection, user_id: i64, id: i64) -> AppResult<Snapshot> {
        Snapshot::find_owned(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    pub fn delete(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        write_transaction(conn, |conn| {
            let snapshot = Self::owned(conn, user.id, id)?;
            Snapshot::delete(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::by(
                    user,
                    ActivityType::SnapshotDelete,
                    format!("Deleted a snapshot of \"{}\"", snapshot.playlist_name),
                )
                .playlist(&snapshot.playlist_id, &snapshot.playlist_name)
                .metadata(
                    json!({ "snapshot_id": snapshot.id, "track_count": snapshot.track_count }),
                ),
            );
            Ok(())
        })
    }

    /// Puts a snapshot's order back, after an `auto_pre_restore` snapshot of
    /// the current one; logged as `snapshot_restore`.
    pub fn restore(
        conn: &mut DbConnection,
        user: &User,
        id: i64,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            let snapshot = Self::owned(conn, user.id, id)?;
            Self::restore_snapshot(conn, user, snapshot, if_match)
        })
    }

    /// Restores the newest automatic snapshot other than an
    /// `auto_pre_restore` one; 404 when there is none.
    pub fn undo(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        write_transaction(conn, |conn| {
            PlaylistService::owned(conn, user.id, playlist_id)?;
            let snapshot =
                Snapshot::newest_undoable(conn, playlist_id)?.ok_or(AppError::NotFound)?;
            Self::restore_snapshot(conn, user, snapshot, if_match)
        })
    }

    fn restore_snapshot(
        conn: &mut DbConnection,
        user: &User,
        snapshot: Snapshot,
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistView> {
        let playlist = PlaylistService::owned(conn, user.id, &snapshot.playlist_id)?;
        check_version(&playlist, if_match)?;
        let current = Playlist::track_uris(conn, &playlist.id)?;
        let target = snapshot.track_uris.strings();
        PlaylistService::require_in_catalog(conn, "track_uris", &target)?;
        let pre_restore = Self::take_automatic(
            conn,
            &playlist,
            &current,
            SnapshotType::AutoPreRestore,
            &format!("Before restoring snapshot #{}", snapshot.id),
        )?;
        let updated = PlaylistService::write_order(conn, &playlist, &target)?;
        ActivityLogService::log(
            conn,
            NewActivity::by(
                user,
                ActivityType::SnapshotRestore,
                format!("Restored \"{}\" from a snapshot", updated.name),
            )
            .playlist(&updated.id, &updated.name)
            .metadata(json!({
                "snapshot_id": snapshot.id,
                "track_count": target.len(),
                "pre_restore_snapshot_id": pre_restore,
            })),
        );
        PlaylistService::view(conn, &updated)
    }
}
