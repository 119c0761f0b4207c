//! What an operator does to accounts from the command line, outside any
//! request: list them, set a password without the old one (a reset), and
//! delete one through the very transaction of `DELETE /api/me`
//! (`account_deletion`) without its password check.
//!
//! Work that the API does in the `serve` process's memory cannot be done
//! from here: the SQLite build's login lockout (`login_throttle`) and the
//! open live streams of a deleted user. Neither outlives its purpose: the
//! lockout's window passes, and a stream checks its session at every
//! heartbeat (at most 15 s), finding it revoked or its user gone.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{self, write_transaction, DbConnection};
use crate::error::{AppError, AppResult};
use crate::lockout;
use crate::models::playlist::Playlist;
use crate::models::provider_connection::OAuthState;
use crate::models::{AuthSession, NewActivity, User};
use crate::services::account_deletion::AccountService;
use crate::services::ActivityLogService;
use crate::validate;

/// One line of `shuffify user list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    pub id: i64,
    pub username: String,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    pub playlists: i64,
}

pub struct AccountAdmin;

impl AccountAdmin {
    /// Every account, by id (the order they were created in), with its
    /// number of playlists: two statements whatever the number of users.
    pub fn list(conn: &mut DbConnection) -> AppResult<Vec<UserListing>> {
        let counts: HashMap<i64, i64> = Playlist::count_by_owner(conn)?.into_iter().collect();
        Ok(User::list_all(conn)?
            .into_iter()
            .map(|user| UserListing {
                playlists: counts.get(&user.id).copied().unwrap_or(0),
                id: user.id,
                username: user.username,
                created_at: user.created_at,
                last_login_at: user.last_login_at,
            })
            .collect())
    }

    /// The rule a new password meets, as registration words it
    /// (`password: must be 8 to 128 characters`).
    pub fn validate_password(password: &str) -> AppResult<()> {
        let mut errors = Vec::new();
        validate::PASSWORD.check("password", password, &mut errors);
        AppError::ensure_valid(errors)
    }

    /// Replaces `user`'s password by one already validated and hashed (by
    /// the caller, outside the transaction), ends every live session of
    /// theirs (and the Spotify authorizations those sessions started),
    /// forgets their failed logins where the database keeps them, and
    /// writes one `password_change` row with actor `system`. Answers how
    /// many sessions it ended; `NotFound` when the user is gone.
    pub fn set_password(conn: &mut DbConnection, user: &User, hash: &str) -> AppResult<usize> {
        write_transaction(conn, |conn| {
            // The user's row first, as every writer of the user locks it.
            User::lock(conn, user.id)
                .optional()?
                .ok_or(AppError::NotFound)?;
            let now = db::now();
            User::set_password_hash(conn, user.id, hash, now)?;
            let ended = AuthSession::revoke_all_live(conn, user.id, now)?;
            for session_id in &ended {
                OAuthState::delete_for_session(conn, *session_id)?;
            }
            lockout::forget_in_database(conn, &user.username)?;
            ActivityLogService::log(
                conn,
                NewActivity::password_set_by_operator(user, ended.len()),
            );
            Ok(ended.len())
        })
    }

    /// Deletes `user` and everything they own, as `DELETE /api/me` does
    /// once its password has matched; `NotFound` when the user is already
    /// gone.
    pub fn delete(conn: &mut DbConnection, user: &User) -> AppResult<()> {
        AccountService::delete(conn, user.id).map_err(|err| match err {
            AppError::Unauthorized | AppError::InvalidToken(_) => AppError::NotFound,
            other => other,
        })?;
        // What is keyed by the name rather than the id.
        lockout::forget_in_database(conn, &user.username)
    }
}
