//! Accounts and sessions: registration, logins and logouts, and opaque
//! bearer tokens of which only a SHA-256 hash is stored. Passwords are
//! hashed and checked in `crate::password`, never inside a database
//! checkout; the login throttle is `crate::login_throttle`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{self, write_transaction, DbConnection};
use crate::error::{AppError, AppResult, FieldError, TokenProblem};
use crate::models::provider_connection::OAuthState;
use crate::models::{AuthSession, NewActivity, NewAuthSession, NewUser, User, UserSettings};
use crate::password::hash_password;
use crate::services::ActivityLogService;
use crate::validate;

/// Characters of a [`new_token`]: 32 bytes in unpadded base64url.
pub const TOKEN_CHARS: usize = 43;

/// Whether `text` could be a value of [`new_token`] (or another random
/// value of `chars` base64url characters): what a guess of the wrong shape
/// is refused by before it costs a lookup.
pub fn token_shaped(text: &str, chars: usize) -> bool {
    text.len() == chars
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new opaque token: 32 random bytes, 43 characters of unpadded base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A registration request, validated by [`Registration::validate`].
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: String,
    pub password: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// The username rules of registration, which a login name must also meet.
fn check_username(username: &str, errors: &mut Vec<FieldError>) {
    if !validate::USERNAME.fits(username) {
        errors.push(FieldError::new("username", validate::USERNAME.message()));
    } else if !validate::username_chars(username) {
        errors.push(FieldError::new(
            "username",
            "may contain only a-z, 0-9, '_', '.' and '-'",
        ));
    }
}

/// The shape of a login: a username that could exist and a password no
/// longer than any can be. Checked before the throttle, the hash and the
/// database (docs/architecture.md, "Limits, addresses and guesses"), so junk names cost nothing and are never kept.
pub fn validate_login(username: &str, password: &str) -> AppResult<()> {
    let mut errors = Vec::new();
    check_username(username, &mut errors);
    validate::LOGIN_PASSWORD.check("password", password, &mut errors);
    AppError::ensure_valid(errors)
}

impl Registration {
    /// Every rule of a registration; the HTTP route and the CLI call it
    /// once, before hashing.
    pub fn validate(&self) -> AppResult<()> {
        let mut errors = Vec::new();
        check_username(&self.username, &mut errors);
        validate::PASSWORD.check("password", &self.password, &mut errors);
        if let Some(display_name) = self.display_name.as_deref() {
            validate::DISPLAY_NAME.check_trimmed("display_name", display_name, &mut errors);
        }
        if let Some(email) = &self.email {
            validate::check_email("email", email, &mut errors);
        }
        AppError::ensure_valid(errors)
    }
}

/// A session just opened: the token (shown to the client once), its row and
/// the user as updated by the login.
pub struct NewLogin {
    pub token: String,
    pub session: AuthSession,
    pub user: User,
}

/// Where a login came from, recorded on its session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

pub struct AuthService;

impl AuthService {
    /// Creates a user and their settings. No activity row: registration has
    /// no type.
    /// For the CLI and the demo data, which hash in place; the HTTP route
    /// hashes outside any connection and calls [`Self::register_hashed`].
    pub fn register(conn: &mut DbConnection, reg: &Registration) -> AppResult<User> {
        reg.validate()?;
        let hash = hash_password(&reg.password)?;
        Self::register_hashed(conn, reg, &hash)
    }

    /// Stores a validated registration whose password is already hashed.
    pub fn register_hashed(
        conn: &mut DbConnection,
        reg: &Registration,
        hash: &str,
    ) -> AppResult<User> {
        write_transaction(conn, |conn| {
            if User::find_by_username(conn, &reg.username)?.is_some() {
                return Err(AppError::Conflict("username is already taken".into()));
            }
            let now = db::now();
            let user = NewUser {
                username: &reg.username,
                display_name: reg
                    .display_name
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or(&reg.username),
                email: reg.email.as_deref(),
                password_hash: hash,
                is_active: true,
                login_count: 0,
                created_at: now,
                updated_at: now,
            }
            .insert(conn)
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict(_) => AppError::Conflict("username is already taken".into()),
                other => other,
            })?;
            UserSettings::create_default(conn, user.id, now)?;
            Ok(user)
        })
    }

    /// The active user a login names, if any (the password is checked
    /// after this checkout is returned).
    pub fn login_candidate(conn: &mut DbConnection, username: &str) -> AppResult<Option<User>> {
        Ok(User::find_by_username(conn, username)?.filter(|u| u.is_active))
    }

    /// Records a wrong password for an existing user.
    pub fn record_failed_login(conn: &mut DbConnection, user: &User) {
        ActivityLogService::log(conn, NewActivity::login_failed(user));
    }

    /// Opens a session for a user whose password matched.
    pub fn open_session(
        conn: &mut DbConnection,
        user: &User,
        client: &ClientInfo,
        ttl: chrono::Duration,
    ) -> AppResult<NewLogin> {
        let token = new_token();
        let hash = token_hash(&token);
        // Never longer than the longest `SESSION_TTL_HOURS` allows, and
        // never an overflow: settings built in code are not checked.
        let ttl = ttl.min(chrono::Duration::hours(
            crate::config::SESSION_TTL_HOURS_MAX,
        ));
        write_transaction(conn, |conn| {
            let now = db::now();
            let expires_at = now
                .checked_add_signed(ttl)
                .ok_or_else(|| AppError::Internal("a session's expiry is out of range".into()))?;
            // Read in the write transaction: SQLite's write lock orders
            // logins; two simultaneous logins of one user on PostgreSQL
            // may both name the same previous one.
            let previous_login_at = AuthSession::latest_login_at(conn, user.id)?;
            // The user's row first (lock order: user before what refers to
            // it), so a login never holds a session row while it waits for
            // the user's (an account deletion holds the user's and then
            // deletes the sessions).
            let user = User::record_login(conn, user.id, now)?;
            let session = NewAuthSession {
                previous_login_at,
                user_id: user.id,
                token_hash: &hash,
                created_at: now,
                expires_at,
                ip_address: client.ip_address.as_deref(),
                user_agent: client.user_agent.as_deref(),
            }
            .insert(conn)?;
            ActivityLogService::log(conn, NewActivity::login(&user, session.id));
            Ok(NewLogin {
                token,
                session,
                user,
            })
        })
    }

    /// The session and user a bearer token stands for, if it is live;
    /// otherwise the 401 saying why (unknown, expired or revoked).
    pub fn authenticate(conn: &mut DbConnection, token: &str) -> AppResult<(AuthSession, User)> {
        let (session, user) = AuthSession::find_by_token(conn, &token_hash(token))?
            .ok_or(AppError::InvalidToken(TokenProblem::Unknown))?;
        match session.problem(&user, db::now()) {
            Some(problem) => Err(AppError::InvalidToken(problem)),
            None => Ok((session, user)),
        }
    }

    /// Ends a session and records it; the Spotify authorizations it
    /// started can no longer complete.
    pub fn logout(conn: &mut DbConnection, session: &AuthSession, user: &User) -> AppResult<()> {
        write_transaction(conn, |conn| {
            AuthSession::revoke(conn, session.id, db::now())?;
            OAuthState::delete_for_session(conn, session.id)?;
            ActivityLogService::log(conn, NewActivity::logout(user, session.id));
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_chars_of_base64url() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(t, new_token());
        assert_eq!(token_hash(&t).len(), 64);
    }

    #[test]
    fn usernames_follow_the_spec() {
        let refused = |name: &str| {
            let mut errors = Vec::new();
            check_username(name, &mut errors);
            !errors.is_empty()
        };
        assert!(!refused("good_name.1-x"));
        assert!(refused("ab"));
        assert!(refused("Upper"));
        assert!(refused(&"a".repeat(33)));
    }
}
