//! Shuffify: a playlist service with a unified activity log.
//!
//! The binary (`src/main.rs`) is a thin clap front; everything lives here so
//! that integration tests build the very same [`app`].

pub mod access_log;
pub mod client_addr;
pub mod config;
pub mod db;
pub mod enums;
pub mod error;
pub mod live;
pub mod lockout;
pub mod logging;
pub mod login_throttle;
pub mod metrics;
pub mod models;
pub mod password;
pub mod providers;
pub mod rate_limit;
pub mod request_context;
pub mod request_id;
pub mod retention;
pub mod routes;
pub mod scheduler;
pub mod services;
pub mod shutdown;
pub mod spotify_pool;
pub mod state;
pub mod streams;
pub mod timestamp;
pub mod validate;
pub mod webhooks;

use std::time::Instant;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{http::header, middleware, web, App, Error};

pub use state::AppState;

/// CORS from `CORS_ALLOWED_ORIGINS`: none allowed when the list is empty.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::HeaderName::from_static(request_id::HEADER),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static(request_id::HEADER),
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Routes whose query string carries a credential: the live stream's
/// ticket (docs/api.md, "The live feed") and Spotify's authorization code and state.
const SECRET_QUERIES: [&str; 2] = ["/api/activity/stream", "/api/providers/spotify/callback"];

/// The request line of the access log, as `%r` writes it, but without the
/// query string of the routes in [`SECRET_QUERIES`]. The path is compared
/// percent-decoded (and without a trailing `/`): the router decodes it, so
/// `/api/activity/%73tream?ticket=...` opens the stream too.
pub fn access_log_request_line(req: &ServiceRequest) -> String {
    let uri = req.uri();
    let decoded = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    let secret = SECRET_QUERIES.contains(&decoded.trim_end_matches('/'));
    let target = match uri.path_and_query() {
        Some(pq) if secret => pq.path().to_string(),
        Some(pq) => pq.as_str().to_string(),
        None => uri.path().to_string(),
    };
    format!("{} {} {:?}", req.method(), target, req.version())
}

/// The whole application: routes, extractor settings and middleware.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.settings.cors_allowed_origins);
    App::new()
        .app_data(state)
        .configure(routes::configure)
        .wrap_fn(|req, srv| {
            let started = Instant::now();
            let method = metrics::method_label(req.method());
            let fut = srv.call(req);
            async move {
                let (res, round_trips, blocking_trips) = db::count_round_trips(fut).await;
                let mut res = res?;
                let route = res
                    .request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_string());
                let status = res.status().as_u16();
                metrics::global().http_request(&route, method, status, started.elapsed());
                log::debug!(
                    "{method} {route} {status}: {} database round trips in {} trips",
                    round_trips.0,
                    blocking_trips.0
                );
                res.response_mut().extensions_mut().insert(round_trips);
                res.response_mut().extensions_mut().insert(blocking_trips);
                Ok(res)
            }
        })
        .wrap(cors)
        .wrap(middleware::from_fn(routes::errors::json_errors))
        .wrap(middleware::from_fn(routes::errors::check_head))
        .wrap(middleware::from_fn(routes::api_doc::docs_headers))
        .wrap(request_id::RequestIdMiddleware)
        // The access log (`access_log`): the client as the limits see it
        // (behind a trusted proxy, the address it forwarded rather than
        // the proxy's), and no query string that carries a credential.
        .wrap(middleware::from_fn(access_log::log))
}
