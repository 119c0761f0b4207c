//! `webhooks` and `webhook_deliveries`: where a user's new activity rows are
//! POSTed, and one record per event sent. The delivery machinery itself
//! (claims, attempts, backoff) lives in `crate::webhooks`; this module holds
//! the rows and the statements on these two tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{webhook_deliveries, webhooks};
use crate::db::{self, DbConnection, Json};
use crate::enums::{ActivityType, DeliveryStatus};
use crate::models::activity_log::ID_READ_MARGIN_SECS;

/// A webhook as stored. Serialized as the API shows it: never the secret,
/// the cursor or the claim.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = webhooks)]
#[schema(example = json!({
    "id": 1, "url": "https://hooks.example.com/shuffify", "types": ["shuffle", "playlist_update"],
    "enabled": true, "disabled_reason": null, "consecutive_failures": 0,
    "created_at": "2026-12-07T10:00:00.000000Z"
}))]
pub struct Webhook {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub url: String,
    /// The activity types delivered; `null` delivers every type.
    #[schema(value_type = Option<Vec<ActivityType>>, required = true)]
    pub types: Option<Json>,
    #[serde(skip)]
    pub secret: String,
    pub enabled: bool,
    /// Why the webhook stopped delivering; a disabled webhook is deleted
    /// and created again.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row, whatever their event; a 2xx resets it.
    pub consecutive_failures: i32,
    #[serde(skip)]
    pub last_activity_id: i64,
    #[serde(skip)]
    pub claimed_by: Option<String>,
    #[serde(skip)]
    pub claimed_until: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: NaiveDateTime,
    /// The time of the row `last_activity_id` names (`None` when unknown):
    /// reads after the cursor are bounded in time from it too.
    #[serde(skip)]
    pub last_activity_at: Option<NaiveDateTime>,
}

