//! The caller's own account: profile (display name, email), password, and
//! sessions. Inputs arrive checked by the route; each change is one write
//! transaction with its activity row.

use diesel::prelude::*;

use crate::db::schema::{auth_sessions, oauth_states};
use crate::db::{self, write_transaction, DbConnection};
use crate::error::{AppError, AppResult};
use crate::models::{AuthSession, Changes, NewActivity, User};
use crate::services::ActivityLogService;

/// A profile change: `None` leaves a field as it is; `Some(None)` clears it
/// (the display name goes back to the username: it is never empty).
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// Already trimmed.
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
}

pub struct ProfileService;

impl ProfileService {
    /// Applies `change`; a change that changes nothing writes nothing and
    /// logs nothing. The user as stored afterwards.
    pub fn update(
        conn: &mut DbConnection,
        user_id: i64,
        change: &ProfileChange,
    ) -> AppResult<User> {
        write_transaction(conn, |conn| {
            User::lock(conn, user_id)?;
            let user = User::find(conn, user_id)?.ok_or(AppError::NotFound)?;
            let display_name = match &change.display_name {
                None => user.display_name.clone(),
                Some(None) => user.username.clone(),
                Some(Some(name)) => name.clone(),
            };
            let email = match &change.email {
                None => user.email.clone(),
                Some(email) => email.clone(),
            };
            let changes = Changes::new()
                .field("display_name", &user.display_name, &display_name)
                .field("email", &user.email, &email);
            if changes.is_empty() {
                return Ok(user);
            }
            let updated =
                User::set_profile(conn, user_id, &display_name, email.as_deref(), db::now())?;
            ActivityLogService::log(conn, NewActivity::profile_update(&updated, &changes));
            Ok(updated)
        })
    }

    /// The user's live sessions, newest first.
    pub fn sessions(conn: &mut DbConnection, user_id: i64) -> AppResult<Vec<AuthSession>> {
        Ok(AuthSession::live_of_user(conn, user_id, db::now())?)
    }

    /// Ends the user's live session `id` from their session `current`:
    /// 409 for `current` itself (a logout ends that), 404 for a session
    /// that is not a live one of theirs. Logs `logout` naming the ended
    /// session ([`NewActivity::session_end`]).
    pub fn end_session(
        conn: &mut DbConnection,
        user: &User,
        current: i64,
        id: i64,
    ) -> AppResult<()> {
        if id == current {
            return Err(AppError::Conflict(
                "this is the session making the request: use POST /api/auth/logout".into(),
            ));
        }
        write_transaction(conn, |conn| {
            let now = db::now();
            User::lock(conn, user.id)?;
            still_signed_in(conn, current, now)?;
            let live = auth_sessions::table
                .filter(auth_sessions::id.eq(id))
                .filter(auth_sessions::user_id.eq(user.id))
                .filter(auth_sessions::revoked_at.is_null())
                .filter(auth_sessions::expires_at.gt(now))
                .select(auth_sessions::id)
                .first::<i64>(conn)
                .optional()?;
            if live.is_none() {
                return Err(AppError::NotFound);
            }
            AuthSession::revoke(conn, id, now)?;
            diesel::delete(oauth_states::table.filter(oauth_states::session_id.eq(id)))
                .execute(conn)?;
            ActivityLogService::log(conn, NewActivity::session_end(user, id));
            Ok(())
        })
    }

    /// Stores a new password hash and ends every other live session of the
    /// user (with the Spotify authorizations they started); the session
    /// `current` stays. Logs `password_change`; how many sessions ended.
    pub fn change_password(
        conn: &mut DbConnection,
        user: &User,
        current: i64,
        new_hash: &str,
    ) -> AppResult<usize> {
        write_transaction(conn, |conn| {
            let now = db::now();
            User::lock(conn, user.id)?;
            // The current password was checked against the hash read with
            // the token; a change since then ended this session.
            still_signed_in(conn, current, now)?;
            User::set_password_hash(conn, user.id, new_hash, now)?;
            let ended = AuthSession::revoke_others(conn, user.id, current, now)?;
            diesel::delete(
                oauth_states::table
                    .filter(oauth_states::user_id.eq(user.id))
                    .filter(oauth_states::session_id.ne(current)),
            )
            .execute(conn)?;
            ActivityLogService::log(conn, NewActivity::password_change(user, ended));
            Ok(ended)
        })
    }
}

/// Under the user's lock: the caller's session `current` is still live.
/// The token was checked before the request's transaction began, so
/// another session may have ended it since (a password change, "sign out
/// everywhere else", the command line); then the caller acts no more, and
/// two sessions changing the password at once cannot both succeed.
fn still_signed_in(
    conn: &mut DbConnection,
    current: i64,
    now: chrono::NaiveDateTime,
) -> AppResult<()> {
    if AuthSession::live_among(conn, &[current], now)?.is_empty() {
        return Err(AppError::InvalidToken(crate::error::TokenProblem::Revoked));
    }
    Ok(())
}
