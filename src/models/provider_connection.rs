//! `provider_connections`: a user's connected provider account, one per
//! provider, and each provider account linked to at most one user. Tokens are stored sealed (`providers::seal`); this module only
//! moves the sealed text. `oauth_states`, the authorizations in progress,
//! are here too: a connection is what a state turns into.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{oauth_states, provider_connections};
use crate::db::DbConnection;
use crate::enums::Provider;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = provider_connections)]
pub struct ProviderConnection {
    pub id: i64,
    pub user_id: i64,
    pub provider: Provider,
    /// The provider's id of the account (Spotify's user id).
    pub account_id: String,
    pub display_name: Option<String>,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// Sealed.
    pub access_token: String,
    /// Sealed.
    pub refresh_token: String,
    pub access_expires_at: NaiveDateTime,
    pub refresh_claimed_until: Option<NaiveDateTime>,
    pub broken_reason: Option<String>,
    pub connected_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = provider_connections)]
pub struct NewProviderConnection<'a> {
    pub user_id: i64,
    pub provider: Provider,
    pub account_id: &'a str,
    pub display_name: Option<&'a str>,
    pub scopes: &'a str,
    pub access_token: &'a str,
    pub refresh_token: &'a str,
    pub access_expires_at: NaiveDateTime,
    pub connected_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewProviderConnection<'_> {
    /// Stores the connection, replacing the user's earlier one for this
    /// provider (a reconnect, perhaps of another account); clears any
    /// broken mark and refresh claim. The caller holds the user's lock.
    pub fn upsert(&self, conn: &mut DbConnection) -> QueryResult<ProviderConnection> {
        let existing = ProviderConnection::find(conn, self.user_id, self.provider)?;
        match existing {
            Some(old) => {
                diesel::update(provider_connections::table.find(old.id))
                    .set((
                        self,
                        provider_connections::broken_reason.eq(None::<String>),
                        provider_connections::refresh_claimed_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(provider_connections::table)
                    .values(self)
                    .execute(conn)?;
            }
        }
        ProviderConnection::find(conn, self.user_id, self.provider)?
            .ok_or(diesel::result::Error::NotFound)
    }
}

/// What a refresh gave, the tokens sealed, for
/// [`ProviderConnection::store_refreshed`].
pub struct Refreshed<'a> {
    pub access_token: &'a str,
    pub refresh_token: &'a str,
    pub expires_at: NaiveDateTime,
    /// The grant the answer named; `None` keeps the stored one.
    pub scopes: Option<&'a str>,
}

