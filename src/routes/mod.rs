//! HTTP routes: one file per resource, handlers that only parse, call and
//! answer. [`configure`] registers every route and the extractor settings;
//! the binary and the tests both use it, so tests exercise the real routing.

pub mod activity;
pub mod auth;
pub mod authenticated;
pub mod errors;
pub mod health;
pub mod me;

use actix_web::web;

/// Request bodies above this answer 413 (SPEC §5).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// The larger limit of playlist creation and workshop commits.
pub const LARGE_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A resource whose unmatched methods answer 405 with the JSON error body.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(errors::method_not_allowed))
}

/// Registers every route, the JSON/query/path extractor settings and the
/// JSON 404 for unknown paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(errors::json_config(BODY_LIMIT))
        .app_data(errors::query_config())
        .app_data(errors::path_config())
        .service(resource("/health").route(web::get().to(health::health)))
        .service(resource("/metrics").route(web::get().to(health::metrics)))
        .service(
            web::scope("/api")
                .service(resource("/auth/register").route(web::post().to(auth::register)))
                .service(resource("/auth/login").route(web::post().to(auth::login)))
                .service(resource("/auth/logout").route(web::post().to(auth::logout)))
                .service(resource("/me").route(web::get().to(me::get_me)))
                .service(resource("/activity").route(web::get().to(activity::list_activity)))
                .service(
                    resource("/activity/recent").route(web::get().to(activity::recent_activity)),
                )
                .service(resource("/activity/since").route(web::get().to(activity::activity_since)))
                .service(
                    resource("/activity/summary").route(web::get().to(activity::activity_summary)),
                )
                .service(
                    resource("/activity/export").route(web::get().to(activity::export_activity)),
                ),
        )
        .default_service(web::to(errors::not_found));
}
