//! HTTP routes: one file per resource, handlers that only parse, call and
//! answer. [`configure`] registers every route and the extractor settings;
//! the binary and the tests both use it, so tests exercise the real routing.

pub mod activity;
pub mod algorithms;
pub mod auth;
pub mod authenticated;
pub mod body;
pub mod errors;
pub mod health;
pub mod me;
pub mod params;
pub mod playlists;
pub mod responses;
pub mod schedules;
pub mod settings;
pub mod snapshots;
pub mod tracks;
pub mod upstream;
pub mod workshop;

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::web;

/// Request bodies above this answer 413 (SPEC §5).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// The larger limit of playlist creation and workshop commits.
pub const LARGE_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A resource whose methods are registered through it, so that any other
/// method answers 405 with the JSON error body and an `Allow` header
/// listing the registered ones (SPEC §10.10).
pub struct Endpoint {
    resource: actix_web::Resource,
    allowed: Rc<RefCell<Vec<&'static str>>>,
}

/// Starts an [`Endpoint`] at `path`.
pub fn resource(path: &str) -> Endpoint {
    let allowed: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let listed = allowed.clone();
    let resource = web::resource(path).default_service(web::to(move || {
        let allow = listed.borrow().join(", ");
        errors::method_not_allowed(allow)
    }));
    Endpoint { resource, allowed }
}

macro_rules! endpoint_methods {
    ($($name:ident => $route:ident, $method:literal;)*) => {
        impl Endpoint {
            $(
                pub fn $name<F, Args>(mut self, handler: F) -> Self
                where
                    F: actix_web::Handler<Args>,
                    Args: actix_web::FromRequest + 'static,
                    F::Output: actix_web::Responder + 'static,
                {
                    self.allowed.borrow_mut().push($method);
                    self.resource = self.resource.route(web::$route().to(handler));
                    self
                }
            )*
        }
    };
}

endpoint_methods! {
    get => get, "GET";
    post => post, "POST";
    patch => patch, "PATCH";
    delete => delete, "DELETE";
}

impl Endpoint {
    /// Extractor settings for this resource alone (e.g. a larger body limit).
    pub fn app_data<U: 'static>(mut self, data: U) -> Self {
        self.resource = self.resource.app_data(data);
        self
    }
}

impl actix_web::dev::HttpServiceFactory for Endpoint {
    fn register(self, config: &mut actix_web::dev::AppService) {
        self.resource.register(config)
    }
}

/// Registers every route, the JSON/query/path extractor settings and the
/// JSON 404 for unknown paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(errors::json_config(BODY_LIMIT))
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .app_data(errors::query_config())
        .app_data(errors::path_config())
        .service(resource("/health").get(health::health))
        .service(resource("/metrics").get(health::metrics))
        .service(
            web::scope("/api")
                .service(resource("/auth/register").post(auth::register))
                .service(resource("/auth/login").post(auth::login))
                .service(resource("/auth/logout").post(auth::logout))
                .service(resource("/me").get(me::get_me))
                .service(
                    resource("/settings")
                        .get(settings::get_settings)
                        .patch(settings::update_settings),
                )
                .service(resource("/tracks").get(tracks::search_tracks))
                .service(resource("/algorithms").get(algorithms::list_algorithms))
                .service(
                    resource("/playlists")
                        .app_data(errors::json_config(LARGE_BODY_LIMIT))
                        .get(playlists::list_playlists)
                        .post(playlists::create_playlist),
                )
                .service(
                    resource("/playlists/{id}")
                        .get(playlists::get_playlist)
                        .patch(playlists::update_playlist)
                        .delete(playlists::delete_playlist),
                )
                .service(resource("/playlists/{id}/shuffle").post(playlists::shuffle_playlist))
                .service(resource("/playlists/{id}/undo").post(playlists::undo_playlist))
                .service(
                    resource("/playlists/{id}/snapshots")
                        .get(snapshots::list_snapshots)
                        .post(snapshots::create_snapshot),
                )
                .service(
                    resource("/snapshots/{sid}")
                        .get(snapshots::get_snapshot)
                        .delete(snapshots::delete_snapshot),
                )
                .service(resource("/snapshots/{sid}/restore").post(snapshots::restore_snapshot))
                .service(resource("/playlists/{id}/workshop/preview").post(workshop::preview))
                .service(
                    resource("/playlists/{id}/workshop/commit")
                        .app_data(errors::json_config(LARGE_BODY_LIMIT))
                        .post(workshop::commit),
                )
                .service(
                    resource("/playlists/{id}/workshop/sessions")
                        .get(workshop::list_sessions)
                        .post(workshop::create_session),
                )
                .service(
                    resource("/playlists/{id}/upstream-sources")
                        .get(upstream::list_sources)
                        .post(upstream::add_source),
                )
                .service(
                    resource("/upstream-sources/{sid}")
                        .get(upstream::get_source)
                        .delete(upstream::delete_source),
                )
                .service(
                    resource("/schedules")
                        .get(schedules::list_schedules)
                        .post(schedules::create_schedule),
                )
                .service(
                    resource("/schedules/{id}")
                        .get(schedules::get_schedule)
                        .patch(schedules::update_schedule)
                        .delete(schedules::delete_schedule),
                )
                .service(resource("/schedules/{id}/toggle").post(schedules::toggle_schedule))
                .service(resource("/schedules/{id}/run").post(schedules::run_schedule))
                .service(resource("/schedules/{id}/history").get(schedules::schedule_history))
                .service(
                    resource("/workshop/sessions/{sid}")
                        .get(workshop::get_session)
                        .patch(workshop::update_session)
                        .delete(workshop::delete_session),
                )
                .service(resource("/activity").get(activity::list_activity))
                .service(resource("/activity/recent").get(activity::recent_activity))
                .service(resource("/activity/since").get(activity::activity_since))
                .service(resource("/activity/summary").get(activity::activity_summary))
                .service(resource("/activity/export").get(activity::export_activity)),
        )
        .default_service(web::to(errors::not_found));
}
