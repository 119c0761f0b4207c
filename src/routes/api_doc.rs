//! The API describes itself: an OpenAPI 3.1 document generated from the
//! handlers' `#[utoipa::path]` annotations and from the very types they
//! answer with, served at `GET /api/openapi.json`, and Swagger UI at
//! `/docs` with its assets compiled into the binary.
//!
//! What an operation answers because of the middleware every route goes
//! through is added here once, by [`Conventions`], rather than on each
//! handler: `X-Request-Id` on every response; 400 (a NUL in the path or
//! query, a header that does not parse), 431 and 500 on every operation;
//! 401 with `WWW-Authenticate` on every operation that takes the bearer
//! token; 413 on every operation with a body. What depends on the operation
//! (its 404, 409, 412 and 429) is declared on its handler.
//!
//! `tests/api/openapi.rs` walks the router's endpoints and this document
//! and fails on a route missing from either.

use std::sync::OnceLock;

use actix_web::{http::header, HttpResponse};
use serde_json::Value;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::{Modify, OpenApi};

use crate::routes::error_responses::{
    request_id_header, BadRequest, Conflict, HeadersTooLarge, Internal, NotFound, PayloadTooLarge,
    PreconditionFailed, RateLimited, Unauthorized, UnauthorizedOrWrongPassword, UpstreamError,
    UpstreamUnavailable, REQUEST_ID,
};
use crate::routes::{
    account, activity, activity_stream, algorithms, auth, health, me, playlists, providers,
    schedules, settings, snapshots, tracks, upstream, webhooks, workshop,
};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Shuffify",
        description = "A playlist service with a unified activity log. Every state-changing \
            action leaves one row in the caller's activity trail.\n\n\
            Conventions: JSON in and out (a body without `Content-Type` is read as JSON); \
            every error is the `Error` body; timestamps are RFC 3339 UTC with six fractional \
            digits; every response carries `X-Request-Id` (the client's, when it sent a sane \
            one: at most 128 printable ASCII characters, no `\"`); an empty query value counts \
            as absent; a query parameter an operation does not take is a 400 (after the \
            token's 401), as is an unknown body field.",
        license(name = "MIT"),
    ),
    paths(
        health::health,
        health::live,
        health::ready,
        health::metrics,
        openapi_json,
        auth::register,
        auth::login,
        auth::logout,
        me::get_me,
        me::update_me,
        me::change_password,
        me::list_my_sessions,
        me::end_my_session,
        account::export_account,
        account::delete_account,
        settings::get_settings,
        settings::update_settings,
        tracks::search_tracks,
        algorithms::list_algorithms,
        playlists::list_playlists,
        playlists::create_playlist,
        playlists::get_playlist,
        playlists::update_playlist,
        playlists::delete_playlist,
        playlists::shuffle_playlist,
        playlists::undo_playlist,
        playlists::dedupe_playlist,
        snapshots::list_snapshots,
        snapshots::create_snapshot,
        snapshots::get_snapshot,
        snapshots::delete_snapshot,
        snapshots::restore_snapshot,
        workshop::preview,
        workshop::commit,
        workshop::list_sessions,
        workshop::create_session,
        workshop::get_session,
        workshop::update_session,
        workshop::delete_session,
        upstream::list_sources,
        upstream::add_source,
        upstream::get_source,
        upstream::delete_source,
        schedules::list_schedules,
        schedules::create_schedule,
        schedules::get_schedule,
        schedules::update_schedule,
        schedules::delete_schedule,
        schedules::toggle_schedule,
        schedules::run_schedule,
        schedules::schedule_history,
        activity::list_activity,
        activity::recent_activity,
        activity::activity_since,
        activity::activity_summary,
        activity::export_activity,
        activity_stream::stream_activity,
        activity_stream::create_ticket,
        providers::get_connection,
        providers::delete_connection,
        providers::authorize,
        providers::callback,
        providers::list_spotify_playlists,
        providers::import_playlist,
        providers::sync_playlist,
        webhooks::create_webhook,
        webhooks::list_webhooks,
        webhooks::get_webhook,
        webhooks::delete_webhook,
        webhooks::list_deliveries,
        webhooks::test_webhook,
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::enums::ActivityType,
        crate::enums::ActorType,
        crate::services::ActivityRange,
        crate::services::ExportFormat,
        activity::SinceValue,
    ), responses(
        BadRequest,
        Unauthorized,
        UnauthorizedOrWrongPassword,
        NotFound,
        Conflict,
        PreconditionFailed,
        PayloadTooLarge,
        RateLimited,
        HeadersTooLarge,
        UpstreamError,
        UpstreamUnavailable,
        Internal,
    )),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Accounts and bearer tokens"),
        (name = "account", description = "The caller and their settings"),
        (name = "catalog", description = "Tracks and shuffle algorithms"),
        (name = "playlists", description = "Playlists, shuffles and undo"),
        (name = "snapshots", description = "Saved orders to restore"),
        (name = "workshop", description = "Preview, commit and saved sessions"),
        (name = "upstream", description = "Playlists that feed raids"),
        (name = "schedules", description = "Scheduled raids and shuffles"),
        (name = "activity", description = "The caller's own activity trail"),
        (name = "providers", description = "Spotify: connect, import, sync"),
        (name = "webhooks", description = "Signed deliveries of new activity to your URL"),
        (name = "operations", description = "Health, metrics and this document"),
    ),
)]
pub struct ApiDoc;

