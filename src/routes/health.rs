//! `GET /health`, `GET /health/live`, `GET /health/ready` and
//! `GET /metrics`: unauthenticated operations endpoints.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::routes::responses::{
    CheckStatus, Health, HealthChecks, HealthStatus, LiveStatus, Liveness, MigrationsStatus,
    Readiness, ReadinessChecks, ReadyCheck, ReadyStatus, ShutdownStatus,
};
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

/// Liveness: 200 whenever the process answers; it asks nothing of the
/// database, so a restart is never ordered for a database outage.
#[utoipa::path(
    get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "The process answers", body = Liveness)),
)]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Liveness {
        status: LiveStatus::Ok,
    })
}

/// Readiness: 200 when the database answers, every embedded migration is
/// applied and shutdown has not begun; otherwise 503, `failed` naming the
/// checks that did not pass. A load balancer stops sending requests on
/// the 503 of an instance that is draining.
#[utoipa::path(
    get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic", body = Readiness),
        (status = 503, description = "Not ready: `failed` names the checks that did not pass",
            body = Readiness),
    ),
)]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let shutdown = if state.shutdown.has_begun() {
        ShutdownStatus::ShuttingDown
    } else {
        ShutdownStatus::Running
    };
    let pool = state.pool.clone();
    let (database, migrations) = web::block(move || {
        let Ok(mut conn) = pool.get_timeout(CHECK_TIMEOUT) else {
            return (CheckStatus::Unavailable, MigrationsStatus::Unknown);
        };
        if conn.batch_execute("SELECT 1").is_err() {
            return (CheckStatus::Unavailable, MigrationsStatus::Unknown);
        }
        let migrations = match crate::db::migrations::has_pending(&mut conn) {
            Ok(false) => MigrationsStatus::Ok,
            Ok(true) => MigrationsStatus::Pending,
            Err(_) => MigrationsStatus::Unknown,
        };
        (CheckStatus::Ok, migrations)
    })
    .await
    .unwrap_or((CheckStatus::Unavailable, MigrationsStatus::Unknown));
    let failed: Vec<ReadyCheck> = [
        (ReadyCheck::Database, database != CheckStatus::Ok),
        (ReadyCheck::Migrations, migrations != MigrationsStatus::Ok),
        (ReadyCheck::Shutdown, shutdown != ShutdownStatus::Running),
    ]
    .into_iter()
    .filter_map(|(check, failed)| failed.then_some(check))
    .collect();
    let (mut response, status) = if failed.is_empty() {
        (HttpResponse::Ok(), ReadyStatus::Ok)
    } else {
        (HttpResponse::ServiceUnavailable(), ReadyStatus::Unavailable)
    };
    response.json(Readiness {
        status,
        failed,
        checks: ReadinessChecks {
            database,
            migrations,
            shutdown,
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
