//! `GET /health` and `GET /metrics`: unauthenticated operations endpoints.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::db;
use crate::state::AppState;

/// Always 200; `degraded` when the database does not answer.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let database_ok = db::run(&state.pool, |conn| {
        conn.batch_execute("SELECT 1").map_err(Into::into)
    })
    .await
    .is_ok();
    HttpResponse::Ok().json(json!({
        "status": if database_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "checks": { "database": if database_ok { "ok" } else { "unavailable" } },
    }))
}

pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::global().render())
}
