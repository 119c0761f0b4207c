//! `GET /health` and `GET /metrics`: unauthenticated operations endpoints.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::routes::responses::{Health, HealthChecks};
use crate::state::AppState;

/// How long `/health` waits for a connection before calling the database
/// unavailable (the pool's own timeout is longer, for real work).
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Always 200; `degraded` when the database does not answer.
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
        status: if database_ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        checks: HealthChecks {
            database: if database_ok { "ok" } else { "unavailable" },
        },
    })
}

pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::global().render())
}
