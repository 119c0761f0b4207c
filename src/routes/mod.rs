//! HTTP routes: one file per resource, handlers that only parse, call and
//! answer. [`configure`] registers every route and the extractor settings;
//! the binary and the tests both use it, so tests exercise the real routing.

pub mod account;
pub mod activity;
pub mod activity_stream;
pub mod algorithms;
pub mod api_doc;
pub mod auth;
pub mod authenticated;
pub mod body;
pub mod error_responses;
pub mod errors;
pub mod health;
pub mod known_params;
pub mod me;
pub mod params;
pub mod playlists;
pub mod providers;
pub mod responses;
pub mod schedules;
pub mod settings;
pub mod snapshots;
pub mod spotify_cookie;
pub mod tracks;
pub mod upstream;
pub mod web_app;
pub mod webhooks;
pub mod workshop;

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::middleware::{from_fn, Next};
use actix_web::web;

pub use authenticated::Access;
pub use known_params::QueryNames;

/// Request bodies above this answer 413 (docs/api.md, "API conventions").
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// The larger limit of playlist creation and workshop commits.
pub const LARGE_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A resource whose methods are registered through it, so that any other
/// method answers 405 with the JSON error body and an `Allow` header
/// listing the registered ones (docs/api.md, "Limits"). It keeps its path and
/// methods, so the router's table can be read back ([`endpoints`]).
///
/// Each method it registers is checked for its [`Access`] before its
/// handler's extractors run, so a bad token is a 401 before anything of
/// the request is judged; the 405 of a method it does not have still
/// comes first. A token is required unless the endpoint is [`public`].
///
/// Each method also declares the query parameters it takes ([`query`],
/// before the method): under `/api/` any other is a 400, judged after the
/// token (`known_params`), unless the endpoint [`takes_any_query`].
///
/// [`query`]: Endpoint::query
/// [`takes_any_query`]: Endpoint::takes_any_query
pub struct Endpoint {
    path: &'static str,
    access: Access,
    resource: actix_web::Resource,
    allowed: Rc<RefCell<Vec<&'static str>>>,
    /// Unknown query parameters are refused (the API's routes).
    strict_query: bool,
    /// The query parameters of the next method registered.
    next_query: QueryNames,
    /// Each registered method's query parameters (`None`: any).
    query_names: Vec<(&'static str, Option<QueryNames>)>,
}

/// Starts an [`Endpoint`] at `path` whose methods take a bearer token.
pub fn resource(path: &'static str) -> Endpoint {
    resource_with(path, Access::Token)
}

/// Starts an [`Endpoint`] at `path` whose methods take no token.
pub fn public(path: &'static str) -> Endpoint {
    resource_with(path, Access::Public)
}

/// Starts an [`Endpoint`] at `path` whose methods ask `access` of the
/// caller.
pub fn resource_with(path: &'static str, access: Access) -> Endpoint {
    let allowed: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    let listed = allowed.clone();
    let resource = web::resource(path).default_service(web::to(move || {
        let allow = listed.borrow().join(", ");
        errors::method_not_allowed(allow)
    }));
    Endpoint {
        path,
        access,
        resource,
        allowed,
        strict_query: path.starts_with("/api/"),
        next_query: QueryNames::default(),
        query_names: Vec::new(),
    }
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
                    let route = self.check_query($method, web::$route().to(handler));
                    let route = self.access.guard(route);
                    self.resource = self.resource.route(route);
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
    /// The query parameters of `P` are taken by the next method registered
    /// (several calls add up); a method registered without any takes none.
    pub fn query<P: utoipa::IntoParams>(mut self) -> Self {
        self.next_query = std::mem::take(&mut self.next_query).and::<P>();
        self
    }

    /// Its methods take any query parameter, and ignore those they do not
    /// know (Spotify's callback: Spotify chooses what it sends).
    pub fn takes_any_query(mut self) -> Self {
        self.strict_query = false;
        self
    }

    /// `route` with the unknown-parameter check in front of its handler
    /// (inside the token check `guard` adds after it).
    fn check_query(&mut self, method: &'static str, route: actix_web::Route) -> actix_web::Route {
        let names = std::mem::take(&mut self.next_query);
        if !self.strict_query {
            self.query_names.push((method, None));
            return route;
        }
        self.query_names.push((method, Some(names.clone())));
        let checked = Rc::new(known_params::Checked {
            names,
            defer_without_caller: self.access == Access::TokenOrTicket,
        });
        route.wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
            known_params::refuse_unknown(checked.clone(), req, next)
        }))
    }

    /// The query parameters `method` takes: `None` when it takes any.
    pub fn query_names(&self, method: &str) -> Option<&[String]> {
        self.query_names
            .iter()
            .find(|(m, _)| *m == method)
            .and_then(|(_, names)| names.as_ref().map(QueryNames::names))
    }

    /// Extractor settings for this resource alone (e.g. a larger body limit).
    pub fn app_data<U: 'static>(mut self, data: U) -> Self {
        self.resource = self.resource.app_data(data);
        self
    }

    /// The path pattern, as the router matches it.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The methods registered on it.
    pub fn methods(&self) -> Vec<&'static str> {
        self.allowed.borrow().clone()
    }

    /// What its methods ask of the caller.
    pub fn access(&self) -> Access {
        self.access
    }
}

