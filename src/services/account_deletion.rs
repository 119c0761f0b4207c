//! `DELETE /api/me`: a user and everything they own, gone in one
//! transaction.
//!
//! Every table that holds a user's rows refers to `users` with `ON DELETE
//! CASCADE` (sessions, settings, playlists and their orders, snapshots,
//! workshop sessions, upstream sources, schedules and their executions,
//! track facts, the Spotify connection, pending authorizations, stream
//! tickets, the activity trail), so deleting the user's row deletes them
//! all; the trail is also deleted by name first, so it goes even where its
//! table carries no foreign key. The one thing keyed by the username
//! rather than the id, the login lockout, is cleared by the route.
//!
//! A request of the same user that runs meanwhile cannot bring a row back:
//! the user's row is locked first (PostgreSQL `FOR UPDATE`, which also
//! holds back every insert that refers to it; SQLite's one writer), and
//! once it is gone a write that refers to it fails its foreign key (409)
//! or finds nothing (404), and the token no longer authenticates (401).

use diesel::prelude::*;

use crate::db::schema::activity_log;
use crate::db::{write_transaction, DbConnection};
use crate::error::{AppError, AppResult};
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
                .ok_or(AppError::Unauthorized)?;
            diesel::delete(activity_log::table.filter(activity_log::user_id.eq(user_id)))
                .execute(conn)?;
            if User::delete(conn, user_id)? == 0 {
                return Err(AppError::Unauthorized);
            }
            Ok(())
        })
    }
}
