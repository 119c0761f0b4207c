//! The workshop: previewing a shuffle without storing it, committing an
//! edited order, and named sessions that keep drafts.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::enums::{ActivityType, SnapshotType};
use crate::error::{AppError, AppResult, FieldError};
use crate::models::playlist::Playlist;
use crate::models::track::Track;
use crate::models::workshop_session::{NewWorkshopSession, WorkshopSession};
use crate::models::{NewActivity, User};
use crate::services::playlists::{IfMatch, PlaylistChange, PlaylistService, Rewritten, MAX_TRACKS};
use crate::services::shuffle::service::{algorithm, params, ShuffleService};
use crate::services::ActivityLogService;

/// Sessions one user may keep per playlist.
pub const MAX_SESSIONS: i64 = 10;
/// Sessions one user may keep over all playlists (SPEC §10.9).
pub const MAX_SESSIONS_PER_USER: i64 = 100;

/// Checks a URI list's size and entries.
pub fn validate_uris(field: &str, uris: &[String], errors: &mut Vec<FieldError>) {
    if uris.len() > MAX_TRACKS {
        errors.push(FieldError::new(
            field,
            format!("at most {MAX_TRACKS} tracks"),
        ));
    }
    if uris
        .iter()
        .any(|u| u.trim().is_empty() || u.chars().count() > 255)
    {
        errors.push(FieldError::new(
            field,
            "every URI must be 1 to 255 characters",
        ));
    }
}

pub fn validate_session_name(name: &str, errors: &mut Vec<FieldError>) {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        errors.push(FieldError::new(
            "session_name",
            "must be 1 to 100 characters",
        ));
    }
}

/// How many entries were added and removed, counting duplicates.
pub fn added_removed(before: &[String], after: &[String]) -> (usize, usize) {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for uri in before {
        *counts.entry(uri).or_default() -= 1;
    }
    for uri in after {
        *counts.entry(uri).or_default() += 1;
    }
    let added = counts
        .values()
        .filter(|n| **n > 0)
        .map(|n| *n as usize)
        .sum();
    let removed = counts
        .values()
        .filter(|n| **n < 0)
        .map(|n| (-*n) as usize)
        .sum();
    (added, removed)
}

pub struct WorkshopService;

impl WorkshopService {
    /// The order a shuffle would give, of the playlist or of `uris`.
    pub fn preview(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        key: &str,
        given_params: Option<&Value>,
        seed: Option<u64>,
        uris: Option<&[String]>,
    ) -> AppResult<Vec<String>> {
        let playlist = PlaylistService::owned(conn, user.id, playlist_id)?;
        let chosen = algorithm(key)?;
        let p = params(chosen, given_params)?;
        let uris = match uris {
            Some(u) => u.to_vec(),
            None => Playlist::track_uris(conn, &playlist.id)?,
        };
        let catalog = PlaylistService::require_in_catalog(conn, "track_uris", &uris)?;
        let tracks: Vec<&Track> = uris.iter().filter_map(|u| catalog.get(u)).collect();
        Ok(ShuffleService::order(chosen, &p, &tracks, seed))
    }