impl ProviderConnection {
    pub fn find(
        conn: &mut DbConnection,
        user_id: i64,
        provider: Provider,
    ) -> QueryResult<Option<Self>> {
        provider_connections::table
            .filter(provider_connections::user_id.eq(user_id))
            .filter(provider_connections::provider.eq(provider))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Which user the provider's account `account_id` is linked to, if
    /// any (at most one: a unique index holds it).
    pub fn linked_user(
        conn: &mut DbConnection,
        provider: Provider,
        account_id: &str,
    ) -> QueryResult<Option<i64>> {
        provider_connections::table
            .filter(provider_connections::provider.eq(provider))
            .filter(provider_connections::account_id.eq(account_id))
            .select(provider_connections::user_id)
            .first(conn)
            .optional()
    }

    /// The row, locked until the transaction ends (docs/spotify.md: a refresh
    /// locks it and reads it again first).
    pub fn lock(
        conn: &mut DbConnection,
        user_id: i64,
        provider: Provider,
    ) -> QueryResult<Option<Self>> {
        let query = provider_connections::table
            .filter(provider_connections::user_id.eq(user_id))
            .filter(provider_connections::provider.eq(provider));
        match conn {
            DbConnection::Postgres(pg) => query
                .select(Self::as_select())
                .for_update()
                .first(pg)
                .optional(),
            DbConnection::Sqlite(c) => query.select(Self::as_select()).first(c).optional(),
        }
    }

    /// Claims the next refresh until `until`.
    pub fn claim_refresh(
        conn: &mut DbConnection,
        id: i64,
        until: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(provider_connections::table.find(id))
            .set(provider_connections::refresh_claimed_until.eq(Some(until)))
            .execute(conn)
            .map(|_| ())
    }

    /// Stores refreshed tokens (sealed) and releases the claim, if the
    /// claim is still `claim` (a reconnect or a later refresher may have
    /// replaced the row meanwhile: then nothing is written). Whether it
    /// wrote.
    pub fn store_refreshed(
        conn: &mut DbConnection,
        id: i64,
        claim: NaiveDateTime,
        tokens: &Refreshed<'_>,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        diesel::update(claimed(id, claim))
            .set((
                provider_connections::access_token.eq(tokens.access_token),
                provider_connections::refresh_token.eq(tokens.refresh_token),
                provider_connections::access_expires_at.eq(tokens.expires_at),
                tokens
                    .scopes
                    .map(|scopes| provider_connections::scopes.eq(scopes)),
                provider_connections::refresh_claimed_until.eq(None::<NaiveDateTime>),
                provider_connections::updated_at.eq(now),
            ))
            .execute(conn)
            .map(|n| n == 1)
    }

    /// Marks the connection broken (the provider refused its refresh
    /// token), releasing the claim, if the claim is still `claim`.
    pub fn mark_broken(
        conn: &mut DbConnection,
        id: i64,
        claim: NaiveDateTime,
        reason: &str,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        diesel::update(claimed(id, claim))
            .set((
                provider_connections::broken_reason.eq(Some(reason)),
                provider_connections::refresh_claimed_until.eq(None::<NaiveDateTime>),
                provider_connections::updated_at.eq(now),
            ))
            .execute(conn)
            .map(|n| n == 1)
    }

    /// Marks the connection broken whatever its claim (its stored tokens
    /// cannot be read).
    pub fn mark_unreadable(
        conn: &mut DbConnection,
        id: i64,
        reason: &str,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(provider_connections::table.find(id))
            .set((
                provider_connections::broken_reason.eq(Some(reason)),
                provider_connections::updated_at.eq(now),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Releases a refresh claim that did not end in new tokens.
    pub fn release_claim(
        conn: &mut DbConnection,
        id: i64,
        claim: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(claimed(id, claim))
            .set(provider_connections::refresh_claimed_until.eq(None::<NaiveDateTime>))
            .execute(conn)
            .map(|_| ())
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(provider_connections::table.find(id)).execute(conn)
    }
}

/// The row `id`, while its refresh claim is `claim`.
fn claimed(
    id: i64,
    claim: NaiveDateTime,
) -> diesel::dsl::Filter<
    diesel::dsl::Find<provider_connections::table, i64>,
    diesel::dsl::Eq<provider_connections::refresh_claimed_until, NaiveDateTime>,
> {
    provider_connections::table
        .find(id)
        .filter(provider_connections::refresh_claimed_until.eq(claim))
}

/// An authorization in progress.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = oauth_states)]
pub struct OAuthState {
    pub id: i64,
    pub state_hash: String,
    pub user_id: i64,
    pub provider: Provider,
    pub pkce_challenge: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// The SHA-256 of the nonce in the browser's cookie (`None` only for
    /// an authorization started before browsers were bound: it never
    /// completes).
    pub nonce_hash: Option<String>,
    /// The login that asked.
    pub session_id: Option<i64>,
}

/// Authorizations one user may have under way; starting another forgets
/// the oldest.
pub const MAX_PENDING_STATES: i64 = 5;

#[derive(Debug, Insertable)]
#[diesel(table_name = oauth_states)]
pub struct NewOAuthState<'a> {
    pub state_hash: &'a str,
    pub user_id: i64,
    pub provider: Provider,
    pub pkce_challenge: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub nonce_hash: &'a str,
    pub session_id: i64,
}

impl NewOAuthState<'_> {
    /// Stores the state, and forgets expired states and this user's
    /// oldest beyond [`MAX_PENDING_STATES`], so the table stays small
    /// however often `authorize` is called.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::delete(oauth_states::table.filter(oauth_states::expires_at.lt(self.created_at)))
            .execute(conn)?;
        diesel::insert_into(oauth_states::table)
            .values(self)
            .execute(conn)?;
        let kept: Vec<i64> = oauth_states::table
            .filter(oauth_states::user_id.eq(self.user_id))
            .order(oauth_states::id.desc())
            .limit(MAX_PENDING_STATES)
            .select(oauth_states::id)
            .load(conn)?;
        diesel::delete(
            oauth_states::table
                .filter(oauth_states::user_id.eq(self.user_id))
                .filter(oauth_states::id.ne_all(kept)),
        )
        .execute(conn)
        .map(|_| ())
    }
}

impl OAuthState {
    /// Whether a state with this hash is stored (used or not, expired or
    /// not): a read, so a guessed state that matches nothing takes no write
    /// lock.
    pub fn is_known(conn: &mut DbConnection, state_hash: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            oauth_states::table.filter(oauth_states::state_hash.eq(state_hash)),
        ))
        .get_result(conn)
    }

    /// The state with this hash, whether or not it is still valid.
    pub fn find(conn: &mut DbConnection, state_hash: &str) -> QueryResult<Option<Self>> {
        oauth_states::table
            .filter(oauth_states::state_hash.eq(state_hash))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    /// Uses up the state `id`: whether this call did. The delete decides,
    /// so two callbacks racing with one state cannot both have it.
    pub fn consume(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
        diesel::delete(oauth_states::table.find(id))
            .execute(conn)
            .map(|n| n == 1)
    }

    /// Drops the authorizations a login started (it logged out).
    pub fn delete_for_session(conn: &mut DbConnection, session_id: i64) -> QueryResult<usize> {
        diesel::delete(oauth_states::table.filter(oauth_states::session_id.eq(session_id)))
            .execute(conn)
    }
}
