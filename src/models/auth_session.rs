//! `auth_sessions`: one row per login. Only the SHA-256 of a token is stored;
//! the rows double as login history ("since my last login").

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{auth_sessions, users};
use crate::db::DbConnection;
use crate::error::TokenProblem;
use crate::models::User;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = auth_sessions)]
pub struct AuthSession {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: String,
    #[diesel(deserialize_as = crate::db::StoredTime)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::StoredTime)]
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// When the user's session before this one began (`None` for a first
    /// login): the cutoff of `since=last_login`, fixed when this session
    /// opened.
    pub previous_login_at: Option<NaiveDateTime>,
}

impl AuthSession {
    /// The session of a token hash, live or not, with its user: whether
    /// it still works is [`Self::problem`].
    pub fn find_by_token(
        conn: &mut DbConnection,
        token_hash: &str,
    ) -> QueryResult<Option<(AuthSession, User)>> {
        auth_sessions::table
            .inner_join(users::table)
            .filter(auth_sessions::token_hash.eq(token_hash))
            .select((AuthSession::as_select(), User::as_select()))
            .first(conn)
            .optional()
    }

    /// Why this session's token no longer works at `now`, if it does not:
    /// revoked (logged out, ended from another session, or its user made
    /// inactive) before expired.
    pub fn problem(&self, user: &User, now: NaiveDateTime) -> Option<TokenProblem> {
        if self.revoked_at.is_some() || !user.is_active {
            Some(TokenProblem::Revoked)
        } else if self.expires_at <= now {
            Some(TokenProblem::Expired)
        } else {
            None
        }
    }

    /// The user's live sessions, newest first.
    pub fn live_of_user(
        conn: &mut DbConnection,
        user_id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<AuthSession>> {
        auth_sessions::table
            .filter(auth_sessions::user_id.eq(user_id))
            .filter(auth_sessions::revoked_at.is_null())
            .filter(auth_sessions::expires_at.gt(now))
            .order((auth_sessions::created_at.desc(), auth_sessions::id.desc()))
            .select(AuthSession::as_select())
            .load(conn)
    }

    /// Ends every live session of the user but `keep`; how many it ended.
    pub fn revoke_others(
        conn: &mut DbConnection,
        user_id: i64,
        keep: i64,
        at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            auth_sessions::table
                .filter(auth_sessions::user_id.eq(user_id))
                .filter(auth_sessions::id.ne(keep))
                .filter(auth_sessions::revoked_at.is_null())
                .filter(auth_sessions::expires_at.gt(at)),
        )
        .set(auth_sessions::revoked_at.eq(Some(at)))
        .execute(conn)
    }

    /// Which of `ids` are live sessions (not revoked, not expired) of
    /// active users: the live stream's check, one statement for all its
    /// open streams.
    pub fn live_among(
        conn: &mut DbConnection,
        ids: &[i64],
        now: NaiveDateTime,
    ) -> QueryResult<Vec<i64>> {
        auth_sessions::table
            .inner_join(users::table)
            .filter(auth_sessions::id.eq_any(ids))
            .filter(auth_sessions::revoked_at.is_null())
            .filter(auth_sessions::expires_at.gt(now))
            .filter(users::is_active.eq(true))
            .select(auth_sessions::id)
            .load(conn)
    }

    /// Ends a session; a second call changes nothing.
    pub fn revoke(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            auth_sessions::table
                .find(id)
                .filter(auth_sessions::revoked_at.is_null()),
        )
        .set(auth_sessions::revoked_at.eq(Some(at)))
        .execute(conn)
    }

    /// Ends every live session of a user (the ones not revoked and not
    /// expired) and answers their ids.
    pub fn revoke_all_live(
        conn: &mut DbConnection,
        user_id: i64,
        at: NaiveDateTime,
    ) -> QueryResult<Vec<i64>> {
        let live: Vec<i64> = auth_sessions::table
            .filter(auth_sessions::user_id.eq(user_id))
            .filter(auth_sessions::revoked_at.is_null())
            .filter(auth_sessions::expires_at.gt(at))
            .select(auth_sessions::id)
            .load(conn)?;
        if !live.is_empty() {
            diesel::update(auth_sessions::table.filter(auth_sessions::id.eq_any(&live)))
                .set(auth_sessions::revoked_at.eq(Some(at)))
                .execute(conn)?;
        }
        Ok(live)
    }

    /// When the user's latest session began, if they ever logged in:
    /// read as a session opens, to record its `previous_login_at`.
    /// Sessions are numbered in login order.
    pub fn latest_login_at(
        conn: &mut DbConnection,
        user_id: i64,
    ) -> QueryResult<Option<NaiveDateTime>> {
        auth_sessions::table
            .filter(auth_sessions::user_id.eq(user_id))
            .order(auth_sessions::id.desc())
            .select(auth_sessions::created_at)
            .first(conn)
            .optional()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = auth_sessions)]
pub struct NewAuthSession<'a> {
    pub user_id: i64,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub previous_login_at: Option<NaiveDateTime>,
}

impl NewAuthSession<'_> {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<AuthSession> {
        crate::db::with_backend!(conn, |c| diesel::insert_into(auth_sessions::table)
            .values(self)
            .returning(AuthSession::as_returning())
            .get_result(c))
    }
}