/// The shared responses, headers and security of every operation (see
/// the module doc).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token of `POST /api/auth/login`: 43 characters of base64url",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                add_conventions(operation);
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
        item.put.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add_conventions(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    let mut shared = vec![("400", "BadRequest"), ("431", "HeadersTooLarge")];
    if secured {
        shared.push(("401", "Unauthorized"));
    }
    if has_body {
        shared.push(("413", "PayloadTooLarge"));
    }
    shared.push(("500", "Internal"));
    for (status, name) in shared {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
    for response in responses.values_mut() {
        if let RefOr::T(response) = response {
            response
                .headers
                .entry(REQUEST_ID.to_string())
                .or_insert_with(|| RefOr::T(request_id_header()));
        }
    }
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(
        ParameterBuilder::new()
            .name(REQUEST_ID)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Your id for this request, echoed back when it is at most 128 printable \
                 ASCII characters without `\"`; otherwise the service makes one",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
            .into(),
    );
}

/// The document as JSON, built once. Two keywords utoipa's types lack are
/// written here: every response header this document names is sent on
/// every such response, so each is `required`; and an empty query value
/// counts as absent (docs/api.md, "API conventions"), so every optional query parameter has
/// `allowEmptyValue`.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut value = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        add_keywords(&mut value);
        value.to_string()
    })
}

fn add_keywords(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(headers)) = map.get_mut("headers") {
                for header in headers.values_mut() {
                    if let Value::Object(header) = header {
                        header.insert("required".into(), Value::Bool(true));
                    }
                }
            }
            let optional_query = map.get("in").and_then(Value::as_str) == Some("query")
                && map.get("required").and_then(Value::as_bool) != Some(true);
            if optional_query {
                map.insert("allowEmptyValue".into(), Value::Bool(true));
            }
            for child in map.values_mut() {
                add_keywords(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_keywords),
        _ => {}
    }
}

/// This document.
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document",
        content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

/// `/docs` → `/docs/`, where Swagger UI's page and its relative assets live.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// What `/docs` may load and who may frame it: Swagger UI's own files only
/// (its page has no inline script), the document from this origin, its
/// inline SVG icons as `data:` images; no framing, so a page elsewhere
/// cannot dress "Try it out" up as something else. The one inline style
/// sheet its bundle inserts is allowed by its hash rather than by
/// `'unsafe-inline'` (headless Chromium reports no violation with it, and
/// names this hash without it); a new Swagger UI version may need the hash
/// updated, which the browser's console then names.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// Adds [`DOCS_POLICY`], `nosniff` and `no-referrer` to every answer under
/// `/docs` (Swagger UI's files are served by its crate, which sets none).
pub async fn docs_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let path = req.path();
    let docs = path == "/docs" || path.starts_with("/docs/");
    let mut res = next.call(req).await?;
    if docs {
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(DOCS_POLICY),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("no-referrer"),
        );
    }
    Ok(res)
}

/// Swagger UI at `/docs/`, reading this document; no validator call, no
/// CDN: its files are compiled in (`utoipa-swagger-ui`, `vendored`).
pub fn docs() -> utoipa_swagger_ui::SwaggerUi {
    let config = utoipa_swagger_ui::Config::new([DOCUMENT_PATH])
        .validator_url("none")
        .persist_authorization(false)
        .try_it_out_enabled(true);
    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").config(config)
}
