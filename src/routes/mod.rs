//! HTTP routes: one file per resource, handlers that only parse, call and
//! answer. [`configure`] registers every route and the extractor settings;
//! the binary and the tests both use it, so tests exercise the real routing.

pub mod activity;
pub mod algorithms;
pub mod auth;
pub mod authenticated;
pub mod errors;
pub mod health;
pub mod me;
pub mod params;
pub mod playlists;
pub mod schedules;
pub mod settings;
pub mod snapshots;
pub mod tracks;
pub mod upstream;
pub mod workshop;

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
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
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
                .service(
                    resource("/settings")
                        .route(web::get().to(settings::get_settings))
                        .route(web::patch().to(settings::update_settings)),
                )
                .service(resource("/tracks").route(web::get().to(tracks::search_tracks)))
                .service(resource("/algorithms").route(web::get().to(algorithms::list_algorithms)))
                .service(
                    resource("/playlists")
                        .app_data(errors::json_config(LARGE_BODY_LIMIT))
                        .route(web::get().to(playlists::list_playlists))
                        .route(web::post().to(playlists::create_playlist)),
                )
                .service(
                    resource("/playlists/{id}")
                        .route(web::get().to(playlists::get_playlist))
                        .route(web::patch().to(playlists::update_playlist))
                        .route(web::delete().to(playlists::delete_playlist)),
                )
                .service(
                    resource("/playlists/{id}/shuffle")
                        .route(web::post().to(playlists::shuffle_playlist)),
                )
                .service(
                    resource("/playlists/{id}/undo")
                        .route(web::post().to(playlists::undo_playlist)),
                )
                .service(
                    resource("/playlists/{id}/snapshots")
                        .route(web::get().to(snapshots::list_snapshots))
                        .route(web::post().to(snapshots::create_snapshot)),
                )
                .service(
                    resource("/snapshots/{sid}")
                        .route(web::get().to(snapshots::get_snapshot))
                        .route(web::delete().to(snapshots::delete_snapshot)),
                )
                .service(
                    resource("/snapshots/{sid}/restore")
                        .route(web::post().to(snapshots::restore_snapshot)),
                )
                .service(
                    resource("/playlists/{id}/workshop/preview")
                        .route(web::post().to(workshop::preview)),
                )
                .service(
                    resource("/playlists/{id}/workshop/commit")
                        .app_data(errors::json_config(LARGE_BODY_LIMIT))
                        .route(web::post().to(workshop::commit)),
                )
                .service(
                    resource("/playlists/{id}/workshop/sessions")
                        .route(web::get().to(workshop::list_sessions))
                        .route(web::post().to(workshop::create_session)),
                )
                .service(
                    resource("/playlists/{id}/upstream-sources")
                        .route(web::get().to(upstream::list_sources))
                        .route(web::post().to(upstream::add_source)),
                )
                .service(
                    resource("/upstream-sources/{sid}")
                        .route(web::delete().to(upstream::delete_source)),
                )
                .service(
                    resource("/schedules")
                        .route(web::get().to(schedules::list_schedules))
                        .route(web::post().to(schedules::create_schedule)),
                )
                .service(
                    resource("/schedules/{id}")
                        .route(web::get().to(schedules::get_schedule))
                        .route(web::patch().to(schedules::update_schedule))
                        .route(web::delete().to(schedules::delete_schedule)),
                )
                .service(
                    resource("/schedules/{id}/toggle")
                        .route(web::post().to(schedules::toggle_schedule)),
                )
                .service(
                    resource("/schedules/{id}/run").route(web::post().to(schedules::run_schedule)),
                )
                .service(
                    resource("/schedules/{id}/history")
                        .route(web::get().to(schedules::schedule_history)),
                )
                .service(
                    resource("/workshop/sessions/{sid}")
                        .route(web::get().to(workshop::get_session))
                        .route(web::patch().to(workshop::update_session))
                        .route(web::delete().to(workshop::delete_session)),
                )
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