impl actix_web::dev::HttpServiceFactory for Endpoint {
    fn register(self, config: &mut actix_web::dev::AppService) {
        self.resource.register(config)
    }
}

/// Registers every route, the JSON/query/path extractor settings, Swagger
/// UI, the web app and the JSON 404 for unknown paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(errors::json_config(BODY_LIMIT))
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .app_data(errors::query_config())
        .app_data(errors::path_config());
    for endpoint in endpoints() {
        cfg.service(endpoint);
    }
    cfg.service(public("/docs").get(api_doc::docs_redirect))
        .service(api_doc::docs())
        .service(public("/").get(web_app::index))
        .service(public("/assets/{name}").get(web_app::asset))
        .service(public("/favicon.ico").get(web_app::favicon))
        .default_service(web::to(errors::not_found));
}

/// Every endpoint of the API, in the order the router tries them: what
/// [`configure`] registers, and what the OpenAPI document must describe
/// (`tests/api/openapi.rs` holds the two against each other).
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        public("/health").get(health::health),
        public("/health/live").get(health::live),
        public("/health/ready").get(health::ready),
        public("/metrics").get(health::metrics),
        public(api_doc::DOCUMENT_PATH).get(api_doc::openapi_json),
        public("/api/auth/register").post(auth::register),
        public("/api/auth/login").post(auth::login),
        resource("/api/auth/logout").post(auth::logout),
        resource("/api/me")
            .get(me::get_me)
            .patch(me::update_me)
            .delete(account::delete_account),
        resource("/api/me/export").get(account::export_account),
        resource("/api/me/password").post(me::change_password),
        resource("/api/me/sessions").get(me::list_my_sessions),
        resource("/api/me/sessions/{id}").delete(me::end_my_session),
        resource("/api/settings")
            .get(settings::get_settings)
            .patch(settings::update_settings),
        resource("/api/tracks")
            .query::<tracks::TrackSearch>()
            .get(tracks::search_tracks),
        resource("/api/algorithms").get(algorithms::list_algorithms),
        resource("/api/playlists")
            .app_data(errors::json_config(LARGE_BODY_LIMIT))
            .query::<playlists::ListParams>()
            .get(playlists::list_playlists)
            .post(playlists::create_playlist),
        resource("/api/playlists/{id}")
            .get(playlists::get_playlist)
            .patch(playlists::update_playlist)
            .delete(playlists::delete_playlist),
        resource("/api/playlists/{id}/shuffle").post(playlists::shuffle_playlist),
        resource("/api/playlists/{id}/undo").post(playlists::undo_playlist),
        resource("/api/playlists/{id}/dedupe")
            .query::<playlists::DedupeParams>()
            .post(playlists::dedupe_playlist),
        resource("/api/playlists/{id}/sync").post(providers::sync_playlist),
        resource("/api/playlists/{id}/snapshots")
            .query::<snapshots::ListParams>()
            .get(snapshots::list_snapshots)
            .post(snapshots::create_snapshot),
        resource("/api/snapshots/{sid}")
            .get(snapshots::get_snapshot)
            .delete(snapshots::delete_snapshot),
        resource("/api/snapshots/{sid}/restore").post(snapshots::restore_snapshot),
        resource("/api/playlists/{id}/workshop/preview").post(workshop::preview),
        resource("/api/playlists/{id}/workshop/commit")
            .app_data(errors::json_config(LARGE_BODY_LIMIT))
            .post(workshop::commit),
        resource("/api/playlists/{id}/workshop/sessions")
            .get(workshop::list_sessions)
            .post(workshop::create_session),
        resource("/api/playlists/{id}/upstream-sources")
            .get(upstream::list_sources)
            .post(upstream::add_source),
        resource("/api/upstream-sources/{sid}")
            .get(upstream::get_source)
            .delete(upstream::delete_source),
        resource("/api/schedules")
            .get(schedules::list_schedules)
            .post(schedules::create_schedule),
        resource("/api/schedules/{id}")
            .get(schedules::get_schedule)
            .patch(schedules::update_schedule)
            .delete(schedules::delete_schedule),
        resource("/api/schedules/{id}/toggle").post(schedules::toggle_schedule),
        resource("/api/schedules/{id}/run").post(schedules::run_schedule),
        resource("/api/schedules/{id}/history")
            .query::<schedules::HistoryParams>()
            .get(schedules::schedule_history),
        resource("/api/workshop/sessions/{sid}")
            .get(workshop::get_session)
            .patch(workshop::update_session)
            .delete(workshop::delete_session),
        resource_with("/api/activity", Access::TokenOnRead)
            .query::<activity::ListingParams>()
            .get(activity::list_activity),
        resource_with("/api/activity/recent", Access::TokenOnRead)
            .query::<activity::RecentParams>()
            .get(activity::recent_activity),
        resource_with("/api/activity/since", Access::TokenOnRead)
            .query::<activity::SinceParams>()
            .get(activity::activity_since),
        resource_with("/api/activity/summary", Access::TokenOnRead)
            .query::<activity::SummaryParams>()
            .get(activity::activity_summary),
        resource("/api/activity/export")
            .query::<activity::ListingParams>()
            .query::<activity::ExportParams>()
            .get(activity::export_activity),
        resource_with("/api/activity/stream", Access::TokenOrTicket)
            .query::<activity_stream::StreamParams>()
            .get(activity_stream::stream_activity),
        resource("/api/activity/stream/tickets").post(activity_stream::create_ticket),
        resource("/api/providers/spotify")
            .get(providers::get_connection)
            .delete(providers::delete_connection),
        resource("/api/providers/spotify/authorize").post(providers::authorize),
        public("/api/providers/spotify/callback")
            .takes_any_query()
            .get(providers::callback),
        resource("/api/providers/spotify/playlists")
            .query::<providers::SpotifyListParams>()
            .get(providers::list_spotify_playlists),
        resource("/api/providers/spotify/import").post(providers::import_playlist),
        resource("/api/webhooks")
            .get(webhooks::list_webhooks)
            .post(webhooks::create_webhook),
        resource("/api/webhooks/{id}")
            .get(webhooks::get_webhook)
            .delete(webhooks::delete_webhook),
        resource("/api/webhooks/{id}/deliveries")
            .query::<webhooks::DeliveriesParams>()
            .get(webhooks::list_deliveries),
        resource("/api/webhooks/{id}/test").post(webhooks::test_webhook),
    ]
}
