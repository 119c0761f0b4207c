//! `/api/webhooks`: create (the secret shown once), list, read, delete,
//! the deliveries listing, and the test ping.

use actix_web::{http::header, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::enums::ActivityType;
use crate::error::{AppError, AppResult, FieldError};
use crate::models::webhook::{Delivery, Webhook};
use crate::routes::authenticated::AuthUser;
use crate::routes::body::Json;
use crate::routes::error_responses::{Conflict, NotFound};
use crate::routes::params::{parse_int, present};
use crate::routes::responses::Items;
use crate::services::webhooks::WebhookService;
use crate::state::AppState;
use crate::webhooks::address::AddressRules;
use crate::webhooks::sender::Sender;
use crate::webhooks::{signature, TEST_PING_TIMEOUT};

/// Activity types one webhook may name.
const MAX_TYPES: usize = 64;

/// `{id}` of a webhook route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookIdParam {
    pub id: i64,
}

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhookBody)]
pub struct CreateBody {
    /// `https://…` (or `http://` to a loopback address where the service
    /// allows private addresses); no user name or password; its host must
    /// resolve, within 2 s, to addresses the service may reach.
    #[schema(max_length = 2048, example = "https://hooks.example.com/shuffify")]
    url: String,
    /// The activity types to deliver (at least one, no repeats); absent or
    /// `null` delivers every type.
    #[schema(max_items = 64, min_items = 1)]
    types: Option<Vec<ActivityType>>,
}

/// A webhook as created: its `secret` appears here only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    webhook: Webhook,
    /// The HMAC-SHA256 key of `Shuffify-Signature` (its UTF-8 bytes,
    /// exactly as shown); never shown again.
    #[schema(example = "whsec_3q2-7wE9yXo1PZ0aQ5tB4mC8vN6kL2jH7gF1dS9aR0U")]
    secret: String,
}

