//! `provider_pauses`: the app-wide pause a provider asked for with a 429
//! (one row per provider), shared by every instance on PostgreSQL. The
//! Spotify client keeps it in process and reads this row at most about
//! once a second (`services::spotify::pause`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::provider_pauses;
use crate::db::DbConnection;
use crate::enums::Provider;

pub struct ProviderPause;

impl ProviderPause {
    /// Until when calls to `provider` wait, if a 429 ever said so (the
    /// time may be past).
    pub fn find(conn: &mut DbConnection, provider: Provider) -> QueryResult<Option<NaiveDateTime>> {
        provider_pauses::table
            .filter(provider_pauses::provider.eq(provider.as_ref()))
            .select(provider_pauses::wait_until)
            .first(conn)
            .optional()
    }

    /// Makes calls to `provider` wait until `until`, unless a later pause
    /// is already stored: one statement, so two instances writing at once
    /// keep the later time. PostgreSQL only: SQLite keeps the pause in
    /// process.
    pub fn extend(
        conn: &mut DbConnection,
        provider: Provider,
        until: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::sql_query(
            "INSERT INTO provider_pauses (provider, wait_until) VALUES ($1, $2) \
             ON CONFLICT (provider) DO UPDATE \
             SET wait_until = GREATEST(provider_pauses.wait_until, EXCLUDED.wait_until)",
        )
        .bind::<diesel::sql_types::Text, _>(provider.as_ref())
        .bind::<diesel::sql_types::Timestamp, _>(until)
        .execute(conn)
        .map(|_| ())
    }
}
