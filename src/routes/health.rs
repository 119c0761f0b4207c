//! `GET /health` and `GET /metrics`: unauthenticated operations endpoints.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::routes::responses::{CheckStatus, Health, HealthChecks, HealthStatus};
use crate::state::AppState;

/// How long `/health` waits for a connection before calling the database
/// unavailable (the pool's own timeout is longer, for real work).
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Always 200; `degraded` when the database does not answer. Runs one
/// uncached `SELECT 1`: the baseline of the load figures.
#[utoipa::path(
    get, path = "/health", tag = "operations",
    responses((status = 200, description = "The service and its database", body = Health)),
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let database_ok = web::block(move || {
        let mut conn = pool.get_timeout(CHECK_TIMEOUT).ok()?;
        conn.batch_execute("SELECT 1").ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    HttpResponse::Ok().json(Health {
        status: if database_ok {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        version: env!("CARGO_PKG_VERSION"),
        checks: HealthChecks {
            database: if database_ok {
                CheckStatus::Ok
            } else {
                CheckStatus::Unavailable
            },
        },
    })
}

/// Prometheus text: request counts and latencies by route pattern and
/// status, activity writes and write failures, job runs by status.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)),
)]
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::global().render())
}