/// Creates a webhook (`webhook_create`); at most 10 per user. It delivers
/// the caller's rows written after it.
#[utoipa::path(
    post, path = "/api/webhooks", tag = "webhooks",
    security(("bearer" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The webhook, with its secret (shown only here)",
            body = CreatedWebhook,
            headers(("Location" = String, description = "`/api/webhooks/{id}`")),
            links(
                ("get_webhook" = (operation_id = "get_webhook", parameters(("id" = "$response.body#/id")))),
                ("list_deliveries" = (operation_id = "list_deliveries", parameters(("id" = "$response.body#/id")))),
                ("delete_webhook" = (operation_id = "delete_webhook", parameters(("id" = "$response.body#/id")))),
            )),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create_webhook(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: Json<CreateBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let types = match body.types {
        None => None,
        Some(types) => Some(checked_types(types)?),
    };
    let url = AddressRules::from_settings(&state.settings)
        .check(&body.url)
        .await
        .map_err(|reason| AppError::invalid("url", reason))?;
    let (webhook, secret) = db::run(&state.pool, move |conn| {
        WebhookService::create(conn, &auth.user, url.as_str(), types.as_deref())
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/webhooks/{}", webhook.id)))
        // The answer carries the secret: no cache may keep it.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedWebhook { webhook, secret }))
}

fn checked_types(types: Vec<ActivityType>) -> AppResult<Vec<ActivityType>> {
    if types.is_empty() {
        return Err(AppError::invalid(
            "types",
            "must name at least one type, or be null for every type",
        ));
    }
    if types.len() > MAX_TYPES {
        return Err(AppError::invalid(
            "types",
            format!("must name at most {MAX_TYPES} types"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(repeated) = types.iter().find(|t| !seen.insert(**t)) {
        return Err(AppError::invalid(
            "types",
            format!("names {repeated} more than once"),
        ));
    }
    Ok(types)
}

/// The caller's webhooks, oldest first.
#[utoipa::path(
    get, path = "/api/webhooks", tag = "webhooks",
    security(("bearer" = [])),
    responses((status = 200, description = "The webhooks", body = Items<Webhook>)),
)]
pub async fn list_webhooks(state: web::Data<AppState>, auth: AuthUser) -> AppResult<HttpResponse> {
    let items = db::run(&state.pool, move |conn| Ok(Webhook::list(conn, auth.id())?)).await?;
    Ok(HttpResponse::Ok().json(Items::new(items)))
}

/// A webhook.
#[utoipa::path(
    get, path = "/api/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookIdParam),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get_webhook(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let webhook = db::run(&state.pool, move |conn| {
        WebhookService::owned(conn, auth.id(), id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(webhook))
}

/// Deletes a webhook and its deliveries (`webhook_delete`); an attempt in
/// flight is not recorded.
#[utoipa::path(
    delete, path = "/api/webhooks/{id}", tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookIdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    db::run(&state.pool, move |conn| {
        WebhookService::delete(conn, &auth.user, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesParams {
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<String>, pattern = "^[1-9][0-9]{0,17}$")]
    cursor: Option<String>,
}

/// `{items, next_cursor}`: deliveries newest first; `next_cursor` is
/// `null` on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A webhook's deliveries, one per event, newest first.
#[utoipa::path(
    get, path = "/api/webhooks/{id}/deliveries", tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookIdParam, DeliveriesParams),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
    params: web::Query<DeliveriesParams>,
) -> AppResult<HttpResponse> {
    let mut errors = Vec::new();
    let limit = parse_int("limit", present(&params.limit), 20i64, 1, 100, &mut errors);
    let before = present(&params.cursor).and_then(|text| {
        let parsed = text
            .parse::<i64>()
            .ok()
            // Exactly what the documented pattern allows: 1-18 digits,
            // no leading zero.
            .filter(|n| {
                *n > 0
                    && text.len() <= 18
                    && !text.starts_with('0')
                    && text.bytes().all(|b| b.is_ascii_digit())
            });
        if parsed.is_none() {
            errors.push(FieldError::new(
                "cursor",
                "must be the next_cursor of a previous page",
            ));
        }
        parsed
    });
    AppError::ensure_valid(errors)?;
    let id = path.into_inner();
    let (items, next) = db::run(&state.pool, move |conn| {
        WebhookService::deliveries(conn, auth.id(), id, before, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryPage {
        items,
        next_cursor: next.map(|id| id.to_string()),
    }))
}

/// What the test ping got.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestPingResult {
    /// A 2xx came within 5 s.
    pub ok: bool,
    /// The receiver's HTTP status; `null` when no answer came.
    #[schema(required = true)]
    pub status: Option<u16>,
    /// What went wrong; `null` when `ok`.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// Sends one signed ping at once: `{id: null, activity_type:
/// "webhook_test", created_at}` with `Shuffify-Event-Id: test-<random>`;
/// at most 5 s, no retry, no delivery recorded, no activity row.
#[utoipa::path(
    post, path = "/api/webhooks/{id}/test", tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookIdParam),
    responses(
        (status = 200, description = "What the receiver answered", body = TestPingResult),
        (status = 404, response = NotFound),
    ),
)]
pub async fn test_webhook(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let webhook = db::run(&state.pool, move |conn| {
        WebhookService::owned(conn, auth.id(), id)
    })
    .await?;
    let timeout = state.settings.webhook_timeout.min(TEST_PING_TIMEOUT);
    let sender = Sender::new(AddressRules::from_settings(&state.settings), timeout)
        .map_err(AppError::Internal)?;
    let body = serde_json::json!({
        "id": null,
        "activity_type": "webhook_test",
        "created_at": crate::timestamp::format(&db::now()),
    })
    .to_string();
    let outcome = sender
        .post(
            &webhook.url,
            &webhook.secret,
            &signature::test_event_id(),
            body,
        )
        .await;
    Ok(HttpResponse::Ok().json(TestPingResult {
        ok: outcome.ok(),
        status: outcome.status,
        error: outcome.error,
    }))
}
