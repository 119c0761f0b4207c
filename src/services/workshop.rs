//! The workshop: previewing a shuffle without storing it, committing an
//! edited order, and named sessions that keep drafts.

use std::collections::HashMap;

use serde_json::Value;

use crate::db::{self, write_transaction, Checkout, DbConnection, Json};
use crate::error::{AppError, AppResult};
use crate::models::playlist::Playlist;
use crate::models::track::Track;
use crate::models::workshop_session::{NewWorkshopSession, WorkshopSession};
use crate::models::{NewActivity, User};
use crate::providers::spotify::Spotify;
use crate::services::playlists::{IfMatch, PlaylistChange, PlaylistService};
use crate::services::rewrite::{replace_order, OrderPlan, Rewrite, RewriteService, RewriteTarget};
use crate::services::shuffle::{choose, order_uris, ChoiceFields};
use crate::services::ActivityLogService;

/// Sessions one user may keep per playlist.
pub const MAX_SESSIONS: i64 = 10;
/// Sessions one user may keep over all playlists (docs/api.md, "Limits").
pub const MAX_SESSIONS_PER_USER: i64 = 100;

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

/// A commit computed from the playlist as read.
struct CommitPlan {
    current: Vec<String>,
    order: Vec<String>,
    catalog: HashMap<String, Track>,
}

impl OrderPlan for CommitPlan {
    fn current(&self) -> &[String] {
        &self.current
    }
    fn order(&self) -> &[String] {
        &self.order
    }
    fn why(&self) -> Rewrite<'_> {
        Rewrite::Commit
    }
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
        let (chosen, p) = choose(
            key,
            given_params.unwrap_or(&Value::Null),
            ChoiceFields::SHUFFLE,
        )?;
        let uris = match uris {
            Some(u) => u.to_vec(),
            None => PlaylistService::track_uris(conn, &playlist)?,
        };
        let catalog = PlaylistService::require_held(conn, user.id, "track_uris", &uris)?;
        let tracks: Vec<&Track> = uris.iter().filter_map(|u| catalog.get(u)).collect();
        // The workshop orders what the client sent: pins do not apply.
        Ok(order_uris(
            chosen,
            &p,
            &tracks,
            seed.unwrap_or_else(rand::random),
            &Default::default(),
        ))
    }

    /// Writes an edited order; logs `workshop_commit`. An identical order
    /// writes and logs nothing.
    pub fn commit(
        db: &mut Checkout,
        spotify: Option<&Spotify>,
        user: &User,
        playlist_id: &str,
        uris: &[String],
        if_match: Option<IfMatch>,
    ) -> AppResult<PlaylistChange> {
        let plan = |conn: &mut DbConnection, playlist: &Playlist| {
            let catalog = PlaylistService::require_held(conn, user.id, "track_uris", uris)?;
            Ok(CommitPlan {
                current: PlaylistService::track_uris(conn, playlist)?,
                order: uris.to_vec(),
                catalog,
            })
        };
        let write = |conn: &mut DbConnection,
                     target: RewriteTarget,
                     CommitPlan {
                         current, catalog, ..
                     }: CommitPlan| {
            let written = replace_order(conn, &target, &current, uris, Rewrite::Commit)?;
            if let Some(done) = &written {
                ActivityLogService::log(
                    conn,
                    NewActivity::workshop_commit(
                        user,
                        &done.playlist,
                        uris.len(),
                        added_removed(&current, uris),
                        done.snapshot_id,
                    )
                    .written_back(done.spotify_snapshot_id.as_deref()),
                );
            }
            Ok(PlaylistChange::new(
                &target.playlist,
                written.as_ref(),
                uris,
                &catalog,
            ))
        };
        RewriteService::rewrite(db, spotify, user.id, playlist_id, if_match, plan, write)
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
            ActivityLogService::log(
                conn,
                NewActivity::workshop_session_save(user, &session, &playlist.name),
            );
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
        PlaylistService::with_locked(conn, user.id, &playlist_id, |conn, playlist| {
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
            ActivityLogService::log(
                conn,
                NewActivity::workshop_session_save(user, &session, &playlist.name),
            );
            Ok(session)
        })
    }

    pub fn delete_session(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        let playlist_id = Self::session(conn, user, id)?.playlist_id;
        PlaylistService::with_locked(conn, user.id, &playlist_id, |conn, playlist| {
            let session = Self::session(conn, user, id)?;
            WorkshopSession::delete(conn, id)?;
            ActivityLogService::log(
                conn,
                NewActivity::workshop_session_delete(user, &session, &playlist.name),
            );
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