impl Webhook {
    /// The activity types delivered, `None` for every type (names this
    /// build does not know are left out).
    pub fn type_list(&self) -> Option<Vec<ActivityType>> {
        match &self.types {
            None => None,
            Some(Json(serde_json::Value::Array(types))) => Some(
                types
                    .iter()
                    .filter_map(|t| t.as_str()?.parse().ok())
                    .collect(),
            ),
            Some(_) => Some(Vec::new()),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = webhooks, treat_none_as_default_value = false)]
pub struct NewWebhook {
    pub user_id: i64,
    pub url: String,
    pub types: Option<Json>,
    pub secret: String,
    pub enabled: bool,
    pub consecutive_failures: i32,
    pub last_activity_id: i64,
    pub created_at: NaiveDateTime,
    pub last_activity_at: Option<NaiveDateTime>,
}

impl NewWebhook {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<Webhook> {
        db::with_backend!(conn, |c| diesel::insert_into(webhooks::table)
            .values(self)
            .returning(Webhook::as_returning())
            .get_result(c))
    }
}

impl Webhook {
    /// A user's webhooks, oldest first.
    pub fn list(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<Webhook>> {
        webhooks::table
            .filter(webhooks::user_id.eq(user_id))
            .order(webhooks::id.asc())
            .select(Webhook::as_select())
            .load(conn)
    }

    pub fn count(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
        webhooks::table
            .filter(webhooks::user_id.eq(user_id))
            .count()
            .get_result(conn)
    }

    /// The user's own webhook, `None` when missing or another user's.
    pub fn find_owned(conn: &mut DbConnection, user_id: i64, id: i64) -> QueryResult<Option<Self>> {
        webhooks::table
            .filter(webhooks::id.eq(id))
            .filter(webhooks::user_id.eq(user_id))
            .select(Webhook::as_select())
            .first(conn)
            .optional()
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Self>> {
        webhooks::table
            .find(id)
            .select(Webhook::as_select())
            .first(conn)
            .optional()
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(webhooks::table.find(id)).execute(conn)
    }

    /// Moves the cursor to the row `last_activity_id`, written at `at`.
    pub fn set_cursor(
        conn: &mut DbConnection,
        id: i64,
        last_activity_id: i64,
        at: Option<NaiveDateTime>,
    ) -> QueryResult<()> {
        diesel::update(webhooks::table.find(id))
            .set((
                webhooks::last_activity_id.eq(last_activity_id),
                webhooks::last_activity_at.eq(at),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Claims up to `limit` enabled webhooks that have work now (a pending
    /// delivery due, or none pending and a newer row of their owner) and
    /// that no live claim holds, for `instance` until `until`; returns
    /// their ids. On PostgreSQL the candidates are locked with `FOR UPDATE
    /// SKIP LOCKED`, so instances claiming at once take different webhooks
    /// and none waits on another; a webhook another instance has just
    /// claimed fails the `claimed_until` test once its claim commits. On
    /// SQLite the single writer serialises claims.
    pub fn claim(
        conn: &mut DbConnection,
        instance: &str,
        now: NaiveDateTime,
        until: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<i64>> {
        const HAS_WORK: &str = "w.enabled \
            AND (w.claimed_until IS NULL OR w.claimed_until < $1) \
            AND (EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id \
                    AND d.status = 'pending' AND d.next_attempt_at <= $1) \
                OR (NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id \
                        AND d.status = 'pending') \
                    AND EXISTS (SELECT 1 FROM activity_log a WHERE a.user_id = w.user_id \
                        AND a.id > w.last_activity_id AND {FLOOR})))";
        // The cursor row's time less the margin of reads by id
        // (`activity_log::id_read_floor`), so PostgreSQL looks only in the
        // newest partitions.
        let pg_floor = format!(
            "a.created_at >= COALESCE(w.last_activity_at - INTERVAL '{ID_READ_MARGIN_SECS} seconds', \
             TIMESTAMP '0001-01-01 00:00:00')"
        );
        // On SQLite, `+` keeps the time from choosing the index (see
        // `activity_log::created_since`).
        let sqlite_floor = format!(
            "+a.created_at >= COALESCE(strftime('%Y-%m-%d %H:%M:%f', w.last_activity_at, \
             '-{ID_READ_MARGIN_SECS} seconds'), '0001-01-01 00:00:00')"
        );
        let claim = db::Claim {
            table: "webhooks",
            alias: "w",
            postgres_condition: &HAS_WORK.replace("{FLOOR}", &pg_floor),
            sqlite_condition: &HAS_WORK.replace("{FLOOR}", &sqlite_floor),
            order: "w.id",
        };
        db::claim_batch(conn, &claim, instance, now, until, limit)
    }

    /// The webhook, if `instance` still holds a live claim on it (it was
    /// not deleted, disabled, or taken over after the claim ran out).
    ///
    /// On PostgreSQL the row is locked (`FOR NO KEY UPDATE`) for the rest
    /// of the caller's transaction, so the worker always locks a webhook
    /// before its deliveries, as deleting the webhook (or its owner) does:
    /// locking the delivery first deadlocked against such a delete.
    pub fn held(conn: &mut DbConnection, id: i64, instance: &str) -> QueryResult<Option<Self>> {
        let now = db::now();
        let query = webhooks::table
            .filter(webhooks::id.eq(id))
            .filter(webhooks::enabled.eq(true))
            .filter(webhooks::claimed_by.eq(instance))
            .filter(webhooks::claimed_until.ge(now));
        match conn {
            DbConnection::Postgres(pg) => query
                .select(Webhook::as_select())
                .for_no_key_update()
                .first(pg)
                .optional(),
            DbConnection::Sqlite(c) => query.select(Webhook::as_select()).first(c).optional(),
        }
    }

    /// Before an attempt: moves the cursor to `last_activity_id` and
    /// extends `instance`'s claim to `until`, in one statement; `false`
    /// when `instance` no longer holds the claim (then nothing is sent).
    pub fn renew(
        conn: &mut DbConnection,
        id: i64,
        instance: &str,
        last_activity_id: i64,
        last_activity_at: Option<NaiveDateTime>,
        until: NaiveDateTime,
    ) -> QueryResult<bool> {
        diesel::update(
            webhooks::table
                .filter(webhooks::id.eq(id))
                .filter(webhooks::claimed_by.eq(instance)),
        )
        .set((
            webhooks::last_activity_id.eq(last_activity_id),
            webhooks::last_activity_at.eq(last_activity_at),
            webhooks::claimed_until.eq(Some(until)),
        ))
        .execute(conn)
        .map(|n| n == 1)
    }

    /// Extends (`Some`) or gives up (`None`) `instance`'s claim.
    pub fn set_claim(
        conn: &mut DbConnection,
        id: i64,
        instance: &str,
        until: Option<NaiveDateTime>,
    ) -> QueryResult<()> {
        let mine = webhooks::table
            .filter(webhooks::id.eq(id))
            .filter(webhooks::claimed_by.eq(instance));
        let claimed_by: Option<&str> = until.map(|_| instance);
        diesel::update(mine)
            .set((
                webhooks::claimed_until.eq(until),
                webhooks::claimed_by.eq(claimed_by),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Records an attempt's outcome on the webhook: a success resets the
    /// count of failures in a row, a failure adds one; returns the count.
    pub fn count_attempt(conn: &mut DbConnection, id: i64, succeeded: bool) -> QueryResult<i32> {
        let target = webhooks::table.find(id);
        if succeeded {
            diesel::update(target)
                .set(webhooks::consecutive_failures.eq(0))
                .returning(webhooks::consecutive_failures)
                .get_result::<i32>(conn)
        } else {
            diesel::update(target)
                .set(webhooks::consecutive_failures.eq(webhooks::consecutive_failures + 1))
                .returning(webhooks::consecutive_failures)
                .get_result::<i32>(conn)
        }
    }

    /// Stops deliveries for good (until deleted and created again).
    pub fn disable(conn: &mut DbConnection, id: i64, reason: &str) -> QueryResult<()> {
        diesel::update(webhooks::table.find(id))
            .set((
                webhooks::enabled.eq(false),
                webhooks::disabled_reason.eq(reason),
                webhooks::claimed_by.eq(None::<String>),
                webhooks::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map(|_| ())
    }
}

/// One event's delivery to a webhook, as the deliveries listing shows it.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema,
)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    #[serde(skip)]
    pub webhook_id: i64,
    /// The activity row delivered (its `Shuffify-Event-Id`).
    pub activity_id: i64,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub last_attempt_at: Option<NaiveDateTime>,
    /// The HTTP status of the last answer; `null` when none came.
    #[schema(required = true)]
    pub last_status: Option<i32>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// When a pending delivery is tried next.
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub next_attempt_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::timestamp::serialize_option")]
    #[schema(required = true)]
    pub succeeded_at: Option<NaiveDateTime>,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
    /// The delivered row's `created_at`, so it is found in its partition.
    #[serde(skip)]
    pub activity_created_at: Option<NaiveDateTime>,
}

/// What one attempt changed on its delivery.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = webhook_deliveries, treat_none_as_null = true)]
pub struct AttemptRecord {
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub succeeded_at: Option<NaiveDateTime>,
}

impl Delivery {
    /// Starts the delivery of one event, due at once.
    pub fn start(
        conn: &mut DbConnection,
        webhook_id: i64,
        activity_id: i64,
        activity_created_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> QueryResult<Delivery> {
        db::with_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::webhook_id.eq(webhook_id),
                webhook_deliveries::activity_id.eq(activity_id),
                webhook_deliveries::status.eq(DeliveryStatus::Pending),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(Some(now)),
                webhook_deliveries::created_at.eq(now),
                webhook_deliveries::activity_created_at.eq(Some(activity_created_at)),
            ))
            .returning(Delivery::as_returning())
            .get_result(c))
    }

    /// The webhook's delivery in progress: its oldest pending one.
    pub fn head(conn: &mut DbConnection, webhook_id: i64) -> QueryResult<Option<Delivery>> {
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .order(webhook_deliveries::id.asc())
            .select(Delivery::as_select())
            .first(conn)
            .optional()
    }

    pub fn record(conn: &mut DbConnection, id: i64, record: &AttemptRecord) -> QueryResult<()> {
        diesel::update(webhook_deliveries::table.find(id))
            .set(record)
            .execute(conn)
            .map(|_| ())
    }

    /// Up to `limit` deliveries of a webhook, newest first, with ids below
    /// `before` when given.
    pub fn page(
        conn: &mut DbConnection,
        webhook_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> QueryResult<Vec<Delivery>> {
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(webhook_deliveries::id.lt(before));
        }
        query
            .order(webhook_deliveries::id.desc())
            .limit(limit)
            .select(Delivery::as_select())
            .load(conn)
    }

    /// Every delivery of a webhook, oldest first (tests and tools).
    pub fn all(conn: &mut DbConnection, webhook_id: i64) -> QueryResult<Vec<Delivery>> {
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .order(webhook_deliveries::id.asc())
            .select(Delivery::as_select())
            .load(conn)
    }
}
