//! `DELETE /api/me`: a user and everything they own, gone in one
//! transaction.
//!
//! Every table that holds a user's rows refers to `users` with `ON DELETE
//! CASCADE`, so deleting the user's row would delete them all; tables
//! added later are covered that way (`tests/api/account_data.rs` checks
//! every column named `user_id` or `owner_id`). The one thing keyed by the
//! username rather than the id, the login lockout, is cleared by the route.
//!
//! Requests of the same user may run meanwhile, so the order of locks
//! matters on PostgreSQL, where writers do not simply queue as they do
//! behind SQLite's one writer. Writers lock the user, then a schedule,
//! then a playlist; and a rewrite that holds a playlist writes rows that
//! refer to the user (its foreign key takes `KEY SHARE` on the user's
//! row). Deleting the user's row first would wait for such a rewrite while
//! the rewrite waits for the user's row: a deadlock. So the deletion
//! 1. locks the user's row as every writer of the user does (`User::lock`,
//!    `FOR NO KEY UPDATE`: the others queue behind it, and rows referring
//!    to the user may still be written),
//! 2. deletes what the user owns in the writers' order (schedules with
//!    their runs, playlists with their orders, snapshots, workshop
//!    sessions and sources, then sessions, connections, track facts,
//!    settings and the trail), each statement waiting out a writer that
//!    holds its rows and needs nothing the deletion holds,
//! 3. deletes the user's row, whose cascade takes whatever was written in
//!    between.
//!
//! A request that comes after finds nothing (404), fails its foreign key
//! (409) or its token (401); none brings a row back.

use diesel::prelude::*;

use crate::db::schema::{
    activity_log, auth_sessions, oauth_states, playlist_snapshots, playlists, provider_connections,
    schedules, stream_tickets, track_facts, upstream_sources, user_settings, webhooks,
    workshop_sessions,
};
use crate::db::{write_transaction, DbConnection};
use crate::error::{AppError, AppResult, TokenProblem};
use crate::models::User;

pub struct AccountService;

impl AccountService {
    /// Deletes `user_id` and everything they own. A user already gone
    /// (a second request of the same account) is a 401: its token stopped
    /// working.
    pub fn delete(conn: &mut DbConnection, user_id: i64) -> AppResult<()> {
        write_transaction(conn, |conn| {
            User::lock(conn, user_id)
                .optional()?
                .ok_or(AppError::InvalidToken(TokenProblem::Revoked))?;
            // Webhooks first (their deliveries by cascade): the delivery
            // worker locks a webhook before its deliveries and may write a
            // row of this user meanwhile, so deleting in the same order
            // waits for it rather than deadlocking.
            diesel::delete(webhooks::table.filter(webhooks::user_id.eq(user_id))).execute(conn)?;
            diesel::delete(schedules::table.filter(schedules::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(playlists::table.filter(playlists::owner_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(
                playlist_snapshots::table.filter(playlist_snapshots::user_id.eq(user_id)),
            )
            .execute(conn)?;
            diesel::delete(workshop_sessions::table.filter(workshop_sessions::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(upstream_sources::table.filter(upstream_sources::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(stream_tickets::table.filter(stream_tickets::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(oauth_states::table.filter(oauth_states::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(auth_sessions::table.filter(auth_sessions::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(
                provider_connections::table.filter(provider_connections::user_id.eq(user_id)),
            )
            .execute(conn)?;
            diesel::delete(track_facts::table.filter(track_facts::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(user_settings::table.filter(user_settings::user_id.eq(user_id)))
                .execute(conn)?;
            diesel::delete(activity_log::table.filter(activity_log::user_id.eq(user_id)))
                .execute(conn)?;
            if User::delete(conn, user_id)? == 0 {
                return Err(AppError::InvalidToken(TokenProblem::Revoked));
            }
            Ok(())
        })
    }
}
