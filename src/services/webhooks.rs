//! Webhooks as their owner manages them: create (at most
//! [`MAX_WEBHOOKS_PER_USER`], the secret returned once), read, delete, and
//! the deliveries listing. The URL's address rules are checked by the
//! route before anything is stored (`crate::webhooks::address`).

use crate::db::{self, write_transaction, DbConnection, Json};
use crate::enums::ActivityType;
use crate::error::{AppError, AppResult};
use crate::models::webhook::{Delivery, NewWebhook, Webhook};
use crate::models::{ActivityLog, NewActivity, User};
use crate::services::activity_log::ActivityLogService;
use crate::webhooks::signature;
use crate::webhooks::MAX_WEBHOOKS_PER_USER;

pub struct WebhookService;

impl WebhookService {
    /// Stores a webhook whose URL has been checked; returns it with its
    /// secret. It delivers rows written after it (its own
    /// `webhook_create` row excluded).
    pub fn create(
        conn: &mut DbConnection,
        user: &User,
        url: &str,
        types: Option<&[ActivityType]>,
    ) -> AppResult<(Webhook, String)> {
        write_transaction(conn, |conn| {
            User::lock(conn, user.id)?;
            if Webhook::count(conn, user.id)? >= MAX_WEBHOOKS_PER_USER {
                return Err(AppError::Conflict(format!(
                    "at most {MAX_WEBHOOKS_PER_USER} webhooks per user; delete one first"
                )));
            }
            let secret = signature::new_secret();
            let mut webhook = NewWebhook {
                user_id: user.id,
                url: url.to_string(),
                types: types.map(|types| {
                    Json(serde_json::Value::Array(
                        types.iter().map(|t| t.as_ref().into()).collect(),
                    ))
                }),
                secret: secret.clone(),
                enabled: true,
                consecutive_failures: 0,
                last_activity_id: 0,
                created_at: db::now(),
                last_activity_at: None,
            }
            .insert(conn)?;
            ActivityLogService::log(conn, NewActivity::webhook_create(user, &webhook));
            // The log's per-user lock is held to commit, so every row of
            // this user not yet visible will have a higher id.
            webhook.last_activity_id = ActivityLog::last_id(conn, user.id)?;
            webhook.last_activity_at =
                ActivityLog::time_of(conn, user.id, webhook.last_activity_id)?;
            Webhook::set_cursor(
                conn,
                webhook.id,
                webhook.last_activity_id,
                webhook.last_activity_at,
            )?;
            Ok((webhook, secret))
        })
    }

    /// The caller's own webhook (404 for a missing one or another user's).
    pub fn owned(conn: &mut DbConnection, user_id: i64, id: i64) -> AppResult<Webhook> {
        Webhook::find_owned(conn, user_id, id)?.ok_or(AppError::NotFound)
    }

    pub fn delete(conn: &mut DbConnection, user: &User, id: i64) -> AppResult<()> {
        write_transaction(conn, |conn| {
            let webhook = Self::owned(conn, user.id, id)?;
            Webhook::delete(conn, id)?;
            ActivityLogService::log(conn, NewActivity::webhook_delete(user, &webhook));
            Ok(())
        })
    }

    /// A page of the webhook's deliveries, newest first, after the
    /// delivery id `before`; the id to continue from when more may follow.
    pub fn deliveries(
        conn: &mut DbConnection,
        user_id: i64,
        id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> AppResult<(Vec<Delivery>, Option<i64>)> {
        Self::owned(conn, user_id, id)?;
        let mut items = Delivery::page(conn, id, before, limit + 1)?;
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next = more.then(|| items.last().map(|d| d.id)).flatten();
        Ok((items, next))
    }
}