    /// Writes an edited order; logs `workshop_commit`. An identical order
    /// writes and logs nothing.
    pub fn commit(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        uris: &[String],
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistChange> {
        let plan = |conn: &mut DbConnection, playlist: &Playlist| {
            let catalog = PlaylistService::require_in_catalog(conn, "track_uris", uris)?;
            Ok((Playlist::track_uris(conn, &playlist.id)?, catalog))
        };
        let write =
            |conn: &mut DbConnection,
             playlist: Playlist,
             (current, catalog): (Vec<String>, HashMap<String, Track>)| {
                if current == uris {
                    return Ok(PlaylistChange {
                        playlist: PlaylistService::view_of(&playlist, uris, &catalog),
                        changed: false,
                        snapshot_id: None,
                    });
                }
                let Rewritten {
                    playlist: updated,
                    snapshot_id,
                } = PlaylistService::write_order(
                    conn,
                    &playlist,
                    &current,
                    uris,
                    SnapshotType::AutoPreCommit,
                    "Before workshop commit",
                )?;
                let (added, removed) = added_removed(&current, uris);
                ActivityLogService::log(
                    conn,
                    NewActivity::by(
                        user,
                        ActivityType::WorkshopCommit,
                        format!("Committed workshop changes to \"{}\"", updated.name),
                    )
                    .playlist(&updated.id, &updated.name)
                    .metadata(json!({
                        "track_count": uris.len(),
                        "added": added,
                        "removed": removed,
                        "snapshot_id": snapshot_id,
                    })),
                );
                Ok(PlaylistChange {
                    playlist: PlaylistService::view_of(&updated, uris, &catalog),
                    changed: true,
                    snapshot_id,
                })
            };
        PlaylistService::rewrite(conn, user.id, playlist_id, if_match, plan, write)
    }

    /// Logs a session save or delete, with its playlist's current name.
    fn log_session(
        conn: &mut DbConnection,
        user: &User,
        kind: ActivityType,
        session: &WorkshopSession,
    ) -> AppResult<()> {
        let playlist_name = Playlist::find(conn, &session.playlist_id)?
            .map(|p| p.name)
            .unwrap_or_default();
        let verb = if kind == ActivityType::WorkshopSessionDelete {
            "Deleted"
        } else {
            "Saved"
        };
        ActivityLogService::log(
            conn,
            NewActivity::by(
                user,
                kind,
                format!("{verb} workshop session \"{}\"", session.session_name),
            )
            .playlist(&session.playlist_id, playlist_name)
            .metadata(json!({
                "session_id": session.id,
                "session_name": session.session_name,
                "track_count": session.track_uris.strings().len(),
            })),
        );
        Ok(())
    }

    pub fn list_sessions(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
    ) -> AppResult<Vec<WorkshopSession>> {
        PlaylistService::owned(conn, user.id, playlist_id)?;
        Ok(WorkshopSession::list(conn, user.id, playlist_id)?)
    }

    pub fn create_session(
        conn: &mut DbConnection,
        user: &User,
        playlist_id: &str,
        name: &str,
        uris: &[String],
    ) -> AppResult<WorkshopSession> {
        write_transaction(conn, |conn| {
            // Lock order: user (the per-user cap), then playlist.
            User::lock(conn, user.id)?;
            let playlist = PlaylistService::lock_owned(conn, user.id, playlist_id)?;
            if WorkshopSession::count(conn, user.id, playlist_id)? >= MAX_SESSIONS {
                return Err(AppError::Conflict(format!(
                    "a playlist keeps at most {MAX_SESSIONS} workshop sessions; delete one first"
                )));
            }
            if WorkshopSession::count_for_user(conn, user.id)? >= MAX_SESSIONS_PER_USER {
                return Err(AppError::Conflict(format!(
                    "at most {MAX_SESSIONS_PER_USER} workshop sessions per user; delete one first"
                )));
            }
            let now = db::now();
            let session = NewWorkshopSession {
                user_id: user.id,
                playlist_id: playlist.id.clone(),
                session_name: name.trim().to_string(),
                track_uris: Json::from_strings(uris),
                created_at: now,
                updated_at: now,
            }
            .insert(conn)?;
            Self::log_session(conn, user, ActivityType::WorkshopSessionSave, &session)?;
            Ok(session)
        })
    }

    pub fn session(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<WorkshopSession> {
        WorkshopSession::find_owned(conn, user.id, id)?.ok_or(AppError::NotFound)
    }

    /// Changes only what is given; a change that changes nothing is not saved.
    pub fn update_session(
        conn: &mut DbConnection,
        user: &User,
        id: i64,
        name: Option<&str>,
        uris: Option<&[String]>,
    ) -> AppResult<WorkshopSession> {
        let playlist_id = Self::session(conn, user, id)?.playlist_id;
        PlaylistService::with_locked(conn, user.id, &playlist_id, |conn, _| {
            let mut session = Self::session(conn, user, id)?;
            let mut changed = false;
            if let Some(name) = name.map(str::trim).filter(|n| *n != session.session_name) {
                session.session_name = name.to_string();
                changed = true;
            }
            if let Some(uris) = uris.filter(|u| *u != session.track_uris.strings().as_slice()) {
                session.track_uris = Json::from_strings(uris);
                changed = true;
            }
            if !changed {
                return Ok(session);
            }
            session.updated_at = db::now();
            session.save(conn)?;
            Self::log_session(conn, user, ActivityType::WorkshopSessionSave, &session)?;
            Ok(session)
        })
    }

    pub fn delete_session(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        let playlist_id = Self::session(conn, user, id)?.playlist_id;
        PlaylistService::with_locked(conn, user.id, &playlist_id, |conn, _| {
            let session = Self::session(conn, user, id)?;
            WorkshopSession::delete(conn, id)?;
            Self::log_session(conn, user, ActivityType::WorkshopSessionDelete, &session)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::added_removed;

    #[test]
    fn counts_duplicates() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            added_removed(&s(&["a", "b", "b"]), &s(&["b", "c", "c", "a"])),
            (2, 1)
        );
        assert_eq!(added_removed(&s(&["a", "b"]), &s(&["b", "a"])), (0, 0));
    }
}
